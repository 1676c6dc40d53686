use super::*;

const TIMEOUT_MS: u64 = 120_000;

fn wrapper(topics: &[(&str, i32)], counter: i64) -> TopicConfigSerializeWrapper {
    let mut w = TopicConfigSerializeWrapper {
        data_version: DataVersion { state_version: 0, timestamp: 1, counter },
        ..Default::default()
    };
    for (name, queues) in topics {
        let mut c = TopicConfig::new(*name);
        c.read_queue_nums = *queues;
        c.write_queue_nums = *queues;
        w.topic_config_table.insert((*name).to_owned(), c);
    }
    w
}

fn reg(name: &str, id: i64, addr: &str, topics: &[(&str, i32)], conn: u64) -> BrokerRegistration {
    BrokerRegistration {
        cluster_name: "DefaultCluster".into(),
        broker_addr: addr.into(),
        broker_name: name.into(),
        broker_id: id,
        ha_server_addr: format!("{addr}-ha"),
        topic_config_wrapper: Some(wrapper(topics, 1)),
        heartbeat_timeout_ms: TIMEOUT_MS,
        connection_id: Some(conn),
        ..Default::default()
    }
}

fn addr(a: &str) -> BrokerAddrInfo {
    BrokerAddrInfo { cluster_name: "DefaultCluster".into(), broker_addr: a.into() }
}

#[test]
fn master_and_slave_are_one_broker_group() {
    let mut t = RouteTable::default();
    assert_eq!(
        t.register_broker(reg("broker-a", 0, "10.0.0.1:10911", &[("T", 4)], 1), 0),
        Some(Default::default())
    );
    let slave = t.register_broker(reg("broker-a", 1, "10.0.0.2:10911", &[("T", 4)], 2), 0).unwrap();
    assert_eq!(slave.master_addr.as_deref(), Some("10.0.0.1:10911"));
    assert_eq!(slave.ha_server_addr.as_deref(), Some("10.0.0.1:10911-ha"));

    let route = t.pick_topic_route_data("T").unwrap();
    assert_eq!(route.queue_datas.len(), 1);
    assert_eq!(route.broker_datas.len(), 1);
    let addrs = &route.broker_datas[0].broker_addrs;
    assert_eq!(addrs.get(&0).map(String::as_str), Some("10.0.0.1:10911"));
    assert_eq!(addrs.get(&1).map(String::as_str), Some("10.0.0.2:10911"));

    let info = t.cluster_info();
    assert_eq!(info.cluster_addr_table["DefaultCluster"].len(), 1);
    assert_eq!(info.broker_addr_table["broker-a"].broker_addrs.len(), 2);
}

#[test]
fn a_slave_does_not_change_topic_queues() {
    let mut t = RouteTable::default();
    t.register_broker(reg("broker-a", 0, "m:1", &[("T", 4)], 1), 0);
    t.register_broker(reg("broker-a", 1, "s:1", &[("T", 8), ("OnlySlave", 1)], 2), 0);
    assert_eq!(t.pick_topic_route_data("T").unwrap().queue_datas[0].read_queue_nums, 4);
    assert!(t.pick_topic_route_data("OnlySlave").is_none());
}

#[test]
fn unknown_topic_has_no_route() {
    let t = RouteTable::default();
    assert!(t.pick_topic_route_data("nope").is_none());
}

#[test]
fn queue_data_follows_the_data_version() {
    let mut t = RouteTable::default();
    t.register_broker(reg("b", 0, "m:1", &[("T", 4)], 1), 0);
    // Same data version: a heartbeat, topics not re-read.
    let mut same = reg("b", 0, "m:1", &[("T", 16)], 1);
    same.topic_config_wrapper = Some(wrapper(&[("T", 16)], 1));
    t.register_broker(same, 10);
    assert_eq!(t.pick_topic_route_data("T").unwrap().queue_datas[0].write_queue_nums, 4);
    // New version: topics re-read.
    let mut newer = reg("b", 0, "m:1", &[("T", 16)], 1);
    newer.topic_config_wrapper = Some(wrapper(&[("T", 16)], 2));
    t.register_broker(newer, 20);
    assert_eq!(t.pick_topic_route_data("T").unwrap().queue_datas[0].write_queue_nums, 16);
}

#[test]
fn silent_broker_expires_after_its_timeout() {
    let mut t = RouteTable::default();
    t.register_broker(reg("b", 0, "m:1", &[("T", 4)], 7), 1_000);
    assert!(t.scan_not_active_brokers(1_000 + TIMEOUT_MS).is_empty());
    assert!(t.touch(&addr("m:1"), 50_000));
    assert!(t.scan_not_active_brokers(50_000 + TIMEOUT_MS).is_empty());
    let gone = t.scan_not_active_brokers(50_001 + TIMEOUT_MS);
    assert_eq!(gone, vec![(addr("m:1"), Some(7))]);
    assert!(t.pick_topic_route_data("T").is_none());
    assert!(t.cluster_info().broker_addr_table.is_empty());
    assert!(t.cluster_info().cluster_addr_table.is_empty());
}

