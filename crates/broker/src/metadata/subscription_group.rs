//! `SubscriptionGroupManager`: consumer group settings, persisted to
//! `config/subscriptionGroup.json` as `{"subscriptionGroupTable":{...},"dataVersion":{...}}`.
//!
//! As Java 4.9.8: the system groups exist from the start; an unknown group is created with
//! the defaults on first use when `autoCreateSubscriptionGroup` is on, or when it is a
//! system group (`CID_RMQ_SYS_*`). Persist with [`SubscriptionGroupManager::persist`].

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ferromq_protocol::body::{DataVersion, SubscriptionGroupConfig, SubscriptionGroupWrapper};
use ferromq_protocol::json;
use parking_lot::RwLock;

use super::names::*;
use super::persist::{encode_json, persist_if_changed, ChangeTracker, ConfigFile, LoadedFrom, PersistError};

#[derive(Debug)]
struct GroupState {
    table: HashMap<String, Arc<SubscriptionGroupConfig>>,
    /// 5.x forbidden table, carried through.
    forbidden_table: BTreeMap<String, BTreeMap<String, i32>>,
    data_version: DataVersion,
}

#[derive(Debug)]
pub struct SubscriptionGroupManager {
    file: ConfigFile,
    tracker: ChangeTracker,
    state: RwLock<GroupState>,
    auto_create_subscription_group: AtomicBool,
}

impl SubscriptionGroupManager {
    /// The manager with the system groups; `load` then lays the file over them.
    pub fn new(path: impl Into<PathBuf>, auto_create_subscription_group: bool, now_ms: u64) -> Self {
        let mut table = HashMap::new();
        // Java sets consumeBroadcastEnable on the ONS groups explicitly; it is the default.
        for name in [
            TOOLS_CONSUMER_GROUP,
            FILTERSRV_CONSUMER_GROUP,
            SELF_TEST_CONSUMER_GROUP,
            ONS_HTTP_PROXY_GROUP,
            CID_ONSAPI_PULL_GROUP,
            CID_ONSAPI_PERMISSION_GROUP,
            CID_ONSAPI_OWNER_GROUP,
        ] {
            table.insert(name.to_owned(), Arc::new(SubscriptionGroupConfig::new(name)));
        }
        SubscriptionGroupManager {
            file: ConfigFile::new(path),
            tracker: ChangeTracker::default(),
            state: RwLock::new(GroupState {
                table,
                forbidden_table: BTreeMap::new(),
                data_version: DataVersion::new(java_ms(now_ms)),
            }),
            auto_create_subscription_group: AtomicBool::new(auto_create_subscription_group),
        }
    }

    /// Reads the file (or its backup) and lays its groups over the current ones.
    pub fn load(&self) -> Result<LoadedFrom, PersistError> {
        let loaded =
            self.file.load(|b| json::from_slice::<SubscriptionGroupWrapper>(b).map_err(|e| e.to_string()))?;
        let Some((wrapper, from)) = loaded else { return Ok(LoadedFrom::Nothing) };
        let mut st = self.state.write();
        for (name, mut config) in wrapper.subscription_group_table {
            if config.group_name.is_empty() {
                config.group_name.clone_from(&name);
            }
            tracing::info!(group = %name, ?config, "load exist subscription group");
            st.table.insert(name, Arc::new(config));
        }
        st.forbidden_table = wrapper.forbidden_table;
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

    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG's body (the file's form).
    pub fn encode(&self, pretty: bool) -> Vec<u8> {
        encode_json(&self.wrapper(), pretty)
    }

    pub fn wrapper(&self) -> SubscriptionGroupWrapper {
        Self::wrapper_of(&self.state.read())
    }

    fn wrapper_of(st: &GroupState) -> SubscriptionGroupWrapper {
        SubscriptionGroupWrapper {
            subscription_group_table: st
                .table
                .iter()
                .map(|(k, v)| (k.clone(), SubscriptionGroupConfig::clone(v)))
                .collect(),
            forbidden_table: st.forbidden_table.clone(),
            data_version: st.data_version,
        }
    }

    pub fn data_version(&self) -> DataVersion {
        self.state.read().data_version
    }

    pub fn auto_create_subscription_group(&self) -> bool {
        self.auto_create_subscription_group.load(Ordering::Relaxed)
    }

    /// `autoCreateSubscriptionGroup` changed at run time (UPDATE_BROKER_CONFIG).
    pub fn set_auto_create_subscription_group(&self, enable: bool) {
        self.auto_create_subscription_group.store(enable, Ordering::Relaxed);
    }

    /// The group's config without creating it.
    pub fn get(&self, group: &str) -> Option<Arc<SubscriptionGroupConfig>> {
        self.state.read().table.get(group).cloned()
    }

