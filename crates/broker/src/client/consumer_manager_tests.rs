use ferromq_protocol::header::NotifyConsumerIdsChangedRequestHeader;
use ferromq_protocol::LanguageCode;

use super::*;
use crate::client::test_support::{connect, wait_for};
use crate::filter::build_subscription_data;

fn sub(topic: &str, expr: &str, version: i64) -> SubscriptionData {
    let mut s = build_subscription_data(topic, expr, None).unwrap();
    s.sub_version = version;
    s
}

fn channel(conn: &Connection, client_id: &str, now: u64) -> ClientChannelInfo {
    ClientChannelInfo::new(conn.clone(), client_id, LanguageCode::Java, 401, now)
}

fn register(
    m: &ConsumerManager,
    conn: &Connection,
    client_id: &str,
    subs: &[SubscriptionData],
    now: u64,
) -> RegisterOutcome {
    m.register_consumer(
        "g",
        channel(conn, client_id, now),
        ConsumeType::ConsumePassively,
        MessageModel::Clustering,
        ConsumeFromWhere::ConsumeFromLastOffset,
        subs,
        true,
        now,
    )
}

#[tokio::test]
async fn heartbeat_from_a_new_client_changes_the_channel_set() {
    let m = ConsumerManager::default();
    let (a, _ca, _ra) = connect().await;
    let (b, _cb, _rb) = connect().await;
    let subs = [sub("T", "TagA || TagB", 1)];

    let first = register(&m, &a, "client-a", &subs, 1_000);
    assert!(first.channels_changed && first.subscriptions_changed);
    assert_eq!(first.notify.len(), 1);

    let again = register(&m, &a, "client-a", &subs, 2_000);
    assert!(!again.changed());
    assert!(again.notify.is_empty());

    let second = register(&m, &b, "client-b", &subs, 3_000);
    assert!(second.channels_changed && !second.subscriptions_changed);
    assert_eq!(second.notify.len(), 2);

    let mut ids = m.consumer_ids("g");
    ids.sort();
    assert_eq!(ids, ["client-a", "client-b"]);
    assert_eq!(m.find_channel("g", "client-b").unwrap().connection, b);
    assert_eq!(m.find_subscription_data("g", "T").unwrap().tags_set.len(), 2);
    assert_eq!(m.find_subscription_data_count("g"), 1);
    assert_eq!(m.query_topic_consume_by_who("T").into_iter().collect::<Vec<_>>(), ["g"]);
    let cc = m.consumer_connection("g").unwrap();
    assert_eq!(cc.connection_set.len(), 2);
    assert_eq!(cc.connection_set.iter().next().unwrap().language, "JAVA");
    assert!(m.consumer_connection("other").is_none());

    // Notification off for the group: changes are reported, nobody to notify.
    let (c, _cc, _rc) = connect().await;
    let quiet = m.register_consumer(
        "g",
        channel(&c, "client-c", 4_000),
        ConsumeType::ConsumePassively,
        MessageModel::Clustering,
        ConsumeFromWhere::ConsumeFromLastOffset,
        &subs,
        false,
        4_000,
    );
    assert!(quiet.channels_changed && quiet.notify.is_empty());
}

#[tokio::test]
async fn subscription_changes_follow_java() {
    let m = ConsumerManager::default();
    let (a, _ca, _ra) = connect().await;
    register(&m, &a, "c", &[sub("T", "*", 1)], 1);
    // A newer version of the same topic replaces it but is not a "change" (as Java).
    let newer = register(&m, &a, "c", &[sub("T", "TagA", 2)], 2);
    assert!(!newer.subscriptions_changed);
    assert_eq!(m.find_subscription_data("g", "T").unwrap().sub_string, "TagA");
    // An older version is ignored.
    register(&m, &a, "c", &[sub("T", "TagB", 1)], 3);
    assert_eq!(m.find_subscription_data("g", "T").unwrap().sub_string, "TagA");
    // Adding and dropping topics are changes.
    assert!(register(&m, &a, "c", &[sub("T", "TagA", 2), sub("U", "*", 1)], 4).subscriptions_changed);
    assert!(register(&m, &a, "c", &[sub("U", "*", 1)], 5).subscriptions_changed);
    assert!(m.find_subscription_data("g", "T").is_none());
}

#[tokio::test]
async fn expired_channel_is_removed_and_closed() {
    let m = ConsumerManager::new(120_000);
    let (a, _ca, _ra) = connect().await;
    let (b, _cb, _rb) = connect().await;
    register(&m, &a, "a", &[], 0);
    register(&m, &b, "b", &[], 100_000);
    assert!(m.scan_not_active_channel(120_000).is_empty(), "exactly at the limit is still alive");
    let expired = m.scan_not_active_channel(120_001);
    assert_eq!(expired.len(), 1);
    assert_eq!((expired[0].0.as_str(), expired[0].1.client_id.as_str()), ("g", "a"));
    assert!(a.is_closed());
    assert_eq!(m.consumer_ids("g"), ["b"]);
    assert_eq!(m.scan_not_active_channel(300_000).len(), 1);
    assert!(m.get_consumer_group_info("g").is_none(), "empty group removed");
}

#[tokio::test]
async fn channel_close_and_unregister() {
    let m = ConsumerManager::default();
    let (a, _ca, _ra) = connect().await;
    let (b, _cb, _rb) = connect().await;
    register(&m, &a, "a", &[], 1);
    register(&m, &b, "b", &[], 1);
    m.register_consumer(
        "other",
        channel(&a, "a", 1),
        ConsumeType::ConsumeActively,
        MessageModel::Broadcasting,
        ConsumeFromWhere::ConsumeFromFirstOffset,
        &[],
        true,
        1,
    );
    assert!(m.get_consumer_group_info("other").unwrap().is_broadcasting());

    let mut changes = m.do_channel_close_event(a.id());
    changes.sort_by(|x, y| x.group.cmp(&y.group));
    assert_eq!(changes.len(), 2);
    assert_eq!(
        (changes[0].group.as_str(), changes[0].group_removed, changes[0].remaining.len()),
        ("g", false, 1)
    );
    assert_eq!((changes[1].group.as_str(), changes[1].group_removed), ("other", true));
    assert!(m.do_channel_close_event(a.id()).is_empty());

    let change = m.unregister_consumer("g", b.id(), true).unwrap();
    assert!(change.group_removed && change.remaining.is_empty());
    assert!(m.unregister_consumer("g", b.id(), true).is_none());
    assert!(m.groups().is_empty());
}

#[tokio::test]
async fn notify_reaches_every_member() {
    let (a, _ca, ra) = connect().await;
    let (b, _cb, rb) = connect().await;
    assert_eq!(notify_consumer_ids_changed("grp", &[a.clone(), b.clone()]), 2);
    for r in [&ra, &rb] {
        let seen = wait_for(r, 1).await;
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].code, RequestCode::NOTIFY_CONSUMER_IDS_CHANGED);
        assert!(seen[0].is_oneway());
        let h: NotifyConsumerIdsChangedRequestHeader = seen[0].decode_header().unwrap();
        assert_eq!(h.consumer_group, "grp");
    }
    a.close();
    assert_eq!(notify_consumer_ids_changed("grp", &[a, b]), 1);
}
