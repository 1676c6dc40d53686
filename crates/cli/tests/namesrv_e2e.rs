//! End-to-end: real `mqnamesrv` processes on loopback, driven over real sockets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;
use ferromq_protocol::body::{ClusterInfo, TopicList, TopicRouteData};
use ferromq_protocol::frame::{decode_one, encode_to_vec};
use ferromq_protocol::{json, RemotingCommand, RequestCode, ResponseCode, SerializeType};

async fn route(conn: &ferromq_remoting::Connection, topic: &str, st: SerializeType) -> RemotingCommand {
    conn.invoke(route_request(topic, st), TIMEOUT).await.expect("route request")
}

#[tokio::test]
async fn master_and_slave_register_and_clients_see_routes_and_cluster() {
    let ns = NamesrvProcess::start(&[]);
    let master = Broker {
        cluster: "C1",
        name: "broker-a",
        id: 0,
        addr: "127.0.0.1:10911",
        topics: &[("TopicA", 4)],
        heartbeat_timeout_ms: None,
    };
    let slave = Broker { id: 1, addr: "127.0.0.1:10921", ..master };
    let m = connect(&ns.addr).await;
    let s = connect(&ns.addr).await;
    let r = master.register(&m).await;
    assert_eq!(r.code, ResponseCode::SUCCESS, "{:?}", r.remark);
    let r = slave.register(&s).await;
    assert_eq!(r.code, ResponseCode::SUCCESS);
    assert_eq!(r.ext_fields.get("masterAddr"), Some("127.0.0.1:10911"));
    assert_eq!(r.ext_fields.get("haServerAddr"), Some("127.0.0.1:10911-ha"));

    let client = connect(&ns.addr).await;
    for st in [SerializeType::Json, SerializeType::RocketMq] {
        let resp = route(&client, "TopicA", st).await;
        assert_eq!(resp.code, ResponseCode::SUCCESS);
        assert_eq!(resp.serialize_type, st, "answered in the request's encoding");
        let data: TopicRouteData = json::from_slice(&resp.body).unwrap();
        assert_eq!(data.queue_datas.len(), 1);
        assert_eq!(data.queue_datas[0].write_queue_nums, 4);
        let addrs = &data.broker_datas[0].broker_addrs;
        assert_eq!(addrs.get(&0).map(String::as_str), Some("127.0.0.1:10911"));
        assert_eq!(addrs.get(&1).map(String::as_str), Some("127.0.0.1:10921"));
        // 5.x fields are present for clients that require them.
        let raw: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        assert!(raw["brokerDatas"][0].get("enableActingMaster").is_some());
        assert!(raw["brokerDatas"][0].get("zoneName").is_some());
    }

    let resp =
        client.invoke(RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO), TIMEOUT).await.unwrap();
    let info: ClusterInfo = json::from_slice(&resp.body).unwrap();
    assert!(info.cluster_addr_table["C1"].contains("broker-a"));
    assert_eq!(info.broker_addr_table["broker-a"].broker_addrs.len(), 2);

    let resp = client
        .invoke(RemotingCommand::request(RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER), TIMEOUT)
        .await
        .unwrap();
    let list: TopicList = json::from_slice(&resp.body).unwrap();
    assert!(list.topic_list.contains("TopicA"));

    let resp = route(&client, "NoSuchTopic", SerializeType::Json).await;
    assert_eq!(resp.code, ResponseCode::TOPIC_NOT_EXIST);
    assert!(resp.remark.unwrap_or_default().contains("NoSuchTopic"));
}

