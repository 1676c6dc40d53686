//! Headers of the produce path: send (v1 and the short-named v2), reply, recall and send-back.

crate::ext_header! {
    /// SEND_MESSAGE (10), SEND_BATCH_MESSAGE (320) and SEND_REPLY_MESSAGE (324) request
    /// (`SendMessageRequestHeader`). The 5.x broker name travels as the inherited `bname`.
    pub struct SendMessageRequestHeader extends TopicQueueRequestHeader {
        producer_group: String => "producerGroup",
        topic: String => "topic",
        /// The template topic for auto-creation ("TBW102").
        default_topic: String => "defaultTopic",
        default_topic_queue_nums: i32 => "defaultTopicQueueNums",
        queue_id: i32 => "queueId",
        /// `MessageSysFlag` bits.
        sys_flag: i32 => "sysFlag",
        born_timestamp: i64 => "bornTimestamp",
        /// The message's user flag.
        flag: i32 => "flag",
        /// Properties string (`name\u0001value\u0002`...).
        properties: Option<String> => "properties",
        reconsume_times: Option<i32> => "reconsumeTimes",
        unit_mode: Option<bool> => "unitMode",
        /// The body is a batch (SEND_BATCH_MESSAGE).
        batch: Option<bool> => "batch",
        max_reconsume_times: Option<i32> => "maxReconsumeTimes",
    }
}

crate::ext_header! {
    /// SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320) and SEND_REPLY_MESSAGE_V2 (325)
    /// request (`SendMessageRequestHeaderV2`): v1 with single-letter field names.
    ///
    /// Java's fast codec writes only `a`..`n`; the inherited 5.x fields other than the
    /// broker name (which is `n` here) are kept as well so that [`Self::from_v1`] and
    /// [`Self::to_v1`] lose nothing.
    pub struct SendMessageRequestHeaderV2 {
        producer_group: String => "a",
        topic: String => "b",
        default_topic: String => "c",
        default_topic_queue_nums: i32 => "d",
        queue_id: i32 => "e",
        sys_flag: i32 => "f",
        born_timestamp: i64 => "g",
        flag: i32 => "h",
        properties: Option<String> => "i",
        reconsume_times: Option<i32> => "j",
        unit_mode: Option<bool> => "k",
        /// Java's comment says "consumeRetryTimes"; it maps to v1's `maxReconsumeTimes`.
        max_reconsume_times: Option<i32> => "l",
        batch: Option<bool> => "m",
        /// 5.x: the broker name (v1's `bname`).
        broker_name: Option<String> => "n",
        /// 5.x `TopicRequestHeader.lo`.
        lo: Option<bool> => "lo",
        /// 5.x `RpcRequestHeader.ns`.
        ns: Option<String> => "ns",
        /// 5.x `RpcRequestHeader.nsd`.
        nsd: Option<bool> => "nsd",
        /// 5.x `RpcRequestHeader.oway`.
        oway: Option<bool> => "oway",
    }
}

impl SendMessageRequestHeaderV2 {
    /// The v2 form of a v1 header (Java's `createSendMessageRequestHeaderV2`).
    pub fn from_v1(v1: SendMessageRequestHeader) -> Self {
        SendMessageRequestHeaderV2 {
            producer_group: v1.producer_group,
            topic: v1.topic,
            default_topic: v1.default_topic,
            default_topic_queue_nums: v1.default_topic_queue_nums,
            queue_id: v1.queue_id,
            sys_flag: v1.sys_flag,
            born_timestamp: v1.born_timestamp,
            flag: v1.flag,
            properties: v1.properties,
            reconsume_times: v1.reconsume_times,
            unit_mode: v1.unit_mode,
            max_reconsume_times: v1.max_reconsume_times,
            batch: v1.batch,
            broker_name: v1.bname,
            lo: v1.lo,
            ns: v1.ns,
            nsd: v1.nsd,
            oway: v1.oway,
        }
    }

    /// The v1 form of this header (Java's `createSendMessageRequestHeaderV1`).
    pub fn to_v1(self) -> SendMessageRequestHeader {
        SendMessageRequestHeader {
            producer_group: self.producer_group,
            topic: self.topic,
            default_topic: self.default_topic,
            default_topic_queue_nums: self.default_topic_queue_nums,
            queue_id: self.queue_id,
            sys_flag: self.sys_flag,
            born_timestamp: self.born_timestamp,
            flag: self.flag,
            properties: self.properties,
            reconsume_times: self.reconsume_times,
            unit_mode: self.unit_mode,
            batch: self.batch,
            max_reconsume_times: self.max_reconsume_times,
            lo: self.lo,
            ns: self.ns,
            nsd: self.nsd,
            bname: self.broker_name,
            oway: self.oway,
        }
    }
}

impl From<SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(v1: SendMessageRequestHeader) -> Self {
        SendMessageRequestHeaderV2::from_v1(v1)
    }
}

