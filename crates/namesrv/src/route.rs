//! `RouteTable`: which brokers exist, which topics they host, and which are alive.
//!
//! A plain state machine: every method takes the current time as a parameter and does no
//! I/O, so liveness and expiry are tested without a clock or a socket. The request handler
//! holds it behind one lock; every operation is a few map updates.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ferromq_protocol::body::{
    perm, BrokerData, ClusterInfo, DataVersion, QueueData, TopicConfig, TopicConfigSerializeWrapper,
    TopicList, TopicRouteData, MASTER_ID,
};

/// Topic flags (`TopicSysFlag`).
pub const FLAG_UNIT: i32 = 0x1;
pub const FLAG_UNIT_SUB: i32 = 0x2;

/// A broker is identified by its cluster and address (RocketMQ 5.x `BrokerAddrInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BrokerAddrInfo {
    pub cluster_name: String,
    pub broker_addr: String,
}

/// What we know of a live broker.
#[derive(Debug, Clone)]
pub struct BrokerLiveInfo {
    pub last_update_ms: u64,
    pub heartbeat_timeout_ms: u64,
    pub data_version: DataVersion,
    pub ha_server_addr: String,
    /// The connection it registered over; closing that connection drops the broker.
    pub connection_id: Option<u64>,
}

/// One REGISTER_BROKER request, decoded.
#[derive(Debug, Clone, Default)]
pub struct BrokerRegistration {
    pub cluster_name: String,
    pub broker_addr: String,
    pub broker_name: String,
    pub broker_id: i64,
    pub ha_server_addr: String,
    pub topic_config_wrapper: Option<TopicConfigSerializeWrapper>,
    pub filter_server_list: Vec<String>,
    pub heartbeat_timeout_ms: u64,
    pub enable_acting_master: bool,
    pub connection_id: Option<u64>,
}

/// The NameServer's answer to a registration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationOutcome {
    pub master_addr: Option<String>,
    pub ha_server_addr: Option<String>,
}

/// Options of the route table that come from the NameServer's configuration.
#[derive(Debug, Clone, Default)]
pub struct RouteTableOptions {
    /// 5.x `deleteTopicWithBrokerRegistration`: a master's registration also removes the
    /// topics it no longer lists.
    pub delete_topic_with_broker_registration: bool,
}

#[derive(Debug, Default)]
pub struct RouteTable {
    options: RouteTableOptions,
    topic_queue_table: HashMap<String, BTreeMap<String, QueueData>>,
    broker_addr_table: BTreeMap<String, BrokerData>,
    cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
    broker_live_table: HashMap<BrokerAddrInfo, BrokerLiveInfo>,
    filter_server_table: HashMap<BrokerAddrInfo, Vec<String>>,
}

impl RouteTable {
    pub fn new(options: RouteTableOptions) -> Self {
        RouteTable { options, ..Default::default() }
    }