#[tokio::test]
async fn silent_broker_is_dropped_after_expiry_and_closed_connection_at_once() {
    let ns =
        NamesrvProcess::start(&["--scanNotActiveBrokerInterval", "100", "--brokerChannelExpiredTime", "800"]);
    let quiet = Broker {
        cluster: "C",
        name: "quiet",
        id: 0,
        addr: "127.0.0.1:1",
        topics: &[("Quiet", 1)],
        heartbeat_timeout_ms: None,
    };
    let closing = Broker { name: "closing", addr: "127.0.0.1:2", topics: &[("Closing", 1)], ..quiet };
    let q = connect(&ns.addr).await;
    let c = connect(&ns.addr).await;
    quiet.register(&q).await;
    closing.register(&c).await;
    let client = connect(&ns.addr).await;
    assert_eq!(route(&client, "Quiet", SerializeType::Json).await.code, ResponseCode::SUCCESS);

    // Closing the registering connection drops that broker at once.
    c.close();
    assert!(
        eventually(Duration::from_millis(500), || async {
            route(&client, "Closing", SerializeType::Json).await.code == ResponseCode::TOPIC_NOT_EXIST
        })
        .await
    );
    assert_eq!(route(&client, "Quiet", SerializeType::Json).await.code, ResponseCode::SUCCESS);

    // Heartbeats keep it; silence past the expiry drops it, though the socket stays open.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        quiet.register(&q).await;
    }
    assert_eq!(route(&client, "Quiet", SerializeType::Json).await.code, ResponseCode::SUCCESS);
    assert!(
        eventually(Duration::from_secs(3), || async {
            route(&client, "Quiet", SerializeType::Json).await.code == ResponseCode::TOPIC_NOT_EXIST
        })
        .await
    );
    // The expired broker's connection is closed by the NameServer.
    assert!(eventually(Duration::from_secs(1), || async { q.is_closed() }).await);
}

#[tokio::test]
async fn two_nameservers_each_hold_the_full_table() {
    let ns1 = NamesrvProcess::start(&[]);
    let ns2 = NamesrvProcess::start(&[]);
    let a = Broker {
        cluster: "C",
        name: "a",
        id: 0,
        addr: "127.0.0.1:3",
        topics: &[("T", 2)],
        heartbeat_timeout_ms: None,
    };
    let b = Broker { name: "b", addr: "127.0.0.1:4", topics: &[("T", 2), ("U", 1)], ..a };
    for ns in [&ns1, &ns2] {
        let conn = connect(&ns.addr).await;
        a.register(&conn).await;
        b.register(&conn).await;
    }
    for ns in [&ns1, &ns2] {
        let client = connect(&ns.addr).await;
        let data: TopicRouteData =
            json::from_slice(&route(&client, "T", SerializeType::Json).await.body).unwrap();
        assert_eq!(data.broker_datas.len(), 2);
        assert_eq!(data.queue_datas.len(), 2);
        assert_eq!(route(&client, "U", SerializeType::Json).await.code, ResponseCode::SUCCESS);
    }
}

#[tokio::test]
async fn kv_config_and_write_permission_and_delete_topic() {
    let ns = NamesrvProcess::start(&["--orderMessageEnable", "true"]);
    let conn = connect(&ns.addr).await;
    let broker = Broker {
        cluster: "C",
        name: "a",
        id: 0,
        addr: "127.0.0.1:5",
        topics: &[("Orders", 4)],
        heartbeat_timeout_ms: None,
    };
    broker.register(&conn).await;

    let mut put = RemotingCommand::request(RequestCode::PUT_KV_CONFIG);
    put.ext_fields.insert("namespace", "ORDER_TOPIC_CONFIG");
    put.ext_fields.insert("key", "Orders");
    put.ext_fields.insert("value", "a:4");
    assert_eq!(conn.invoke(put, TIMEOUT).await.unwrap().code, ResponseCode::SUCCESS);
    let data: TopicRouteData =
        json::from_slice(&route(&conn, "Orders", SerializeType::Json).await.body).unwrap();
    assert_eq!(data.order_topic_conf.as_deref(), Some("a:4"));

    let mut get = RemotingCommand::request(RequestCode::GET_KV_CONFIG);
    get.ext_fields.insert("namespace", "ORDER_TOPIC_CONFIG");
    get.ext_fields.insert("key", "Missing");
    assert_eq!(conn.invoke(get, TIMEOUT).await.unwrap().code, ResponseCode::QUERY_NOT_FOUND);

    let mut wipe = RemotingCommand::request(RequestCode::WIPE_WRITE_PERM_OF_BROKER);
    wipe.ext_fields.insert("brokerName", "a");
    let resp = conn.invoke(wipe, TIMEOUT).await.unwrap();
    assert_eq!(resp.ext_fields.get("wipeTopicCount"), Some("1"));
    let data: TopicRouteData =
        json::from_slice(&route(&conn, "Orders", SerializeType::Json).await.body).unwrap();
    assert_eq!(data.queue_datas[0].perm, 4);

    let mut add = RemotingCommand::request(RequestCode::ADD_WRITE_PERM_OF_BROKER);
    add.ext_fields.insert("brokerName", "a");
    assert_eq!(conn.invoke(add, TIMEOUT).await.unwrap().ext_fields.get("addTopicCount"), Some("1"));

    let mut del = RemotingCommand::request(RequestCode::DELETE_TOPIC_IN_NAMESRV);
    del.ext_fields.insert("topic", "Orders");
    assert_eq!(conn.invoke(del, TIMEOUT).await.unwrap().code, ResponseCode::SUCCESS);
    assert_eq!(route(&conn, "Orders", SerializeType::Json).await.code, ResponseCode::TOPIC_NOT_EXIST);
}

