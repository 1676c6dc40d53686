//! Broker configuration: `BrokerConfig` (broker keys) plus the store's
//! `MessageStoreConfig`, read from one `broker.conf` with Apache RocketMQ's property
//! names, overridable on the command line. An unknown key is an error naming it; keys of
//! Java's broker that mean nothing here (thread pools, Netty buffers) are accepted and
//! ignored with a log line.

use std::path::PathBuf;

use ferromq_protocol::body::perm;
use ferromq_protocol::frame::DEFAULT_MAX_FRAME_BYTES;
use ferromq_protocol::properties_text;
use ferromq_store::{BrokerRole, FlushDiskType, MessageStoreConfig};

pub use ferromq_protocol::properties_text::ConfigError;

/// Java broker keys with no meaning in ferromq (tokio replaces the thread pools).
const IGNORED_JAVA_KEYS: &[&str] = &[
    "sendMessageThreadPoolNums",
    "pullMessageThreadPoolNums",
    "litePullMessageThreadPoolNums",
    "ackMessageThreadPoolNums",
    "processReplyMessageThreadPoolNums",
    "queryMessageThreadPoolNums",
    "adminBrokerThreadPoolNums",
    "clientManageThreadPoolNums",
    "consumerManageThreadPoolNums",
    "heartbeatThreadPoolNums",
    "endTransactionThreadPoolNums",
    "sendThreadPoolQueueCapacity",
    "pullThreadPoolQueueCapacity",
    "queryThreadPoolQueueCapacity",
    "clientManagerThreadPoolQueueCapacity",
    "consumerManagerThreadPoolQueueCapacity",
    "heartbeatThreadPoolQueueCapacity",
    "endTransactionPoolQueueCapacity",
    "useReentrantLockWhenPutMessage",
    "waitTimeMillsInSendQueue",
    "waitTimeMillsInPullQueue",
    "waitTimeMillsInHeartbeatQueue",
    "waitTimeMillsInTransactionQueue",
    "brokerFastFailureEnable",
    "transferMsgByHeap",
    "fetchNamesrvAddrByAddressServer",
    "clientWorkerThreads",
    "clientCallbackExecutorThreads",
    "clientOnewaySemaphoreValue",
    "clientAsyncSemaphoreValue",
    "connectTimeoutMillis",
    "channelNotActiveInterval",
    "clientChannelMaxIdleTimeSeconds",
    "clientSocketSndBufSize",
    "clientSocketRcvBufSize",
    "clientPooledByteBufAllocatorEnable",
    "clientCloseSocketIfTimeout",
    "useTLS",
    "osPageCacheBusyTimeOutMills",
    "transientStorePoolEnable",
    "flushLeastPagesWhenWarmMapedFile",
    "highSpeedMode",
    "commercialEnable",
    "filterServerNums",
    "slaveReadEnable",
    "isEnableBatchPush",
    "enableCalcFilterBitMap",
    "rocketmqHome",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// `brokerClusterName`, default `DefaultCluster`.
    pub broker_cluster_name: String,
    /// `brokerName`, default `broker-a`.
    pub broker_name: String,
    /// `brokerId`: 0 master, > 0 slave.
    pub broker_id: i64,
    /// `listenPort`, default 10911 (HA port is `listenPort + 1`).
    pub listen_port: u16,
    /// `brokerIP1`: the address registered with the NameServers and given to clients.
    /// Default 127.0.0.1; set it for a multi-host deployment.
    pub broker_ip1: String,
    /// `brokerIP2`: the address slaves replicate from (defaults to `brokerIP1`).
    pub broker_ip2: String,
    /// `bindAddress`, default 0.0.0.0.
    pub bind_address: String,
    /// `namesrvAddr`: `host:port;host:port` (also `$NAMESRV_ADDR`).
    pub namesrv_addr: Vec<String>,
    /// `brokerPermission`, default RW (6).
    pub broker_permission: i32,
    /// `defaultTopicQueueNums`, default 8.
    pub default_topic_queue_nums: i32,
    /// `autoCreateTopicEnable`, default true.
    pub auto_create_topic_enable: bool,
    /// `autoCreateSubscriptionGroup`, default true.
    pub auto_create_subscription_group: bool,
    /// `clusterTopicEnable` / `brokerTopicEnable`: create the cluster- and broker-name topics.
    pub cluster_topic_enable: bool,
    pub broker_topic_enable: bool,
    /// `registerNameServerPeriod` in ms, default 30 000 (clamped 10 s..60 s in Java; not here,
    /// so that tests can run fast).
    pub register_name_server_period_ms: u64,
    /// `registerBrokerTimeoutMills`, default 6 000.
    pub register_broker_timeout_ms: u64,
    /// `brokerNotActiveTimeoutMillis`: sent to NameServers as the heartbeat timeout, default 120 000.
    pub broker_not_active_timeout_ms: u64,
    /// `compressedRegister`, default false.
    pub compressed_register: bool,
    /// `forceRegister`, default true.
    pub force_register: bool,
    /// `longPollingEnable`, default true.
    pub long_polling_enable: bool,
    /// `shortPollingTimeMills`, default 1 000.
    pub short_polling_time_ms: u64,
    /// `notifyConsumerIdsChangedEnable`, default true.
    pub notify_consumer_ids_changed_enable: bool,
    /// `flushConsumerOffsetInterval` in ms, default 5 000.
    pub flush_consumer_offset_interval_ms: u64,
    /// `channelExpiredTimeout` in ms, default 120 000: a client silent this long is dropped.
    pub channel_expired_timeout_ms: u64,
    /// `clientHousekeepingInterval` in ms, default 10 000: the client channel scan.
    pub client_housekeeping_interval_ms: u64,
    /// `rejectTransactionMessage`, default false.
    pub reject_transaction_message: bool,
    /// `traceTopicEnable` / `msgTraceTopicName`.
    pub trace_topic_enable: bool,
    pub msg_trace_topic_name: String,
    /// `regionId`, default `DefaultRegion`.
    pub region_id: String,
    /// `traceOn`, default true.
    pub trace_on: bool,
    /// `metricsPromExporterPort`: Prometheus `/metrics`; 0 disables. Default 5557.
    pub metrics_prom_exporter_port: u16,
    /// `frameMaxLength`: largest request frame, default 16 MiB.
    pub frame_max_length: usize,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            broker_cluster_name: "DefaultCluster".into(),
            broker_name: "broker-a".into(),
            broker_id: 0,
            listen_port: 10911,
            broker_ip1: "127.0.0.1".into(),
            broker_ip2: String::new(),
            bind_address: "0.0.0.0".into(),
            namesrv_addr: std::env::var("NAMESRV_ADDR").map(|v| split_addrs(&v)).unwrap_or_default(),
            broker_permission: perm::READ | perm::WRITE,
            default_topic_queue_nums: 8,
            auto_create_topic_enable: true,
            auto_create_subscription_group: true,
            cluster_topic_enable: true,
            broker_topic_enable: true,
            register_name_server_period_ms: 30_000,
            register_broker_timeout_ms: 6_000,
            broker_not_active_timeout_ms: 120_000,
            compressed_register: false,
            force_register: true,
            long_polling_enable: true,
            short_polling_time_ms: 1_000,
            notify_consumer_ids_changed_enable: true,
            flush_consumer_offset_interval_ms: 5_000,
            channel_expired_timeout_ms: 120_000,
            client_housekeeping_interval_ms: 10_000,
            reject_transaction_message: false,
            trace_topic_enable: false,
            msg_trace_topic_name: "RMQ_SYS_TRACE_TOPIC".into(),
            region_id: "DefaultRegion".into(),
            trace_on: true,
            metrics_prom_exporter_port: 5557,
            frame_max_length: DEFAULT_MAX_FRAME_BYTES,
        }
    }
}