    /// REGISTER_BROKER. `None` when the registration is refused as stale (another
    /// address holds this brokerId with a newer state version).
    pub fn register_broker(&mut self, reg: BrokerRegistration, now_ms: u64) -> Option<RegistrationOutcome> {
        let addr_info =
            BrokerAddrInfo { cluster_name: reg.cluster_name.clone(), broker_addr: reg.broker_addr.clone() };
        self.cluster_addr_table.entry(reg.cluster_name.clone()).or_default().insert(reg.broker_name.clone());

        let mut register_first = !self.broker_addr_table.contains_key(&reg.broker_name);
        let broker_data =
            self.broker_addr_table.entry(reg.broker_name.clone()).or_insert_with(|| BrokerData {
                cluster: reg.cluster_name.clone(),
                broker_name: reg.broker_name.clone(),
                ..Default::default()
            });
        broker_data.enable_acting_master = reg.enable_acting_master;

        // A master stepping down to slave (or the reverse) re-registers the same address
        // under a new id: one address has one record.
        broker_data.broker_addrs.retain(|id, addr| !(*addr == reg.broker_addr && *id != reg.broker_id));

        // Refuse a stale member taking over an id that a newer one holds.
        if let Some(old_addr) = broker_data.broker_addrs.get(&reg.broker_id) {
            if *old_addr != reg.broker_addr {
                let old =
                    BrokerAddrInfo { cluster_name: reg.cluster_name.clone(), broker_addr: old_addr.clone() };
                if let (Some(old_live), Some(wrapper)) =
                    (self.broker_live_table.get(&old), &reg.topic_config_wrapper)
                {
                    if old_live.data_version.state_version > wrapper.data_version.state_version {
                        tracing::warn!(
                            broker = %reg.broker_addr, holder = %old_addr,
                            "registration refused: brokerId {} is held by a broker with a newer state version",
                            reg.broker_id
                        );
                        self.broker_live_table.remove(&addr_info);
                        return None;
                    }
                }
            }
        }
        let previous = broker_data.broker_addrs.insert(reg.broker_id, reg.broker_addr.clone());
        register_first |= previous.is_none();

        if reg.broker_id == MASTER_ID {
            if let Some(wrapper) = &reg.topic_config_wrapper {
                if register_first || self.is_broker_topic_config_changed(&addr_info, &wrapper.data_version) {
                    if self.options.delete_topic_with_broker_registration {
                        let keep: BTreeSet<&String> = wrapper.topic_config_table.keys().collect();
                        let gone: Vec<String> = self
                            .topic_queue_table
                            .iter()
                            .filter(|(t, q)| q.contains_key(&reg.broker_name) && !keep.contains(t))
                            .map(|(t, _)| t.clone())
                            .collect();
                        for topic in gone {
                            self.remove_topic_of_broker(&topic, &reg.broker_name);
                        }
                    }
                    for config in wrapper.topic_config_table.values() {
                        self.create_and_update_queue_data(&reg.broker_name, config);
                    }
                }
            }
        }

        let data_version = reg.topic_config_wrapper.as_ref().map(|w| w.data_version).unwrap_or_default();
        let previous_live = self.broker_live_table.insert(
            addr_info.clone(),
            BrokerLiveInfo {
                last_update_ms: now_ms,
                heartbeat_timeout_ms: reg.heartbeat_timeout_ms,
                data_version,
                ha_server_addr: reg.ha_server_addr.clone(),
                connection_id: reg.connection_id,
            },
        );
        if previous_live.is_none() {
            tracing::info!(cluster = %reg.cluster_name, broker = %reg.broker_name, id = reg.broker_id, addr = %reg.broker_addr, "new broker registered");
        }
        if reg.filter_server_list.is_empty() {
            self.filter_server_table.remove(&addr_info);
        } else {
            self.filter_server_table.insert(addr_info, reg.filter_server_list.clone());
        }

        let mut outcome = RegistrationOutcome::default();
        if reg.broker_id != MASTER_ID {
            let master_addr = self
                .broker_addr_table
                .get(&reg.broker_name)
                .and_then(|b| b.broker_addrs.get(&MASTER_ID))
                .cloned();
            if let Some(master_addr) = master_addr {
                let master = BrokerAddrInfo {
                    cluster_name: reg.cluster_name.clone(),
                    broker_addr: master_addr.clone(),
                };
                if let Some(live) = self.broker_live_table.get(&master) {
                    outcome.ha_server_addr = Some(live.ha_server_addr.clone());
                    outcome.master_addr = Some(master_addr);
                }
            }
        }
        Some(outcome)
    }

    fn create_and_update_queue_data(&mut self, broker_name: &str, config: &TopicConfig) {
        let queue_data = QueueData {
            broker_name: broker_name.to_owned(),
            read_queue_nums: config.read_queue_nums,
            write_queue_nums: config.write_queue_nums,
            perm: config.perm,
            topic_sys_flag: config.topic_sys_flag,
        };
        let queues = self.topic_queue_table.entry(config.topic_name.clone()).or_default();
        match queues.insert(broker_name.to_owned(), queue_data.clone()) {
            None => tracing::info!(topic = %config.topic_name, broker = broker_name, "new topic registered"),
            Some(old) if old != queue_data => {
                tracing::info!(topic = %config.topic_name, broker = broker_name, "topic queue data changed")
            }
            Some(_) => {}
        }
    }

    fn remove_topic_of_broker(&mut self, topic: &str, broker_name: &str) {
        if let Some(queues) = self.topic_queue_table.get_mut(topic) {
            queues.remove(broker_name);
            if queues.is_empty() {
                self.topic_queue_table.remove(topic);
            }
        }
    }

    /// True when the broker is unknown or its topics' data version differs.
    pub fn is_broker_topic_config_changed(
        &self,
        addr_info: &BrokerAddrInfo,
        data_version: &DataVersion,
    ) -> bool {
        match self.broker_live_table.get(addr_info) {
            Some(live) => live.data_version != *data_version,
            None => true,
        }
    }

    /// QUERY_DATA_VERSION and BROKER_HEARTBEAT: a sign of life. Returns whether the broker is known.
    pub fn touch(&mut self, addr_info: &BrokerAddrInfo, now_ms: u64) -> bool {
        match self.broker_live_table.get_mut(addr_info) {
            Some(live) => {
                live.last_update_ms = now_ms;
                true
            }
            None => false,
        }
    }

