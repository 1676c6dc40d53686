//! Headers of the consume path: pull, query and view messages, and consume-queue inspection.

crate::ext_header! {
    /// PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361) request (`PullMessageRequestHeader`).
    pub struct PullMessageRequestHeader extends TopicQueueRequestHeader {
        consumer_group: String => "consumerGroup",
        topic: String => "topic",
        queue_id: i32 => "queueId",
        /// Logical offset to pull from.
        queue_offset: i64 => "queueOffset",
        max_msg_nums: i32 => "maxMsgNums",
        /// `PullSysFlag` bits: commitOffset 0x1, suspend 0x2, subscription 0x4,
        /// classFilter 0x8, litePull 0x10.
        sys_flag: i32 => "sysFlag",
        /// Consumer offset to commit along with the pull (commitOffset flag).
        commit_offset: i64 => "commitOffset",
        /// Long-polling hold time.
        suspend_timeout_millis: i64 => "suspendTimeoutMillis",
        /// Subscription expression (subscription flag).
        subscription: Option<String> => "subscription",
        sub_version: i64 => "subVersion",
        /// "TAG" or "SQL92".
        expression_type: Option<String> => "expressionType",
        /// 5.x: byte budget of the response.
        max_msg_bytes: Option<i32> => "maxMsgBytes",
        /// 5.x: who pulls (proxy, ...).
        request_source: Option<i32> => "requestSource",
        /// 5.x: the proxy's client id (Java's spelling).
        proxy_froward_client_id: Option<String> => "proxyFrowardClientId",
    }
}

crate::ext_header! {
    /// PULL_MESSAGE (11) / LITE_PULL_MESSAGE (361) response (`PullMessageResponseHeader`);
    /// the body holds the stored messages back to back.
    pub struct PullMessageResponseHeader {
        suggest_which_broker_id: i64 => "suggestWhichBrokerId",
        next_begin_offset: i64 => "nextBeginOffset",
        min_offset: i64 => "minOffset",
        max_offset: i64 => "maxOffset",
        /// 5.x static topics: logical minus physical offset.
        offset_delta: Option<i64> => "offsetDelta",
        /// 5.x: the topic's sys flag.
        topic_sys_flag: Option<i32> => "topicSysFlag",
        /// 5.x: the subscription group's sys flag.
        group_sys_flag: Option<i32> => "groupSysFlag",
        /// 5.x: why the group may not consume (0 none).
        forbidden_type: Option<i32> => "forbiddenType",
    }
}

crate::ext_header! {
    /// QUERY_MESSAGE (12) request: messages of a topic by key (`QueryMessageRequestHeader`).
    pub struct QueryMessageRequestHeader extends TopicRequestHeader {
        topic: String => "topic",
        /// A message key, or a uniq key when the command carries `_UNIQUE_KEY_QUERY=true`.
        key: String => "key",
        max_num: i32 => "maxNum",
        begin_timestamp: i64 => "beginTimestamp",
        end_timestamp: i64 => "endTimestamp",
    }
}

crate::ext_header! {
    /// QUERY_MESSAGE (12) response (`QueryMessageResponseHeader`).
    pub struct QueryMessageResponseHeader {
        index_last_update_timestamp: i64 => "indexLastUpdateTimestamp",
        index_last_update_phyoffset: i64 => "indexLastUpdatePhyoffset",
    }
}

crate::ext_header! {
    /// VIEW_MESSAGE_BY_ID (33) request: one stored message by CommitLog offset
    /// (`ViewMessageRequestHeader`).
    pub struct ViewMessageRequestHeader {
        /// 5.x: the topic, for authorization.
        topic: Option<String> => "topic",
        /// CommitLog (physical) offset.
        offset: i64 => "offset",
    }
}

crate::ext_header! {
    /// QUERY_CONSUME_QUEUE (321) request: dump consume-queue entries
    /// (`QueryConsumeQueueRequestHeader`).
    pub struct QueryConsumeQueueRequestHeader extends TopicQueueRequestHeader {
        topic: Option<String> => "topic",
        queue_id: Option<i32> => "queueId",
        /// First consume-queue index.
        index: Option<i64> => "index",
        count: Option<i32> => "count",
        consumer_group: Option<String> => "consumerGroup",
    }
}
