//! `TopicConfigManager`: the topics this broker hosts, persisted to `config/topics.json` as
//! `{"topicConfigTable":{...},"dataVersion":{...}}`.
//!
//! Semantics follow Java 4.9.8: the system topics are created at start (then the file's
//! entries are laid over them), new topics are auto-created from the default topic
//! (`TBW102`) when it carries `PERM_INHERIT`, retry topics are created on demand, and every
//! change bumps the data version the NameServer compares. As in 5.x, the transaction half
//! and op topics are also created at start (4.9 creates them on first use, with the same
//! settings). Changes are persisted by calling [`TopicConfigManager::persist`] (cheap when
//! nothing changed); the caller also re-registers with the NameServers when a topic was
//! created.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ferromq_protocol::body::{perm, DataVersion, KVTable, TopicConfig, TopicConfigSerializeWrapper};
use ferromq_protocol::json;
use parking_lot::RwLock;

use super::names::*;
use super::persist::{encode_json, persist_if_changed, ChangeTracker, ConfigFile, LoadedFrom, PersistError};
use super::topic_validator;

/// Queues of `SCHEDULE_TOPIC_XXXX`: one per delay level.
pub const SCHEDULE_TOPIC_QUEUE_NUM: i32 = 18;

/// `TopicSysFlag` bits.
pub mod topic_sys_flag {
    pub const UNIT: i32 = 0x1;
    pub const UNIT_SUB: i32 = 0x2;

    pub fn build(unit: bool, has_unit_sub: bool) -> i32 {
        (if unit { UNIT } else { 0 }) | (if has_unit_sub { UNIT_SUB } else { 0 })
    }
}

/// The broker settings the topic manager depends on (Java's `BrokerConfig` names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicConfigOptions {
    /// `brokerClusterName` (a system topic of that name is created).
    pub broker_cluster_name: String,
    /// `brokerName` (a system topic of that name is created).
    pub broker_name: String,
    /// `autoCreateTopicEnable`.
    pub auto_create_topic_enable: bool,
    /// `defaultTopicQueueNums`: queues of `TBW102`.
    pub default_topic_queue_nums: i32,
    /// `clusterTopicEnable`: the cluster-name topic is readable and writable.
    pub cluster_topic_enable: bool,
    /// `brokerTopicEnable`: the broker-name topic is readable and writable.
    pub broker_topic_enable: bool,
    /// `traceTopicEnable`.
    pub trace_topic_enable: bool,
    /// `msgTraceTopicName`.
    pub msg_trace_topic_name: String,
}

impl Default for TopicConfigOptions {
    /// Java's defaults (Java's `brokerName` defaults to the host name; set it).
    fn default() -> Self {
        TopicConfigOptions {
            broker_cluster_name: "DefaultCluster".into(),
            broker_name: "broker-a".into(),
            auto_create_topic_enable: true,
            default_topic_queue_nums: 8,
            cluster_topic_enable: true,
            broker_topic_enable: true,
            trace_topic_enable: false,
            msg_trace_topic_name: RMQ_SYS_TRACE_TOPIC.into(),
        }
    }
}

/// A topic found or created on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicLookup {
    pub config: Arc<TopicConfig>,
    /// It did not exist before: persist and re-register with the NameServers.
    pub created: bool,
}

#[derive(Debug)]
struct TopicState {
    table: HashMap<String, Arc<TopicConfig>>,
    data_version: DataVersion,
}

#[derive(Debug)]
pub struct TopicConfigManager {
    file: ConfigFile,
    tracker: ChangeTracker,
    state: RwLock<TopicState>,
    /// System topics particular to this broker (cluster, broker, reply, trace topics).
    own_system_topics: HashSet<String>,
    auto_create_topic_enable: AtomicBool,
}

