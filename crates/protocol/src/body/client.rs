//! Client bodies: heartbeat (producer and consumer groups, subscriptions), queue locks,
//! group membership and connection lists.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::lenient::{java_enum, null_as_default};
use super::queue::MessageQueue;

java_enum! {
    /// `ConsumeType`: pull (`CONSUME_ACTIVELY`), push (`CONSUME_PASSIVELY`), pop (5.x).
    pub enum ConsumeType {
        ConsumeActively => "CONSUME_ACTIVELY",
        ConsumePassively => "CONSUME_PASSIVELY",
        ConsumePop => "CONSUME_POP",
    } default ConsumePassively
}

java_enum! {
    /// `MessageModel`.
    pub enum MessageModel {
        Broadcasting => "BROADCASTING",
        Clustering => "CLUSTERING",
    } default Clustering
}

java_enum! {
    /// `ConsumeFromWhere`, with the deprecated values kept in their ordinal places.
    pub enum ConsumeFromWhere {
        ConsumeFromLastOffset => "CONSUME_FROM_LAST_OFFSET",
        /// Deprecated in Java.
        ConsumeFromLastOffsetAndFromMinWhenBootFirst => "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
        /// Deprecated in Java.
        ConsumeFromMinOffset => "CONSUME_FROM_MIN_OFFSET",
        /// Deprecated in Java.
        ConsumeFromMaxOffset => "CONSUME_FROM_MAX_OFFSET",
        ConsumeFromFirstOffset => "CONSUME_FROM_FIRST_OFFSET",
        ConsumeFromTimestamp => "CONSUME_FROM_TIMESTAMP",
    } default ConsumeFromLastOffset
}

/// `ExpressionType`: how a subscription's expression is written.
pub mod expression_type {
    pub const TAG: &str = "TAG";
    pub const SQL92: &str = "SQL92";

    /// `ExpressionType.isTagType`: empty (Java: null or "") or `TAG`.
    pub fn is_tag_type(expression_type: &str) -> bool {
        expression_type.is_empty() || expression_type == TAG
    }
}

/// `SubscriptionData.SUB_ALL`: every tag.
pub const SUB_ALL: &str = "*";

fn default_expression_type() -> String {
    expression_type::TAG.to_owned()
}

/// `SubscriptionData`: one topic a consumer group subscribes to, and its filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SubscriptionData {
    pub class_filter_mode: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub topic: String,
    #[serde(deserialize_with = "null_as_default")]
    pub sub_string: String,
    #[serde(deserialize_with = "null_as_default")]
    pub tags_set: BTreeSet<String>,
    /// Java `String.hashCode` of each tag.
    #[serde(deserialize_with = "null_as_default")]
    pub code_set: BTreeSet<i32>,
    /// Java defaults it to the creation time in ms; a newer version replaces an older one.
    #[serde(deserialize_with = "super::lenient::lenient_int")]
    pub sub_version: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub expression_type: String,
    /// Read, never written (Java: `@JSONField(serialize = false)`).
    #[serde(skip_serializing)]
    pub filter_class_source: Option<String>,
}

impl Default for SubscriptionData {
    fn default() -> Self {
        SubscriptionData {
            class_filter_mode: false,
            topic: String::new(),
            sub_string: String::new(),
            tags_set: BTreeSet::new(),
            code_set: BTreeSet::new(),
            sub_version: 0,
            expression_type: default_expression_type(),
            filter_class_source: None,
        }
    }
}

impl SubscriptionData {
    /// Whether this subscription filters by tag (as opposed to SQL92).
    pub fn is_tag_type(&self) -> bool {
        expression_type::is_tag_type(&self.expression_type)
    }

    /// Whether it takes every message of the topic (`*`).
    pub fn is_all(&self) -> bool {
        self.sub_string == SUB_ALL
    }
}