impl From<SendMessageRequestHeaderV2> for SendMessageRequestHeader {
    fn from(v2: SendMessageRequestHeaderV2) -> Self {
        v2.to_v1()
    }
}

crate::ext_header! {
    /// SEND_MESSAGE / SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE (10 / 310 / 320) response
    /// (`SendMessageResponseHeader`).
    pub struct SendMessageResponseHeader {
        /// The offset message id (store host + CommitLog offset, hex).
        msg_id: String => "msgId",
        queue_id: i32 => "queueId",
        queue_offset: i64 => "queueOffset",
        transaction_id: Option<String> => "transactionId",
        /// 5.x: the uniq key of a batch.
        batch_uniq_id: Option<String> => "batchUniqId",
        /// 5.x: handle for RECALL_MESSAGE of a delayed message.
        recall_handle: Option<String> => "recallHandle",
    }
}

crate::ext_header! {
    /// PUSH_REPLY_MESSAGE_TO_CLIENT (326) request, broker to requesting client
    /// (`ReplyMessageRequestHeader`).
    pub struct ReplyMessageRequestHeader extends TopicQueueRequestHeader {
        producer_group: String => "producerGroup",
        topic: String => "topic",
        default_topic: String => "defaultTopic",
        default_topic_queue_nums: i32 => "defaultTopicQueueNums",
        queue_id: i32 => "queueId",
        sys_flag: i32 => "sysFlag",
        born_timestamp: i64 => "bornTimestamp",
        flag: i32 => "flag",
        properties: Option<String> => "properties",
        reconsume_times: Option<i32> => "reconsumeTimes",
        unit_mode: Option<bool> => "unitMode",
        /// "ip:port" of the producer.
        born_host: String => "bornHost",
        /// "ip:port" of the broker that stored the reply.
        store_host: String => "storeHost",
        store_timestamp: i64 => "storeTimestamp",
    }
}

crate::ext_header! {
    /// CONSUMER_SEND_MSG_BACK (36) request: a consumer returns a message for retry
    /// (`ConsumerSendMsgBackRequestHeader`).
    pub struct ConsumerSendMsgBackRequestHeader extends RpcRequestHeader {
        /// CommitLog offset of the message.
        offset: i64 => "offset",
        /// Consumer group.
        group: String => "group",
        /// -1 straight to DLQ, 0 broker decides, > 0 this delay level.
        delay_level: i32 => "delayLevel",
        origin_msg_id: Option<String> => "originMsgId",
        origin_topic: Option<String> => "originTopic",
        unit_mode: Option<bool> => "unitMode",
        max_reconsume_times: Option<i32> => "maxReconsumeTimes",
    }
}

crate::ext_header! {
    /// RECALL_MESSAGE (370) request (5.x): withdraw a delayed message by its handle
    /// (`RecallMessageRequestHeader`).
    pub struct RecallMessageRequestHeader extends TopicRequestHeader {
        producer_group: Option<String> => "producerGroup",
        topic: String => "topic",
        recall_handle: String => "recallHandle",
    }
}

