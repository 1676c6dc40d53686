//! Headers of 5.x pop consumption: pop, ack, change invisible time, peek, notification,
//! polling info. Each request code also has a 5.0/5.1 "legacy" number (200050...).

crate::ext_header! {
    /// POP_MESSAGE (3442, legacy 200050) request (`PopMessageRequestHeader`).
    pub struct PopMessageRequestHeader extends TopicQueueRequestHeader {
        consumer_group: String => "consumerGroup",
        topic: String => "topic",
        /// -1 pops from any queue.
        queue_id: i32 => "queueId",
        max_msg_nums: i32 => "maxMsgNums",
        /// How long popped messages stay invisible, in milliseconds.
        invisible_time: i64 => "invisibleTime",
        /// Long-polling hold time in milliseconds.
        poll_time: i64 => "pollTime",
        /// The client's clock when it sent the request.
        born_time: i64 => "bornTime",
        /// Where a new group starts (`ConsumeInitMode`): 0 MIN (first offset), 1 MAX (last).
        init_mode: i32 => "initMode",
        /// Filter expression type ("TAG" / "SQL92").
        exp_type: Option<String> => "expType",
        /// Filter expression.
        exp: Option<String> => "exp",
        /// Orderly pop.
        order: Option<bool> => "order",
        /// 5.2+: idempotency key of an orderly pop attempt.
        attempt_id: Option<String> => "attemptId",
    }
}

crate::ext_header! {
    /// POP_MESSAGE (3442, legacy 200050) response (`PopMessageResponseHeader`).
    pub struct PopMessageResponseHeader {
        pop_time: i64 => "popTime",
        invisible_time: i64 => "invisibleTime",
        revive_qid: i32 => "reviveQid",
        /// Messages left in the queue(s) after this pop.
        rest_num: i64 => "restNum",
        /// "qid start-offset;..." per queue (`ExtraInfoUtil`).
        start_offset_info: Option<String> => "startOffsetInfo",
        /// Offsets of the popped messages per queue (`ExtraInfoUtil`).
        msg_offset_info: Option<String> => "msgOffsetInfo",
        /// Orderly pop: consume counts per queue (`ExtraInfoUtil`).
        order_count_info: Option<String> => "orderCountInfo",
    }
}

crate::ext_header! {
    /// ACK_MESSAGE (3443, legacy 200051) request (`AckMessageRequestHeader`).
    pub struct AckMessageRequestHeader extends TopicQueueRequestHeader {
        consumer_group: String => "consumerGroup",
        topic: String => "topic",
        queue_id: i32 => "queueId",
        /// The receipt handle's extra info (`ExtraInfoUtil`).
        extra_info: String => "extraInfo",
        /// Queue offset of the acknowledged message.
        offset: i64 => "offset",
    }
}

crate::ext_header! {
    /// CHANGE_MESSAGE_INVISIBLETIME (3445, legacy 200053) request
    /// (`ChangeInvisibleTimeRequestHeader`).
    pub struct ChangeInvisibleTimeRequestHeader extends TopicQueueRequestHeader {
        consumer_group: String => "consumerGroup",
        topic: String => "topic",
        queue_id: i32 => "queueId",
        /// The receipt handle's extra info (`ExtraInfoUtil`).
        extra_info: String => "extraInfo",
        offset: i64 => "offset",
        /// New invisible time in milliseconds from now.
        invisible_time: i64 => "invisibleTime",
    }
}

crate::ext_header! {
    /// CHANGE_MESSAGE_INVISIBLETIME (3445, legacy 200053) response
    /// (`ChangeInvisibleTimeResponseHeader`).
    pub struct ChangeInvisibleTimeResponseHeader {
        pop_time: i64 => "popTime",
        invisible_time: i64 => "invisibleTime",
        revive_qid: i32 => "reviveQid",
    }
}

crate::ext_header! {
    /// PEEK_MESSAGE (3444, legacy 200052) request (`PeekMessageRequestHeader`).
    pub struct PeekMessageRequestHeader extends TopicQueueRequestHeader {
        topic: String => "topic",
        queue_id: i32 => "queueId",
        max_msg_nums: i32 => "maxMsgNums",
        consumer_group: String => "consumerGroup",
    }
}

crate::ext_header! {
    /// NOTIFICATION (3446, legacy 200054) request: long-poll until messages are available
    /// (`NotificationRequestHeader`).
    pub struct NotificationRequestHeader extends TopicQueueRequestHeader {
        consumer_group: String => "consumerGroup",
        topic: String => "topic",
        queue_id: i32 => "queueId",
        poll_time: i64 => "pollTime",
        born_time: i64 => "bornTime",
        order: Option<bool> => "order",
        /// 5.2+.
        attempt_id: Option<String> => "attemptId",
    }
}

crate::ext_header! {
    /// NOTIFICATION (3446, legacy 200054) response (`NotificationResponseHeader`).
    pub struct NotificationResponseHeader {
        has_msg: bool => "hasMsg",
        /// 5.2+: the broker's polling slots are full.
        polling_full: Option<bool> => "pollingFull",
    }
}

crate::ext_header! {
    /// POLLING_INFO (3447, legacy 200055) request (`PollingInfoRequestHeader`).
    pub struct PollingInfoRequestHeader extends TopicQueueRequestHeader {
        consumer_group: String => "consumerGroup",
        topic: String => "topic",
        queue_id: i32 => "queueId",
    }
}

crate::ext_header! {
    /// POLLING_INFO (3447, legacy 200055) response (`PollingInfoResponseHeader`).
    pub struct PollingInfoResponseHeader {
        polling_num: i32 => "pollingNum",
    }
}