/// `ProducerData`: a producer group a client belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProducerData {
    #[serde(deserialize_with = "null_as_default")]
    pub group_name: String,
}

/// `ConsumerData`: a consumer group a client belongs to and what it subscribes to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsumerData {
    #[serde(deserialize_with = "null_as_default")]
    pub group_name: String,
    pub consume_type: ConsumeType,
    pub message_model: MessageModel,
    pub consume_from_where: ConsumeFromWhere,
    #[serde(deserialize_with = "null_as_default")]
    pub subscription_data_set: Vec<SubscriptionData>,
    pub unit_mode: bool,
}

/// `HeartbeatData`: the HEART_BEAT body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HeartbeatData {
    /// Java spells it `clientID`.
    #[serde(rename = "clientID", deserialize_with = "null_as_default")]
    pub client_id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub producer_data_set: Vec<ProducerData>,
    #[serde(deserialize_with = "null_as_default")]
    pub consumer_data_set: Vec<ConsumerData>,
    /// 5.x: hash of the heartbeat without volatile parts (HEART_BEAT v2).
    pub heartbeat_fingerprint: i32,
    /// 5.x: the subscriptions were left out because the fingerprint did not change
    /// (Java's `isWithoutSub` property).
    pub without_sub: bool,
}

/// `LockBatchRequestBody`: LOCK_BATCH_MQ.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LockBatchRequestBody {
    #[serde(deserialize_with = "null_as_default")]
    pub consumer_group: String,
    #[serde(deserialize_with = "null_as_default")]
    pub client_id: String,
    /// 5.x: do not forward to the other replicas.
    pub only_this_broker: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub mq_set: BTreeSet<MessageQueue>,
}

/// `UnlockBatchRequestBody`: UNLOCK_BATCH_MQ.
pub type UnlockBatchRequestBody = LockBatchRequestBody;

/// `LockBatchResponseBody`: the queues the client now holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LockBatchResponseBody {
    #[serde(rename = "lockOKMQSet", deserialize_with = "null_as_default")]
    pub lock_ok_mq_set: BTreeSet<MessageQueue>,
}

/// `GetConsumerListByGroupResponseBody`: client ids of a consumer group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GetConsumerListByGroupResponseBody {
    #[serde(deserialize_with = "null_as_default")]
    pub consumer_id_list: Vec<String>,
}

/// Java's `Connection` body entry: one client connection of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClientConnection {
    #[serde(deserialize_with = "null_as_default")]
    pub client_id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub client_addr: String,
    /// `LanguageCode` name (`JAVA`, `CPP` ...).
    #[serde(deserialize_with = "null_as_default")]
    pub language: String,
    pub version: i32,
}

/// `ConsumerConnection`: GET_CONSUMER_CONNECTION_LIST.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsumerConnection {
    #[serde(deserialize_with = "null_as_default")]
    pub connection_set: BTreeSet<ClientConnection>,
    /// Topic -> subscription.
    #[serde(deserialize_with = "null_as_default")]
    pub subscription_table: BTreeMap<String, SubscriptionData>,
    pub consume_type: ConsumeType,
    pub message_model: MessageModel,
    pub consume_from_where: ConsumeFromWhere,
}

/// `ProducerConnection`: GET_PRODUCER_CONNECTION_LIST.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProducerConnection {
    #[serde(deserialize_with = "null_as_default")]
    pub connection_set: BTreeSet<ClientConnection>,
}

/// `ProducerInfo` (5.x GET_ALL_PRODUCER_INFO).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProducerInfo {
    #[serde(deserialize_with = "null_as_default")]
    pub client_id: String,
    #[serde(rename = "remoteIP", deserialize_with = "null_as_default")]
    pub remote_ip: String,
    #[serde(deserialize_with = "null_as_default")]
    pub language: String,
    pub version: i32,
    pub last_update_timestamp: i64,
}

