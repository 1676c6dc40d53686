//! Admin bodies: topic and consumer statistics keyed by message queue, offset resets,
//! consume time spans, broker statistics.
//!
//! Maps keyed by [`MessageQueue`] use [`mq_key_map`]: written as standard JSON with the
//! queue's JSON text as key (which Java's fastjson reads), read from that form, and — through
//! [`crate::json::from_slice`] — from fastjson's own object-key form.

use serde::{Deserialize, Serialize};

use super::lenient::null_as_default;
use super::queue::{mq_key_map, MessageQueue, MessageQueueMap};

/// `TopicOffset`: one queue's offsets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicOffset {
    pub min_offset: i64,
    pub max_offset: i64,
    /// Store time of the last message, ms.
    pub last_update_timestamp: i64,
}

/// `TopicStatsTable`: GET_TOPIC_STATS_INFO.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicStatsTable {
    #[serde(with = "mq_key_map")]
    pub offset_table: MessageQueueMap<TopicOffset>,
    /// 5.x.
    pub topic_put_tps: f64,
}

/// `OffsetWrapper`: one queue's progress for a consumer group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OffsetWrapper {
    pub broker_offset: i64,
    pub consumer_offset: i64,
    /// 5.x.
    pub pull_offset: i64,
    /// Store time of the last consumed message, ms.
    pub last_timestamp: i64,
}

/// `ConsumeStats`: GET_CONSUME_STATS.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsumeStats {
    #[serde(with = "mq_key_map")]
    pub offset_table: MessageQueueMap<OffsetWrapper>,
    pub consume_tps: f64,
}

impl ConsumeStats {
    /// `ConsumeStats.computeTotalDiff`: messages not yet consumed over all queues.
    pub fn compute_total_diff(&self) -> i64 {
        self.offset_table.values().map(|o| o.broker_offset.saturating_sub(o.consumer_offset)).sum()
    }
}

/// `ResetOffsetBody`: INVOKE_BROKER_TO_RESET_OFFSET answer and RESET_CONSUMER_CLIENT_OFFSET
/// request body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResetOffsetBody {
    #[serde(with = "mq_key_map")]
    pub offset_table: MessageQueueMap<i64>,
}

/// `QueueTimeSpan`: the store-time span of a queue and where the group is in it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct QueueTimeSpan {
    pub message_queue: MessageQueue,
    pub min_time_stamp: i64,
    pub max_time_stamp: i64,
    pub consume_time_stamp: i64,
    pub delay_time: i64,
    /// Java also writes its getters' formatted dates (`yyyy-MM-dd HH:mm:ss,SSS`, local
    /// time); written when set, ignored by Java readers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_time_stamp_str: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_time_stamp_str: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consume_time_stamp_str: Option<String>,
}

/// `QueryConsumeTimeSpanBody`: QUERY_CONSUME_TIME_SPAN.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct QueryConsumeTimeSpanBody {
    #[serde(deserialize_with = "null_as_default")]
    pub consume_time_span_set: Vec<QueueTimeSpan>,
}

/// `BrokerStatsItem`: a sum, a rate and an average over one period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BrokerStatsItem {
    pub sum: i64,
    pub tps: f64,
    pub avgpt: f64,
}

/// `BrokerStatsData`: VIEW_BROKER_STATS_DATA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BrokerStatsData {
    pub stats_minute: BrokerStatsItem,
    pub stats_hour: BrokerStatsItem,
    pub stats_day: BrokerStatsItem,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn mq(i: i32) -> MessageQueue {
        MessageQueue::new("TopicTest", "broker-a", i)
    }

    #[test]
    fn topic_stats_write_string_keys_and_read_fastjson_object_keys() {
        let mut t = TopicStatsTable::default();
        t.offset_table.insert(mq(0), TopicOffset { min_offset: 0, max_offset: 7, last_update_timestamp: 99 });
        let text = String::from_utf8(json::to_vec(&t)).unwrap();
        assert_eq!(
            text,
            r#"{"offsetTable":{"{\"brokerName\":\"broker-a\",\"queueId\":0,\"topic\":\"TopicTest\"}":{"minOffset":0,"maxOffset":7,"lastUpdateTimestamp":99}},"topicPutTps":0.0}"#
        );
        assert_eq!(json::from_slice::<TopicStatsTable>(text.as_bytes()).unwrap(), t);

        // What a Java 4.9 broker sends (fastjson's object keys).
        let java = br#"{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}:{"lastUpdateTimestamp":99,"maxOffset":7,"minOffset":0}}}"#;
        assert_eq!(json::from_slice::<TopicStatsTable>(java).unwrap(), t);
    }

    #[test]
    fn consume_stats_round_trip_and_diff() {
        let mut c = ConsumeStats { consume_tps: 1.5, ..Default::default() };
        c.offset_table.insert(
            mq(1),
            OffsetWrapper { broker_offset: 10, consumer_offset: 4, pull_offset: 6, last_timestamp: 1 },
        );
        c.offset_table
            .insert(mq(0), OffsetWrapper { broker_offset: 3, consumer_offset: 3, ..Default::default() });
        assert_eq!(c.compute_total_diff(), 6);
        let text = json::to_vec(&c);
        assert_eq!(json::from_slice::<ConsumeStats>(&text).unwrap(), c);
        let java = br#"{"consumeTps":1.5,"offsetTable":{{"brokerName":"broker-a","queueId":1,"topic":"TopicTest"}:{"brokerOffset":10,"consumerOffset":4,"lastTimestamp":1,"pullOffset":6},{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}:{"brokerOffset":3,"consumerOffset":3,"lastTimestamp":0}}}"#;
        assert_eq!(json::from_slice::<ConsumeStats>(java).unwrap(), c);
    }

    #[test]
    fn reset_offset_and_time_span_bodies() {
        let mut r = ResetOffsetBody::default();
        r.offset_table.insert(mq(2), 42);
        let text = json::to_vec(&r);
        assert_eq!(json::from_slice::<ResetOffsetBody>(&text).unwrap(), r);
        assert_eq!(
            json::from_slice::<ResetOffsetBody>(br#"{"offsetTable":null}"#).unwrap(),
            ResetOffsetBody::default()
        );

        let span = QueryConsumeTimeSpanBody {
            consume_time_span_set: vec![QueueTimeSpan {
                message_queue: mq(0),
                delay_time: 5,
                ..Default::default()
            }],
        };
        let text = String::from_utf8(json::to_vec(&span)).unwrap();
        assert!(text.contains(r#""messageQueue":{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}"#));
        assert_eq!(json::from_slice::<QueryConsumeTimeSpanBody>(text.as_bytes()).unwrap(), span);
    }

    #[test]
    fn broker_stats_data_fields() {
        let d = BrokerStatsData {
            stats_minute: BrokerStatsItem { sum: 3, tps: 0.5, avgpt: 1.0 },
            ..Default::default()
        };
        let text = String::from_utf8(json::to_vec(&d)).unwrap();
        assert!(text.starts_with(r#"{"statsMinute":{"sum":3,"tps":0.5,"avgpt":1.0},"statsHour""#));
        assert_eq!(json::from_slice::<BrokerStatsData>(text.as_bytes()).unwrap(), d);
    }
}
