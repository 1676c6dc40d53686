//! NameServer configuration, with Apache RocketMQ's property names.
//!
//! Read from a properties file (`mqnamesrv -c namesrv.conf`) and command-line overrides.
//! A key we do not know is an error naming the key (a typo must not silently fall back to
//! a default); keys of Java's NameServer that ferromq has no use for (thread-pool sizes
//! and the like) are accepted and ignored with a log line.

use std::path::PathBuf;

use ferromq_protocol::frame::DEFAULT_MAX_FRAME_BYTES;
use ferromq_protocol::properties_text;

pub use ferromq_protocol::properties_text::ConfigError;

/// Java NameServer keys that have no meaning in ferromq; accepted and ignored.
const IGNORED_JAVA_KEYS: &[&str] = &[
    "defaultThreadPoolNums",
    "clientRequestThreadPoolNums",
    "defaultThreadPoolQueueCapacity",
    "clientRequestThreadPoolQueueCapacity",
    "clusterTest",
    "productEnvName",
    "enableAllTopicList",
    "enableTopicList",
    "notifyMinBrokerIdChanged",
    "enableControllerInNamesrv",
    "needWaitForService",
    "waitSecondsForService",
    "unRegisterBrokerQueueCapacity",
    "supportActingMaster",
    "configBlackList",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamesrvConfig {
    /// `listenPort`, default 9876.
    pub listen_port: u16,
    /// `bindAddress`, default 0.0.0.0.
    pub bind_address: String,
    /// `rocketmqHome`, default `$ROCKETMQ_HOME`.
    pub rocketmq_home: String,
    /// `kvConfigPath`, default `~/namesrv/kvConfig.json`.
    pub kv_config_path: PathBuf,
    /// `configStorePath`, default `~/namesrv/namesrv.properties`.
    pub config_store_path: PathBuf,
    /// `orderMessageEnable`: put the ORDER_TOPIC_CONFIG KV entry in routes.
    pub order_message_enable: bool,
    /// `returnOrderTopicConfigToBroker`, default true.
    pub return_order_topic_config_to_broker: bool,
    /// `scanNotActiveBrokerInterval` in ms, default 10 000.
    pub scan_not_active_broker_interval_ms: u64,
    /// `brokerChannelExpiredTime` in ms, default 120 000: a broker silent this long is
    /// removed (a 5.x broker's own `heartbeatTimeoutMillis` takes precedence).
    pub broker_channel_expired_time_ms: u64,
    /// `deleteTopicWithBrokerRegistration`, default false.
    pub delete_topic_with_broker_registration: bool,
    /// `frameMaxLength` (Java: `com.rocketmq.remoting.frameMaxLength`), default 16 MiB.
    pub frame_max_length: usize,
}

impl Default for NamesrvConfig {
    fn default() -> Self {
        let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
        NamesrvConfig {
            listen_port: 9876,
            bind_address: "0.0.0.0".into(),
            rocketmq_home: std::env::var("ROCKETMQ_HOME").unwrap_or_default(),
            kv_config_path: PathBuf::from(&home).join("namesrv").join("kvConfig.json"),
            config_store_path: PathBuf::from(&home).join("namesrv").join("namesrv.properties"),
            order_message_enable: false,
            return_order_topic_config_to_broker: true,
            scan_not_active_broker_interval_ms: 10_000,
            broker_channel_expired_time_ms: 120_000,
            delete_topic_with_broker_registration: false,
            frame_max_length: DEFAULT_MAX_FRAME_BYTES,
        }
    }
}

use ferromq_protocol::properties_text::{parse_bool, parse_value};

impl NamesrvConfig {
    /// Sets one property; `at` says where it came from, for the error message.
    pub fn set(&mut self, key: &str, value: &str, at: &str) -> Result<(), ConfigError> {
        match key {
            "listenPort" => self.listen_port = parse_value(key, value, at)?,
            "bindAddress" => self.bind_address = value.trim().to_owned(),
            "rocketmqHome" => self.rocketmq_home = value.trim().to_owned(),
            "kvConfigPath" => self.kv_config_path = PathBuf::from(value.trim()),
            "configStorePath" => self.config_store_path = PathBuf::from(value.trim()),
            "orderMessageEnable" => self.order_message_enable = parse_bool(key, value, at)?,
            "returnOrderTopicConfigToBroker" => {
                self.return_order_topic_config_to_broker = parse_bool(key, value, at)?
            }
            "scanNotActiveBrokerInterval" => {
                let ms: u64 = parse_value(key, value, at)?;
                if ms == 0 {
                    return Err(ConfigError::BadValue {
                        key: key.into(),
                        value: value.into(),
                        at: at.into(),
                        reason: "must be greater than 0".into(),
                    });
                }
                self.scan_not_active_broker_interval_ms = ms;
            }
            "brokerChannelExpiredTime" => self.broker_channel_expired_time_ms = parse_value(key, value, at)?,
            "deleteTopicWithBrokerRegistration" => {
                self.delete_topic_with_broker_registration = parse_bool(key, value, at)?
            }
            "frameMaxLength" | "com.rocketmq.remoting.frameMaxLength" => {
                let n: usize = parse_value(key, value, at)?;
                if n < 1024 {
                    return Err(ConfigError::BadValue {
                        key: key.into(),
                        value: value.into(),
                        at: at.into(),
                        reason: "must be at least 1024".into(),
                    });
                }
                self.frame_max_length = n;
            }
            k if IGNORED_JAVA_KEYS.contains(&k) || properties_text::JAVA_NETTY_SERVER_KEYS.contains(&k) => {
                tracing::info!(
                    key = k,
                    "configuration key of Java's NameServer ignored: ferromq has no use for it"
                );
            }
            _ => return Err(ConfigError::UnknownKey { key: key.to_owned(), at: at.to_owned() }),
        }
        Ok(())
    }

    /// Applies a properties text (a config file's content or an UPDATE_NAMESRV_CONFIG body).
    pub fn apply_properties(&mut self, text: &str, source: &str) -> Result<(), ConfigError> {
        properties_text::apply(text, source, |key, value, at| self.set(key, value, at))
    }

    /// All properties as `key=value` text (GET_NAMESRV_CONFIG, `mqnamesrv -p`).
    pub fn to_properties(&self) -> String {
        properties_text::format([
            ("listenPort", self.listen_port.to_string()),
            ("bindAddress", self.bind_address.clone()),
            ("rocketmqHome", self.rocketmq_home.clone()),
            ("kvConfigPath", self.kv_config_path.display().to_string()),
            ("configStorePath", self.config_store_path.display().to_string()),
            ("orderMessageEnable", self.order_message_enable.to_string()),
            ("returnOrderTopicConfigToBroker", self.return_order_topic_config_to_broker.to_string()),
            ("scanNotActiveBrokerInterval", self.scan_not_active_broker_interval_ms.to_string()),
            ("brokerChannelExpiredTime", self.broker_channel_expired_time_ms.to_string()),
            ("deleteTopicWithBrokerRegistration", self.delete_topic_with_broker_registration.to_string()),
            ("frameMaxLength", self.frame_max_length.to_string()),
        ])
    }
}

/// Keys an UPDATE_NAMESRV_CONFIG request may not change at run time (Java's
/// `configBlackList` default, plus what only takes effect at start).
pub const RUNTIME_IMMUTABLE_KEYS: &[&str] =
    &["configBlackList", "configStorePath", "kvConfigPath", "listenPort", "bindAddress", "rocketmqHome"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_rocketmqs() {
        let c = NamesrvConfig::default();
        assert_eq!(c.listen_port, 9876);
        assert_eq!(c.scan_not_active_broker_interval_ms, 10_000);
        assert_eq!(c.broker_channel_expired_time_ms, 120_000);
        assert_eq!(c.frame_max_length, 16 * 1024 * 1024);
    }

    #[test]
    fn file_values_apply_and_errors_name_the_key_and_line() {
        let mut c = NamesrvConfig::default();
        c.apply_properties("listenPort=19876\nserverWorkerThreads=8\norderMessageEnable=true\n", "ns.conf")
            .unwrap();
        assert_eq!(c.listen_port, 19876);
        assert!(c.order_message_enable);
        let err = c.apply_properties("\nlistenPrt=1\n", "ns.conf").unwrap_err();
        assert_eq!(err.to_string(), "unknown configuration key 'listenPrt' in ns.conf line 2");
        let err = c.apply_properties("listenPort=abc", "ns.conf").unwrap_err();
        assert!(err.to_string().starts_with("bad value 'abc' for 'listenPort' in ns.conf line 1"), "{err}");
        assert!(c.apply_properties("orderMessageEnable=yes", "x").is_err());
    }

    #[test]
    fn properties_round_trip() {
        let c = NamesrvConfig { listen_port: 1234, ..Default::default() };
        let mut d = NamesrvConfig::default();
        d.apply_properties(&c.to_properties(), "x").unwrap();
        assert_eq!(c, d);
    }
}
