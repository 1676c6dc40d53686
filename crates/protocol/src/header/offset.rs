//! Headers of queue and consumer offsets: query, update, min/max, search, reset, clone.

use super::{ArbitraryValue, ExtValue, HeaderGen};

/// Which end of a run of equal store timestamps SEARCH_OFFSET_BY_TIMESTAMP answers with
/// (`org.apache.rocketmq.common.BoundaryType`). Java writes the constant name ("LOWER",
/// "UPPER") and reads it leniently: "upper" in any case is `Upper`, anything else `Lower`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum BoundaryType {
    #[default]
    Lower,
    Upper,
}

impl ExtValue for BoundaryType {
    fn parse_ext(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("upper") {
            Some(BoundaryType::Upper)
        } else {
            Some(BoundaryType::Lower)
        }
    }
    fn format_ext(&self) -> String {
        match self {
            BoundaryType::Lower => "LOWER".to_owned(),
            BoundaryType::Upper => "UPPER".to_owned(),
        }
    }
}

impl ArbitraryValue for BoundaryType {
    fn arbitrary_value(g: &mut HeaderGen) -> Self {
        if g.bool() {
            BoundaryType::Upper
        } else {
            BoundaryType::Lower
        }
    }
}

crate::ext_header! {
    /// QUERY_CONSUMER_OFFSET (14) request (`QueryConsumerOffsetRequestHeader`).
    pub struct QueryConsumerOffsetRequestHeader extends TopicQueueRequestHeader {
        consumer_group: String => "consumerGroup",
        topic: String => "topic",
        queue_id: i32 => "queueId",
        /// 5.x: answer 0 instead of QUERY_NOT_FOUND when the group has no offset.
        set_zero_if_not_found: Option<bool> => "setZeroIfNotFound",
    }
}

crate::ext_header! {
    /// QUERY_CONSUMER_OFFSET (14) response (`QueryConsumerOffsetResponseHeader`).
    pub struct QueryConsumerOffsetResponseHeader {
        offset: i64 => "offset",
    }
}

crate::ext_header! {
    /// UPDATE_CONSUMER_OFFSET (15) request (`UpdateConsumerOffsetRequestHeader`); the
    /// response has no header.
    pub struct UpdateConsumerOffsetRequestHeader extends TopicQueueRequestHeader {
        consumer_group: String => "consumerGroup",
        topic: String => "topic",
        queue_id: i32 => "queueId",
        commit_offset: i64 => "commitOffset",
    }
}

crate::ext_header! {
    /// GET_MAX_OFFSET (30) request (`GetMaxOffsetRequestHeader`).
    pub struct GetMaxOffsetRequestHeader extends TopicQueueRequestHeader {
        topic: String => "topic",
        queue_id: i32 => "queueId",
        /// 5.x: only count committed (replicated) messages; Java's default is true.
        committed: Option<bool> => "committed",
    }
}

crate::ext_header! {
    /// GET_MAX_OFFSET (30) response (`GetMaxOffsetResponseHeader`).
    pub struct GetMaxOffsetResponseHeader {
        offset: i64 => "offset",
    }
}

crate::ext_header! {
    /// GET_MIN_OFFSET (31) request (`GetMinOffsetRequestHeader`).
    pub struct GetMinOffsetRequestHeader extends TopicQueueRequestHeader {
        topic: String => "topic",
        queue_id: i32 => "queueId",
    }
}

crate::ext_header! {
    /// GET_MIN_OFFSET (31) response (`GetMinOffsetResponseHeader`).
    pub struct GetMinOffsetResponseHeader {
        offset: i64 => "offset",
    }
}

crate::ext_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29) request (`SearchOffsetRequestHeader`).
    pub struct SearchOffsetRequestHeader extends TopicQueueRequestHeader {
        topic: String => "topic",
        queue_id: i32 => "queueId",
        /// Store timestamp in milliseconds.
        timestamp: i64 => "timestamp",
        /// 5.x: which end of equal timestamps; absent means `Lower`.
        boundary_type: Option<BoundaryType> => "boundaryType",
    }
}

crate::ext_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29) response (`SearchOffsetResponseHeader`).
    pub struct SearchOffsetResponseHeader {
        offset: i64 => "offset",
    }
}

crate::ext_header! {
    /// GET_EARLIEST_MSG_STORETIME (32) request (`GetEarliestMsgStoretimeRequestHeader`).
    pub struct GetEarliestMsgStoretimeRequestHeader extends TopicQueueRequestHeader {
        topic: String => "topic",
        queue_id: i32 => "queueId",
    }
}

crate::ext_header! {
    /// GET_EARLIEST_MSG_STORETIME (32) response (`GetEarliestMsgStoretimeResponseHeader`).
    pub struct GetEarliestMsgStoretimeResponseHeader {
        timestamp: i64 => "timestamp",
    }
}

crate::ext_header! {
    /// INVOKE_BROKER_TO_RESET_OFFSET (222) request from admin to broker, and
    /// RESET_CONSUMER_CLIENT_OFFSET (220) from broker to consumer (`ResetOffsetRequestHeader`).
    pub struct ResetOffsetRequestHeader extends TopicQueueRequestHeader {
        group: String => "group",
        topic: String => "topic",
        /// 5.x: one queue only; Java's default -1 means all queues.
        queue_id: Option<i32> => "queueId",
        /// 5.x: reset to this offset instead of searching by timestamp.
        offset: Option<i64> => "offset",
        timestamp: i64 => "timestamp",
        /// Also move offsets forward (Java's field name is `isForce`).
        is_force: bool => "isForce",
    }
}

crate::ext_header! {
    /// INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223) request from admin to broker, and
    /// GET_CONSUMER_STATUS_FROM_CLIENT (221) from broker to consumer
    /// (`GetConsumerStatusRequestHeader`).
    pub struct GetConsumerStatusRequestHeader extends TopicRequestHeader {
        topic: String => "topic",
        group: String => "group",
        /// Only this client; all clients of the group when absent.
        client_addr: Option<String> => "clientAddr",
    }
}

crate::ext_header! {
    /// QUERY_CORRECTION_OFFSET (308) request (`QueryCorrectionOffsetHeader`).
    pub struct QueryCorrectionOffsetHeader extends TopicRequestHeader {
        /// Comma-separated groups to compare against.
        filter_groups: Option<String> => "filterGroups",
        compare_group: String => "compareGroup",
        topic: String => "topic",
    }
}

crate::ext_header! {
    /// CLONE_GROUP_OFFSET (314) request (`CloneGroupOffsetRequestHeader`).
    pub struct CloneGroupOffsetRequestHeader extends RpcRequestHeader {
        src_group: String => "srcGroup",
        dest_group: String => "destGroup",
        /// One topic; all topics of the source group when absent.
        topic: Option<String> => "topic",
        offline: Option<bool> => "offline",
    }
}
