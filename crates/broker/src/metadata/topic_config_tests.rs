use super::*;

fn manager(dir: &std::path::Path, options: &TopicConfigOptions) -> TopicConfigManager {
    TopicConfigManager::new(topic_config_path(dir), options, 1_000)
}

fn opts() -> TopicConfigOptions {
    TopicConfigOptions { broker_cluster_name: "C1".into(), broker_name: "b1".into(), ..Default::default() }
}

#[test]
fn system_topics_as_java_creates_them() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(dir.path(), &opts());
    let get = |t: &str| m.select_topic_config(t).unwrap();
    let tbw = get("TBW102");
    assert_eq!((tbw.read_queue_nums, tbw.write_queue_nums, tbw.perm), (8, 8, 7));
    assert_eq!(get("SELF_TEST_TOPIC").write_queue_nums, 1);
    assert_eq!(get("BenchmarkTest").write_queue_nums, 1024);
    assert_eq!((get("C1").perm, get("C1").write_queue_nums), (7, 16));
    assert_eq!((get("b1").perm, get("b1").write_queue_nums), (7, 1));
    assert_eq!(get("OFFSET_MOVED_EVENT").write_queue_nums, 1);
    assert_eq!(get("SCHEDULE_TOPIC_XXXX").write_queue_nums, 18);
    assert_eq!(get("C1_REPLY_TOPIC").write_queue_nums, 1);
    assert_eq!(get("RMQ_SYS_TRANS_HALF_TOPIC").perm, 6);
    assert!(m.select_topic_config("RMQ_SYS_TRACE_TOPIC").is_none());
    assert!(m.is_system_topic("C1") && m.is_system_topic("b1") && m.is_system_topic("C1_REPLY_TOPIC"));
    assert!(!m.is_system_topic("TopicTest"));
    assert!(m.is_not_allowed_send_topic("SCHEDULE_TOPIC_XXXX"));

    let o = TopicConfigOptions {
        auto_create_topic_enable: false,
        cluster_topic_enable: false,
        broker_topic_enable: false,
        trace_topic_enable: true,
        ..opts()
    };
    let m = manager(dir.path(), &o);
    assert!(m.select_topic_config("TBW102").is_none());
    assert_eq!(m.select_topic_config("C1").unwrap().perm, perm::INHERIT);
    assert_eq!(m.select_topic_config("b1").unwrap().perm, perm::INHERIT);
    assert_eq!(m.select_topic_config("RMQ_SYS_TRACE_TOPIC").unwrap().write_queue_nums, 1);
}

#[test]
fn auto_creates_from_the_default_topic() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(dir.path(), &opts());
    let v0 = m.data_version();
    let created =
        m.create_topic_in_send_message_method("NewTopic", "TBW102", "1.2.3.4:5", 4, 0, 2_000).unwrap();
    assert!(created.created);
    assert_eq!(
        (created.config.read_queue_nums, created.config.write_queue_nums, created.config.perm),
        (4, 4, 6)
    );
    assert_eq!(m.data_version().counter, v0.counter + 1);
    assert_eq!(m.data_version().timestamp, 2_000);
    // Asking for more queues than the default topic has gives the default topic's count.
    let big = m.create_topic_in_send_message_method("Big", "TBW102", "x", 100, 1, 3_000).unwrap();
    assert_eq!((big.config.write_queue_nums, big.config.topic_sys_flag), (8, 1));
    // Existing topic: returned as it is, version unchanged.
    let again = m.create_topic_in_send_message_method("NewTopic", "TBW102", "x", 1, 0, 4_000).unwrap();
    assert!(!again.created);
    assert_eq!(again.config.write_queue_nums, 4);
    assert_eq!(m.data_version().counter, v0.counter + 2);
    // A default topic that does not exist, or that has no inherit permission.
    assert!(m.create_topic_in_send_message_method("X", "NoSuchDefault", "x", 4, 0, 5_000).is_none());
    assert!(m.create_topic_in_send_message_method("X", "SELF_TEST_TOPIC", "x", 4, 0, 5_000).is_none());
    // The cluster topic inherits.
    assert!(m.create_topic_in_send_message_method("Y", "C1", "x", 4, 0, 5_000).is_some());
}

#[test]
fn tbw102_loses_inherit_when_auto_create_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(dir.path(), &opts());
    m.set_auto_create_topic_enable(false);
    assert!(m.create_topic_in_send_message_method("NewTopic", "TBW102", "x", 4, 0, 2_000).is_none());
    assert_eq!(m.select_topic_config("TBW102").unwrap().perm, perm::READ | perm::WRITE);
    assert!(!m.contains("NewTopic"));
}