fn split_addrs(v: &str) -> Vec<String> {
    v.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

use ferromq_protocol::properties_text::{parse_bool as boolean, parse_value as num};

fn bad(key: &str, value: &str, at: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::bad(key, value, at, reason)
}

impl BrokerConfig {
    /// Sets a broker key; `Ok(false)` when the key is not a broker key.
    fn set(&mut self, key: &str, value: &str, at: &str) -> Result<bool, ConfigError> {
        let v = value.trim();
        match key {
            "brokerClusterName" => self.broker_cluster_name = v.into(),
            "brokerName" => {
                if v.is_empty() {
                    return Err(bad(key, value, at, "must not be empty"));
                }
                self.broker_name = v.into()
            }
            "brokerId" => {
                let id: i64 = num(key, value, at)?;
                if id < 0 {
                    return Err(bad(key, value, at, "must be 0 (master) or greater (slave)"));
                }
                self.broker_id = id;
            }
            "listenPort" => self.listen_port = num(key, value, at)?,
            "brokerIP1" => self.broker_ip1 = v.into(),
            "brokerIP2" => self.broker_ip2 = v.into(),
            "bindAddress" => self.bind_address = v.into(),
            "namesrvAddr" => self.namesrv_addr = split_addrs(v),
            "brokerPermission" => {
                let p: i32 = num(key, value, at)?;
                if !(0..=15).contains(&p) {
                    return Err(bad(key, value, at, "expected permission bits 0..15 (R=4, W=2)"));
                }
                self.broker_permission = p;
            }
            "defaultTopicQueueNums" => {
                let n: i32 = num(key, value, at)?;
                if n <= 0 {
                    return Err(bad(key, value, at, "must be at least 1"));
                }
                self.default_topic_queue_nums = n;
            }
            "autoCreateTopicEnable" => self.auto_create_topic_enable = boolean(key, value, at)?,
            "autoCreateSubscriptionGroup" => self.auto_create_subscription_group = boolean(key, value, at)?,
            "clusterTopicEnable" => self.cluster_topic_enable = boolean(key, value, at)?,
            "brokerTopicEnable" => self.broker_topic_enable = boolean(key, value, at)?,
            "registerNameServerPeriod" => self.register_name_server_period_ms = num(key, value, at)?,
            "registerBrokerTimeoutMills" => self.register_broker_timeout_ms = num(key, value, at)?,
            "brokerNotActiveTimeoutMillis" => self.broker_not_active_timeout_ms = num(key, value, at)?,
            "compressedRegister" => self.compressed_register = boolean(key, value, at)?,
            "forceRegister" => self.force_register = boolean(key, value, at)?,
            "longPollingEnable" => self.long_polling_enable = boolean(key, value, at)?,
            "shortPollingTimeMills" => self.short_polling_time_ms = num(key, value, at)?,
            "notifyConsumerIdsChangedEnable" => {
                self.notify_consumer_ids_changed_enable = boolean(key, value, at)?
            }
            "flushConsumerOffsetInterval" => self.flush_consumer_offset_interval_ms = num(key, value, at)?,
            "channelExpiredTimeout" => self.channel_expired_timeout_ms = num(key, value, at)?,
            "clientHousekeepingInterval" => self.client_housekeeping_interval_ms = num(key, value, at)?,
            "rejectTransactionMessage" => self.reject_transaction_message = boolean(key, value, at)?,
            "traceTopicEnable" => self.trace_topic_enable = boolean(key, value, at)?,
            "msgTraceTopicName" => self.msg_trace_topic_name = v.into(),
            "regionId" => self.region_id = v.into(),
            "traceOn" => self.trace_on = boolean(key, value, at)?,
            "metricsPromExporterPort" => self.metrics_prom_exporter_port = num(key, value, at)?,
            "frameMaxLength" | "com.rocketmq.remoting.frameMaxLength" => {
                let n: usize = num(key, value, at)?;
                if n < 1024 {
                    return Err(bad(key, value, at, "must be at least 1024"));
                }
                self.frame_max_length = n;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `brokerIP1:listenPort`, the address clients use.
    pub fn broker_addr(&self) -> String {
        format!("{}:{}", self.broker_ip1, self.listen_port)
    }

    /// `brokerIP2:listenPort+1`, the address slaves replicate from.
    pub fn ha_server_addr(&self) -> String {
        let ip = if self.broker_ip2.is_empty() { &self.broker_ip1 } else { &self.broker_ip2 };
        format!("{}:{}", ip, self.listen_port.saturating_add(1))
    }
}

/// Everything `mqbroker` reads: broker keys and store keys from one file.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    pub broker: BrokerConfig,
    pub store: MessageStoreConfig,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
        BrokerSettings {
            broker: BrokerConfig::default(),
            store: MessageStoreConfig::with_root(PathBuf::from(home).join("store")),
        }
    }
}

impl BrokerSettings {
    /// Sets one property, broker or store; `at` says where it came from.
    pub fn set(&mut self, key: &str, value: &str, at: &str) -> Result<(), ConfigError> {
        if self.broker.set(key, value, at)? {
            return Ok(());
        }
        match self.store.set(key, value) {
            Ok(true) => Ok(()),
            Ok(false)
                if (IGNORED_JAVA_KEYS.contains(&key)
                    || properties_text::JAVA_NETTY_SERVER_KEYS.contains(&key)) =>
            {
                tracing::info!(key, "configuration key of Java's broker ignored: ferromq has no use for it");
                Ok(())
            }
            Ok(false) => Err(ConfigError::UnknownKey { key: key.into(), at: at.into() }),
            Err(e) => Err(bad(key, value, at, e.to_string())),
        }
    }

    /// Applies properties text (a `broker.conf`, or an UPDATE_BROKER_CONFIG body).
    pub fn apply_properties(&mut self, text: &str, source: &str) -> Result<(), ConfigError> {
        properties_text::apply(text, source, |key, value, at| self.set(key, value, at))
    }

    /// Checks across keys, after everything is applied.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.store.validate().map_err(|e| bad("store", "", "", e.to_string()))?;
        if self.store.enable_dleger_commit_log {
            return Err(bad(
                "enableDLegerCommitLog",
                "true",
                "",
                "DLedger (Raft) replication is not in this broker yet (the store's Raft-log mode is; \
                 the broker's send path and the Raft driver are not)",
            ));
        }
        let slave = self.store.broker_role == BrokerRole::Slave;
        if slave && self.broker.broker_id == 0 {
            return Err(bad("brokerId", "0", "", "a SLAVE must have brokerId > 0"));
        }
        if !slave && self.broker.broker_id != 0 {
            return Err(bad(
                "brokerRole",
                "master",
                "",
                format!("a master must have brokerId 0 (brokerId is {})", self.broker.broker_id),
            ));
        }
        Ok(())
    }

    /// The properties GET_BROKER_CONFIG returns and `mqbroker -p` prints.
    pub fn to_properties(&self) -> String {
        let b = &self.broker;
        let s = &self.store;
        let role = match s.broker_role {
            BrokerRole::AsyncMaster => "ASYNC_MASTER",
            BrokerRole::SyncMaster => "SYNC_MASTER",
            BrokerRole::Slave => "SLAVE",
        };
        let flush = match s.flush_disk_type {
            FlushDiskType::SyncFlush => "SYNC_FLUSH",
            FlushDiskType::AsyncFlush => "ASYNC_FLUSH",
        };
        properties_text::format([
            ("brokerClusterName", b.broker_cluster_name.clone()),
            ("brokerName", b.broker_name.clone()),
            ("brokerId", b.broker_id.to_string()),
            ("listenPort", b.listen_port.to_string()),
            ("brokerIP1", b.broker_ip1.clone()),
            ("brokerIP2", b.broker_ip2.clone()),
            ("bindAddress", b.bind_address.clone()),
            ("namesrvAddr", b.namesrv_addr.join(";")),
            ("brokerPermission", b.broker_permission.to_string()),
            ("defaultTopicQueueNums", b.default_topic_queue_nums.to_string()),
            ("autoCreateTopicEnable", b.auto_create_topic_enable.to_string()),
            ("autoCreateSubscriptionGroup", b.auto_create_subscription_group.to_string()),
            ("clusterTopicEnable", b.cluster_topic_enable.to_string()),
            ("brokerTopicEnable", b.broker_topic_enable.to_string()),
            ("registerNameServerPeriod", b.register_name_server_period_ms.to_string()),
            ("registerBrokerTimeoutMills", b.register_broker_timeout_ms.to_string()),
            ("brokerNotActiveTimeoutMillis", b.broker_not_active_timeout_ms.to_string()),
            ("compressedRegister", b.compressed_register.to_string()),
            ("forceRegister", b.force_register.to_string()),
            ("longPollingEnable", b.long_polling_enable.to_string()),
            ("shortPollingTimeMills", b.short_polling_time_ms.to_string()),
            ("notifyConsumerIdsChangedEnable", b.notify_consumer_ids_changed_enable.to_string()),
            ("flushConsumerOffsetInterval", b.flush_consumer_offset_interval_ms.to_string()),
            ("channelExpiredTimeout", b.channel_expired_timeout_ms.to_string()),
            ("clientHousekeepingInterval", b.client_housekeeping_interval_ms.to_string()),
            ("rejectTransactionMessage", b.reject_transaction_message.to_string()),
            ("traceTopicEnable", b.trace_topic_enable.to_string()),
            ("msgTraceTopicName", b.msg_trace_topic_name.clone()),
            ("regionId", b.region_id.clone()),
            ("traceOn", b.trace_on.to_string()),
            ("metricsPromExporterPort", b.metrics_prom_exporter_port.to_string()),
            ("frameMaxLength", b.frame_max_length.to_string()),
            ("storePathRootDir", s.store_path_root_dir.display().to_string()),
            ("storePathCommitLog", s.commit_log_dir().display().to_string()),
            ("brokerRole", role.to_string()),
            ("flushDiskType", flush.to_string()),
            ("mappedFileSizeCommitLog", s.mapped_file_size_commit_log.to_string()),
            ("mappedFileSizeConsumeQueue", s.mapped_file_size_consume_queue.to_string()),
            ("flushIntervalCommitLog", s.flush_interval_commit_log_ms.to_string()),
            ("syncFlushTimeout", s.sync_flush_timeout_ms.to_string()),
            ("fileReservedTime", s.file_reserved_time_hours.to_string()),
            ("deleteWhen", s.delete_when.iter().map(|h| format!("{h:02}")).collect::<Vec<_>>().join(";")),
            ("diskMaxUsedSpaceRatio", s.disk_max_used_space_ratio.to_string()),
            ("maxMessageSize", s.max_message_size.to_string()),
            ("messageIndexEnable", s.message_index_enable.to_string()),
            ("warmMapedFileEnable", s.warm_commit_log().to_string()),
            ("enableDLegerCommitLog", s.enable_dleger_commit_log.to_string()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_rocketmq_broker_conf() {
        let mut s = BrokerSettings::default();
        let conf = "brokerClusterName = DefaultCluster\nbrokerName = broker-b\nbrokerId = 0\ndeleteWhen = 04\n\
                    fileReservedTime = 48\nbrokerRole = ASYNC_MASTER\nflushDiskType = SYNC_FLUSH\n\
                    namesrvAddr=127.0.0.1:9876;127.0.0.1:9877\nsendMessageThreadPoolNums=16\nlistenPort=10921\n\
                    storePathRootDir=/tmp/x\nautoCreateTopicEnable=false\n";
        s.apply_properties(conf, "broker.conf").unwrap();
        s.validate().unwrap();
        assert_eq!(s.broker.broker_name, "broker-b");
        assert_eq!(s.broker.namesrv_addr, vec!["127.0.0.1:9876", "127.0.0.1:9877"]);
        assert_eq!(s.broker.listen_port, 10921);
        assert_eq!(s.broker.ha_server_addr(), "127.0.0.1:10922");
        assert!(!s.broker.auto_create_topic_enable);
        assert_eq!(s.store.flush_disk_type, FlushDiskType::SyncFlush);
        assert_eq!(s.store.file_reserved_time_hours, 48);
    }

    #[test]
    fn errors_name_the_key() {
        let mut s = BrokerSettings::default();
        let e = s.apply_properties("brokerNme=x", "broker.conf").unwrap_err();
        assert_eq!(e.to_string(), "unknown configuration key 'brokerNme' in broker.conf line 1");
        let e = s.apply_properties("flushDiskType=SOMETIMES", "broker.conf").unwrap_err();
        assert!(e.to_string().contains("flushDiskType"), "{e}");
        let e = s.apply_properties("listenPort=70000", "broker.conf").unwrap_err();
        assert!(e.to_string().starts_with("bad value '70000' for 'listenPort'"), "{e}");
        s.apply_properties("brokerRole=SLAVE", "x").unwrap();
        assert!(s.validate().is_err(), "a slave with brokerId 0 is refused");
        let mut s = BrokerSettings::default();
        s.apply_properties("enableDLegerCommitLog=true", "x").unwrap();
        let e = s.validate().unwrap_err();
        assert!(e.to_string().contains("enableDLegerCommitLog"), "{e}");
    }

    #[test]
    fn properties_text_round_trips() {
        let mut s = BrokerSettings::default();
        s.apply_properties("brokerName=b7\nlistenPort=1234\nflushDiskType=SYNC_FLUSH", "x").unwrap();
        let mut t = BrokerSettings::default();
        t.apply_properties(&s.to_properties(), "y").unwrap();
        assert_eq!(t.broker, s.broker);
        assert_eq!(t.store.flush_disk_type, FlushDiskType::SyncFlush);
        // Printed as it takes effect: pre-written by default for SYNC_FLUSH, not for ASYNC.
        assert!(s.to_properties().contains("warmMapedFileEnable=true"));
        assert_eq!(t.store.warm_maped_file_enable, Some(true));
        assert!(BrokerSettings::default().to_properties().contains("warmMapedFileEnable=false"));
    }
}
