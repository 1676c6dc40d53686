//! Helpers for end-to-end tests: real `mqnamesrv` processes on loopback, and a minimal
//! broker-side registrar speaking the real protocol through `ferromq-remoting`.
#![allow(dead_code)]

pub mod clients;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ferromq_protocol::body::{RegisterBrokerBody, TopicConfig};
use ferromq_protocol::header::RegisterBrokerRequestHeader;
use ferromq_protocol::{json, RemotingCommand, RequestCode, SerializeType};
use ferromq_remoting::{Connection, ConnectionConfig, RejectRequests};

pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A `mqnamesrv` child process, SIGKILLed when dropped.
pub struct NamesrvProcess {
    pub child: Child,
    pub addr: String,
    pub dir: tempfile::TempDir,
}

impl NamesrvProcess {
    /// Starts `mqnamesrv` on an ephemeral loopback port with `extra` arguments.
    pub fn start(extra: &[&str]) -> NamesrvProcess {
        let dir = tempfile::tempdir().expect("tempdir");
        let kv = dir.path().join("kvConfig.json");
        let mut child = Command::new(env!("CARGO_BIN_EXE_mqnamesrv"))
            .args(["--listenPort", "0", "--bindAddress", "127.0.0.1"])
            .arg("--kvConfigPath")
            .arg(&kv)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mqnamesrv");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read boot line");
        let addr = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|_| line.contains("boot success"))
            .unwrap_or_else(|| panic!("unexpected boot line {line:?}"))
            .to_owned();
        NamesrvProcess { child, addr, dir }
    }
}

impl Drop for NamesrvProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn connect(addr: &str) -> Connection {
    Connection::connect(addr, Arc::new(RejectRequests), ConnectionConfig::default(), TIMEOUT)
        .await
        .expect("connect")
}

pub struct Broker<'a> {
    pub cluster: &'a str,
    pub name: &'a str,
    pub id: i64,
    pub addr: &'a str,
    pub topics: &'a [(&'a str, i32)],
    pub heartbeat_timeout_ms: Option<i64>,
}

impl Broker<'_> {
    pub fn register_request(&self, counter: i64) -> RemotingCommand {
        let mut body = RegisterBrokerBody::default();
        let wrapper = &mut body.topic_config_serialize_wrapper;
        wrapper.data_version.timestamp = 1;
        wrapper.data_version.counter = counter;
        for (name, queues) in self.topics {
            let mut c = TopicConfig::new(*name);
            c.read_queue_nums = *queues;
            c.write_queue_nums = *queues;
            wrapper.topic_config_table.insert((*name).to_owned(), c);
        }
        let body = json::to_vec(&body);
        let header = RegisterBrokerRequestHeader {
            broker_name: self.name.into(),
            broker_addr: self.addr.into(),
            cluster_name: self.cluster.into(),
            ha_server_addr: format!("{}-ha", self.addr),
            broker_id: self.id,
            heartbeat_timeout_millis: self.heartbeat_timeout_ms,
            compressed: Some(false),
            body_crc32: Some(crc32(&body)),
            ..Default::default()
        };
        RemotingCommand::request_with_header(RequestCode::REGISTER_BROKER, &header).with_body(body)
    }

    pub async fn register(&self, conn: &Connection) -> RemotingCommand {
        conn.invoke(self.register_request(1), TIMEOUT).await.expect("register")
    }
}

pub fn crc32(bytes: &[u8]) -> i32 {
    // Java's UtilAll.crc32: java.util.zip.CRC32 with the top bit cleared; written out so
    // the tests do not depend on the implementation they check.
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    ((!crc) & 0x7FFF_FFFF) as i32
}

pub fn route_request(topic: &str, serialize_type: SerializeType) -> RemotingCommand {
    let mut req = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC);
    req.ext_fields.insert("topic", topic);
    req.serialize_type = serialize_type;
    req
}

/// Polls `check` every 50 ms until it holds or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `mqbroker` child process, SIGKILLed when dropped.
pub struct BrokerProcess {
    pub child: Child,
    /// `127.0.0.1:port` as registered.
    pub addr: String,
}