#[test]
fn retry_topics_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(dir.path(), &opts());
    let r = m.create_topic_in_send_message_back_method("%RETRY%g", 1, 6, 0, 2_000);
    assert!(r.created);
    assert_eq!((r.config.read_queue_nums, r.config.perm), (1, 6));
    assert!(!m.create_topic_in_send_message_back_method("%RETRY%g", 3, 6, 0, 2_000).created);
    assert!(m.create_topic_of_tran_check_max_time(1, 6, 2_000).created);

    let mut c = TopicConfig::new("T");
    c.write_queue_nums = 2;
    assert!(m.update_topic_config(c.clone(), 3_000).is_none());
    c.write_queue_nums = 3;
    assert_eq!(m.update_topic_config(c, 3_001).unwrap().write_queue_nums, 2);
    assert!(m.update_topic_unit_flag("T", true, 3_002));
    assert_eq!(m.select_topic_config("T").unwrap().topic_sys_flag, topic_sys_flag::UNIT);
    assert!(!m.update_topic_unit_sub_flag("missing", true, 3_003));
    let before = m.data_version();
    assert!(m.delete_topic_config("T", 4_000).is_some());
    assert!(m.delete_topic_config("T", 4_001).is_none());
    assert_eq!(m.data_version().counter, before.counter + 1);
}

#[test]
fn order_topics_follow_the_namesrv_table() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(dir.path(), &opts());
    m.update_topic_config(TopicConfig::new("A"), 1);
    m.update_topic_config(TopicConfig { order: true, ..TopicConfig::new("B") }, 1);
    let mut kv = KVTable::default();
    kv.table.insert("A".into(), "b1:4".into());
    assert!(m.update_order_topic_config(&kv, 2));
    assert!(m.is_order_topic("A") && !m.is_order_topic("B"));
    assert!(!m.update_order_topic_config(&kv, 3));
}

#[test]
fn persists_and_reloads_over_system_topics() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(dir.path(), &opts());
    assert_eq!(m.load().unwrap(), LoadedFrom::Nothing);
    m.update_topic_config(TopicConfig { read_queue_nums: 2, ..TopicConfig::new("TopicTest") }, 5_000);
    let mut tbw = TopicConfig::clone(&m.select_topic_config("TBW102").unwrap());
    tbw.write_queue_nums = 3;
    m.update_topic_config(tbw, 5_001);
    assert!(m.persist().unwrap());
    assert!(!m.persist().unwrap(), "nothing changed: no write");
    let version = m.data_version();

    let text = std::fs::read_to_string(topic_config_path(dir.path())).unwrap();
    assert!(text.contains("\"topicConfigTable\"") && text.contains("\"dataVersion\""));

    let m2 = manager(dir.path(), &opts());
    assert_eq!(m2.load().unwrap(), LoadedFrom::File);
    assert_eq!(m2.select_topic_config("TopicTest").unwrap().read_queue_nums, 2);
    assert_eq!(m2.select_topic_config("TBW102").unwrap().write_queue_nums, 3);
    assert_eq!(m2.data_version(), version);
    assert_eq!(m2.build_serialize_wrapper(), m.build_serialize_wrapper());
}

#[test]
fn loads_a_java_topics_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = topic_config_path(dir.path());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // As Java 4.9.8 writes it (fastjson pretty format).
    std::fs::write(
        &path,
        "{\n\t\"dataVersion\":{\n\t\t\"counter\":5,\n\t\t\"timestamp\":1712000000000\n\t},\n\t\"topicConfigTable\":{\n\t\t\"TopicTest\":{\n\t\t\t\"order\":false,\n\t\t\t\"perm\":6,\n\t\t\t\"readQueueNums\":4,\n\t\t\t\"topicFilterType\":\"SINGLE_TAG\",\n\t\t\t\"topicName\":\"TopicTest\",\n\t\t\t\"topicSysFlag\":0,\n\t\t\t\"writeQueueNums\":4\n\t\t}\n\t}\n}",
    )
    .unwrap();
    let m = manager(dir.path(), &opts());
    assert_eq!(m.load().unwrap(), LoadedFrom::File);
    assert_eq!(m.select_topic_config("TopicTest").unwrap().write_queue_nums, 4);
    assert_eq!(m.data_version().counter, 5);
    assert!(m.contains("SCHEDULE_TOPIC_XXXX"));
    let all: TopicConfigSerializeWrapper = json::from_slice(&m.encode(false)).unwrap();
    assert!(all.topic_config_table.contains_key("TopicTest"));
}
