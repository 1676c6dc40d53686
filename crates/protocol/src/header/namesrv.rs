//! Headers of the requests the NameServer serves (`...header.namesrv.*`).

crate::ext_header! {
    /// GET_ROUTEINFO_BY_TOPIC request.
    pub struct GetRouteInfoRequestHeader {
        topic: String => "topic",
        /// 5.x: ask for standard JSON (we always write standard JSON).
        accept_standard_json_only: Option<bool> => "acceptStandardJsonOnly",
    }
}

crate::ext_header! {
    /// REGISTER_BROKER request.
    pub struct RegisterBrokerRequestHeader {
        broker_name: String => "brokerName",
        broker_addr: String => "brokerAddr",
        cluster_name: String => "clusterName",
        ha_server_addr: String => "haServerAddr",
        broker_id: i64 => "brokerId",
        /// 5.x: how long the NameServer keeps the broker without a heartbeat.
        heartbeat_timeout_millis: Option<i64> => "heartbeatTimeoutMillis",
        /// 5.x: slave acting as master when the master is down.
        enable_acting_master: Option<bool> => "enableActingMaster",
        compressed: Option<bool> => "compressed",
        /// CRC32 of the body; 0 means unchecked.
        body_crc32: Option<i32> => "bodyCrc32",
    }
}

crate::ext_header! {
    /// REGISTER_BROKER response.
    pub struct RegisterBrokerResponseHeader {
        ha_server_addr: Option<String> => "haServerAddr",
        master_addr: Option<String> => "masterAddr",
    }
}

crate::ext_header! {
    /// UNREGISTER_BROKER request.
    pub struct UnRegisterBrokerRequestHeader {
        broker_name: String => "brokerName",
        broker_addr: String => "brokerAddr",
        cluster_name: String => "clusterName",
        broker_id: i64 => "brokerId",
    }
}

crate::ext_header! {
    /// BROKER_HEARTBEAT request (5.x lightweight heartbeat).
    pub struct BrokerHeartbeatRequestHeader {
        cluster_name: String => "clusterName",
        broker_addr: String => "brokerAddr",
        broker_name: String => "brokerName",
        broker_id: Option<i64> => "brokerId",
        epoch: Option<i32> => "epoch",
        max_offset: Option<i64> => "maxOffset",
        confirm_offset: Option<i64> => "confirmOffset",
        heartbeat_timeout_mills: Option<i64> => "heartbeatTimeoutMills",
        election_priority: Option<i32> => "electionPriority",
    }
}

crate::ext_header! {
    /// QUERY_DATA_VERSION request (body: the broker's DataVersion).
    pub struct QueryDataVersionRequestHeader {
        broker_name: String => "brokerName",
        broker_addr: String => "brokerAddr",
        cluster_name: String => "clusterName",
        broker_id: i64 => "brokerId",
    }
}

crate::ext_header! {
    /// QUERY_DATA_VERSION response.
    pub struct QueryDataVersionResponseHeader {
        changed: bool => "changed",
    }
}

crate::ext_header! {
    /// PUT_KV_CONFIG request.
    pub struct PutKVConfigRequestHeader {
        namespace: String => "namespace",
        key: String => "key",
        value: String => "value",
    }
}

crate::ext_header! {
    /// GET_KV_CONFIG request.
    pub struct GetKVConfigRequestHeader {
        namespace: String => "namespace",
        key: String => "key",
    }
}

crate::ext_header! {
    /// GET_KV_CONFIG response.
    pub struct GetKVConfigResponseHeader {
        value: Option<String> => "value",
    }
}

crate::ext_header! {
    /// DELETE_KV_CONFIG request.
    pub struct DeleteKVConfigRequestHeader {
        namespace: String => "namespace",
        key: String => "key",
    }
}

crate::ext_header! {
    /// GET_KVLIST_BY_NAMESPACE request.
    pub struct GetKVListByNamespaceRequestHeader {
        namespace: String => "namespace",
    }
}

crate::ext_header! {
    /// WIPE_WRITE_PERM_OF_BROKER request.
    pub struct WipeWritePermOfBrokerRequestHeader {
        broker_name: String => "brokerName",
    }
}

crate::ext_header! {
    /// WIPE_WRITE_PERM_OF_BROKER response.
    pub struct WipeWritePermOfBrokerResponseHeader {
        wipe_topic_count: i32 => "wipeTopicCount",
    }
}

crate::ext_header! {
    /// ADD_WRITE_PERM_OF_BROKER request.
    pub struct AddWritePermOfBrokerRequestHeader {
        broker_name: String => "brokerName",
    }
}

crate::ext_header! {
    /// ADD_WRITE_PERM_OF_BROKER response.
    pub struct AddWritePermOfBrokerResponseHeader {
        add_topic_count: i32 => "addTopicCount",
    }
}

crate::ext_header! {
    /// DELETE_TOPIC_IN_NAMESRV request; 5.x may restrict it to one cluster.
    pub struct DeleteTopicFromNamesrvRequestHeader {
        topic: String => "topic",
        cluster_name: Option<String> => "clusterName",
    }
}

crate::ext_header! {
    /// GET_TOPICS_BY_CLUSTER request.
    pub struct GetTopicsByClusterRequestHeader {
        cluster: String => "cluster",
    }
}

crate::ext_header! {
    /// REGISTER_TOPIC_IN_NAMESRV request (body: TopicRouteData).
    pub struct RegisterTopicRequestHeader {
        topic: String => "topic",
    }
}

crate::ext_header! {
    /// GET_BROKER_MEMBER_GROUP request.
    pub struct GetBrokerMemberGroupRequestHeader {
        cluster_name: String => "clusterName",
        broker_name: String => "brokerName",
    }
}
