//! End-to-end with the real third-party RocketMQ clients (tests/clients/README.md): real
//! `mqnamesrv` and `mqbroker` processes on loopback, driven by rocketmq-client-rust 1.0.0, the
//! Apache C++ client 2.1.0 (through Python) and ali-ons 3.12.0 (Node), none of them written here.
//!
//! - With each client: a producer sends in every way the client has (sync, async, oneway, batch)
//!   and a clustering push consumer receives every message, with its tags, keys, user
//!   properties, body (CRC-32), queue id / offset and message ids as the producer was told.
//! - With rocketmq-client-rust: two members of a group split the queues and one takes over when
//!   the other leaves (SIGKILL, then SIGTERM); two broadcasting consumers each get everything; a
//!   tag subscription gets only its tags (ali-ons too); committed offsets survive a broker
//!   restart; a consumer from the first offset replays the backlog.
//!
//! Each test has its own NameServer, broker (ephemeral ports) and temp dir, so they run in
//! parallel. Waits follow the drivers' `started` / `rebalance` / `msg` lines, never fixed sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::clients::*;
use common::*;
use ferromq_protocol::body::TopicRouteData;
use ferromq_protocol::{json, SerializeType};
use serde_json::Value;

/// Messages per send mode in the per-client tests.
const PER_MODE: usize = 15;
/// Bound of one producer run (the drivers' own `--timeout-secs`).
const PRODUCE_SECS: &str = "20";
/// Bound of one consumer run.
const CONSUME_SECS: &str = "30";
/// How long the test waits for a driver to exit (beyond its own bound, it is killed).
const EXIT_WAIT: Duration = Duration::from_secs(45);
/// How long a group change (join, leave) may take to reach the members. The crate's periodic
/// rebalance is left at its 20 s default, so the members already there only make this bound
/// when the broker sends them NOTIFY_CONSUMER_IDS_CHANGED.
const REBALANCE_WAIT: Duration = Duration::from_secs(10);

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

/// One NameServer and one broker, each on an ephemeral loopback port, in a temp dir.
struct Cluster {
    // Dropped in this order: broker, NameServer, then the directory.
    broker: BrokerProcess,
    ns: NamesrvProcess,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let ns = NamesrvProcess::start(&[]);
        let dir = tempfile::tempdir().unwrap();
        let broker = BrokerProcess::start(&ns.addr, &dir.path().join("store"), &[]);
        Cluster { broker, ns, dir }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// A directory for a client's files (C++ logs, broadcasting offsets).
    fn subdir(&self, name: &str) -> String {
        let d = self.dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d.to_str().unwrap().to_owned()
    }

    /// UPDATE_AND_CREATE_TOPIC through our own protocol, then waits for the route.
    fn create_topic(&self, topic: &str, queues: i32) {
        block_on(async {
            let c = connect(&self.broker.addr).await;
            create_topic(&c, topic, queues).await;
        });
        self.wait_route(topic);
    }

    /// Waits until the NameServer routes `topic` to this broker's current address.
    fn wait_route(&self, topic: &str) {
        let (ns, broker) = (self.ns.addr.clone(), self.broker.addr.clone());
        let t0 = Instant::now();
        let routed = block_on(async {
            let c = connect(&ns).await;
            eventually(Duration::from_secs(10), || {
                let c = c.clone();
                let broker = broker.clone();
                async move {
                    match c.invoke(route_request(topic, SerializeType::Json), TIMEOUT).await {
                        Ok(r) if r.code == 0 => json::from_slice::<TopicRouteData>(&r.body)
                            .map(|d| d.broker_datas.iter().any(|b| b.broker_addrs.get(&0) == Some(&broker)))
                            .unwrap_or(false),
                        _ => false,
                    }
                }
            })
            .await
        });
        assert!(routed, "the NameServer has no route of {topic} to {} after 10 s", self.broker.addr);
        println!("route of {topic} at the NameServer after {:?}", t0.elapsed());
    }

