//! `MessageQueue`, and maps keyed by it as Java writes and reads them.
//!
//! Java bodies such as `TopicStatsTable`, `ConsumeStats` and `ResetOffsetBody` hold a
//! `Map<MessageQueue, V>`. fastjson (1.2.69, RocketMQ 4.9.x; same in 1.2.8x for 5.x) writes
//! such a key as the object itself, which is not JSON:
//! `{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:{...}}}`.
//! When reading, fastjson's `MapDeserializer.parseMap` also accepts a *string* key whose
//! text is the JSON of the bean, for bean-typed keys: `{"{\"brokerName\":\"b\",...}":{...}}`.
//! So we write the standard-JSON form (key = the JSON text of the queue, fields in
//! fastjson's alphabetical order), which Java 4.9/5.x and rocketmq-client-rust (its
//! `any_key_map`) read, and we read both forms: [`json::from_slice`] first turns
//! fastjson's object keys into such strings.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::json;

/// `MessageQueue`: one queue of a topic on one broker group.
///
/// Fields are declared in fastjson's (alphabetical) order so that [`Self::to_json_key`] is
/// byte-identical to what Java writes. Ordered as Java's `compareTo`: topic, broker, queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MessageQueue {
    #[serde(deserialize_with = "super::lenient::null_as_default")]
    pub broker_name: String,
    pub queue_id: i32,
    #[serde(deserialize_with = "super::lenient::null_as_default")]
    pub topic: String,
}

impl MessageQueue {
    pub fn new(topic: impl Into<String>, broker_name: impl Into<String>, queue_id: i32) -> Self {
        MessageQueue { broker_name: broker_name.into(), queue_id, topic: topic.into() }
    }

    /// The JSON text of the queue, used as a map key:
    /// `{"brokerName":"b","queueId":0,"topic":"t"}`.
    pub fn to_json_key(&self) -> String {
        format!(
            "{{\"brokerName\":{},\"queueId\":{},\"topic\":{}}}",
            serde_json::Value::String(self.broker_name.clone()),
            self.queue_id,
            serde_json::Value::String(self.topic.clone())
        )
    }

    /// Parses a key written by [`Self::to_json_key`] (or any JSON object with the fields).
    pub fn from_json_key(key: &str) -> Result<Self> {
        json::from_slice(key.as_bytes())
    }
}

impl Ord for MessageQueue {
    fn cmp(&self, other: &Self) -> Ordering {
        self.topic
            .cmp(&other.topic)
            .then_with(|| self.broker_name.cmp(&other.broker_name))
            .then_with(|| self.queue_id.cmp(&other.queue_id))
    }
}

impl PartialOrd for MessageQueue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for MessageQueue {
    /// Java's `MessageQueue.toString()`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MessageQueue [topic={}, brokerName={}, queueId={}]",
            self.topic, self.broker_name, self.queue_id
        )
    }
}

/// `#[serde(with = "mq_key_map")]` for a `BTreeMap<MessageQueue, V>`: keys written as the
/// queue's JSON text, read from such strings (`null` reads as an empty map).
pub mod mq_key_map {
    use std::collections::BTreeMap;

    use serde::de::Error as _;
    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::MessageQueue;

    pub fn serialize<S: Serializer, V: Serialize>(
        map: &BTreeMap<MessageQueue, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(map.len()))?;
        for (mq, v) in map {
            out.serialize_entry(&mq.to_json_key(), v)?;
        }
        out.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>, V: Deserialize<'de>>(
        d: D,
    ) -> Result<BTreeMap<MessageQueue, V>, D::Error> {
        let raw: Option<BTreeMap<String, V>> = Option::deserialize(d)?;
        let mut out = BTreeMap::new();
        for (key, v) in raw.unwrap_or_default() {
            let mq = MessageQueue::from_json_key(&key)
                .map_err(|e| D::Error::custom(format!("message queue key {key:?}: {e}")))?;
            out.insert(mq, v);
        }
        Ok(out)
    }
}