impl TopicConfigManager {
    /// The manager with the system topics; `load` then lays the file over them.
    pub fn new(path: impl Into<PathBuf>, options: &TopicConfigOptions, now_ms: u64) -> Self {
        let mut table = HashMap::new();
        let mut own_system_topics = HashSet::new();
        let mut add = |name: &str, queues: i32, perm_bits: i32| {
            let mut c = TopicConfig::new(name);
            c.read_queue_nums = queues;
            c.write_queue_nums = queues;
            c.perm = perm_bits;
            own_system_topics.insert(name.to_owned());
            table.insert(name.to_owned(), Arc::new(c));
        };
        let rw = perm::READ | perm::WRITE;
        add(RMQ_SYS_SELF_TEST_TOPIC, 1, rw);
        if options.auto_create_topic_enable {
            add(AUTO_CREATE_TOPIC_KEY_TOPIC, options.default_topic_queue_nums, perm::INHERIT | rw);
        }
        add(RMQ_SYS_BENCHMARK_TOPIC, 1024, rw);
        let cluster_perm = perm::INHERIT | if options.cluster_topic_enable { rw } else { 0 };
        add(&options.broker_cluster_name, ferromq_protocol::body::DEFAULT_READ_QUEUE_NUMS, cluster_perm);
        add(&options.broker_name, 1, perm::INHERIT | if options.broker_topic_enable { rw } else { 0 });
        add(RMQ_SYS_OFFSET_MOVED_EVENT, 1, rw);
        add(RMQ_SYS_SCHEDULE_TOPIC, SCHEDULE_TOPIC_QUEUE_NUM, rw);
        if options.trace_topic_enable {
            add(&options.msg_trace_topic_name, 1, rw);
        }
        add(&reply_topic(&options.broker_cluster_name), 1, rw);
        add(RMQ_SYS_TRANS_HALF_TOPIC, 1, rw);
        add(RMQ_SYS_TRANS_OP_HALF_TOPIC, 1, rw);
        TopicConfigManager {
            file: ConfigFile::new(path),
            tracker: ChangeTracker::default(),
            state: RwLock::new(TopicState { table, data_version: DataVersion::new(java_ms(now_ms)) }),
            own_system_topics,
            auto_create_topic_enable: AtomicBool::new(options.auto_create_topic_enable),
        }
    }

    /// Reads the file (or its backup) and lays its topics over the current ones; the data
    /// version becomes the file's.
    pub fn load(&self) -> Result<LoadedFrom, PersistError> {
        let loaded = self
            .file
            .load(|b| json::from_slice::<TopicConfigSerializeWrapper>(b).map_err(|e| e.to_string()))?;
        let Some((wrapper, from)) = loaded else { return Ok(LoadedFrom::Nothing) };
        let mut st = self.state.write();
        for (name, mut config) in wrapper.topic_config_table {
            if config.topic_name.is_empty() {
                config.topic_name.clone_from(&name);
            }
            tracing::info!(topic = %name, ?config, "load exist local topic");
            st.table.insert(name, Arc::new(config));
        }
        st.data_version = wrapper.data_version;
        self.tracker.touch();
        Ok(from)
    }

    /// Writes the file if anything changed since the last write; `Ok(true)` when it wrote.
    pub fn persist(&self) -> Result<bool, PersistError> {
        persist_if_changed(&self.file, &self.tracker, || {
            let st = self.state.read();
            (self.tracker.current(), encode_json(&Self::wrapper_of(&st), true))
        })
    }

    /// The file's form (`TopicConfigSerializeWrapper`): GET_ALL_TOPIC_CONFIG's body.
    pub fn encode(&self, pretty: bool) -> Vec<u8> {
        encode_json(&self.build_serialize_wrapper(), pretty)
    }

    /// Topics and data version, for registration with the NameServers.
    pub fn build_serialize_wrapper(&self) -> TopicConfigSerializeWrapper {
        Self::wrapper_of(&self.state.read())
    }

    fn wrapper_of(st: &TopicState) -> TopicConfigSerializeWrapper {
        TopicConfigSerializeWrapper {
            topic_config_table: st.table.iter().map(|(k, v)| (k.clone(), TopicConfig::clone(v))).collect(),
            data_version: st.data_version,
        }
    }

    pub fn data_version(&self) -> DataVersion {
        self.state.read().data_version
    }

    pub fn select_topic_config(&self, topic: &str) -> Option<Arc<TopicConfig>> {
        self.state.read().table.get(topic).cloned()
    }

