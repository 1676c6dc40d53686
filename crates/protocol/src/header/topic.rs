//! Headers of topic and subscription-group administration on the broker.

crate::ext_header! {
    /// UPDATE_AND_CREATE_TOPIC (17) request (`CreateTopicRequestHeader`).
    pub struct CreateTopicRequestHeader extends TopicRequestHeader {
        topic: String => "topic",
        /// The template topic ("TBW102").
        default_topic: String => "defaultTopic",
        read_queue_nums: i32 => "readQueueNums",
        write_queue_nums: i32 => "writeQueueNums",
        /// Permission bits: inherit 0x1, write 0x2, read 0x4.
        perm: i32 => "perm",
        /// "SINGLE_TAG" or "MULTI_TAG".
        topic_filter_type: String => "topicFilterType",
        topic_sys_flag: Option<i32> => "topicSysFlag",
        order: bool => "order",
        /// 5.x: topic attributes, "+key=value,-key" style.
        attributes: Option<String> => "attributes",
        /// 5.x: apply even if the change is otherwise refused.
        force: Option<bool> => "force",
    }
}

crate::ext_header! {
    /// UPDATE_AND_CREATE_TOPIC_LIST (18) request (`CreateTopicListRequestHeader`); the topic
    /// configs are in the body.
    pub struct CreateTopicListRequestHeader extends RpcRequestHeader {}
}

crate::ext_header! {
    /// DELETE_TOPIC_IN_BROKER (215) request (`DeleteTopicRequestHeader`).
    pub struct DeleteTopicRequestHeader extends TopicRequestHeader {
        topic: String => "topic",
    }
}

crate::ext_header! {
    /// GET_TOPIC_CONFIG (351) request (`GetTopicConfigRequestHeader`).
    pub struct GetTopicConfigRequestHeader extends TopicRequestHeader {
        topic: String => "topic",
    }
}

crate::ext_header! {
    /// GET_ALL_TOPIC_CONFIG (21) request (5.x, `GetAllTopicConfigRequestHeader`): one page of
    /// the topic table. Java marks `topicSeq` not-null, but 4.9 clients send no header at
    /// all, so every field is optional here; all absent means "everything".
    pub struct GetAllTopicConfigRequestHeader {
        topic_seq: Option<i32> => "topicSeq",
        data_version: Option<String> => "dataVersion",
        max_topic_num: Option<i32> => "maxTopicNum",
    }
}

crate::ext_header! {
    /// GET_ALL_TOPIC_CONFIG (21) response (5.x, `GetAllTopicConfigResponseHeader`).
    pub struct GetAllTopicConfigResponseHeader {
        total_topic_num: i32 => "totalTopicNum",
    }
}

crate::ext_header! {
    /// GET_TOPIC_STATS_INFO (202) request (`GetTopicStatsInfoRequestHeader`).
    pub struct GetTopicStatsInfoRequestHeader extends TopicRequestHeader {
        topic: String => "topic",
    }
}

crate::ext_header! {
    /// QUERY_TOPIC_CONSUME_BY_WHO (300) request (`QueryTopicConsumeByWhoRequestHeader`).
    pub struct QueryTopicConsumeByWhoRequestHeader extends TopicRequestHeader {
        topic: String => "topic",
    }
}

crate::ext_header! {
    /// QUERY_TOPICS_BY_CONSUMER (343) request (`QueryTopicsByConsumerRequestHeader`).
    pub struct QueryTopicsByConsumerRequestHeader extends RpcRequestHeader {
        group: String => "group",
    }
}

crate::ext_header! {
    /// QUERY_SUBSCRIPTION_BY_CONSUMER (345) request
    /// (`QuerySubscriptionByConsumerRequestHeader`).
    pub struct QuerySubscriptionByConsumerRequestHeader extends TopicRequestHeader {
        group: String => "group",
        topic: Option<String> => "topic",
    }
}

crate::ext_header! {
    /// GET_SUBSCRIPTIONGROUP_CONFIG (352) request (`GetSubscriptionGroupConfigRequestHeader`).
    pub struct GetSubscriptionGroupConfigRequestHeader extends RpcRequestHeader {
        group: String => "group",
    }
}

crate::ext_header! {
    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) request (5.x,
    /// `GetAllSubscriptionGroupRequestHeader`): one page of the group table. Optional for
    /// the same reason as [`GetAllTopicConfigRequestHeader`].
    pub struct GetAllSubscriptionGroupRequestHeader {
        group_seq: Option<i32> => "groupSeq",
        data_version: Option<String> => "dataVersion",
        max_group_num: Option<i32> => "maxGroupNum",
    }
}

crate::ext_header! {
    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) response (5.x,
    /// `GetAllSubscriptionGroupResponseHeader`).
    pub struct GetAllSubscriptionGroupResponseHeader {
        total_group_num: i32 => "totalGroupNum",
    }
}

crate::ext_header! {
    /// DELETE_SUBSCRIPTIONGROUP (207) request (`DeleteSubscriptionGroupRequestHeader`).
    pub struct DeleteSubscriptionGroupRequestHeader extends RpcRequestHeader {
        group_name: String => "groupName",
        /// 5.x: also delete the group's consumer offsets.
        clean_offset: Option<bool> => "cleanOffset",
        /// 4.9's name of the same switch.
        remove_offset: Option<bool> => "removeOffset",
    }
}

crate::ext_header! {
    /// UPDATE_AND_GET_GROUP_FORBIDDEN (353) request (`UpdateGroupForbiddenRequestHeader`).
    pub struct UpdateGroupForbiddenRequestHeader extends TopicRequestHeader {
        group: String => "group",
        topic: String => "topic",
        /// Set the group readable (true) or forbidden (false); absent only reads.
        readable: Option<bool> => "readable",
    }
}