/// `ProducerTableInfo`: producer group -> its producers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProducerTableInfo {
    #[serde(deserialize_with = "null_as_default")]
    pub data: BTreeMap<String, Vec<ProducerInfo>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    /// A heartbeat as the Java 4.9 client sends it (fastjson: fields in alphabetical order,
    /// sets as arrays, nulls omitted): a push consumer with a tag subscription and its
    /// retry topic, plus the client's inner producer group.
    const JAVA_HEARTBEAT: &str = r#"{"clientID":"192.168.0.7@31337","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"please_rename_unique_group_name_4","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":[2598919,2598920],"expressionType":"TAG","subString":"TagA || TagB","subVersion":1712345678901,"tagsSet":["TagA","TagB"],"topic":"TopicTest"},{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":1712345678950,"tagsSet":[],"topic":"%RETRY%please_rename_unique_group_name_4"}],"unitMode":false}],"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"}]}"#;

    #[test]
    fn parses_java_heartbeat() {
        let hb: HeartbeatData = json::from_slice(JAVA_HEARTBEAT.as_bytes()).unwrap();
        assert_eq!(hb.client_id, "192.168.0.7@31337");
        assert_eq!(hb.producer_data_set, vec![ProducerData { group_name: "CLIENT_INNER_PRODUCER".into() }]);
        let c = &hb.consumer_data_set[0];
        assert_eq!(c.group_name, "please_rename_unique_group_name_4");
        assert_eq!(c.consume_type, ConsumeType::ConsumePassively);
        assert_eq!(c.message_model, MessageModel::Clustering);
        assert_eq!(c.consume_from_where, ConsumeFromWhere::ConsumeFromFirstOffset);
        let s = &c.subscription_data_set[0];
        assert_eq!(s.topic, "TopicTest");
        assert_eq!(s.sub_string, "TagA || TagB");
        assert_eq!(s.tags_set.iter().map(String::as_str).collect::<Vec<_>>(), ["TagA", "TagB"]);
        assert_eq!(s.code_set.iter().copied().collect::<Vec<_>>(), [2_598_919, 2_598_920]);
        assert_eq!(s.sub_version, 1_712_345_678_901);
        assert!(s.is_tag_type() && !s.is_all());
        assert!(c.subscription_data_set[1].is_all());
        assert_eq!(hb.heartbeat_fingerprint, 0);
        assert!(!hb.without_sub);

        let again: HeartbeatData = json::from_slice(&json::to_vec(&hb)).unwrap();
        assert_eq!(again, hb);
    }

    #[test]
    fn tolerates_nulls_ordinals_unknown_values_and_extra_fields() {
        let text = r#"{"clientID":null,"consumerDataSet":[{"groupName":"g","consumeType":1,"messageModel":null,
            "consumeFromWhere":"CONSUME_FROM_SOMEWHERE_NEW","subscriptionDataSet":[{"topic":"t","subString":null,
            "tagsSet":null,"codeSet":null,"expressionType":null,"filterClassSource":"x","newField":[1]}]}],
            "producerDataSet":null,"heartbeatFingerprint":-5,"withoutSub":true}"#;
        let hb: HeartbeatData = json::from_slice(text.as_bytes()).unwrap();
        assert_eq!(hb.client_id, "");
        assert!(hb.producer_data_set.is_empty());
        let c = &hb.consumer_data_set[0];
        assert_eq!(c.consume_type, ConsumeType::ConsumePassively);
        assert_eq!(c.message_model, MessageModel::Clustering);
        assert_eq!(c.consume_from_where, ConsumeFromWhere::ConsumeFromLastOffset);
        let s = &c.subscription_data_set[0];
        assert_eq!(s.expression_type, "");
        assert!(s.is_tag_type());
        assert_eq!(s.filter_class_source.as_deref(), Some("x"));
        assert!(!String::from_utf8(json::to_vec(s)).unwrap().contains("filterClassSource"));
        assert_eq!((hb.heartbeat_fingerprint, hb.without_sub), (-5, true));
    }

    #[test]
    fn enums_use_java_names_and_ordinals() {
        assert_eq!(ConsumeFromWhere::from_ordinal(4), Some(ConsumeFromWhere::ConsumeFromFirstOffset));
        assert_eq!(ConsumeType::ConsumePop.name(), "CONSUME_POP");
        for v in ConsumeFromWhere::ALL {
            let text = serde_json::to_string(v).unwrap();
            assert_eq!(text, format!("\"{}\"", v.name()));
            assert_eq!(serde_json::from_str::<ConsumeFromWhere>(&text).unwrap(), *v);
        }
    }

    #[test]
    fn lock_bodies_use_java_names() {
        let body = LockBatchRequestBody {
            consumer_group: "g".into(),
            client_id: "c".into(),
            only_this_broker: false,
            mq_set: [MessageQueue::new("t", "b", 1)].into_iter().collect(),
        };
        let text = String::from_utf8(json::to_vec(&body)).unwrap();
        assert_eq!(
            text,
            r#"{"consumerGroup":"g","clientId":"c","onlyThisBroker":false,"mqSet":[{"brokerName":"b","queueId":1,"topic":"t"}]}"#
        );
        assert_eq!(json::from_slice::<UnlockBatchRequestBody>(text.as_bytes()).unwrap(), body);
        let resp = LockBatchResponseBody { lock_ok_mq_set: body.mq_set.clone() };
        let text = String::from_utf8(json::to_vec(&resp)).unwrap();
        assert!(text.starts_with(r#"{"lockOKMQSet":[{"#));
        let ids = GetConsumerListByGroupResponseBody { consumer_id_list: vec!["a".into()] };
        assert_eq!(json::to_vec(&ids), br#"{"consumerIdList":["a"]}"#);
    }

    #[test]
    fn consumer_connection_round_trips() {
        let mut cc = ConsumerConnection::default();
        cc.connection_set.insert(ClientConnection {
            client_id: "c1".into(),
            client_addr: "127.0.0.1:5555".into(),
            language: "JAVA".into(),
            version: 401,
        });
        cc.subscription_table
            .insert("t".into(), SubscriptionData { topic: "t".into(), ..Default::default() });
        cc.consume_from_where = ConsumeFromWhere::ConsumeFromTimestamp;
        let text = json::to_vec(&cc);
        assert_eq!(json::from_slice::<ConsumerConnection>(&text).unwrap(), cc);
        let s = String::from_utf8(text).unwrap();
        assert!(s.contains(r#""connectionSet":[{"clientId":"c1","clientAddr":"127.0.0.1:5555","language":"JAVA","version":401}]"#));
        assert!(s.contains(r#""consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING""#));
    }

    /// The C++ client 2.1.0's heartbeat, as captured: enums as ordinals, subVersion a string.
    #[test]
    fn parses_the_cpp_client_heartbeat() {
        let body = br#"{"clientID":"127.0.0.1@9453#DEFAULT","consumerDataSet":[{"consumeFromWhere":0,"consumeType":1,"groupName":"py_cg_1","messageModel":1,"subscriptionDataSet":[{"subString":"*","subVersion":"1795244072105","topic":"%RETRY%py_cg_1"},{"subString":"*","subVersion":"1795244072105","topic":"PyTopic"}]}]}"#;
        let hb: HeartbeatData = json::from_slice(body).unwrap();
        let c = &hb.consumer_data_set[0];
        assert_eq!(c.message_model, MessageModel::Clustering);
        assert_eq!(c.consume_type, ConsumeType::ConsumePassively);
        assert_eq!(c.consume_from_where, ConsumeFromWhere::ConsumeFromLastOffset);
        assert_eq!(c.subscription_data_set[1].sub_version, 1_795_244_072_105);
        assert!(c.subscription_data_set[1].is_all());
    }
}