    pub fn contains(&self, topic: &str) -> bool {
        self.state.read().table.contains_key(topic)
    }

    pub fn topic_names(&self) -> BTreeSet<String> {
        self.state.read().table.keys().cloned().collect()
    }

    pub fn topic_config_table(&self) -> BTreeMap<String, Arc<TopicConfig>> {
        self.state.read().table.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Built-in system topics and this broker's own (cluster, broker, reply, trace).
    pub fn is_system_topic(&self, topic: &str) -> bool {
        topic_validator::is_builtin_system_topic(topic) || self.own_system_topics.contains(topic)
    }

    /// Topics no client may send to.
    pub fn is_not_allowed_send_topic(&self, topic: &str) -> bool {
        topic_validator::is_not_allowed_send_topic(topic)
    }

    pub fn auto_create_topic_enable(&self) -> bool {
        self.auto_create_topic_enable.load(Ordering::Relaxed)
    }

    /// `autoCreateTopicEnable` changed at run time (UPDATE_BROKER_CONFIG).
    pub fn set_auto_create_topic_enable(&self, enable: bool) {
        self.auto_create_topic_enable.store(enable, Ordering::Relaxed);
    }

    /// Java's `createTopicInSendMessageMethod`: `topic` if it exists, else a new topic
    /// inheriting from `default_topic` (which must carry `PERM_INHERIT`; `TBW102` loses it
    /// when auto-creation is off) with `min(client_default_topic_queue_nums, default's
    /// write queues)` queues. `None` when it cannot be created.
    pub fn create_topic_in_send_message_method(
        &self,
        topic: &str,
        default_topic: &str,
        remote_addr: &str,
        client_default_topic_queue_nums: i32,
        topic_sys_flag: i32,
        now_ms: u64,
    ) -> Option<TopicLookup> {
        let mut st = self.state.write();
        if let Some(c) = st.table.get(topic) {
            return Some(TopicLookup { config: c.clone(), created: false });
        }
        let Some(mut default_config) = st.table.get(default_topic).cloned() else {
            tracing::warn!(
                default_topic,
                producer = remote_addr,
                "create new topic failed: the default topic does not exist"
            );
            return None;
        };
        if default_topic == AUTO_CREATE_TOPIC_KEY_TOPIC
            && !self.auto_create_topic_enable()
            && default_config.perm != perm::READ | perm::WRITE
        {
            let mut c = TopicConfig::clone(&default_config);
            c.perm = perm::READ | perm::WRITE;
            default_config = Arc::new(c);
            st.table.insert(default_topic.to_owned(), default_config.clone());
            self.tracker.touch();
        }
        if !perm::is_inherited(default_config.perm) {
            tracing::warn!(
                default_topic,
                perm = default_config.perm,
                producer = remote_addr,
                "create new topic failed: the default topic has no inherit permission"
            );
            return None;
        }
        let queue_nums = client_default_topic_queue_nums.min(default_config.write_queue_nums).max(0);
        let mut config = TopicConfig::new(topic);
        config.read_queue_nums = queue_nums;
        config.write_queue_nums = queue_nums;
        config.perm = default_config.perm & !perm::INHERIT;
        config.topic_sys_flag = topic_sys_flag;
        config.topic_filter_type = default_config.topic_filter_type;
        tracing::info!(default_topic, ?config, producer = remote_addr, "create new topic by default topic");
        let config = Arc::new(config);
        st.table.insert(topic.to_owned(), config.clone());
        st.data_version.next(java_ms(now_ms));
        self.tracker.touch();
        Some(TopicLookup { config, created: true })
    }

    /// Java's `createTopicInSendMessageBackMethod`: `topic` (a retry topic, say) as it is,
    /// or created with the given queues, permission and flags.
    pub fn create_topic_in_send_message_back_method(
        &self,
        topic: &str,
        client_default_topic_queue_nums: i32,
        perm_bits: i32,
        topic_sys_flag: i32,
        now_ms: u64,
    ) -> TopicLookup {
        if let Some(c) = self.select_topic_config(topic) {
            return TopicLookup { config: c, created: false };
        }
        let mut st = self.state.write();
        if let Some(c) = st.table.get(topic) {
            return TopicLookup { config: c.clone(), created: false };
        }
        let mut config = TopicConfig::new(topic);
        config.read_queue_nums = client_default_topic_queue_nums;
        config.write_queue_nums = client_default_topic_queue_nums;
        config.perm = perm_bits;
        config.topic_sys_flag = topic_sys_flag;
        tracing::info!(?config, "create new topic");
        let config = Arc::new(config);
        st.table.insert(topic.to_owned(), config.clone());
        st.data_version.next(java_ms(now_ms));
        self.tracker.touch();
        TopicLookup { config, created: true }
    }

    /// Java's `createTopicOfTranCheckMaxTime`.
    pub fn create_topic_of_tran_check_max_time(
        &self,
        client_default_topic_queue_nums: i32,
        perm_bits: i32,
        now_ms: u64,
    ) -> TopicLookup {
        self.create_topic_in_send_message_back_method(
            RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC,
            client_default_topic_queue_nums,
            perm_bits,
            0,
            now_ms,
        )
    }

    /// Creates or replaces a topic (UPDATE_AND_CREATE_TOPIC); the previous config, if any.
    pub fn update_topic_config(&self, config: TopicConfig, now_ms: u64) -> Option<Arc<TopicConfig>> {
        let mut st = self.state.write();
        let name = config.topic_name.clone();
        let old = st.table.insert(name, Arc::new(config));
        st.data_version.next(java_ms(now_ms));
        self.tracker.touch();
        old
    }

    /// Removes a topic (DELETE_TOPIC_IN_BROKER); the removed config, if it existed.
    pub fn delete_topic_config(&self, topic: &str, now_ms: u64) -> Option<Arc<TopicConfig>> {
        let mut st = self.state.write();
        let old = st.table.remove(topic);
        if old.is_some() {
            st.data_version.next(java_ms(now_ms));
            self.tracker.touch();
        } else {
            tracing::warn!(topic, "delete topic config failed: topic does not exist");
        }
        old
    }

    /// Java's `updateTopicUnitFlag`; false if the topic does not exist.
    pub fn update_topic_unit_flag(&self, topic: &str, unit: bool, now_ms: u64) -> bool {
        self.update_sys_flag(topic, topic_sys_flag::UNIT, unit, now_ms)
    }

    /// Java's `updateTopicUnitSubFlag`; false if the topic does not exist.
    pub fn update_topic_unit_sub_flag(&self, topic: &str, has_unit_sub: bool, now_ms: u64) -> bool {
        self.update_sys_flag(topic, topic_sys_flag::UNIT_SUB, has_unit_sub, now_ms)
    }

    fn update_sys_flag(&self, topic: &str, bit: i32, set: bool, now_ms: u64) -> bool {
        let mut st = self.state.write();
        let Some(old) = st.table.get(topic) else { return false };
        let mut c = TopicConfig::clone(old);
        c.topic_sys_flag = if set { c.topic_sys_flag | bit } else { c.topic_sys_flag & !bit };
        st.table.insert(topic.to_owned(), Arc::new(c));
        st.data_version.next(java_ms(now_ms));
        self.tracker.touch();
        true
    }

    /// Java's `updateOrderTopicConfig`: the topics named in the NameServer's order-topic
    /// table become ordered, every other topic unordered. True if anything changed.
    pub fn update_order_topic_config(&self, order_topics: &KVTable, now_ms: u64) -> bool {
        let mut st = self.state.write();
        let mut changed = false;
        for (topic, config) in st.table.iter_mut() {
            let order = order_topics.table.contains_key(topic);
            if config.order != order {
                Arc::make_mut(config).order = order;
                tracing::info!(topic = %topic, order, "update order topic config");
                changed = true;
            }
        }
        if changed {
            st.data_version.next(java_ms(now_ms));
            self.tracker.touch();
        }
        changed
    }

    pub fn is_order_topic(&self, topic: &str) -> bool {
        self.state.read().table.get(topic).is_some_and(|c| c.order)
    }
}

#[cfg(test)]
#[path = "topic_config_tests.rs"]
mod tests;