    /// UNREGISTER_BROKER.
    pub fn unregister_broker(
        &mut self,
        cluster_name: &str,
        broker_addr: &str,
        broker_name: &str,
        broker_id: i64,
    ) {
        let addr_info =
            BrokerAddrInfo { cluster_name: cluster_name.to_owned(), broker_addr: broker_addr.to_owned() };
        self.broker_live_table.remove(&addr_info);
        self.filter_server_table.remove(&addr_info);
        let mut remove_broker_name = false;
        if let Some(broker_data) = self.broker_addr_table.get_mut(broker_name) {
            // Only the record of this address: a newer member may already hold the id.
            if broker_data.broker_addrs.get(&broker_id).is_some_and(|a| a == broker_addr) {
                broker_data.broker_addrs.remove(&broker_id);
            }
            tracing::info!(
                cluster = cluster_name,
                broker = broker_name,
                id = broker_id,
                addr = broker_addr,
                "broker removed"
            );
            remove_broker_name = broker_data.broker_addrs.is_empty();
        }
        if remove_broker_name {
            self.broker_addr_table.remove(broker_name);
            if let Some(names) = self.cluster_addr_table.get_mut(cluster_name) {
                names.remove(broker_name);
                if names.is_empty() {
                    self.cluster_addr_table.remove(cluster_name);
                }
            }
            self.topic_queue_table.retain(|_, queues| {
                queues.remove(broker_name);
                !queues.is_empty()
            });
        }
    }

    /// Removes a broker found dead (expired, or its connection closed).
    fn destroy(&mut self, addr_info: &BrokerAddrInfo) {
        let found = self.broker_addr_table.values().find_map(|b| {
            if b.cluster != addr_info.cluster_name {
                return None;
            }
            b.broker_addrs
                .iter()
                .find(|(_, a)| **a == addr_info.broker_addr)
                .map(|(id, _)| (b.broker_name.clone(), *id))
        });
        match found {
            Some((broker_name, broker_id)) => self.unregister_broker(
                &addr_info.cluster_name,
                &addr_info.broker_addr,
                &broker_name,
                broker_id,
            ),
            None => {
                self.broker_live_table.remove(addr_info);
                self.filter_server_table.remove(addr_info);
            }
        }
    }

    /// The 10-second scan: drops every broker silent for longer than its heartbeat timeout.
    /// Returns the dropped brokers and the connections they registered over (to be closed).
    pub fn scan_not_active_brokers(&mut self, now_ms: u64) -> Vec<(BrokerAddrInfo, Option<u64>)> {
        let expired: Vec<(BrokerAddrInfo, Option<u64>)> = self
            .broker_live_table
            .iter()
            .filter(|(_, live)| live.last_update_ms.saturating_add(live.heartbeat_timeout_ms) < now_ms)
            .map(|(k, live)| (k.clone(), live.connection_id))
            .collect();
        for (addr_info, _) in &expired {
            tracing::warn!(cluster = %addr_info.cluster_name, addr = %addr_info.broker_addr, "broker expired: no heartbeat");
            self.destroy(addr_info);
        }
        expired
    }

    /// A connection closed: every broker that registered over it is gone.
    pub fn on_connection_closed(&mut self, connection_id: u64) -> Vec<BrokerAddrInfo> {
        let gone: Vec<BrokerAddrInfo> = self
            .broker_live_table
            .iter()
            .filter(|(_, live)| live.connection_id == Some(connection_id))
            .map(|(k, _)| k.clone())
            .collect();
        for addr_info in &gone {
            tracing::info!(cluster = %addr_info.cluster_name, addr = %addr_info.broker_addr, "broker connection closed");
            self.destroy(addr_info);
        }
        gone
    }

    /// GET_ROUTEINFO_BY_TOPIC; `None` when no live broker hosts the topic.
    pub fn pick_topic_route_data(&self, topic: &str) -> Option<TopicRouteData> {
        let queues = self.topic_queue_table.get(topic)?;
        let mut route =
            TopicRouteData { queue_datas: queues.values().cloned().collect(), ..Default::default() };
        for broker_name in queues.keys() {
            if let Some(broker_data) = self.broker_addr_table.get(broker_name) {
                for addr in broker_data.broker_addrs.values() {
                    let info = BrokerAddrInfo {
                        cluster_name: broker_data.cluster.clone(),
                        broker_addr: addr.clone(),
                    };
                    if let Some(servers) = self.filter_server_table.get(&info) {
                        route.filter_server_table.insert(addr.clone(), servers.clone());
                    }
                }
                route.broker_datas.push(broker_data.clone());
            }
        }
        if route.broker_datas.is_empty() {
            return None;
        }
        Some(route)
    }

