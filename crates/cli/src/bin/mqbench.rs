//! `mqbench`: a load generator speaking the RocketMQ protocol (our remoting layer, no client
//! library in between), for measuring a broker — ours or Apache RocketMQ's.
//!
//! `mqbench produce -n 127.0.0.1:9876 -t BenchTopic --size 500 --inflight 1 --secs 15`
//! prints msgs/s, MB/s and latency percentiles of acknowledged sends. `--inflight 1` is
//! synchronous sending; higher values keep that many sends outstanding per connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::BytesMut;
use clap::{Parser, Subcommand};
use ferromq_protocol::body::TopicRouteData;
use ferromq_protocol::frame::{decode_frame, encode_frame};
use ferromq_protocol::header::{CommandHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader};
use ferromq_protocol::{json, RemotingCommand, RequestCode, ResponseCode, SerializeType};
use ferromq_remoting::{Connection, ConnectionConfig, RejectRequests};
use hdrhistogram::Histogram;
use tokio::io::Interest;
use tokio::net::TcpStream;

#[derive(Parser)]
#[command(name = "mqbench", about = "RocketMQ-protocol load generator")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Send messages and report throughput and latency.
    Produce {
        /// NameServer address.
        #[arg(short = 'n', long, default_value = "127.0.0.1:9876")]
        namesrv: String,
        #[arg(short = 't', long, default_value = "BenchmarkTest")]
        topic: String,
        /// Body size in bytes.
        #[arg(long, default_value_t = 500)]
        size: usize,
        /// Sends outstanding per connection (1 = synchronous).
        #[arg(long, default_value_t = 1)]
        inflight: usize,
        /// Connections to the broker.
        #[arg(long, default_value_t = 1)]
        connections: usize,
        /// Measured seconds (after warm-up).
        #[arg(long, default_value_t = 15)]
        secs: u64,
        /// Warm-up sends before measuring.
        #[arg(long, default_value_t = 200)]
        warmup: usize,
        /// Stop after this many measured messages (0 = no limit).
        #[arg(long, default_value_t = 0)]
        max_msgs: u64,
        /// Header encoding: json (Java's default) or rocketmq (binary).
        #[arg(long, default_value = "rocketmq")]
        serialize: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match cli.cmd {
        Cmd::Produce { namesrv, topic, size, inflight, connections, secs, warmup, max_msgs, serialize } => {
            let st = match serialize.as_str() {
                "json" => SerializeType::Json,
                "rocketmq" => SerializeType::RocketMq,
                other => bail!("--serialize must be json or rocketmq, not {other}"),
            };
            rt.block_on(produce(
                namesrv,
                topic,
                size,
                inflight.max(1),
                connections.max(1),
                secs,
                warmup,
                max_msgs,
                st,
            ))
        }
    }
}

const T: Duration = Duration::from_secs(10);

async fn connect(addr: &str) -> anyhow::Result<Connection> {
    Ok(Connection::connect(addr, Arc::new(RejectRequests), ConnectionConfig::default(), T).await?)
}

#[allow(clippy::too_many_arguments)]
async fn produce(
    namesrv: String,
    topic: String,
    size: usize,
    inflight: usize,
    connections: usize,
    secs: u64,
    warmup: usize,
    max_msgs: u64,
    st: SerializeType,
) -> anyhow::Result<()> {
    let ns = connect(&namesrv).await.with_context(|| format!("NameServer {namesrv}"))?;
    // Like every RocketMQ producer: a topic without a route is sent through the default
    // topic's route (TBW102), and the broker creates it on first send.
    let mut route = None;
    for t in [topic.as_str(), "TBW102"] {
        let mut req = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC);
        req.ext_fields.insert("topic", t);
        let resp = ns.invoke(req, T).await?;
        if resp.code == ResponseCode::SUCCESS {
            route = Some(json::from_slice::<TopicRouteData>(&resp.body)?);
            break;
        }
    }
    let route =
        route.with_context(|| format!("no route for {topic} nor TBW102 (is a broker registered?)"))?;
    let broker = route.broker_datas.first().context("route has no broker")?;
    let addr = broker.select_broker_addr().context("broker has no address")?.to_owned();
    // A topic created through TBW102 gets min(defaultTopicQueueNums = 4, TBW102's queues).
    let queues = route.queue_datas.first().map(|q| q.write_queue_nums).unwrap_or(1).clamp(1, 4);
    let body = bytes::Bytes::from(vec![b'x'; size]);
    let template = |queue_id: i32| {
        let h = SendMessageRequestHeaderV2 {
            producer_group: "mqbench_producer".into(),
            topic: topic.clone(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id,
            sys_flag: 0,
            born_timestamp: 0,
            flag: 0,
            properties: Some("WAIT\u{1}true\u{2}TAGS\u{1}bench".into()),
            reconsume_times: Some(0),
            unit_mode: Some(false),
            batch: Some(false),
            ..Default::default()
        };
        let mut r =
            RemotingCommand::request_with_header(RequestCode::SEND_MESSAGE_V2, &h).with_body(body.clone());
        r.serialize_type = st;
        r
    };
    let requests: Arc<Vec<RemotingCommand>> = Arc::new((0..queues).map(template).collect());

    // Warm-up (also creates the topic when auto-creation is on).
    let warm = connect(&addr).await.with_context(|| format!("broker {addr}"))?;
    for i in 0..warmup {
        let r = warm.invoke(requests[i % requests.len()].clone(), T).await?;
        if r.code != ResponseCode::SUCCESS {
            bail!("warm-up send failed: {} {}", r.code, r.remark.unwrap_or_default());
        }
    }
    warm.close();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let per_conn_max = if max_msgs == 0 { u64::MAX } else { max_msgs.div_ceil(connections as u64) };
    let mut workers = Vec::new();
    for c in 0..connections {
        let stream = TcpStream::connect(&addr).await.with_context(|| format!("broker {addr}"))?;
        stream.set_nodelay(true)?;
        let requests = requests.clone();
        workers.push(tokio::spawn(sliding_window(stream, requests, inflight, c, deadline, per_conn_max)));
    }
    let mut total = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut ok, mut failed) = (0u64, 0u64);
    for w in workers {
        let r = w.await??;
        ok += r.ok;
        failed += r.failed;
        total.add(r.hist)?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let rate = ok as f64 / elapsed;
    println!(
        "RESULT produce inflight={} connections={} size={} msgs={} failed={} secs={:.2} msgs/s={:.0} MB/s={:.1} p50_us={} p99_us={} p999_us={}",
        inflight,
        connections,
        size,
        ok,
        failed,
        elapsed,
        rate,
        rate * size as f64 / 1e6,
        total.value_at_quantile(0.50),
        total.value_at_quantile(0.99),
        total.value_at_quantile(0.999)
    );
    if failed > 0 {
        bail!("{failed} sends failed");
    }
    Ok(())
}

