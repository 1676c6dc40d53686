//! Headers of broker administration and statistics, and of broker-to-broker HA calls.

crate::ext_header! {
    /// GET_BROKER_CONFIG (26) response (`GetBrokerConfigResponseHeader`); the body is the
    /// config as properties text.
    pub struct GetBrokerConfigResponseHeader {
        /// The config's data version (JSON of `DataVersion`).
        version: String => "version",
    }
}

crate::ext_header! {
    /// GET_CONSUME_STATS (208) request (`GetConsumeStatsRequestHeader`).
    pub struct GetConsumeStatsRequestHeader extends TopicRequestHeader {
        consumer_group: String => "consumerGroup",
        /// One topic; all topics of the group when absent.
        topic: Option<String> => "topic",
        /// 5.x: comma-separated topics.
        topic_list: Option<String> => "topicList",
    }
}

crate::ext_header! {
    /// GET_BROKER_CONSUME_STATS (317) request (`GetConsumeStatsInBrokerHeader`).
    pub struct GetConsumeStatsInBrokerHeader {
        /// Only orderly groups (Java's field name is `isOrder`).
        is_order: bool => "isOrder",
    }
}

crate::ext_header! {
    /// QUERY_CONSUME_TIME_SPAN (303) request (`QueryConsumeTimeSpanRequestHeader`).
    pub struct QueryConsumeTimeSpanRequestHeader extends TopicRequestHeader {
        topic: String => "topic",
        group: String => "group",
    }
}

crate::ext_header! {
    /// VIEW_BROKER_STATS_DATA (315) request (`ViewBrokerStatsDataRequestHeader`).
    pub struct ViewBrokerStatsDataRequestHeader {
        /// Stats item name, e.g. "TOPIC_PUT_NUMS".
        stats_name: String => "statsName",
        /// Stats key, e.g. a topic or "topic@group".
        stats_key: String => "statsKey",
    }
}

crate::ext_header! {
    /// ADD_BROKER (902) request (5.x container, `AddBrokerRequestHeader`).
    pub struct AddBrokerRequestHeader {
        config_path: Option<String> => "configPath",
    }
}

crate::ext_header! {
    /// REMOVE_BROKER (903) request (5.x container, `RemoveBrokerRequestHeader`).
    pub struct RemoveBrokerRequestHeader {
        broker_name: String => "brokerName",
        broker_cluster_name: String => "brokerClusterName",
        broker_id: i64 => "brokerId",
    }
}

crate::ext_header! {
    /// NOTIFY_MIN_BROKER_ID_CHANGE (905) request (5.x, `NotifyMinBrokerIdChangeRequestHeader`).
    pub struct NotifyMinBrokerIdChangeRequestHeader {
        min_broker_id: Option<i64> => "minBrokerId",
        broker_name: Option<String> => "brokerName",
        min_broker_addr: Option<String> => "minBrokerAddr",
        offline_broker_addr: Option<String> => "offlineBrokerAddr",
        ha_broker_addr: Option<String> => "haBrokerAddr",
    }
}

crate::ext_header! {
    /// EXCHANGE_BROKER_HA_INFO (906) request (5.x, `ExchangeHAInfoRequestHeader`).
    pub struct ExchangeHAInfoRequestHeader {
        master_ha_address: Option<String> => "masterHaAddress",
        master_flush_offset: Option<i64> => "masterFlushOffset",
        master_address: Option<String> => "masterAddress",
    }
}

crate::ext_header! {
    /// EXCHANGE_BROKER_HA_INFO (906) response (5.x, `ExchangeHAInfoResponseHeader`).
    pub struct ExchangeHAInfoResponseHeader {
        master_ha_address: Option<String> => "masterHaAddress",
        master_flush_offset: Option<i64> => "masterFlushOffset",
        master_address: Option<String> => "masterAddress",
    }
}

crate::ext_header! {
    /// RESET_MASTER_FLUSH_OFFSET (908) request (5.x, `ResetMasterFlushOffsetHeader`).
    pub struct ResetMasterFlushOffsetHeader {
        master_flush_offset: i64 => "masterFlushOffset",
    }
}

crate::ext_header! {
    /// NOTIFY_BROKER_ROLE_CHANGED (1008) request, controller to broker (5.x,
    /// `NotifyBrokerRoleChangedRequestHeader`).
    pub struct NotifyBrokerRoleChangedRequestHeader {
        master_address: Option<String> => "masterAddress",
        master_epoch: Option<i32> => "masterEpoch",
        sync_state_set_epoch: Option<i32> => "syncStateSetEpoch",
        master_broker_id: Option<i64> => "masterBrokerId",
    }
}