    /// GET_BROKER_CLUSTER_INFO.
    pub fn cluster_info(&self) -> ClusterInfo {
        ClusterInfo {
            broker_addr_table: self.broker_addr_table.clone(),
            cluster_addr_table: self.cluster_addr_table.clone(),
        }
    }

    /// GET_ALL_TOPIC_LIST_FROM_NAMESERVER.
    pub fn all_topics(&self) -> TopicList {
        TopicList { topic_list: self.topic_queue_table.keys().cloned().collect(), broker_addr: None }
    }

    /// DELETE_TOPIC_IN_NAMESRV, everywhere or in one cluster. Returns whether it existed.
    pub fn delete_topic(&mut self, topic: &str, cluster_name: Option<&str>) -> bool {
        match cluster_name.filter(|c| !c.is_empty()) {
            None => self.topic_queue_table.remove(topic).is_some(),
            Some(cluster) => {
                let Some(names) = self.cluster_addr_table.get(cluster) else { return false };
                let names = names.clone();
                let mut removed = false;
                for name in names {
                    if let Some(queues) = self.topic_queue_table.get_mut(topic) {
                        removed |= queues.remove(&name).is_some();
                    }
                }
                if self.topic_queue_table.get(topic).is_some_and(BTreeMap::is_empty) {
                    self.topic_queue_table.remove(topic);
                }
                removed
            }
        }
    }

    /// GET_SYSTEM_TOPIC_LIST_FROM_NS: the cluster names and broker names (each is a topic
    /// in RocketMQ), and one broker address to ask for more.
    pub fn system_topics(&self) -> TopicList {
        let mut list = TopicList::default();
        for (cluster, names) in &self.cluster_addr_table {
            list.topic_list.insert(cluster.clone());
            list.topic_list.extend(names.iter().cloned());
        }
        list.broker_addr =
            self.broker_addr_table.values().find_map(|b| b.select_broker_addr().map(str::to_owned));
        list
    }

    /// GET_TOPICS_BY_CLUSTER.
    pub fn topics_by_cluster(&self, cluster: &str) -> TopicList {
        let names = self.cluster_addr_table.get(cluster);
        let topic_list = self
            .topic_queue_table
            .iter()
            .filter(|(_, queues)| names.is_some_and(|n| queues.keys().any(|b| n.contains(b))))
            .map(|(t, _)| t.clone())
            .collect();
        TopicList { topic_list, broker_addr: None }
    }

    /// GET_UNIT_TOPIC_LIST / GET_HAS_UNIT_SUB_TOPIC_LIST / GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST.
    pub fn topics_with_flags(&self, want: impl Fn(i32) -> bool) -> TopicList {
        let topic_list = self
            .topic_queue_table
            .iter()
            .filter(|(_, queues)| queues.values().next().is_some_and(|q| want(q.topic_sys_flag)))
            .map(|(t, _)| t.clone())
            .collect();
        TopicList { topic_list, broker_addr: None }
    }

    /// WIPE_WRITE_PERM_OF_BROKER (`grant = false`) and ADD_WRITE_PERM_OF_BROKER
    /// (`grant = true`). Returns how many topics were touched.
    pub fn set_write_perm_of_broker(&mut self, broker_name: &str, grant: bool) -> i32 {
        let mut count = 0;
        for queues in self.topic_queue_table.values_mut() {
            if let Some(q) = queues.get_mut(broker_name) {
                q.perm = if grant { q.perm | perm::WRITE } else { q.perm & !perm::WRITE };
                count += 1;
            }
        }
        count
    }

    /// GET_BROKER_MEMBER_GROUP: the members of one broker group.
    pub fn broker_member_group(&self, cluster: &str, broker_name: &str) -> BTreeMap<i64, String> {
        self.broker_addr_table
            .get(broker_name)
            .filter(|b| b.cluster == cluster)
            .map(|b| b.broker_addrs.clone())
            .unwrap_or_default()
    }

    /// REGISTER_TOPIC_IN_NAMESRV: queue data supplied by an admin tool, for brokers we know.
    pub fn register_topic(&mut self, topic: &str, queue_datas: &[QueueData]) {
        for q in queue_datas {
            if self.broker_addr_table.contains_key(&q.broker_name) {
                self.topic_queue_table
                    .entry(topic.to_owned())
                    .or_default()
                    .insert(q.broker_name.clone(), q.clone());
            }
        }
    }

    pub fn live_broker_count(&self) -> usize {
        self.broker_live_table.len()
    }

    pub fn topic_count(&self) -> usize {
        self.topic_queue_table.len()
    }
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