struct WindowResult {
    ok: u64,
    failed: u64,
    hist: Histogram<u64>,
}

/// One connection kept `inflight` sends deep, as a pipelining client does: a new send goes
/// out as soon as an answer frees a slot. One task drives both directions (no task, timer or
/// channel per send), so that the load generator costs little of the cores it shares with
/// the broker. Every request is encoded and every answer decoded (with its typed header),
/// as a client would.
async fn sliding_window(
    stream: TcpStream,
    requests: Arc<Vec<RemotingCommand>>,
    inflight: usize,
    conn_index: usize,
    deadline: Instant,
    max_msgs: u64,
) -> anyhow::Result<WindowResult> {
    const MAX_FRAME: usize = 16 * 1024 * 1024;
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut ok, mut failed, mut sent) = (0u64, 0u64, 0u64);
    let mut sent_at: HashMap<i32, Instant> = HashMap::with_capacity(inflight * 2);
    let mut next_opaque: i32 = 1;
    let mut i = conn_index;
    let mut rbuf = BytesMut::with_capacity(256 * 1024);
    let mut wbuf = BytesMut::with_capacity(256 * 1024);
    let mut last_progress = Instant::now();
    loop {
        let now = Instant::now();
        let sending = now < deadline && sent < max_msgs;
        if !sending && sent_at.is_empty() {
            break;
        }
        while sending && sent_at.len() < inflight && sent < max_msgs {
            let mut req = requests[i % requests.len()].clone();
            i += 1;
            req.opaque = next_opaque;
            sent_at.insert(next_opaque, Instant::now());
            next_opaque = next_opaque.wrapping_add(1);
            sent += 1;
            encode_frame(&req, &mut wbuf);
        }
        let interest =
            if wbuf.is_empty() { Interest::READABLE } else { Interest::READABLE | Interest::WRITABLE };
        let ready = match tokio::time::timeout(T, stream.ready(interest)).await {
            Ok(r) => r?,
            Err(_) => bail!("no answer from the broker for {T:?} ({} sends outstanding)", sent_at.len()),
        };
        if ready.is_writable() && !wbuf.is_empty() {
            match stream.try_write(&wbuf) {
                Ok(n) => {
                    let _ = wbuf.split_to(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
        }
        if ready.is_readable() {
            rbuf.reserve(64 * 1024);
            match stream.try_read_buf(&mut rbuf) {
                Ok(0) => bail!("the broker closed the connection"),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
            let now = Instant::now();
            while let Some(resp) = decode_frame(&mut rbuf, MAX_FRAME)? {
                let Some(t0) = sent_at.remove(&resp.opaque) else { continue };
                let good = resp.code == ResponseCode::SUCCESS
                    && SendMessageResponseHeader::read_ext_fields(&resp.ext_fields).is_ok();
                if good {
                    ok += 1;
                    let _ = hist.record(now.duration_since(t0).as_micros().max(1) as u64);
                } else {
                    failed += 1;
                }
                last_progress = now;
            }
        }
        if last_progress.elapsed() > T {
            bail!("no answer from the broker for {T:?} ({} sends outstanding)", sent_at.len());
        }
    }
    Ok(WindowResult { ok, failed, hist })
}