#[tokio::test]
async fn unknown_codes_and_bad_headers_get_clear_errors() {
    let ns = NamesrvProcess::start(&[]);
    let conn = connect(&ns.addr).await;
    let resp = conn.invoke(RemotingCommand::request(9999), TIMEOUT).await.unwrap();
    assert_eq!(resp.code, ResponseCode::REQUEST_CODE_NOT_SUPPORTED);
    assert!(resp.remark.unwrap_or_default().contains("9999"));
    // GET_ROUTEINFO_BY_TOPIC without its required topic field.
    let resp =
        conn.invoke(RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC), TIMEOUT).await.unwrap();
    assert_eq!(resp.code, ResponseCode::SYSTEM_ERROR);
    assert_eq!(resp.remark.as_deref(), Some("the custom field <topic> is null"));
    // A register body with a wrong CRC is refused.
    let broker = Broker {
        cluster: "C",
        name: "a",
        id: 0,
        addr: "127.0.0.1:6",
        topics: &[("T", 1)],
        heartbeat_timeout_ms: None,
    };
    let mut req = broker.register_request(1);
    req.ext_fields.insert("bodyCrc32", "12345");
    let resp = conn.invoke(req, TIMEOUT).await.unwrap();
    assert_eq!((resp.code, resp.remark.as_deref()), (ResponseCode::SYSTEM_ERROR, Some("crc32 not match")));
}

/// The C++ client's request as captured (JSON header without serializeTypeCurrentRPC,
/// ACL ext fields) is a normal request, answered in JSON.
#[test]
fn captured_cpp_client_request_is_answered_in_json() {
    let ns = NamesrvProcess::start(&[]);
    let header = br#"{"code":105,"extFields":{"AccessKey":"","OnsChannel":"ALIYUN","Signature":"7S/PaK83BhvQ2llJsGdJ/dsq/+c=","topic":"PyCvsOnRust"},"flag":0,"language":"CPP","opaque":0,"remark":"","version":333}"#;
    let mut frame = Vec::new();
    frame.extend_from_slice(&((4 + header.len()) as u32).to_be_bytes());
    frame.extend_from_slice(&(header.len() as u32).to_be_bytes());
    frame.extend_from_slice(header);
    let mut sock = std::net::TcpStream::connect(&ns.addr).unwrap();
    sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    sock.write_all(&frame).unwrap();
    let resp = read_frame(&mut sock).expect("a response, not a closed connection");
    assert_eq!(resp.serialize_type, SerializeType::Json);
    assert_eq!(resp.opaque, 0);
    assert!(resp.is_response());
    assert_eq!(resp.code, ResponseCode::TOPIC_NOT_EXIST);
}

fn read_frame(sock: &mut std::net::TcpStream) -> Option<RemotingCommand> {
    let mut len = [0u8; 4];
    sock.read_exact(&mut len).ok()?;
    let mut rest = vec![0u8; u32::from_be_bytes(len) as usize];
    sock.read_exact(&mut rest).ok()?;
    let mut all = len.to_vec();
    all.extend_from_slice(&rest);
    decode_one(&all, usize::MAX).ok().flatten()
}

