//! End-to-end: real `mqnamesrv` and `mqbroker` processes on loopback, driven over real
//! sockets with the RocketMQ protocol (the third-party clients have their own file).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use ferromq_protocol::body::TopicRouteData;
use ferromq_protocol::message::decode_all;
use ferromq_protocol::{json, RemotingCommand, ResponseCode};

async fn cluster(
    extra: &[&str],
) -> (NamesrvProcess, tempfile::TempDir, BrokerProcess, ferromq_remoting::Connection) {
    let ns = NamesrvProcess::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(&ns.addr, dir.path(), extra);
    let conn = connect(&broker.addr).await;
    (ns, dir, broker, conn)
}

#[tokio::test]
async fn broker_registers_and_serves_send_pull_and_queries() {
    let (ns, _dir, broker, conn) = cluster(&[]).await;
    create_topic(&conn, "E2E", 2).await;
    // The new topic reaches the NameServer at once (re-registration on change).
    let nsc = connect(&ns.addr).await;
    let route = eventually(Duration::from_secs(3), || async {
        nsc.invoke(route_request("E2E", ferromq_protocol::SerializeType::Json), TIMEOUT).await.unwrap().code
            == 0
    })
    .await;
    assert!(route, "route of a created topic is registered");
    let resp =
        nsc.invoke(route_request("E2E", ferromq_protocol::SerializeType::Json), TIMEOUT).await.unwrap();
    let data: TopicRouteData = json::from_slice(&resp.body).unwrap();
    assert_eq!(data.broker_datas[0].broker_addrs[&0], broker.addr);

    let props = "KEYS\u{1}order-1 order-2\u{2}TAGS\u{1}TagA\u{2}UNIQ_KEY\u{1}AC11000100002A9F0000000000000001\u{2}color\u{1}red";
    let sent = conn.invoke(send_request("E2E", 1, b"hello".to_vec(), props), TIMEOUT).await.unwrap();
    assert_eq!(sent.code, ResponseCode::SUCCESS, "{:?}", sent.remark);
    assert_eq!(sent.ext_fields.get("queueId"), Some("1"));
    assert_eq!(sent.ext_fields.get("queueOffset"), Some("0"));
    let offset_msg_id = sent.ext_fields.get("msgId").unwrap().to_owned();
    assert_eq!(offset_msg_id.len(), 32);

    // Suspend: the dispatcher may trail the acknowledgement by a moment.
    let pulled = conn.invoke(pull_request("G1", "E2E", 1, 0, 3000, 32), TIMEOUT).await.unwrap();
    assert_eq!(pulled.code, ResponseCode::SUCCESS);
    assert_eq!(pulled.ext_fields.get("nextBeginOffset"), Some("1"));
    let msgs = decode_all(&pulled.body).unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(&msgs[0].body[..], b"hello");
    assert_eq!(msgs[0].topic, "E2E");
    assert_eq!(msgs[0].properties.get("TAGS"), Some("TagA"));
    assert_eq!(msgs[0].properties.get("color"), Some("red"));
    assert_eq!(msgs[0].msg_id(), offset_msg_id);

    // By key, and by offsetMsgId.
    let mut q = RemotingCommand::request(ferromq_protocol::RequestCode::QUERY_MESSAGE);
    for (k, v) in [
        ("topic", "E2E"),
        ("key", "order-2"),
        ("maxNum", "32"),
        ("beginTimestamp", "0"),
        ("endTimestamp", "9999999999999"),
    ] {
        q.ext_fields.insert(k, v);
    }
    let found = eventually(Duration::from_secs(3), || {
        let q = q.clone();
        let conn = conn.clone();
        async move { conn.invoke(q, TIMEOUT).await.unwrap().code == 0 }
    })
    .await;
    assert!(found, "message found by key");
    let (_, phy) = ferromq_protocol::message::id::decode_offset_msg_id(&offset_msg_id).unwrap();
    let mut v = RemotingCommand::request(ferromq_protocol::RequestCode::VIEW_MESSAGE_BY_ID);
    v.ext_fields.insert("offset", phy.to_string());
    let viewed = conn.invoke(v, TIMEOUT).await.unwrap();
    assert_eq!(decode_all(&viewed.body).unwrap()[0].body, msgs[0].body);

    let mut max = RemotingCommand::request(ferromq_protocol::RequestCode::GET_MAX_OFFSET);
    max.ext_fields.insert("topic", "E2E");
    max.ext_fields.insert("queueId", "1");
    assert_eq!(conn.invoke(max, TIMEOUT).await.unwrap().ext_fields.get("offset"), Some("1"));
}