crate::ext_header! {
    /// RECALL_MESSAGE (370) response (`RecallMessageResponseHeader`).
    pub struct RecallMessageResponseHeader {
        msg_id: String => "msgId",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::ExtFields;
    use crate::error::ProtocolError;
    use crate::header::CommandHeader;

    fn sample_v1() -> SendMessageRequestHeader {
        SendMessageRequestHeader {
            producer_group: "PG".into(),
            topic: "TopicTest".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 3,
            sys_flag: 0x2,
            born_timestamp: 1_700_000_000_123,
            flag: 7,
            properties: Some("TAGS\u{1}TagA\u{2}KEYS\u{1}k1 k2\u{2}".into()),
            reconsume_times: Some(1),
            unit_mode: Some(false),
            batch: Some(true),
            max_reconsume_times: Some(16),
            lo: None,
            ns: Some("ns1".into()),
            nsd: Some(true),
            bname: Some("broker-a".into()),
            oway: None,
        }
    }

    #[test]
    fn send_v1_to_v2_and_back_is_lossless() {
        let v1 = sample_v1();
        let v2 = SendMessageRequestHeaderV2::from_v1(v1.clone());
        assert_eq!(v2.producer_group, "PG");
        assert_eq!(v2.broker_name.as_deref(), Some("broker-a"));
        assert_eq!(v2.max_reconsume_times, Some(16));
        assert_eq!(v2.clone().to_v1(), v1);
        let via_from: SendMessageRequestHeader = SendMessageRequestHeaderV2::from(v1.clone()).into();
        assert_eq!(via_from, v1);
    }

    #[test]
    fn send_v2_wire_names_map_to_v1_wire_names() {
        let mut ext = ExtFields::new();
        SendMessageRequestHeaderV2::from_v1(sample_v1()).write_ext_fields(&mut ext);
        assert_eq!(ext.get("a"), Some("PG"));
        assert_eq!(ext.get("b"), Some("TopicTest"));
        assert_eq!(ext.get("c"), Some("TBW102"));
        assert_eq!(ext.get("d"), Some("4"));
        assert_eq!(ext.get("e"), Some("3"));
        assert_eq!(ext.get("f"), Some("2"));
        assert_eq!(ext.get("g"), Some("1700000000123"));
        assert_eq!(ext.get("h"), Some("7"));
        assert_eq!(ext.get("j"), Some("1"));
        assert_eq!(ext.get("k"), Some("false"));
        assert_eq!(ext.get("l"), Some("16"));
        assert_eq!(ext.get("m"), Some("true"));
        assert_eq!(ext.get("n"), Some("broker-a"));
        assert_eq!(ext.get("topic"), None);

        let v2 = SendMessageRequestHeaderV2::read_ext_fields(&ext).unwrap_or_default();
        let mut v1_ext = ExtFields::new();
        v2.to_v1().write_ext_fields(&mut v1_ext);
        assert_eq!(v1_ext.get("producerGroup"), Some("PG"));
        assert_eq!(v1_ext.get("topic"), Some("TopicTest"));
        assert_eq!(v1_ext.get("maxReconsumeTimes"), Some("16"));
        assert_eq!(v1_ext.get("bname"), Some("broker-a"));
        assert_eq!(v1_ext.get("batch"), Some("true"));
    }

    #[test]
    fn send_v2_as_written_by_java_4_9() {
        // The ext fields of a captured 4.9 SEND_MESSAGE_V2 (no `n`).
        let ext: ExtFields = [
            ("a", "please_rename_unique_group_name"),
            ("b", "TopicTest"),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", "1"),
            ("f", "0"),
            ("g", "1700000000000"),
            ("h", "0"),
            ("i", "UNIQ_KEY\u{1}7F000001\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA\u{2}"),
            ("j", "0"),
            ("k", "false"),
            ("m", "false"),
        ]
        .into_iter()
        .collect();
        let v2 = SendMessageRequestHeaderV2::read_ext_fields(&ext);
        assert!(v2.is_ok(), "{v2:?}");
        let v1 = v2.unwrap_or_default().to_v1();
        assert_eq!(v1.producer_group, "please_rename_unique_group_name");
        assert_eq!(v1.queue_id, 1);
        assert_eq!(v1.born_timestamp, 1_700_000_000_000);
        assert_eq!(v1.unit_mode, Some(false));
        assert_eq!(v1.max_reconsume_times, None);
        assert_eq!(v1.bname, None);
    }

    #[test]
    fn send_header_missing_required_field_is_java_error() {
        let mut ext = ExtFields::new();
        sample_v1().write_ext_fields(&mut ext);
        ext.remove("topic");
        let err = SendMessageRequestHeader::read_ext_fields(&ext).err();
        assert_eq!(err, Some(ProtocolError::MissingField("topic")));
        assert_eq!(err.map(|e| e.to_string()).as_deref(), Some("the custom field <topic> is null"));

        let mut ext = ExtFields::new();
        SendMessageRequestHeaderV2::from_v1(sample_v1()).write_ext_fields(&mut ext);
        ext.remove("b");
        let err = SendMessageRequestHeaderV2::read_ext_fields(&ext).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("the custom field <b> is null"));
    }

    #[test]
    fn send_header_optional_fields_may_be_absent() {
        let mut ext = ExtFields::new();
        sample_v1().write_ext_fields(&mut ext);
        for key in
            ["properties", "reconsumeTimes", "unitMode", "batch", "maxReconsumeTimes", "ns", "nsd", "bname"]
        {
            ext.remove(key);
        }
        let v1 = SendMessageRequestHeader::read_ext_fields(&ext);
        assert!(v1.is_ok(), "{v1:?}");
        let v1 = v1.unwrap_or_default();
        assert_eq!(v1.properties, None);
        assert_eq!(v1.bname, None);
        assert_eq!(v1.topic, "TopicTest");
    }

    #[test]
    fn send_response_header_requires_msg_id() {
        let ext: ExtFields = [("queueId", "1"), ("queueOffset", "42")].into_iter().collect();
        let err = SendMessageResponseHeader::read_ext_fields(&ext).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("the custom field <msgId> is null"));
    }

    #[test]
    fn send_header_invalid_number_is_an_error() {
        let mut ext = ExtFields::new();
        sample_v1().write_ext_fields(&mut ext);
        ext.insert("queueId", "x");
        let err = SendMessageRequestHeader::read_ext_fields(&ext).err();
        assert_eq!(err, Some(ProtocolError::InvalidField { field: "queueId", value: "x".into() }));
    }
}