    pub fn contains(&self, group: &str) -> bool {
        self.state.read().table.contains_key(group)
    }

    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.state.read().table.keys().cloned().collect();
        names.sort();
        names
    }

    /// Java's `findSubscriptionGroupConfig`: the group's config, created with the defaults
    /// when unknown and auto-creation is on (or it is a system group); `None` otherwise.
    pub fn find_subscription_group_config(
        &self,
        group: &str,
        now_ms: u64,
    ) -> Option<Arc<SubscriptionGroupConfig>> {
        if let Some(c) = self.get(group) {
            return Some(c);
        }
        if !self.auto_create_subscription_group() && !is_sys_consumer_group(group) {
            return None;
        }
        let mut st = self.state.write();
        if let Some(c) = st.table.get(group) {
            return Some(c.clone());
        }
        let config = Arc::new(SubscriptionGroupConfig::new(group));
        tracing::info!(?config, "auto create a subscription group");
        st.table.insert(group.to_owned(), config.clone());
        st.data_version.next(java_ms(now_ms));
        self.tracker.touch();
        Some(config)
    }

    /// Creates or replaces a group (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP); the previous one.
    pub fn update_subscription_group_config(
        &self,
        config: SubscriptionGroupConfig,
        now_ms: u64,
    ) -> Option<Arc<SubscriptionGroupConfig>> {
        let mut st = self.state.write();
        let old = st.table.insert(config.group_name.clone(), Arc::new(config));
        st.data_version.next(java_ms(now_ms));
        self.tracker.touch();
        old
    }

    /// Java's `disableConsume`; false if the group does not exist.
    pub fn disable_consume(&self, group: &str, now_ms: u64) -> bool {
        let mut st = self.state.write();
        let Some(config) = st.table.get_mut(group) else { return false };
        Arc::make_mut(config).consume_enable = false;
        st.data_version.next(java_ms(now_ms));
        self.tracker.touch();
        true
    }

    /// Removes a group (DELETE_SUBSCRIPTIONGROUP); the removed config, if it existed.
    pub fn delete_subscription_group_config(
        &self,
        group: &str,
        now_ms: u64,
    ) -> Option<Arc<SubscriptionGroupConfig>> {
        let mut st = self.state.write();
        let old = st.table.remove(group);
        if old.is_some() {
            st.data_version.next(java_ms(now_ms));
            self.tracker.touch();
        } else {
            tracing::warn!(group, "delete subscription group failed: group does not exist");
        }
        old
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_groups_and_auto_creation() {
        let dir = tempfile::tempdir().unwrap();
        let m = SubscriptionGroupManager::new(subscription_group_path(dir.path()), true, 1);
        for g in [
            "TOOLS_CONSUMER",
            "FILTERSRV_CONSUMER",
            "SELF_TEST_C_GROUP",
            "CID_ONS-HTTP-PROXY",
            "CID_ONSAPI_PULL",
        ] {
            assert!(m.contains(g), "{g}");
        }
        let v = m.data_version().counter;
        let g = m.find_subscription_group_config("my_group", 5).unwrap();
        assert_eq!((g.retry_queue_nums, g.retry_max_times, g.consume_enable), (1, 16, true));
        assert_eq!(m.data_version().counter, v + 1);
        m.find_subscription_group_config("my_group", 6).unwrap();
        assert_eq!(m.data_version().counter, v + 1, "found, not created again");

        m.set_auto_create_subscription_group(false);
        assert!(m.find_subscription_group_config("other", 7).is_none());
        assert!(m.find_subscription_group_config("CID_RMQ_SYS_X", 7).is_some(), "system groups always");
    }

    #[test]
    fn update_disable_delete_persist_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = subscription_group_path(dir.path());
        let m = SubscriptionGroupManager::new(&path, false, 1);
        assert_eq!(m.load().unwrap(), LoadedFrom::Nothing);
        assert!(m
            .update_subscription_group_config(
                SubscriptionGroupConfig { retry_max_times: 3, ..SubscriptionGroupConfig::new("g") },
                2
            )
            .is_none());
        assert!(m.disable_consume("g", 3));
        assert!(!m.disable_consume("nope", 3));
        m.update_subscription_group_config(SubscriptionGroupConfig::new("gone"), 4);
        assert!(m.delete_subscription_group_config("gone", 5).is_some());
        assert!(m.delete_subscription_group_config("gone", 6).is_none());
        assert!(m.persist().unwrap());
        assert!(!m.persist().unwrap());

        let m2 = SubscriptionGroupManager::new(&path, false, 100);
        assert_eq!(m2.load().unwrap(), LoadedFrom::File);
        let g = m2.get("g").unwrap();
        assert_eq!((g.retry_max_times, g.consume_enable), (3, false));
        assert!(!m2.contains("gone"));
        assert_eq!(m2.data_version(), m.data_version());
        let w: SubscriptionGroupWrapper = json::from_slice(&m2.encode(false)).unwrap();
        assert_eq!(w, m.wrapper());
        assert!(m2.group_names().contains(&"TOOLS_CONSUMER".to_string()));
    }
}