/// A `BTreeMap<MessageQueue, V>` (the alias documents the key encoding of [`mq_key_map`]).
pub type MessageQueueMap<V> = BTreeMap<MessageQueue, V>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_text_matches_fastjson() {
        let mq = MessageQueue::new("TopicTest", "broker-a", 3);
        assert_eq!(mq.to_json_key(), r#"{"brokerName":"broker-a","queueId":3,"topic":"TopicTest"}"#);
        assert_eq!(MessageQueue::from_json_key(&mq.to_json_key()).unwrap(), mq);
        let odd = MessageQueue::new("t\"\\x", "b\u{1}", -1);
        assert_eq!(MessageQueue::from_json_key(&odd.to_json_key()).unwrap(), odd);
    }

    #[test]
    fn orders_as_java_compare_to() {
        let mut v = [
            MessageQueue::new("b", "a", 0),
            MessageQueue::new("a", "z", 1),
            MessageQueue::new("a", "z", 0),
            MessageQueue::new("a", "y", 9),
        ];
        v.sort();
        let keys: Vec<_> = v.iter().map(|m| (m.topic.as_str(), m.broker_name.as_str(), m.queue_id)).collect();
        assert_eq!(keys, [("a", "y", 9), ("a", "z", 0), ("a", "z", 1), ("b", "a", 0)]);
    }

    #[test]
    fn object_keys_become_strings() {
        let s = br#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:{"x":1}, {"brokerName":"b","queueId":1,"topic":"t"} : 2},"arr":[{"a":1},{"b":"{}:"}]}"#;
        let fixed = json::quote_bare_keys(s);
        let v: serde_json::Value = serde_json::from_slice(&fixed).unwrap();
        let table = v["offsetTable"].as_object().unwrap();
        assert_eq!(table.len(), 2);
        assert_eq!(table[r#"{"brokerName":"b","queueId":0,"topic":"t"}"#]["x"], 1);
        assert_eq!(v["arr"][1]["b"], "{}:");
    }

    #[test]
    fn standard_json_is_borrowed() {
        let s = br#"{"a":[{"b":{"c":1}},{"d":2}],"e":"{x}:"}"#;
        assert!(matches!(json::quote_bare_keys(s), std::borrow::Cow::Borrowed(_)));
        assert!(matches!(json::quote_bare_keys(b"{{"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn nesting_deeper_than_the_parser_takes_is_left_to_it() {
        // Every brace in key position, none a key: the scan stops at the depth serde_json
        // refuses, without indexing the rest.
        let mut s = vec![b'{'; 200_000];
        s.extend(std::iter::repeat_n(b'}', 100_000));
        assert!(matches!(json::quote_bare_keys(&s), std::borrow::Cow::Borrowed(_)));
        assert!(json::from_slice::<serde_json::Value>(&s).is_err());
        let within = format!("{}{{1:2}}{}", "[".repeat(100), "]".repeat(100));
        assert!(json::from_slice::<serde_json::Value>(within.as_bytes()).is_ok());
    }

    #[test]
    fn many_and_nested_object_keys() {
        let many: Vec<String> = (0..10_000).map(|i| format!("{{\"q\":{i}}}:{i}")).collect();
        let body = format!("{{\"m\":{{{}}}}}", many.join(","));
        let v: serde_json::Value = json::from_slice(body.as_bytes()).unwrap();
        assert_eq!(v["m"].as_object().unwrap().len(), 10_000);
        assert_eq!(v["m"][r#"{"q":9999}"#], 9999);
        // A key object holding a key object is one key: its text, as written.
        let v: serde_json::Value = json::from_slice(br#"{{{"a":1}:2}:3, 4:{{"b":1}:5}}"#).unwrap();
        assert_eq!(v[r#"{{"a":1}:2}"#], 3);
        assert_eq!(v["4"][r#"{"b":1}"#], 5);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = json::quote_bare_keys(&bytes);
            let _ = json::from_slice::<serde_json::Value>(&bytes);
        }

        #[test]
        fn keeps_standard_json(v in json_value()) {
            let text = serde_json::to_vec(&v).unwrap();
            proptest::prop_assert!(matches!(json::quote_bare_keys(&text), std::borrow::Cow::Borrowed(_)));
            proptest::prop_assert_eq!(json::from_slice::<serde_json::Value>(&text).unwrap(), v);
        }

        #[test]
        fn object_keyed_maps_round_trip(entries in proptest::collection::vec(("[a-z%|\"\\\\{}:,]{0,8}", "[a-z]{0,4}", proptest::prelude::any::<i32>(), proptest::prelude::any::<i64>()), 0..8)) {
            let map: MessageQueueMap<i64> = entries.into_iter().map(|(t, b, q, v)| (MessageQueue::new(t, b, q), v)).collect();
            // fastjson's object-key form, built by hand.
            let body = format!("{{\"m\":{{{}}}}}", map.iter().map(|(k, v)| format!("{}:{}", k.to_json_key(), v)).collect::<Vec<_>>().join(","));
            #[derive(Deserialize)]
            struct W {
                #[serde(with = "mq_key_map")]
                m: MessageQueueMap<i64>,
            }
            let w: W = json::from_slice(body.as_bytes()).unwrap();
            proptest::prop_assert_eq!(w.m, map);
        }
    }

    /// Arbitrary standard JSON: strings full of braces, colons and digits, arrays of
    /// objects, objects in objects.
    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "[{}:,0-9a\"]{0,6}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[{}:,0-9a]{0,4}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn pretty_printed_keys_are_escaped() {
        let s = b"{\"m\":{{\n\t\"brokerName\":\"b\",\n\t\"queueId\":2,\n\t\"topic\":\"t\"\n}:5}}";
        #[derive(Deserialize)]
        struct W {
            #[serde(with = "mq_key_map")]
            m: MessageQueueMap<i64>,
        }
        let w: W = json::from_slice(s).unwrap();
        assert_eq!(w.m.get(&MessageQueue::new("t", "b", 2)), Some(&5));
    }
}