    /// SIGTERM (graceful shutdown: flush, persist offsets, unregister), waiting for the exit.
    fn stop_broker(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.broker.pid().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.broker.child.try_wait().unwrap() {
                assert!(status.success(), "mqbroker exited with {status} after SIGTERM");
                return;
            }
            assert!(Instant::now() < deadline, "mqbroker still running 20 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the broker gracefully and starts a new process on the same store directory.
    fn restart_broker(&mut self) {
        self.stop_broker();
        self.broker = BrokerProcess::start(&self.ns.addr, &self.store(), &[]);
    }
}

fn strings(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `consume` arguments for a group (clustering, from the last offset unless `extra` says).
fn consume_args(ns: &str, topic: &str, group: &str, extra: &[&str]) -> Vec<String> {
    let mut a =
        ["consume", "--namesrv", ns, "--topic", topic, "--group", group, "--timeout-secs", CONSUME_SECS]
            .map(String::from)
            .to_vec();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// `produce` arguments: message i has key `<prefix>-<i>`, tag `tags[i % n]`, the user properties
/// `color=red` and `mode=<prefix>`.
fn produce_args(
    ns: &str,
    topic: &str,
    mode: &str,
    prefix: &str,
    count: usize,
    tags: &str,
    body_size: usize,
) -> Vec<String> {
    let mut a: Vec<String> = [
        "produce",
        "--namesrv",
        ns,
        "--topic",
        topic,
        "--mode",
        mode,
        "--count",
        &count.to_string(),
        "--tag",
        tags,
        "--keys-prefix",
        &format!("{prefix}-"),
        "--prop",
        "color=red",
        "--prop",
        &format!("mode={prefix}"),
        "--body-size",
        &body_size.to_string(),
        "--timeout-secs",
        PRODUCE_SECS,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if mode == "batch" {
        // Several batches, so that they go to several queues.
        a.extend(["--batch-size".to_owned(), "5".to_owned()]);
    }
    a
}

/// Runs one producer to completion; checks its summary; returns its `sent` lines by key.
fn produce(client: Client, args: &[String]) -> HashMap<String, Value> {
    let lines = run_driver(client, &strings(args), EXIT_WAIT);
    expect_ok(&lines);
    sent_by_key(&lines)
}

fn sent_by_key(lines: &[Value]) -> HashMap<String, Value> {
    events(lines, "sent").into_iter().map(|s| (s["keys"].as_str().unwrap().to_owned(), s.clone())).collect()
}

fn key_of(m: &Value) -> String {
    m["keys"].as_str().unwrap_or_else(|| panic!("a message without keys: {m}")).to_owned()
}

fn keys_of<'a>(msgs: impl IntoIterator<Item = &'a Value>) -> BTreeSet<String> {
    msgs.into_iter().map(key_of).collect()
}

fn msgs_of(p: &DriverProcess) -> Vec<&Value> {
    events(&p.lines.seen, "msg")
}

/// Checks every received message against what its producer sent and was told: topic, tag, key,
/// user properties, body (length and CRC-32, as the drivers build it), queue id and offset and
/// message ids where the client reported them; and that every sent message was received.
fn check_delivery(client: Client, topic: &str, msgs: &[&Value], sent: &HashMap<String, Value>) {
    let who = client.name();
    for m in msgs {
        let key = key_of(m);
        let s = sent.get(&key).unwrap_or_else(|| panic!("{who}: received {key}, never sent: {m}"));
        let (mode, i) = key.rsplit_once('-').unwrap();
        let i: usize = i.parse().unwrap();
        assert_eq!(m["topic"], topic, "{who} {key}: topic");
        assert_eq!(m["tags"], s["tags"], "{who} {key}: tag");
        assert_eq!(m["props"]["TAGS"], s["tags"], "{who} {key}: TAGS property");
        assert_eq!(m["props"]["KEYS"], key.as_str(), "{who} {key}: KEYS property");
        assert_eq!(m["props"]["color"], "red", "{who} {key}: user property color: {m}");
        assert_eq!(m["props"]["mode"], mode, "{who} {key}: user property mode: {m}");
        let len = s["body_len"].as_u64().unwrap() as usize;
        assert_eq!(m["body_len"], len, "{who} {key}: body length");
        assert_eq!(m["body_crc32"], body_crc32(i, len), "{who} {key}: body CRC-32 ({})", m["body_head"]);
        assert_eq!(m["reconsumeTimes"], 0, "{who} {key}: reconsumeTimes");
        // What the broker answered the producer matches where the message is.
        if !s["queueOffset"].is_null() {
            assert_eq!(m["queueOffset"], s["queueOffset"], "{who} {key}: queue offset, sent {s}, got {m}");
        }
        if !s["queueId"].is_null() {
            assert_eq!(m["queueId"], s["queueId"], "{who} {key}: queue id, sent {s}, got {m}");
        }
        if let Some(id) = s["msgId"].as_str().filter(|id| !id.is_empty()) {
            assert_eq!(m["msgId"], id, "{who} {key}: msgId");
        }
        if let Some(id) = s["offsetMsgId"].as_str() {
            assert_eq!(m["offsetMsgId"], id, "{who} {key}: offsetMsgId (the broker's)");
        }
    }
    let got = keys_of(msgs.iter().copied());
    let missing: Vec<&String> = sent.keys().filter(|k| !got.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "{who}: {} of {} sent messages never received: {missing:?}",
        missing.len(),
        sent.len()
    );
}

/// Every send mode of `client` (run side by side, each into the same topic), then one
/// clustering push consumer of a new group that must receive every message intact.
fn every_send_mode_reaches_a_push_consumer(client: Client, modes: &[&str]) {
    let t0 = Instant::now();
    let cluster = Cluster::start();
    let ns = cluster.ns.addr.clone();
    let topic = "RealClientTopic";
    if client == Client::Node {
        // ali-ons does not create topics through TBW102; the others auto-create it.
        cluster.create_topic(topic, 4);
    }
    let log_dir = cluster.subdir("client-logs");
    let mut producers = Vec::new();
    for mode in modes {
        // sync sends 5000-byte bodies, which every client compresses (over 4 KiB).
        let size = if *mode == "sync" { 5000 } else { 300 };
        let mut args = produce_args(&ns, topic, mode, mode, PER_MODE, "TagA,TagB", size);
        if client == Client::Cpp {
            args.extend(["--log-dir".to_owned(), log_dir.clone()]);
        }
        producers.push(DriverProcess::spawn(client, &strings(&args)));
    }
    let mut sent = HashMap::new();
    for (p, mode) in producers.iter_mut().zip(modes) {
        let lines = p.wait_exit(EXIT_WAIT);
        let s = expect_ok(&lines);
        assert_eq!(s["succeeded"], PER_MODE, "{} {mode}: {s}", client.name());
        let by_key = sent_by_key(&lines);
        assert_eq!(by_key.len(), PER_MODE, "{} {mode}: sent lines", client.name());
        sent.extend(by_key);
    }
    println!("{}: {} messages sent ({modes:?}) after {:?}", client.name(), sent.len(), t0.elapsed());
    cluster.wait_route(topic);

    let total = (PER_MODE * modes.len()).to_string();
    let mut args = consume_args(&ns, topic, "RealClientGroup", &["--expect", &total]);
    match client {
        // The C++ client always consumes from the last offset: a new group of a young queue
        // (minimum offset 0) is told offset 0 by the broker, as Apache's broker does, so it
        // still reads everything.
        Client::Cpp => args.extend(["--props", "color,mode", "--log-dir", &log_dir].map(String::from)),
        Client::Rust | Client::Node => args.extend(["--from", "first"].map(String::from)),
    }
    let args = strings(&args);
    let lines = run_driver(client, &args, EXIT_WAIT);
    let s = expect_ok(&lines);
    assert_eq!(s["unique"].as_u64(), Some((PER_MODE * modes.len()) as u64), "{s}");
    check_delivery(client, topic, &events(&lines, "msg"), &sent);
    println!("{}: every message received intact after {:?}", client.name(), t0.elapsed());
}

#[test]
fn rust_client_sync_async_oneway_batch_reach_a_push_consumer() {
    every_send_mode_reaches_a_push_consumer(Client::Rust, &["sync", "async", "oneway", "batch"]);
}

#[test]
fn cpp_client_sync_async_oneway_batch_reach_a_push_consumer() {
    every_send_mode_reaches_a_push_consumer(Client::Cpp, &["sync", "async", "oneway", "batch"]);
}

#[test]
fn node_client_sync_and_async_reach_a_push_consumer() {
    // ali-ons has no oneway and no batch send.
    every_send_mode_reaches_a_push_consumer(Client::Node, &["sync", "async"]);
}

// ------------------------------------------------------------------- rocketmq-client-rust only

/// A rocketmq-client-rust push consumer, still running (no `--expect`: the test stops it).
fn spawn_rust_consumer(ns: &str, topic: &str, group: &str, extra: &[&str]) -> DriverProcess {
    let mut p = DriverProcess::spawn(Client::Rust, &strings(&consume_args(ns, topic, group, extra)));
    p.wait_event("started", Duration::from_secs(15));
    p
}

fn rust_produce(ns: &str, topic: &str, prefix: &str, count: usize, tags: &str) -> HashMap<String, Value> {
    produce(Client::Rust, &produce_args(ns, topic, "sync", prefix, count, tags, 200))
}

/// Reads what the drivers printed so far until `done` holds or `within` passes.
fn pump_until(
    ps: &mut [&mut DriverProcess],
    within: Duration,
    mut done: impl FnMut(&[&mut DriverProcess]) -> bool,
) -> bool {
    let deadline = Instant::now() + within;
    loop {
        for p in ps.iter_mut() {
            while p.lines.next_line(Duration::ZERO).is_some() {}
        }
        if done(ps) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The queues of `topic` a member holds now (its latest `rebalance` line).
fn assignment(p: &DriverProcess, topic: &str) -> Option<BTreeSet<i64>> {
    p.lines
        .seen
        .iter()
        .rev()
        .find(|v| v["event"] == "rebalance" && v["topic"] == topic)
        .map(|v| v["queues"].as_array().unwrap().iter().map(|q| q["queueId"].as_i64().unwrap()).collect())
}

fn wait_assignment(p: &mut DriverProcess, topic: &str, want: &BTreeSet<i64>, what: &str) {
    let ok = pump_until(&mut [&mut *p], REBALANCE_WAIT, |ps| assignment(ps[0], topic).as_ref() == Some(want));
    assert!(
        ok,
        "{what}: the member does not hold queues {want:?} of {topic} within {REBALANCE_WAIT:?}; lines: {}",
        lines_text(&p.lines.seen)
    );
}

/// Waits until the two members of a group hold two disjoint queues of four each; returns them.
fn wait_split(a: &mut DriverProcess, b: &mut DriverProcess, topic: &str) -> (BTreeSet<i64>, BTreeSet<i64>) {
    let split = pump_until(&mut [&mut *a, &mut *b], REBALANCE_WAIT, |ps| {
        let (qa, qb) = (assignment(ps[0], topic), assignment(ps[1], topic));
        matches!((qa, qb), (Some(qa), Some(qb)) if qa.len() == 2 && qb.len() == 2 && qa.is_disjoint(&qb))
    });
    assert!(
        split,
        "the members do not split the 4 queues within {REBALANCE_WAIT:?}; A: {}\nB: {}",
        lines_text(&a.lines.seen),
        lines_text(&b.lines.seen)
    );
    (assignment(a, topic).unwrap(), assignment(b, topic).unwrap())
}

/// After a takeover: sends 20 messages keyed `<prefix>-<i>` and checks that `a` alone receives
/// them all, from every queue.
fn sole_member_gets_everything(a: &mut DriverProcess, ns: &str, topic: &str, prefix: &str) {
    let before = msgs_of(a).len();
    let sent = rust_produce(ns, topic, prefix, 20, "TagA");
    let want: BTreeSet<String> = sent.keys().cloned().collect();
    let got = pump_until(&mut [&mut *a], Duration::from_secs(15), |ps| {
        keys_of(msgs_of(ps[0])[before..].iter().copied()).is_superset(&want)
    });
    assert!(got, "the remaining member did not receive the 20 {prefix} messages sent after the takeover");
    let fresh: Vec<&Value> =
        msgs_of(a)[before..].iter().copied().filter(|m| want.contains(&key_of(m))).collect();
    let queues: BTreeSet<i64> = fresh.iter().map(|m| m["queueId"].as_i64().unwrap()).collect();
    assert_eq!(queues, (0..4).collect(), "the remaining member consumes from every queue");
    check_delivery(Client::Rust, topic, &fresh, &sent);
}

#[test]
fn rust_group_members_split_the_queues_and_one_takes_over_when_the_other_leaves() {
    let cluster = Cluster::start();
    let ns = cluster.ns.addr.clone();
    let topic = "SplitTopic";
    let group = "SplitGroup";
    cluster.create_topic(topic, 4);
    let all: BTreeSet<i64> = (0..4).collect();

    let mut a = spawn_rust_consumer(&ns, topic, group, &["--from", "first"]);
    wait_assignment(&mut a, topic, &all, "the only member");
    // A second member joins: the broker tells the first that the group changed, and both now
    // hold two queues.
    let mut b = spawn_rust_consumer(&ns, topic, group, &["--from", "first"]);
    let (qa, qb) = wait_split(&mut a, &mut b, topic);
    let first = rust_produce(&ns, topic, "first", 20, "TagA");
    let want: BTreeSet<String> = first.keys().cloned().collect();
    let got_all = pump_until(&mut [&mut a, &mut b], Duration::from_secs(15), |ps| {
        keys_of(msgs_of(ps[0]).into_iter().chain(msgs_of(ps[1]))).is_superset(&want)
    });
    assert!(got_all, "the two members did not receive all 20 messages between them");
    for (p, mine, name) in [(&a, &qa, "A"), (&b, &qb, "B")] {
        let msgs = msgs_of(p);
        let queues: BTreeSet<i64> = msgs.iter().map(|m| m["queueId"].as_i64().unwrap()).collect();
        assert!(!queues.is_empty(), "member {name} received nothing");
        assert!(queues.is_subset(mine), "member {name} holds {mine:?} but received from {queues:?}");
        let sent_to_mine: HashMap<String, Value> = first
            .iter()
            .filter(|(_, s)| mine.contains(&s["queueId"].as_i64().unwrap()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        check_delivery(Client::Rust, topic, &msgs, &sent_to_mine);
    }

    // B vanishes (SIGKILL: no unregister, the broker sees its connection close); A takes over
    // all four queues.
    let t = Instant::now();
    b.kill();
    wait_assignment(&mut a, topic, &all, "after the other member was killed");
    println!("takeover {:?} after the kill", t.elapsed());
    sole_member_gets_everything(&mut a, &ns, topic, "second");

    // A third member joins and leaves cleanly (SIGTERM: offsets committed, UNREGISTER_CLIENT);
    // A takes over again.
    let mut c = spawn_rust_consumer(&ns, topic, group, &["--from", "first"]);
    wait_split(&mut a, &mut c, topic);
    let t = Instant::now();
    let lines = c.terminate(EXIT_WAIT);
    assert_eq!(expect_ok(&lines)["shutdown_clean"], true, "the leaving member shut down cleanly");
    wait_assignment(&mut a, topic, &all, "after the other member left cleanly");
    println!("takeover {:?} after SIGTERM", t.elapsed());
    sole_member_gets_everything(&mut a, &ns, topic, "third");
    expect_ok(&a.terminate(EXIT_WAIT));
}

#[test]
fn rust_broadcasting_consumers_each_get_every_message() {
    let cluster = Cluster::start();
    let ns = cluster.ns.addr.clone();
    let topic = "BroadcastTopic";
    cluster.create_topic(topic, 4);
    let n = 30;
    let mut members = Vec::new();
    for i in 0..2 {
        let dir = cluster.subdir(&format!("offsets-{i}"));
        members.push(spawn_rust_consumer(
            &ns,
            topic,
            "BroadcastGroup",
            &["--model", "broadcasting", "--from", "first", "--expect", "30", "--offset-dir", &dir],
        ));
    }
    let all: BTreeSet<i64> = (0..4).collect();
    for p in &mut members {
        // Broadcasting: every member holds every queue.
        wait_assignment(p, topic, &all, "broadcasting member");
    }
    let sent = rust_produce(&ns, topic, "bc", n, "TagA,TagB");
    for (i, p) in members.iter_mut().enumerate() {
        let lines = p.wait_exit(EXIT_WAIT);
        let s = expect_ok(&lines);
        assert_eq!(s["unique"], n, "member {i}: {s}");
        check_delivery(Client::Rust, topic, &events(&lines, "msg"), &sent);
    }
}

#[test]
fn rust_tag_subscription_receives_only_its_tags() {
    let cluster = Cluster::start();
    let ns = cluster.ns.addr.clone();
    let topic = "TagTopic";
    // Message i has tag TagA, TagB or TagC by i % 3 (the producer creates the topic).
    let sent = rust_produce(&ns, topic, "tag", 30, "TagA,TagB,TagC");
    cluster.wait_route(topic);
    let ab: HashMap<String, Value> =
        sent.iter().filter(|(_, s)| s["tags"] != "TagC").map(|(k, v)| (k.clone(), v.clone())).collect();
    let c: HashMap<String, Value> =
        sent.iter().filter(|(_, s)| s["tags"] == "TagC").map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!((ab.len(), c.len()), (20, 10));
    let runs: Vec<_> = [
        // rocketmq-client-rust 1.0.0 hashes the untrimmed tags of "TagA || TagB" ("TagA ",
        // " TagB") into the codeSet of its heartbeat (FilterAPI::build_subscription_data), and a
        // broker filters by that set, as Apache's does: nothing would match. Without the spaces it
        // is the same subscription.
        (Client::Rust, "TagAB", "TagA||TagB", &ab),
        // ali-ons trims the tags before hashing them: the spaced form.
        (Client::Node, "TagABNode", "TagA || TagB", &ab),
        (Client::Rust, "TagC", "TagC", &c),
    ]
    .into_iter()
    .map(|(client, group, expr, want)| {
        let n = want.len().to_string();
        let extra = ["--expression", expr, "--from", "first", "--expect", &n, "--linger-secs", "1"];
        let p = DriverProcess::spawn(client, &strings(&consume_args(&ns, topic, group, &extra)));
        (p, client, expr, want)
    })
    .collect();
    for (mut p, client, expr, want) in runs {
        let lines = p.wait_exit(EXIT_WAIT);
        expect_ok(&lines);
        let msgs = events(&lines, "msg");
        for m in &msgs {
            let tag = want.get(&key_of(m)).map(|s| &s["tags"]);
            assert_eq!(tag, Some(&m["tags"]), "{} {expr:?} received {m}", client.name());
        }
        check_delivery(client, topic, &msgs, want);
    }
}

#[test]
fn rust_committed_offsets_survive_a_broker_restart() {
    let mut cluster = Cluster::start();
    let ns = cluster.ns.addr.clone();
    let topic = "RestartTopic";
    let group = "RestartGroup";
    cluster.create_topic(topic, 4);
    let consume = |expect: &str| {
        let extra = ["--from", "first", "--expect", expect, "--linger-secs", "1"];
        let args = consume_args(&ns, topic, group, &extra);
        let args = strings(&args);
        let lines = run_driver(Client::Rust, &args, EXIT_WAIT);
        let s = expect_ok(&lines).clone();
        assert_eq!(s["shutdown_clean"], true, "{s}");
        lines
    };

    // Part one is consumed, the consumer shuts down cleanly (it commits its offsets), part
    // two waits in the store while the broker restarts.
    let one = rust_produce(&ns, topic, "one", 20, "TagA");
    let run1 = consume("20");
    check_delivery(Client::Rust, topic, &events(&run1, "msg"), &one);
    let two = rust_produce(&ns, topic, "two", 20, "TagB");

    cluster.restart_broker();
    cluster.wait_route(topic);

    // The same group goes on where it stopped: all of part two, none of part one again.
    let run2 = consume("20");
    let msgs = events(&run2, "msg");
    let replayed: BTreeSet<String> =
        keys_of(msgs.iter().copied()).into_iter().filter(|k| k.starts_with("one-")).collect();
    let fresh: Vec<&Value> = msgs.iter().copied().filter(|m| key_of(m).starts_with("two-")).collect();
    check_delivery(Client::Rust, topic, &fresh, &two);
    for q in 0..4 {
        let first = msgs.iter().filter(|m| m["queueId"] == q).filter_map(|m| m["queueOffset"].as_i64()).min();
        assert!(
            first.is_some_and(|o| o > 0),
            "after the restart queue {q} starts at {first:?}, not after the committed offset"
        );
    }
    assert!(
        replayed.is_empty(),
        "after a clean consumer shutdown and a graceful broker restart, part one was delivered again: {replayed:?}"
    );
}

#[test]
fn rust_consumer_from_the_first_offset_replays_the_backlog() {
    let cluster = Cluster::start();
    let ns = cluster.ns.addr.clone();
    let topic = "BacklogTopic";
    // The backlog is there before any consumer.
    let sent = rust_produce(&ns, topic, "backlog", 30, "TagA,TagB");
    cluster.wait_route(topic);
    // A first group consumes it all and commits; a second, new group still replays it all from
    // the first offset.
    for group in ["BacklogGroup1", "BacklogGroup2"] {
        let args = consume_args(&ns, topic, group, &["--from", "first", "--expect", "30"]);
        let args = strings(&args);
        let lines = run_driver(Client::Rust, &args, EXIT_WAIT);
        let s = expect_ok(&lines);
        assert_eq!(s["unique"], 30, "{group}: {s}");
        let msgs = events(&lines, "msg");
        check_delivery(Client::Rust, topic, &msgs, &sent);
        assert!(msgs.iter().any(|m| m["queueOffset"] == 0), "{group} starts at the first offset");
    }
}
