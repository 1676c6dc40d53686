//! Well-known names (Java's `MixAll`, `TopicValidator` constants) and the metadata file
//! locations (`BrokerPathConfigHelper`).

use std::path::{Path, PathBuf};

/// Created when `autoCreateTopicEnable`; new topics inherit from it.
pub const AUTO_CREATE_TOPIC_KEY_TOPIC: &str = "TBW102";
pub const RMQ_SYS_SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
pub const RMQ_SYS_BENCHMARK_TOPIC: &str = "BenchmarkTest";
pub const RMQ_SYS_TRANS_HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
pub const RMQ_SYS_TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";
pub const RMQ_SYS_TRANS_OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
pub const RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
pub const RMQ_SYS_SELF_TEST_TOPIC: &str = "SELF_TEST_TOPIC";
pub const RMQ_SYS_OFFSET_MOVED_EVENT: &str = "OFFSET_MOVED_EVENT";
/// Any topic starting with it is a system topic.
pub const SYSTEM_TOPIC_PREFIX: &str = "rmq_sys_";

pub const DEFAULT_PRODUCER_GROUP: &str = "DEFAULT_PRODUCER";
pub const DEFAULT_CONSUMER_GROUP: &str = "DEFAULT_CONSUMER";
pub const TOOLS_CONSUMER_GROUP: &str = "TOOLS_CONSUMER";
pub const SCHEDULE_CONSUMER_GROUP: &str = "SCHEDULE_CONSUMER";
pub const FILTERSRV_CONSUMER_GROUP: &str = "FILTERSRV_CONSUMER";
pub const MONITOR_CONSUMER_GROUP: &str = "__MONITOR_CONSUMER";
pub const CLIENT_INNER_PRODUCER_GROUP: &str = "CLIENT_INNER_PRODUCER";
pub const SELF_TEST_PRODUCER_GROUP: &str = "SELF_TEST_P_GROUP";
pub const SELF_TEST_CONSUMER_GROUP: &str = "SELF_TEST_C_GROUP";
pub const ONS_HTTP_PROXY_GROUP: &str = "CID_ONS-HTTP-PROXY";
pub const CID_ONSAPI_PERMISSION_GROUP: &str = "CID_ONSAPI_PERMISSION";
pub const CID_ONSAPI_OWNER_GROUP: &str = "CID_ONSAPI_OWNER";
pub const CID_ONSAPI_PULL_GROUP: &str = "CID_ONSAPI_PULL";
/// Consumer groups starting with it are system groups (always auto-created).
pub const CID_RMQ_SYS_PREFIX: &str = "CID_RMQ_SYS_";
pub const CID_SYS_RMQ_TRANS: &str = "CID_RMQ_SYS_TRANS";

pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";
pub const REPLY_TOPIC_POSTFIX: &str = "REPLY_TOPIC";

/// `MixAll.getRetryTopic`: `%RETRY%<group>`.
pub fn retry_topic(consumer_group: &str) -> String {
    format!("{RETRY_GROUP_TOPIC_PREFIX}{consumer_group}")
}

/// `MixAll.getDLQTopic`: `%DLQ%<group>`.
pub fn dlq_topic(consumer_group: &str) -> String {
    format!("{DLQ_GROUP_TOPIC_PREFIX}{consumer_group}")
}

/// `MixAll.getReplyTopic`: `<cluster>_REPLY_TOPIC`.
pub fn reply_topic(cluster_name: &str) -> String {
    format!("{cluster_name}_{REPLY_TOPIC_POSTFIX}")
}

/// `MixAll.isSysConsumerGroup`.
pub fn is_sys_consumer_group(consumer_group: &str) -> bool {
    consumer_group.starts_with(CID_RMQ_SYS_PREFIX)
}

/// `<storePathRootDir>/config/topics.json`.
pub fn topic_config_path(store_root: &Path) -> PathBuf {
    store_root.join("config").join("topics.json")
}

/// `<storePathRootDir>/config/subscriptionGroup.json`.
pub fn subscription_group_path(store_root: &Path) -> PathBuf {
    store_root.join("config").join("subscriptionGroup.json")
}

/// `<storePathRootDir>/config/consumerOffset.json`.
pub fn consumer_offset_path(store_root: &Path) -> PathBuf {
    store_root.join("config").join("consumerOffset.json")
}

/// Milliseconds as Java's `long`.
pub(crate) fn java_ms(now_ms: u64) -> i64 {
    i64::try_from(now_ms).unwrap_or(i64::MAX)
}
