//! Topic configuration and the data version that tells a NameServer whether it changed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `TopicFilterType`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TopicFilterType {
    #[default]
    SingleTag,
    MultiTag,
}

/// `TopicConfig`: one topic on one broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicConfig {
    pub topic_name: String,
    pub read_queue_nums: i32,
    pub write_queue_nums: i32,
    pub perm: i32,
    pub topic_filter_type: TopicFilterType,
    pub topic_sys_flag: i32,
    pub order: bool,
    /// 5.x topic attributes (`+message.type=NORMAL` ...).
    pub attributes: BTreeMap<String, String>,
}

/// Java's defaults: 16 queues each way, read and write permission.
pub const DEFAULT_READ_QUEUE_NUMS: i32 = 16;
pub const DEFAULT_WRITE_QUEUE_NUMS: i32 = 16;

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            topic_name: String::new(),
            read_queue_nums: DEFAULT_READ_QUEUE_NUMS,
            write_queue_nums: DEFAULT_WRITE_QUEUE_NUMS,
            perm: super::perm::READ | super::perm::WRITE,
            topic_filter_type: TopicFilterType::SingleTag,
            topic_sys_flag: 0,
            order: false,
            attributes: BTreeMap::new(),
        }
    }
}

impl TopicConfig {
    pub fn new(topic_name: impl Into<String>) -> Self {
        TopicConfig { topic_name: topic_name.into(), ..Default::default() }
    }

    /// `TopicConfig.encode()`: the space-separated form used by compressed registration.
    pub fn encode_compact(&self) -> String {
        let filter = match self.topic_filter_type {
            TopicFilterType::SingleTag => "SINGLE_TAG",
            TopicFilterType::MultiTag => "MULTI_TAG",
        };
        format!(
            "{} {} {} {} {} {} {}",
            self.topic_name,
            self.read_queue_nums,
            self.write_queue_nums,
            self.perm,
            filter,
            self.topic_sys_flag,
            self.order
        )
    }

    /// `TopicConfig.decode()`; `None` for a malformed line.
    pub fn decode_compact(text: &str) -> Option<TopicConfig> {
        let parts: Vec<&str> = text.split(' ').collect();
        if parts.len() < 5 {
            return None;
        }
        let filter = match parts[4] {
            "SINGLE_TAG" => TopicFilterType::SingleTag,
            "MULTI_TAG" => TopicFilterType::MultiTag,
            _ => return None,
        };
        Some(TopicConfig {
            topic_name: parts[0].to_owned(),
            read_queue_nums: parts[1].parse().ok()?,
            write_queue_nums: parts[2].parse().ok()?,
            perm: parts[3].parse().ok()?,
            topic_filter_type: filter,
            topic_sys_flag: parts.get(5).and_then(|s| s.parse().ok()).unwrap_or(0),
            order: parts.get(6).map(|s| s.eq_ignore_ascii_case("true")).unwrap_or(false),
            attributes: BTreeMap::new(),
        })
    }
}

/// `DataVersion`: changes whenever a broker's topic set changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DataVersion {
    pub state_version: i64,
    pub timestamp: i64,
    pub counter: i64,
}

impl DataVersion {
    pub fn new(now_ms: i64) -> Self {
        DataVersion { state_version: 0, timestamp: now_ms, counter: 0 }
    }

    /// `DataVersion.nextVersion()`.
    pub fn next(&mut self, now_ms: i64) {
        self.timestamp = now_ms;
        self.counter += 1;
    }
}

/// `TopicConfigSerializeWrapper`: a broker's topics and their version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicConfigSerializeWrapper {
    pub topic_config_table: BTreeMap<String, TopicConfig>,
    pub data_version: DataVersion,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_form_round_trips() {
        let mut t = TopicConfig::new("TopicTest");
        t.read_queue_nums = 8;
        t.order = true;
        assert_eq!(t.encode_compact(), "TopicTest 8 16 6 SINGLE_TAG 0 true");
        assert_eq!(TopicConfig::decode_compact(&t.encode_compact()), Some(t));
        assert_eq!(TopicConfig::decode_compact("x 1"), None);
    }
}