impl BrokerProcess {
    /// Starts `mqbroker` registered with `namesrv`, storing under `store_dir`, on an
    /// ephemeral port, with small CommitLog segments; `extra` overrides anything.
    pub fn start(namesrv: &str, store_dir: &std::path::Path, extra: &[&str]) -> BrokerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mqbroker"))
            .args(["--namesrvAddr", namesrv, "--listenPort", "0", "--bindAddress", "127.0.0.1"])
            .args(["--brokerIP1", "127.0.0.1", "--metricsPromExporterPort", "0"])
            .args(["--mappedFileSizeCommitLog", "67108864"])
            .arg("--storePathRootDir")
            .arg(store_dir)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mqbroker");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read boot line");
        // "The broker[broker-a, 127.0.0.1:PORT] boot success. ..."
        let addr = line
            .split_once(", ")
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(a, _)| a.to_owned())
            .filter(|_| line.contains("boot success"))
            .unwrap_or_else(|| panic!("unexpected boot line {line:?}"));
        BrokerProcess { child, addr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a power loss or OOM kill would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// User + system CPU time of the process so far (from /proc), in milliseconds.
    pub fn cpu_ms(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the parenthesised command name; utime and stime are 14th and 15th.
        let after = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
            + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
        // Linux reports in clock ticks of 100 Hz on every common configuration.
        ticks * 10
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// UPDATE_AND_CREATE_TOPIC on a broker.
pub async fn create_topic(broker: &Connection, topic: &str, queues: i32) {
    let mut req = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC);
    for (k, v) in [
        ("topic", topic.to_owned()),
        ("defaultTopic", "TBW102".to_owned()),
        ("readQueueNums", queues.to_string()),
        ("writeQueueNums", queues.to_string()),
        ("perm", "6".to_owned()),
        ("topicFilterType", "SINGLE_TAG".to_owned()),
        ("order", "false".to_owned()),
    ] {
        req.ext_fields.insert(k, v);
    }
    let resp = broker.invoke(req, TIMEOUT).await.expect("create topic");
    assert_eq!(resp.code, 0, "create topic: {:?}", resp.remark);
}

/// A SEND_MESSAGE_V2 request as the Java client builds it.
pub fn send_request(topic: &str, queue_id: i32, body: Vec<u8>, properties: &str) -> RemotingCommand {
    let mut req = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2);
    for (k, v) in [
        ("a", "test_producer".to_owned()),
        ("b", topic.to_owned()),
        ("c", "TBW102".to_owned()),
        ("d", "4".to_owned()),
        ("e", queue_id.to_string()),
        ("f", "0".to_owned()),
        ("g", "1795240000000".to_owned()),
        ("h", "0".to_owned()),
        ("i", properties.to_owned()),
        ("j", "0".to_owned()),
        ("k", "false".to_owned()),
        ("m", "false".to_owned()),
    ] {
        req.ext_fields.insert(k, v);
    }
    req.with_body(body)
}

/// A PULL_MESSAGE with its subscription in the request (no heartbeat needed).
pub fn pull_request(
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
    suspend_ms: i64,
    max: i32,
) -> RemotingCommand {
    let mut req = RemotingCommand::request(RequestCode::PULL_MESSAGE);
    // subscription flag, plus suspend when a hold time is given
    let sys_flag = 0x4 | if suspend_ms > 0 { 0x2 } else { 0 };
    for (k, v) in [
        ("consumerGroup", group.to_owned()),
        ("topic", topic.to_owned()),
        ("queueId", queue_id.to_string()),
        ("queueOffset", offset.to_string()),
        ("maxMsgNums", max.to_string()),
        ("sysFlag", sys_flag.to_string()),
        ("commitOffset", "0".to_owned()),
        ("suspendTimeoutMillis", suspend_ms.to_string()),
        ("subscription", "*".to_owned()),
        ("subVersion", "0".to_owned()),
        ("expressionType", "TAG".to_owned()),
    ] {
        req.ext_fields.insert(k, v);
    }
    req
}
