//! `mqbench`: a load generator speaking the RocketMQ protocol (our remoting layer, no client
//! library in between), for measuring a broker — ours or Apache RocketMQ's.
//!
//! `mqbench produce -n 127.0.0.1:9876 -t BenchTopic --size 500 --inflight 1 --secs 15`
//! prints msgs/s, MB/s and latency percentiles of acknowledged sends. `--inflight 1` is
//! synchronous sending; higher values keep that many sends outstanding per connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use ferromq_protocol::body::TopicRouteData;
use ferromq_protocol::header::SendMessageRequestHeaderV2;
use ferromq_protocol::{json, RemotingCommand, RequestCode, ResponseCode, SerializeType};
use ferromq_remoting::{Connection, ConnectionConfig, RejectRequests};
use hdrhistogram::Histogram;

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

    let mut conns = Vec::new();
    for _ in 0..connections {
        conns.push(connect(&addr).await.with_context(|| format!("broker {addr}"))?);
    }
    // Warm-up (also creates the topic when auto-creation is on).
    for i in 0..warmup {
        let r = conns[0].invoke(requests[i % requests.len()].clone(), T).await?;
        if r.code != ResponseCode::SUCCESS {
            bail!("warm-up send failed: {} {}", r.code, r.remark.unwrap_or_default());
        }
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut workers = Vec::new();
    for (c, conn) in conns.iter().enumerate() {
        for w in 0..inflight {
            let conn = conn.clone();
            let requests = requests.clone();
            let per_worker_max =
                if max_msgs == 0 { u64::MAX } else { max_msgs.div_ceil((connections * inflight) as u64) };
            workers.push(tokio::spawn(async move {
                let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).ok();
                let (mut ok, mut failed, mut i) = (0u64, 0u64, c * inflight + w);
                while Instant::now() < deadline && ok + failed < per_worker_max {
                    let t0 = Instant::now();
                    match conn.invoke(requests[i % requests.len()].clone(), T).await {
                        Ok(r) if r.code == ResponseCode::SUCCESS => {
                            ok += 1;
                            if let Some(h) = hist.as_mut() {
                                let _ = h.record(t0.elapsed().as_micros().max(1) as u64);
                            }
                        }
                        _ => failed += 1,
                    }
                    i += 1;
                }
                (ok, failed, hist)
            }));
        }
    }
    let mut total = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut ok, mut failed) = (0u64, 0u64);
    for w in workers {
        let (o, f, h) = w.await?;
        ok += o;
        failed += f;
        if let Some(h) = h {
            total.add(h)?;
        }
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