#[test]
fn closed_connection_drops_only_its_broker() {
    let mut t = RouteTable::default();
    t.register_broker(reg("a", 0, "a:1", &[("T", 4)], 1), 0);
    t.register_broker(reg("b", 0, "b:1", &[("T", 4)], 2), 0);
    assert_eq!(t.on_connection_closed(1), vec![addr("a:1")]);
    let route = t.pick_topic_route_data("T").unwrap();
    assert_eq!(route.broker_datas.len(), 1);
    assert_eq!(route.broker_datas[0].broker_name, "b");
    assert!(t.on_connection_closed(99).is_empty());
}

#[test]
fn slave_expiry_keeps_the_master() {
    let mut t = RouteTable::default();
    t.register_broker(reg("a", 0, "m:1", &[("T", 4)], 1), 0);
    t.register_broker(reg("a", 1, "s:1", &[("T", 4)], 2), 0);
    t.on_connection_closed(2);
    let route = t.pick_topic_route_data("T").unwrap();
    assert_eq!(route.broker_datas[0].broker_addrs.len(), 1);
    assert!(route.broker_datas[0].broker_addrs.contains_key(&0));
}

#[test]
fn one_address_has_one_record_when_roles_switch() {
    let mut t = RouteTable::default();
    t.register_broker(reg("a", 1, "x:1", &[("T", 4)], 1), 0);
    t.register_broker(reg("a", 0, "x:1", &[("T", 4)], 1), 1);
    let addrs = &t.cluster_info().broker_addr_table["a"].broker_addrs;
    assert_eq!(addrs.len(), 1);
    assert_eq!(addrs.get(&0).map(String::as_str), Some("x:1"));
}

#[test]
fn unregister_last_member_removes_group_and_topics() {
    let mut t = RouteTable::default();
    t.register_broker(reg("a", 0, "m:1", &[("T", 4), ("U", 1)], 1), 0);
    t.register_broker(reg("b", 0, "n:1", &[("T", 4)], 2), 0);
    t.unregister_broker("DefaultCluster", "m:1", "a", 0);
    assert!(t.pick_topic_route_data("U").is_none());
    assert_eq!(t.pick_topic_route_data("T").unwrap().queue_datas.len(), 1);
    assert_eq!(t.cluster_info().cluster_addr_table["DefaultCluster"].len(), 1);
}

#[test]
fn write_permission_can_be_wiped_and_restored() {
    let mut t = RouteTable::default();
    t.register_broker(reg("a", 0, "m:1", &[("T", 4), ("U", 1)], 1), 0);
    assert_eq!(t.set_write_perm_of_broker("a", false), 2);
    assert_eq!(t.pick_topic_route_data("T").unwrap().queue_datas[0].perm, perm::READ);
    assert_eq!(t.set_write_perm_of_broker("a", true), 2);
    assert_eq!(t.pick_topic_route_data("T").unwrap().queue_datas[0].perm, perm::READ | perm::WRITE);
    assert_eq!(t.set_write_perm_of_broker("nobody", false), 0);
}

#[test]
fn delete_topic_everywhere_or_per_cluster() {
    let mut t = RouteTable::default();
    t.register_broker(reg("a", 0, "m:1", &[("T", 4)], 1), 0);
    let mut other = reg("c", 0, "o:1", &[("T", 4)], 2);
    other.cluster_name = "Other".into();
    t.register_broker(other, 0);
    assert!(t.delete_topic("T", Some("Other")));
    assert_eq!(t.pick_topic_route_data("T").unwrap().broker_datas[0].broker_name, "a");
    assert!(t.delete_topic("T", None));
    assert!(t.pick_topic_route_data("T").is_none());
    assert!(!t.delete_topic("T", None));
}

#[test]
fn topic_lists() {
    let mut t = RouteTable::default();
    t.register_broker(reg("a", 0, "m:1", &[("T", 4), ("U", 1)], 1), 0);
    assert_eq!(t.all_topics().topic_list.len(), 2);
    assert_eq!(t.topics_by_cluster("DefaultCluster").topic_list.len(), 2);
    assert!(t.topics_by_cluster("None").topic_list.is_empty());
    let sys = t.system_topics();
    assert!(sys.topic_list.contains("DefaultCluster") && sys.topic_list.contains("a"));
    assert_eq!(sys.broker_addr.as_deref(), Some("m:1"));
}

#[test]
fn stale_member_cannot_take_a_newer_members_id() {
    let mut t = RouteTable::default();
    let mut newer = reg("a", 0, "new:1", &[("T", 4)], 1);
    if let Some(w) = newer.topic_config_wrapper.as_mut() {
        w.data_version.state_version = 5;
    }
    t.register_broker(newer, 0);
    let stale = reg("a", 0, "old:1", &[("T", 4)], 2);
    assert_eq!(t.register_broker(stale, 1), None);
    let addrs = &t.cluster_info().broker_addr_table["a"].broker_addrs;
    assert_eq!(addrs.get(&0).map(String::as_str), Some("new:1"));
}

#[test]
fn deleting_topics_with_registration_is_opt_in() {
    let mut t = RouteTable::new(RouteTableOptions { delete_topic_with_broker_registration: true });
    t.register_broker(reg("a", 0, "m:1", &[("T", 4), ("U", 1)], 1), 0);
    let mut next = reg("a", 0, "m:1", &[("T", 4)], 1);
    next.topic_config_wrapper = Some(wrapper(&[("T", 4)], 2));
    t.register_broker(next, 1);
    assert!(t.pick_topic_route_data("U").is_none());
    assert!(t.pick_topic_route_data("T").is_some());
}
