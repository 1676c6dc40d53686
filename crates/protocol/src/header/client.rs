//! Headers of client management: heartbeat, unregister, group membership, queue locks,
//! and the broker-to-client calls (running info, consume directly).

crate::ext_header! {
    /// HEART_BEAT (34) request (5.x `HeartbeatRequestHeader`: only the RPC base fields; the
    /// heartbeat data is the body). 4.9 clients send no header.
    pub struct HeartbeatRequestHeader extends RpcRequestHeader {}
}

crate::ext_header! {
    /// UNREGISTER_CLIENT (35) request (`UnregisterClientRequestHeader`).
    pub struct UnregisterClientRequestHeader extends RpcRequestHeader {
        /// Java spells it `clientID`.
        client_id: String => "clientID",
        producer_group: Option<String> => "producerGroup",
        consumer_group: Option<String> => "consumerGroup",
    }
}

crate::ext_header! {
    /// GET_CONSUMER_LIST_BY_GROUP (38) request (`GetConsumerListByGroupRequestHeader`); the
    /// client ids come back in the body.
    pub struct GetConsumerListByGroupRequestHeader extends RpcRequestHeader {
        consumer_group: String => "consumerGroup",
    }
}

crate::ext_header! {
    /// NOTIFY_CONSUMER_IDS_CHANGED (40) request, broker to consumer, oneway
    /// (`NotifyConsumerIdsChangedRequestHeader`).
    pub struct NotifyConsumerIdsChangedRequestHeader extends RpcRequestHeader {
        consumer_group: String => "consumerGroup",
    }
}

crate::ext_header! {
    /// LOCK_BATCH_MQ (41) request (5.x `LockBatchMqRequestHeader`: only the RPC base
    /// fields; the queues are the body).
    pub struct LockBatchMqRequestHeader extends RpcRequestHeader {}
}

crate::ext_header! {
    /// UNLOCK_BATCH_MQ (42) request (5.x `UnlockBatchMqRequestHeader`: only the RPC base
    /// fields; the queues are the body).
    pub struct UnlockBatchMqRequestHeader extends RpcRequestHeader {}
}

crate::ext_header! {
    /// GET_CONSUMER_CONNECTION_LIST (203) request (`GetConsumerConnectionListRequestHeader`).
    pub struct GetConsumerConnectionListRequestHeader extends RpcRequestHeader {
        consumer_group: String => "consumerGroup",
    }
}

crate::ext_header! {
    /// GET_PRODUCER_CONNECTION_LIST (204) request (`GetProducerConnectionListRequestHeader`).
    pub struct GetProducerConnectionListRequestHeader extends RpcRequestHeader {
        producer_group: String => "producerGroup",
    }
}

crate::ext_header! {
    /// GET_CONSUMER_RUNNING_INFO (307) request, admin to broker and broker to consumer
    /// (`GetConsumerRunningInfoRequestHeader`).
    pub struct GetConsumerRunningInfoRequestHeader extends RpcRequestHeader {
        consumer_group: String => "consumerGroup",
        client_id: String => "clientId",
        /// Include a thread dump.
        jstack_enable: Option<bool> => "jstackEnable",
    }
}

crate::ext_header! {
    /// CONSUME_MESSAGE_DIRECTLY (309) request, admin to broker and broker to consumer
    /// (`ConsumeMessageDirectlyResultRequestHeader`).
    pub struct ConsumeMessageDirectlyResultRequestHeader extends TopicRequestHeader {
        consumer_group: String => "consumerGroup",
        client_id: Option<String> => "clientId",
        msg_id: Option<String> => "msgId",
        /// The broker holding the message (Java's own field, distinct from `bname`).
        broker_name: Option<String> => "brokerName",
        /// 5.x.
        topic: Option<String> => "topic",
        /// 5.x.
        topic_sys_flag: Option<i32> => "topicSysFlag",
        /// 5.x.
        group_sys_flag: Option<i32> => "groupSysFlag",
    }
}