#[tokio::test]
async fn long_polling_answers_within_milliseconds_and_idles_quietly() {
    let (_ns, _dir, broker, conn) = cluster(&[]).await;
    create_topic(&conn, "LP", 1).await;
    let consumer = connect(&broker.addr).await;
    let held = {
        let consumer = consumer.clone();
        tokio::spawn(async move {
            let r = consumer.invoke(pull_request("LPG", "LP", 0, 0, 15_000, 32), TIMEOUT * 4).await.unwrap();
            (Instant::now(), r)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!held.is_finished(), "an empty pull is held");
    let sent = conn.invoke(send_request("LP", 0, b"wake".to_vec(), "TAGS\u{1}x"), TIMEOUT).await.unwrap();
    let acked = Instant::now();
    assert_eq!(sent.code, 0);
    let (answered, resp) = held.await.unwrap();
    let delay = answered.saturating_duration_since(acked);
    assert_eq!(resp.code, ResponseCode::SUCCESS);
    assert_eq!(&decode_all(&resp.body).unwrap()[0].body[..], b"wake");
    println!("held pull answered {delay:?} after the send was acknowledged");
    assert!(delay < Duration::from_millis(100), "held pull answered after {delay:?}");

    // 64 idle held pulls for 3 s cost the broker (almost) no CPU: no busy loop.
    let mut idle = Vec::new();
    for q in 0..64 {
        let c = consumer.clone();
        idle.push(tokio::spawn(async move {
            c.invoke(pull_request(&format!("Idle{q}"), "LP", 0, 1, 15_000, 32), TIMEOUT * 4).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = broker.cpu_ms();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = broker.cpu_ms() - before;
    println!("broker CPU over 3 s with 64 held pulls: {used} ms");
    assert!(used <= 150, "an idle broker used {used} ms of CPU in 3 s");
    for t in &idle {
        assert!(!t.is_finished());
    }
}

#[tokio::test]
async fn held_pull_without_messages_answers_when_its_time_is_up() {
    let (_ns, _dir, broker, conn) = cluster(&[]).await;
    create_topic(&conn, "LPT", 1).await;
    let consumer = connect(&broker.addr).await;
    let t0 = Instant::now();
    let r = consumer.invoke(pull_request("G", "LPT", 0, 0, 700, 32), TIMEOUT).await.unwrap();
    let waited = t0.elapsed();
    assert_eq!(r.code, ResponseCode::PULL_NOT_FOUND);
    assert!(waited >= Duration::from_millis(650) && waited < Duration::from_millis(2500), "{waited:?}");
}

#[tokio::test]
async fn bad_input_gets_rocketmqs_codes_and_the_broker_keeps_serving() {
    let (_ns, _dir, _broker, conn) = cluster(&[]).await;
    create_topic(&conn, "Bad", 2).await;

    let big = conn.invoke(send_request("Bad", 0, vec![b'x'; 5 * 1024 * 1024], ""), TIMEOUT).await.unwrap();
    assert_eq!(big.code, ResponseCode::MESSAGE_ILLEGAL, "{:?}", big.remark);
    assert!(big.remark.unwrap().contains("msg body length limit 4194304B"));

    let illegal = conn.invoke(send_request("bad topic!", 0, b"x".to_vec(), ""), TIMEOUT).await.unwrap();
    assert_eq!(illegal.code, ResponseCode::SYSTEM_ERROR);
    assert_eq!(
        illegal.remark.as_deref(),
        Some("The specified topic contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$")
    );

    let unknown = conn.invoke(RemotingCommand::request(31337), TIMEOUT).await.unwrap();
    assert_eq!(unknown.code, ResponseCode::REQUEST_CODE_NOT_SUPPORTED);
    assert!(unknown.remark.unwrap().contains("31337"));

    let no_queue = conn.invoke(pull_request("G", "Bad", 99, 0, 0, 32), TIMEOUT).await.unwrap();
    assert_eq!(no_queue.code, ResponseCode::SYSTEM_ERROR);
    assert!(no_queue.remark.unwrap().starts_with("queueId[99] is illegal, topic:[Bad]"));

    let no_topic = conn.invoke(pull_request("G", "NoSuchTopic", 0, 0, 0, 32), TIMEOUT).await.unwrap();
    assert_eq!(no_topic.code, ResponseCode::TOPIC_NOT_EXIST);

    let mut malformed = send_request("Bad", 0, b"x".to_vec(), "");
    malformed.ext_fields.remove("b");
    let r = conn.invoke(malformed, TIMEOUT).await.unwrap();
    assert_eq!(r.code, ResponseCode::SYSTEM_ERROR);
    assert_eq!(r.remark.as_deref(), Some("the custom field <b> is null"));

    let mut not_a_number = send_request("Bad", 0, b"x".to_vec(), "");
    not_a_number.ext_fields.insert("e", "zero");
    assert_eq!(conn.invoke(not_a_number, TIMEOUT).await.unwrap().code, ResponseCode::SYSTEM_ERROR);

    let ok = conn.invoke(send_request("Bad", 1, b"fine".to_vec(), ""), TIMEOUT).await.unwrap();
    assert_eq!(ok.code, ResponseCode::SUCCESS, "still serving: {:?}", ok.remark);
}

/// (queue id, queue offset, body) of an acknowledged send.
type Acked = (i32, i64, Vec<u8>);

/// SIGKILL during a SYNC_FLUSH load, restart: every acknowledged message is there,
/// byte-identical, at the queue offset it was acknowledged with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_sync_flush_loses_no_acknowledged_message() {
    sigkill_rounds("SYNC_FLUSH").await;
}

/// The same under ASYNC_FLUSH: a killed process leaves the page cache behind, and the broker
/// acknowledges a send only once it is there (its burst is committed before the answers go
/// out), so nothing acknowledged is lost to a process crash either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_async_flush_loses_no_acknowledged_message() {
    sigkill_rounds("ASYNC_FLUSH").await;
}

async fn sigkill_rounds(flush: &str) {
    let ns = NamesrvProcess::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    for round in 0..3u32 {
        let mut broker = BrokerProcess::start(&ns.addr, dir.path(), &["--flushDiskType", flush]);
        let conn = connect(&broker.addr).await;
        if round == 0 {
            create_topic(&conn, "Durable", 4).await;
        }
        let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
        let mut senders = Vec::new();
        for w in 0..16u32 {
            let (conn, acked) = (conn.clone(), acked.clone());
            senders.push(tokio::spawn(async move {
                for i in 0u32.. {
                    let body = format!("round {round} writer {w} message {i} ").repeat(8).into_bytes();
                    let queue = (w % 4) as i32;
                    match conn
                        .invoke(send_request("Durable", queue, body.clone(), "WAIT\u{1}true"), TIMEOUT)
                        .await
                    {
                        Ok(r) if r.code == 0 => {
                            let offset: i64 = r.ext_fields.get("queueOffset").unwrap().parse().unwrap();
                            acked.lock().unwrap().push((queue, offset, body));
                        }
                        _ => return,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(400 + 300 * round as u64)).await;
        broker.kill();
        for s in senders {
            let _ = s.await;
        }
        let acked = std::mem::take(&mut *acked.lock().unwrap());
        assert!(acked.len() > 20, "the load ran ({} acks)", acked.len());

        let broker = BrokerProcess::start(&ns.addr, dir.path(), &["--flushDiskType", flush]);
        let conn = connect(&broker.addr).await;
        let mut stored: HashMap<(i32, i64), Vec<u8>> = HashMap::new();
        for queue in 0..4 {
            let mut offset = 0;
            loop {
                let r = conn
                    .invoke(pull_request("Checker", "Durable", queue, offset, 0, 256), TIMEOUT)
                    .await
                    .unwrap();
                if r.code != 0 {
                    break;
                }
                for m in decode_all(&r.body).unwrap() {
                    stored.insert((queue, m.queue_offset), m.body.to_vec());
                }
                offset = r.ext_fields.get("nextBeginOffset").unwrap().parse().unwrap();
            }
        }
        for (queue, offset, body) in &acked {
            assert_eq!(
                stored.get(&(*queue, *offset)),
                Some(body),
                "round {round}: acked message at {queue}/{offset} lost or changed"
            );
        }
        println!("{flush} round {round}: {} acknowledged messages all readable after SIGKILL", acked.len());
    }
}

/// SIGTERM: the broker unregisters from the NameServer at once, persists its metadata and
/// leaves a clean store (no `abort` marker), so the next start needs no crash recovery.
#[tokio::test]
async fn sigterm_unregisters_and_leaves_a_clean_store() {
    let ns = NamesrvProcess::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(&ns.addr, dir.path(), &[]);
    let conn = connect(&broker.addr).await;
    create_topic(&conn, "Graceful", 1).await;
    assert_eq!(conn.invoke(send_request("Graceful", 0, b"x".to_vec(), ""), TIMEOUT).await.unwrap().code, 0);
    assert!(dir.path().join("abort").exists(), "a running store has its abort marker");
    let nsc = connect(&ns.addr).await;
    let status =
        std::process::Command::new("kill").args(["-TERM", &broker.pid().to_string()]).status().unwrap();
    assert!(status.success());
    let mut broker = broker;
    let exit = tokio::task::spawn_blocking(move || broker.child.wait().unwrap()).await.unwrap();
    assert!(exit.success(), "graceful exit: {exit:?}");
    assert!(!dir.path().join("abort").exists(), "a clean stop removes the abort marker");
    assert!(dir.path().join("config").join("topics.json").exists());
    let gone =
        nsc.invoke(route_request("Graceful", ferromq_protocol::SerializeType::Json), TIMEOUT).await.unwrap();
    assert_eq!(gone.code, ResponseCode::TOPIC_NOT_EXIST, "unregistered from the NameServer");
}

#[tokio::test]
async fn admin_requests_config_runtime_info_and_metrics() {
    let ns = NamesrvProcess::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let broker =
        BrokerProcess::start(&ns.addr, dir.path(), &["--metricsPromExporterPort", &port.to_string()]);
    let conn = connect(&broker.addr).await;
    create_topic(&conn, "Adm", 2).await;
    for i in 0..5 {
        assert_eq!(
            conn.invoke(send_request("Adm", i % 2, b"m".to_vec(), ""), TIMEOUT).await.unwrap().code,
            0
        );
    }
    let cfg = conn
        .invoke(RemotingCommand::request(ferromq_protocol::RequestCode::GET_BROKER_CONFIG), TIMEOUT)
        .await
        .unwrap();
    let text = String::from_utf8(cfg.body.to_vec()).unwrap();
    assert!(text.contains("brokerName=broker-a") && text.contains("flushDiskType=ASYNC_FLUSH"), "{text}");

    let mut update = RemotingCommand::request(ferromq_protocol::RequestCode::UPDATE_BROKER_CONFIG);
    update.body = b"autoCreateTopicEnable=false\n".to_vec().into();
    assert_eq!(conn.invoke(update, TIMEOUT).await.unwrap().code, 0);
    let refused = conn.invoke(send_request("NotCreated", 0, b"x".to_vec(), ""), TIMEOUT).await.unwrap();
    assert_eq!(refused.code, ResponseCode::TOPIC_NOT_EXIST, "auto-creation switched off at run time");
    // Broker keys read at start, and every store key (the store reads its configuration
    // when it opens).
    for start_only in ["listenPort=1\n", "enableDLegerCommitLog=true\n", "fileReservedTime=1\n"] {
        let mut bad = RemotingCommand::request(ferromq_protocol::RequestCode::UPDATE_BROKER_CONFIG);
        bad.body = start_only.as_bytes().to_vec().into();
        assert_eq!(
            conn.invoke(bad, TIMEOUT).await.unwrap().code,
            ResponseCode::NO_PERMISSION,
            "{start_only}"
        );
    }

    let info = conn
        .invoke(RemotingCommand::request(ferromq_protocol::RequestCode::GET_BROKER_RUNTIME_INFO), TIMEOUT)
        .await
        .unwrap();
    let kv: serde_json::Value = serde_json::from_slice(&info.body).unwrap();
    assert_eq!(kv["table"]["msgPutTotalTodayNow"], "5");

    // Queue offsets come from the dispatcher, which trails the acknowledgement slightly.
    let mut stats = RemotingCommand::request(ferromq_protocol::RequestCode::GET_TOPIC_STATS_INFO);
    stats.ext_fields.insert("topic", "Adm");
    let dispatched = eventually(Duration::from_secs(3), || {
        let (conn, stats) = (conn.clone(), stats.clone());
        async move {
            let r = conn.invoke(stats, TIMEOUT).await.unwrap();
            let text = String::from_utf8(r.body.to_vec()).unwrap();
            r.code == 0 && text.contains("\"maxOffset\":3") && text.contains("\"maxOffset\":2")
        }
    })
    .await;
    assert!(dispatched, "topic stats show 3 + 2 messages");

    use std::io::{Read, Write};
    let mut http = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    http.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut page = String::new();
    http.read_to_string(&mut page).unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("ferromq_topic_messages_in_total{broker=\"broker-a\",topic=\"Adm\"} 5"), "{page}");
    assert!(
        page.contains("ferromq_commitlog_fsync_seconds_bucket{broker=\"broker-a\",le=\"+Inf\"}"),
        "{page}"
    );
    assert!(page.contains("ferromq_store_poisoned{broker=\"broker-a\"} 0\n"), "{page}");
    assert!(page.contains("ferromq_store_disk_full{broker=\"broker-a\"} 0\n"), "{page}");
}