/// Malformed and oversized frames close that connection; the server serves others.
#[test]
fn malformed_and_oversized_frames_close_only_that_connection() {
    let ns = NamesrvProcess::start(&["--frameMaxLength", "65536"]);
    let garbage: Vec<Vec<u8>> = vec![
        // Oversized length prefix (1 GiB): refused before any allocation.
        vec![0x40, 0, 0, 0, 0, 0, 0, 0],
        // Header length beyond the frame.
        vec![0, 0, 0, 8, 0, 0, 0x10, 0, 0, 0, 0, 0],
        // Unknown serialize type.
        vec![0, 0, 0, 4, 9, 0, 0, 0],
        // JSON header that is not JSON.
        [&[0u8, 0, 0, 9, 0, 0, 0, 5][..], b"{nope"].concat(),
        // Binary header truncated.
        vec![0, 0, 0, 7, 1, 0, 0, 3, 0, 105, 0],
    ];
    for bytes in garbage {
        let mut sock = std::net::TcpStream::connect(&ns.addr).unwrap();
        sock.set_read_timeout(Some(TIMEOUT)).unwrap();
        sock.write_all(&bytes).unwrap();
        let mut buf = [0u8; 16];
        let n = sock.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "connection closed without a reply for {bytes:?}");
    }
    // Still serving.
    let mut sock = std::net::TcpStream::connect(&ns.addr).unwrap();
    sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    sock.write_all(&encode_to_vec(&route_request("T", SerializeType::RocketMq))).unwrap();
    let resp = read_frame(&mut sock).unwrap();
    assert_eq!(resp.code, ResponseCode::TOPIC_NOT_EXIST);
    assert_eq!(resp.serialize_type, SerializeType::RocketMq);
}

#[test]
fn bad_configuration_is_refused_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("namesrv.conf");
    std::fs::write(&conf, "listenPort=19876\nlistenPrt=1\n").unwrap();
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_mqnamesrv")).arg("-c").arg(&conf).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown configuration key 'listenPrt'") && err.contains("line 2"), "{err}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mqnamesrv"))
        .args(["--listenPort", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad value 'x' for 'listenPort'"));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mqnamesrv"))
        .args(["-p", "--listenPort", "1234"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("listenPort=1234"));
}

/// A real third-party client (ali-ons, from npm) obtains a topic route from our NameServer:
/// both the error of an unknown topic and the route of a registered one, parsed by its own
/// code.
#[tokio::test]
async fn ali_ons_obtains_a_topic_route() {
    let ns = NamesrvProcess::start(&[]);
    let route_js = common::clients::node_driver_path().with_file_name("route.js");
    let run = |topic: &str| {
        std::process::Command::new("node").arg(&route_js).arg(&ns.addr).arg(topic).output().expect("run node")
    };
    let missing = run("NoSuchTopic");
    assert_eq!(missing.status.code(), Some(1), "{}", String::from_utf8_lossy(&missing.stderr));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("\"code\":17"));

    let master = Broker {
        cluster: "C",
        name: "broker-a",
        id: 0,
        addr: "127.0.0.1:10911",
        topics: &[("OnsTopic", 6)],
        heartbeat_timeout_ms: None,
    };
    let slave = Broker { id: 1, addr: "127.0.0.1:10921", ..master };
    let (m, s) = (connect(&ns.addr).await, connect(&ns.addr).await);
    master.register(&m).await;
    slave.register(&s).await;
    let out = run("OnsTopic");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let route: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(route["queueDatas"][0]["brokerName"], "broker-a");
    assert_eq!(route["queueDatas"][0]["writeQueueNums"], 6);
    assert_eq!(route["brokerDatas"][0]["brokerAddrs"]["0"], "127.0.0.1:10911");
    assert_eq!(route["brokerDatas"][0]["brokerAddrs"]["1"], "127.0.0.1:10921");
}
