//! Consumer group bodies: subscription group configs, consumer offsets, group lists.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::lenient::null_as_default;
use super::topic::DataVersion;

/// `SubscriptionGroupConfig`: a consumer group's settings on a broker (4.9 fields plus the
/// 5.x ones; 5.x structures we do not interpret are carried through untouched).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SubscriptionGroupConfig {
    #[serde(deserialize_with = "null_as_default")]
    pub group_name: String,
    pub consume_enable: bool,
    pub consume_from_min_enable: bool,
    pub consume_broadcast_enable: bool,
    /// 5.x.
    pub consume_message_orderly: bool,
    pub retry_queue_nums: i32,
    pub retry_max_times: i32,
    /// 5.x `GroupRetryPolicy`, carried through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_retry_policy: Option<serde_json::Value>,
    pub broker_id: i64,
    pub which_broker_when_consume_slowly: i64,
    pub notify_consumer_ids_changed_enable: bool,
    /// 5.x.
    pub group_sys_flag: i32,
    /// 5.x.
    pub consume_timeout_minute: i32,
    /// 5.x `Set<SimpleSubscriptionData>`, carried through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_data_set: Option<serde_json::Value>,
    /// 5.x.
    #[serde(deserialize_with = "null_as_default")]
    pub attributes: BTreeMap<String, String>,
}

impl Default for SubscriptionGroupConfig {
    /// Java's defaults: consuming enabled, 1 retry queue, 16 retries, read from the master,
    /// slave 1 when slow, consumers notified of membership changes.
    fn default() -> Self {
        SubscriptionGroupConfig {
            group_name: String::new(),
            consume_enable: true,
            consume_from_min_enable: true,
            consume_broadcast_enable: true,
            consume_message_orderly: false,
            retry_queue_nums: 1,
            retry_max_times: 16,
            group_retry_policy: None,
            broker_id: 0,
            which_broker_when_consume_slowly: 1,
            notify_consumer_ids_changed_enable: true,
            group_sys_flag: 0,
            consume_timeout_minute: 15,
            subscription_data_set: None,
            attributes: BTreeMap::new(),
        }
    }
}

impl SubscriptionGroupConfig {
    pub fn new(group_name: impl Into<String>) -> Self {
        SubscriptionGroupConfig { group_name: group_name.into(), ..Default::default() }
    }
}

/// `SubscriptionGroupWrapper`: GET_ALL_SUBSCRIPTIONGROUP_CONFIG, and the broker's
/// `config/subscriptionGroup.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SubscriptionGroupWrapper {
    #[serde(deserialize_with = "null_as_default")]
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
    /// 5.x: group -> topic -> forbidden permission bits; carried through.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "null_as_default")]
    pub forbidden_table: BTreeMap<String, BTreeMap<String, i32>>,
    pub data_version: DataVersion,
}

/// `ConsumerOffsetSerializeWrapper`: GET_ALL_CONSUMER_OFFSET, and the broker's
/// `config/consumerOffset.json`: `"topic@group"` -> queue id -> offset. (fastjson writes
/// the queue ids bare, `{0:12}`; we write `{"0":12}` and read both.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsumerOffsetSerializeWrapper {
    #[serde(deserialize_with = "null_as_default")]
    pub offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
    /// 5.x.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_version: Option<DataVersion>,
}

/// `GroupList`: group names (QUERY_TOPIC_CONSUME_BY_WHO, GET_ALL_CONSUMER... ).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GroupList {
    #[serde(deserialize_with = "null_as_default")]
    pub group_list: BTreeSet<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn subscription_group_defaults_are_javas() {
        let g: SubscriptionGroupConfig = json::from_slice(br#"{"groupName":"g"}"#).unwrap();
        assert_eq!(g, SubscriptionGroupConfig::new("g"));
        assert_eq!(
            (g.retry_queue_nums, g.retry_max_times, g.broker_id, g.which_broker_when_consume_slowly),
            (1, 16, 0, 1)
        );
        assert!(g.consume_enable && g.notify_consumer_ids_changed_enable);
    }

    #[test]
    fn reads_a_java_49_subscription_group_file() {
        // As 4.9.8 persists it (fastjson pretty format, tabs).
        let text = "{\n\t\"dataVersion\":{\n\t\t\"counter\":3,\n\t\t\"timestamp\":1712345678901\n\t},\n\t\"subscriptionGroupTable\":{\n\t\t\"g1\":{\n\t\t\t\"brokerId\":0,\n\t\t\t\"consumeBroadcastEnable\":true,\n\t\t\t\"consumeEnable\":false,\n\t\t\t\"consumeFromMinEnable\":true,\n\t\t\t\"groupName\":\"g1\",\n\t\t\t\"notifyConsumerIdsChangedEnable\":true,\n\t\t\t\"retryMaxTimes\":3,\n\t\t\t\"retryQueueNums\":1,\n\t\t\t\"whichBrokerWhenConsumeSlowly\":1\n\t\t}\n\t}\n}";
        let w: SubscriptionGroupWrapper = json::from_slice(text.as_bytes()).unwrap();
        assert_eq!(w.data_version.counter, 3);
        let g = &w.subscription_group_table["g1"];
        assert!(!g.consume_enable);
        assert_eq!(g.retry_max_times, 3);
        assert_eq!(g.consume_timeout_minute, 15);
        let again: SubscriptionGroupWrapper = json::from_slice(&json::to_vec(&w)).unwrap();
        assert_eq!(again, w);
    }

    #[test]
    fn offsets_read_fastjson_bare_queue_ids() {
        let text = br#"{"offsetTable":{"TopicTest@g":{0:12,1:-1},"%RETRY%g@g":{"0":3}}}"#;
        let w: ConsumerOffsetSerializeWrapper = json::from_slice(text).unwrap();
        assert_eq!(w.offset_table["TopicTest@g"][&1], -1);
        assert_eq!(w.offset_table["%RETRY%g@g"][&0], 3);
        let out = String::from_utf8(json::to_vec(&w)).unwrap();
        assert_eq!(out, r#"{"offsetTable":{"%RETRY%g@g":{"0":3},"TopicTest@g":{"0":12,"1":-1}}}"#);
    }
}
