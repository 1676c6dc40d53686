//! Store benchmark: appends 500-byte messages from several writer threads in ASYNC_FLUSH
//! and SYNC_FLUSH (64 and 1024 writers) and reports msgs/s, MB/s and append latency
//! percentiles, beside a raw sequential write of the same volume and the fsync latency of
//! the same disk, then scans the backlog through the ConsumeQueue.
//!
//! `cargo run --release -p ferromq-store --features bench-async --bin store-bench --
//! [--dir D] [--messages N] [--size BYTES] [--threads T] [--burst K] [--rt-threads 1,2]
//! [--modes async,async-tsp,async-deferred,sync1,sync64,sync1024,sync64-cb,sync1024-cb,
//!          sync64-inline,sync1024-inline,sync64-async,sync1024-async]
//! [--warm true|false] [--retention true|false [--cold]]
//! [--backlog-gb G [--cold] [--backlog-segment-mb 1024]]`
//!
//! Modes that drive the store the way the broker does:
//! - `async-deferred`: ASYNC_FLUSH with `deferred_commit`; each writer appends a burst of
//!   `--burst` messages, then calls `MessageStore::commit` and only then counts them
//!   acknowledged (the broker's per-burst commit; latency is put start to commit end).
//!   Each writer writes to its own queue, as in the thread rows.
//! - `sync64-async`, `sync1024-async` (feature `bench-async`): SYNC_FLUSH writers as tokio
//!   tasks on a runtime of `--rt-threads` worker threads (one row per value), each looping
//!   put → `.await` the `PutHandle` (under `syncFlushTimeout`, as the broker's send did
//!   until it moved to callbacks).
//! - `sync64-cb`, `sync1024-cb`: SYNC_FLUSH writers with one message in flight each,
//!   acknowledged through `PutHandle::on_durable` (the broker's SYNC_FLUSH send): the
//!   callback hands the writer back to one driver thread that puts its next message, as
//!   the broker's connection reader does when a producer sends again.
//! - `sync64-inline`, `sync1024-inline`: the same writers, but each acknowledgement callback
//!   puts the writer's next message itself (a producer sending again from its send
//!   callback): no hand-off between threads, so the round is the fsync plus the re-puts —
//!   the group commit's own ceiling.
//!
//! Each row also reports the cores the hypervisor stole during it (`steal`; a warning from
//! 0.05 cores, since steal slows this VM's disk and wake-ups as well), and with a `-cb` row
//! the first line gives what one hand-off between two threads costs on this machine.
//!
//! `--backlog-gb G` writes a G GB backlog (8 queues of one topic, ASYNC_FLUSH with the
//! broker's deferred commit, 1 GiB segments) and scans it through the ConsumeQueue like a
//! consumer (batches of 32, round robin over the queues), first warm (as written, page cache
//! residency reported), then with `--cold` after `sync; echo 3 > /proc/sys/vm/drop_caches`
//! (needs root). `--modes ''` runs only the backlog.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferromq_protocol::message::stored;
use ferromq_store::{FlushDiskType, MessageStore, MessageStoreConfig, PutMessage, PutMessageStatus};

struct Args {
    dir: PathBuf,
    messages: u64,
    size: usize,
    threads: usize,
    /// Which runs (default: all): `async`, `async-tsp`, `async-deferred`, `sync1`, `sync64`,
    /// `sync1024`, `sync64-cb`, `sync1024-cb`, `sync64-inline`, `sync1024-inline`,
    /// `sync64-async`, `sync1024-async`.
    modes: Vec<String>,
    /// `async-deferred` and backlog: messages appended per commit.
    burst: u64,
    /// Async modes: tokio worker threads, one row per value.
    rt_threads: Vec<usize>,
    /// GB of backlog to write and scan (0: off).
    backlog_gb: f64,
    /// Backlog: also scan after dropping the page cache. With `--retention true`: drop it
    /// after the warm-up (root), so that the recycled segments are not cached.
    cold: bool,
    /// Backlog: CommitLog segment size in MiB (1 GiB, RocketMQ's default).
    backlog_segment_mb: u64,
    /// `--warm true|false`: `warmMapedFileEnable` for every store of the run (default:
    /// unset, the store's default: pre-written in SYNC_FLUSH, not in ASYNC_FLUSH).
    warm: Option<bool>,
    /// `--retention true|false`: retention deletes every segment as soon as it may (no
    /// reserved time, every hour, a cleaner every 50 ms), so that each new segment is made
    /// from a recycled one: a long-running broker's steady state. Warms up with three
    /// segments instead of one.
    retention: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        dir: std::env::temp_dir().join(format!("ferromq-store-bench-{}", std::process::id())),
        messages: 400_000,
        size: 500,
        threads: 4,
        modes: [
            "async",
            "async-tsp",
            "async-deferred",
            "sync1",
            "sync64",
            "sync1024",
            "sync64-cb",
            "sync1024-cb",
            "sync64-inline",
            "sync1024-inline",
            "sync64-async",
            "sync1024-async",
        ]
        .map(String::from)
        .to_vec(),
        burst: 32,
        rt_threads: vec![1, 2],
        backlog_gb: 0.0,
        cold: false,
        backlog_segment_mb: 1024,
        warm: None,
        retention: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--cold" => {
                a.cold = true;
                i += 1;
                continue;
            }
            "--burst" => a.burst = v.parse().unwrap_or(a.burst).max(1),
            "--rt-threads" => a.rt_threads = v.split(',').filter_map(|x| x.parse().ok()).collect(),
            "--backlog-gb" => a.backlog_gb = v.parse().unwrap_or(0.0),
            "--backlog-segment-mb" => a.backlog_segment_mb = v.parse().unwrap_or(1024).max(1),
            "--dir" => a.dir = PathBuf::from(v),
            "--warm" => a.warm = Some(v == "true"),
            "--retention" => a.retention = v == "true",
            "--messages" => a.messages = v.parse().unwrap_or(a.messages),
            "--size" => a.size = v.parse().unwrap_or(a.size),
            "--threads" => a.threads = v.parse().unwrap_or(a.threads),
            "--modes" => a.modes = v.split(',').map(String::from).collect(),
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    a
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

fn raw_write(dir: &Path, bytes: u64) -> std::io::Result<f64> {
    let path = dir.join("raw.bin");
    let f = OpenOptions::new().create(true).write(true).truncate(true).open(&path)?;
    let buf = vec![0x5Au8; 64 * 1024];
    let start = Instant::now();
    let mut off = 0;
    while off < bytes {
        f.write_all_at(&buf, off)?;
        off += buf.len() as u64;
    }
    f.sync_data()?;
    let secs = start.elapsed().as_secs_f64();
    std::fs::remove_file(&path)?;
    Ok(bytes as f64 / secs / 1e6)
}

fn fsync_latency_us(dir: &Path) -> std::io::Result<f64> {
    let path = dir.join("fsync.bin");
    let f = OpenOptions::new().create(true).write(true).truncate(true).open(&path)?;
    let lat = median_append_fsync_us(&f, 4096)?;
    std::fs::remove_file(&path)?;
    Ok(lat)
}

/// Median over 200 rounds of: append `bytes` to `f` (from offset 0 on), then time the
/// fdatasync alone.
fn median_append_fsync_us(f: &std::fs::File, bytes: usize) -> std::io::Result<f64> {
    let buf = vec![0x5Au8; bytes];
    let mut lat = Vec::new();
    for i in 0..200u64 {
        f.write_all_at(&buf, i * bytes as u64)?;
        let t = Instant::now();
        f.sync_data()?;
        lat.push(t.elapsed().as_micros() as u64);
    }
    lat.sort_unstable();
    Ok(lat[lat.len() / 2] as f64)
}

/// fdatasync latency (median of 200) after appending `bytes` — one 64-writer group's
/// records — to a 64 MiB segment-like file, either sparse (new space, as a SYNC_FLUSH log
/// writes by default) or pre-written (`warmMapedFileEnable`). The 4 KiB reference above
/// leaves out that a group's fsync carries more data (on this VM's disk, ~30 % longer for
/// 31 KB) and, into new space, block allocation: the ceiling of any group commit here is
/// 64 ÷ this figure, not 64 ÷ the reference.
fn group_fsync_us(dir: &Path, bytes: usize, prewritten: bool) -> std::io::Result<f64> {
    const SEGMENT: u64 = 64 << 20;
    let path = dir.join("group-fsync.bin");
    let f = OpenOptions::new().create(true).read(true).write(true).truncate(true).open(&path)?;
    f.set_len(SEGMENT)?;
    if prewritten {
        let zeros = vec![0u8; 1 << 20];
        for i in 0..SEGMENT >> 20 {
            f.write_all_at(&zeros, i << 20)?;
        }
    }
    f.sync_all()?;
    let lat = median_append_fsync_us(&f, bytes)?;
    std::fs::remove_file(&path)?;
    Ok(lat)
}

/// Median over 1,000 rounds of a hand-off to a parked thread and back (two wake-ups, each
/// across cores, as between the flusher and the `-cb` rows' driver). Between rounds the
/// caller spins for 200 us, about an fsync, so that the other thread parks as the driver
/// does while an fsync runs. On bare metal a wake-up costs a few microseconds; in a VM each
/// is an inter-processor interrupt through the hypervisor, and this shows how much.
fn handoff_round_trip_us() -> BenchResult<f64> {
    let (to_peer, peer_rx) = std::sync::mpsc::channel::<()>();
    let (to_main, main_rx) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        while peer_rx.recv().is_ok() {
            if to_main.send(()).is_err() {
                return;
            }
        }
    });
    let mut lat = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let gap = Instant::now();
        while gap.elapsed() < Duration::from_micros(200) {
            std::hint::spin_loop();
        }
        let t = Instant::now();
        to_peer.send(()).map_err(|_| "hand-off probe: peer thread ended")?;
        main_rx.recv_timeout(Duration::from_secs(5)).map_err(|_| "hand-off probe: no answer in 5 s")?;
        lat.push(t.elapsed().as_micros() as u64);
    }
    drop(to_peer);
    let _ = peer.join();
    lat.sort_unstable();
    Ok(lat[lat.len() / 2] as f64)
}

/// CPU time so far, in seconds: busy time of the whole machine (steal excluded), time the
/// hypervisor stole from this VM, and this process's own.
#[derive(Clone, Copy)]
struct CpuSample {
    machine: f64,
    steal: f64,
    own: f64,
}

fn cpu_now() -> CpuSample {
    // USER_HZ; the first line's fields: user nice system idle iowait irq softirq steal ...
    let tick = 100.0;
    let fields: Vec<f64> = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| {
            Some(t.lines().next()?.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect())
        })
        .unwrap_or_default();
    let machine: f64 =
        fields.iter().enumerate().filter(|(i, _)| *i != 3 && *i != 4 && *i < 7).map(|(_, x)| x).sum();
    let steal = fields.get(7).copied().unwrap_or(0.0);
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| {
            let rest = t.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
        })
        .unwrap_or(0.0);
    CpuSample { machine: machine / tick, steal: steal / tick, own: own / tick }
}

/// Steal (cores) above which the bench says its figures are not a fair measurement.
const STEAL_WARN: f64 = 0.05;

/// Cores used between two [`cpu_now`] readings.
#[derive(Clone, Copy, Default)]
struct Cores {
    /// By this process.
    own: f64,
    /// By everything else in the VM (other processes, kernel threads, interrupts).
    other: f64,
    /// Taken by the hypervisor for other guests: with more than a little of it, the VM's
    /// disk and wake-ups slow down too, and no ratio of the run means much.
    steal: f64,
}

fn cores(cpu0: CpuSample, cpu1: CpuSample, secs: f64) -> Cores {
    let own = cpu1.own - cpu0.own;
    Cores {
        own: own / secs,
        other: ((cpu1.machine - cpu0.machine) - own).max(0.0) / secs,
        steal: (cpu1.steal - cpu0.steal).max(0.0) / secs,
    }
}

struct RunResult {
    /// Cores used during the run (until dispatched).
    cores: Cores,
    /// Messages per second until the last one was dispatched (consumable).
    dispatched_msgs_per_s: f64,
    msgs_per_s: f64,
    mb_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    p999_us: f64,
    /// Messages acknowledged.
    acked: u64,
    /// Seconds until the last acknowledgement.
    secs: f64,
    /// The CommitLog's fsyncs during the run: count, total seconds, writers released.
    fsyncs: u64,
    fsync_secs: f64,
    released: u64,
}

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// How the messages are written.
#[derive(Clone, Copy)]
enum Writers {
    /// One thread per writer, each put blocking on `PutHandle::wait`.
    Threads(usize),
    /// Threads each appending a burst of `burst` messages, then
    /// calling `commit()`; a message is acknowledged when the commit after it returns
    /// (the broker's per-burst commit with `deferred_commit`).
    /// `spread`: each message to the next queue (round robin), else each writer to its own.
    Bursts { writers: usize, burst: u64, spread: bool },
    /// Tokio tasks, each put awaiting its `PutHandle` (the broker's SYNC_FLUSH send), on a
    /// multi-thread runtime of `rt_threads` workers.
    #[cfg(feature = "bench-async")]
    Tasks { tasks: usize, rt_threads: usize },
    /// Writers with one message in flight each, answered by `PutHandle::on_durable` (the
    /// broker's SYNC_FLUSH send): the callback hands the writer back to one driver thread,
    /// which puts its next message — as the broker's connection reader does when the
    /// producer that got the answer sends again.
    Callbacks(usize),
    /// Writers with one message in flight each whose acknowledgement callback puts the
    /// writer's next message itself (a producer that sends again from its send callback,
    /// with no thread hand-off): the group commit's ceiling without a driver in between.
    Inline(usize),
}

fn open_store(
    dir: &Path,
    flush: FlushDiskType,
    write_buffer: bool,
    deferred_commit: bool,
    segment: u64,
    warm: Option<bool>,
    retention: bool,
) -> BenchResult<Arc<MessageStore>> {
    let _ = std::fs::remove_dir_all(dir);
    let mut cfg = MessageStoreConfig::with_root(dir);
    if retention {
        cfg.file_reserved_time_hours = 0;
        cfg.delete_when = (0..24).collect();
        cfg.clean_resource_interval_ms = 50;
    }
    cfg.flush_disk_type = flush;
    cfg.transient_store_pool_enable = write_buffer;
    cfg.deferred_commit = deferred_commit;
    cfg.mapped_file_size_commit_log = segment;
    cfg.message_index_enable = true;
    cfg.warm_maped_file_enable = warm;
    let store = Arc::new(MessageStore::open(cfg)?);
    store.start()?;
    Ok(store)
}

/// The template for each of the 8 queues the writers spread over (writer `w` uses queue
/// `w % 8`), built once: the bench puts them by reference, so that the time measured is
/// the store's, not a clone's per message.
fn per_queue_messages(template: &PutMessage) -> Vec<PutMessage> {
    (0..8)
        .map(|q| {
            let mut m = template.clone();
            m.queue_id = q;
            m
        })
        .collect()
}

fn template(size: usize) -> PutMessage {
    let body = vec![b'x'; size.saturating_sub(120).max(1)];
    PutMessage::new("BenchTopic", 0, body).with_properties([("TAGS", "bench")])
}

/// Writes `messages` messages; returns each acknowledged message's latency (ns).
fn drive(store: &Arc<MessageStore>, writers: Writers, messages: u64, size: usize) -> BenchResult<Vec<u64>> {
    let template = template(size);
    let next = Arc::new(AtomicU64::new(0));
    let (n, burst) = match writers {
        Writers::Threads(n) => (n, None),
        Writers::Bursts { writers, burst, spread } => (writers, Some((burst, spread))),
        #[cfg(feature = "bench-async")]
        Writers::Tasks { tasks, rt_threads } => {
            return drive_tasks(store, tasks, rt_threads, messages, &template);
        }
        Writers::Callbacks(writers) => return drive_callbacks(store, writers, messages, &template),
        Writers::Inline(writers) => return drive_inline(store, writers, messages, &template),
    };
    let per_queue = per_queue_messages(&template);
    let mut handles = Vec::new();
    for w in 0..n {
        let (store, next) = (store.clone(), next.clone());
        let mut m = per_queue[w % per_queue.len()].clone();
        let body = move || -> Vec<u64> {
            let mut lat = Vec::new();
            if let Some((burst, spread)) = burst {
                let mut starts = Vec::with_capacity(burst as usize);
                loop {
                    let first = next.fetch_add(burst, Ordering::Relaxed);
                    if first >= messages {
                        return lat;
                    }
                    starts.clear();
                    for i in first..(first + burst).min(messages) {
                        if spread {
                            m.queue_id = (i % 8) as i32;
                        }
                        let t = Instant::now();
                        // By reference: the store copies what it needs into the record, so
                        // the bench does not pay a clone per message (the put's cost is
                        // what is measured).
                        if let Err(e) = store.put_messages(std::slice::from_ref(&m)) {
                            eprintln!("put failed: {e}");
                            return lat;
                        }
                        starts.push(t);
                    }
                    if let Err(e) = store.commit() {
                        eprintln!("commit failed: {e}");
                        return lat;
                    }
                    let done = Instant::now();
                    lat.extend(starts.iter().map(|t| (done - *t).as_nanos() as u64));
                }
            }
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= messages {
                    return lat;
                }
                let t = Instant::now();
                match store.put_messages(std::slice::from_ref(&m)).and_then(|h| h.wait()) {
                    Ok(_) => lat.push(t.elapsed().as_nanos() as u64),
                    Err(e) => {
                        eprintln!("put failed: {e}");
                        return lat;
                    }
                }
            }
        };
        handles.push(
            std::thread::Builder::new().name(format!("writer-{w}")).stack_size(256 * 1024).spawn(body)?,
        );
    }
    let mut lat: Vec<u64> = Vec::new();
    for h in handles {
        lat.extend(h.join().unwrap_or_default());
    }
    Ok(lat)
}

fn drive_callbacks(
    store: &Arc<MessageStore>,
    writers: usize,
    messages: u64,
    template: &PutMessage,
) -> BenchResult<Vec<u64>> {
    // (writer, latency ns or None for a failed put)
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Option<u64>)>();
    let per_queue = per_queue_messages(template);
    let put = |w: usize| -> BenchResult<()> {
        let m = &per_queue[w % per_queue.len()];
        let t = Instant::now();
        let tx = tx.clone();
        store.put_messages(std::slice::from_ref(m))?.on_durable(move |r| {
            let lat = match r {
                Ok(r) if r.status == PutMessageStatus::PutOk => Some(t.elapsed().as_nanos() as u64),
                _ => None,
            };
            let _ = tx.send((w, lat));
        });
        Ok(())
    };
    let mut sent = 0u64;
    for w in 0..writers.min(messages as usize) {
        put(w)?;
        sent += 1;
    }
    let mut lat = Vec::with_capacity(messages as usize);
    while (lat.len() as u64) < sent {
        let (w, l) = rx.recv_timeout(Duration::from_secs(60)).map_err(|_| "no acknowledgement in 60 s")?;
        let Some(l) = l else {
            return Err("a put was not acknowledged (FLUSH_DISK_TIMEOUT or error)".into());
        };
        lat.push(l);
        if sent < messages {
            put(w)?;
            sent += 1;
        }
    }
    Ok(lat)
}

/// Shared state of [`drive_inline`]'s writers.
struct InlineRun {
    store: Arc<MessageStore>,
    /// The message each writer puts, by queue (`per_queue_messages`).
    per_queue: Vec<PutMessage>,
    messages: u64,
    sent: AtomicU64,
    /// Latencies (ns) of acknowledged puts; `None` once one failed.
    lat: std::sync::Mutex<Option<Vec<u64>>>,
    done: std::sync::mpsc::SyncSender<()>,
}

impl InlineRun {
    /// Puts writer `w`'s next message; its callback records the latency and puts again.
    fn put_next(self: &Arc<Self>, w: usize) {
        if self.sent.fetch_add(1, Ordering::Relaxed) >= self.messages {
            return;
        }
        let m = &self.per_queue[w % self.per_queue.len()];
        let t = Instant::now();
        let run = self.clone();
        let outcome = self.store.put_messages(std::slice::from_ref(m)).map(|h| {
            h.on_durable(move |r| {
                let ok = matches!(r, Ok(r) if r.status == PutMessageStatus::PutOk);
                if run.record(ok.then(|| t.elapsed().as_nanos() as u64)) {
                    run.put_next(w);
                }
            })
        });
        if outcome.is_err() {
            self.record(None);
        }
    }

    /// Records one outcome; returns whether to go on.
    fn record(&self, lat: Option<u64>) -> bool {
        let mut all = self.lat.lock().unwrap_or_else(|e| e.into_inner());
        let (go_on, finished) = match (all.as_mut(), lat) {
            (Some(v), Some(l)) => {
                v.push(l);
                (true, v.len() as u64 == self.messages)
            }
            (Some(_), None) => {
                *all = None;
                (false, true)
            }
            (None, _) => (false, false),
        };
        if finished {
            let _ = self.done.try_send(());
        }
        go_on
    }
}

fn drive_inline(
    store: &Arc<MessageStore>,
    writers: usize,
    messages: u64,
    template: &PutMessage,
) -> BenchResult<Vec<u64>> {
    let (done, finished) = std::sync::mpsc::sync_channel(1);
    let run = Arc::new(InlineRun {
        store: store.clone(),
        per_queue: per_queue_messages(template),
        messages,
        sent: AtomicU64::new(0),
        lat: std::sync::Mutex::new(Some(Vec::with_capacity(messages as usize))),
        done,
    });
    for w in 0..writers {
        run.put_next(w);
    }
    finished.recv_timeout(Duration::from_secs(120)).map_err(|_| "no end of the run in 120 s")?;
    let lat = run.lat.lock().unwrap_or_else(|e| e.into_inner()).take();
    lat.ok_or_else(|| "a put was not acknowledged (FLUSH_DISK_TIMEOUT or error)".into())
}

#[cfg(feature = "bench-async")]
fn drive_tasks(
    store: &Arc<MessageStore>,
    tasks: usize,
    rt_threads: usize,
    messages: u64,
    template: &PutMessage,
) -> BenchResult<Vec<u64>> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(rt_threads).enable_time().build()?;
    let timeout = Duration::from_millis(store.config().sync_flush_timeout_ms);
    let next = Arc::new(AtomicU64::new(0));
    let lat = rt.block_on(async {
        let mut handles = Vec::new();
        let per_queue = per_queue_messages(template);
        for w in 0..tasks {
            let (store, next) = (store.clone(), next.clone());
            let m = per_queue[w % per_queue.len()].clone();
            handles.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= messages {
                        return lat;
                    }
                    let t = Instant::now();
                    let handle = match store.put_messages(std::slice::from_ref(&m)) {
                        Ok(h) => h,
                        Err(e) => {
                            eprintln!("put failed: {e}");
                            return lat;
                        }
                    };
                    // As the broker's send: the handle under syncFlushTimeout.
                    match tokio::time::timeout(timeout, handle).await {
                        Ok(Ok(_)) => lat.push(t.elapsed().as_nanos() as u64),
                        Ok(Err(e)) => {
                            eprintln!("put failed: {e}");
                            return lat;
                        }
                        Err(_) => {
                            eprintln!("flush timed out (FLUSH_DISK_TIMEOUT)");
                            return lat;
                        }
                    }
                }
            }));
        }
        let mut lat: Vec<u64> = Vec::new();
        for h in handles {
            lat.extend(h.await.unwrap_or_default());
        }
        lat
    });
    Ok(lat)
}

/// CommitLog segment size of the measured runs: small enough that a run of the default
/// size crosses several segments, so that preparing the next one is part of what is measured.
const BENCH_SEGMENT: u64 = 64 << 20;

/// Brings a new store to its steady state before measuring: `segments` segments' worth of
/// messages (one; three with `--retention`, so that retired segments are being recycled),
/// appended without waiting for a flush (`WAIT=false`), then flushed and
/// dispatched. A new store's first segment is prepared at open (pre-written, for
/// `warmMapedFileEnable`); every later one is prepared by the background thread while the
/// appends run, which is what a broker that has been up for a while does, and what the
/// measured run then includes.
fn warm_up(store: &MessageStore, size: usize, segments: u64) -> BenchResult<()> {
    let m = template(size).with_properties([("TAGS", "bench"), ("WAIT", "false")]);
    while store.max_phy_offset() < segments * BENCH_SEGMENT {
        for _ in 0..32 {
            store.put_messages(std::slice::from_ref(&m))?;
        }
        store.commit()?;
    }
    store.flush()?;
    if !store.wait_dispatched(store.max_phy_offset(), Duration::from_secs(60)) {
        return Err("warm-up: the dispatcher did not catch up within 60 s".into());
    }
    Ok(())
}

fn measure(store: &MessageStore, run: impl FnOnce() -> BenchResult<Vec<u64>>) -> BenchResult<RunResult> {
    let base = store.max_phy_offset();
    let flush0 = store.flush_stats();
    let cpu0 = cpu_now();
    let start = Instant::now();
    let mut lat = run()?;
    let secs = start.elapsed().as_secs_f64();
    let flush1 = store.flush_stats();
    // Appended is not yet consumable: also time until the dispatcher has caught up.
    if !store.wait_dispatched(store.max_phy_offset(), Duration::from_secs(600)) {
        eprintln!("dispatcher did not catch up within 600 s");
    }
    let dispatched_secs = start.elapsed().as_secs_f64();
    let cpu1 = cpu_now();
    let cores = cores(cpu0, cpu1, dispatched_secs);
    lat.sort_unstable();
    let bytes = (store.max_phy_offset() - base) as f64;
    Ok(RunResult {
        cores,
        dispatched_msgs_per_s: lat.len() as f64 / dispatched_secs,
        msgs_per_s: lat.len() as f64 / secs,
        mb_per_s: bytes / secs / 1e6,
        p50_us: pct(&lat, 0.5),
        p99_us: pct(&lat, 0.99),
        p999_us: pct(&lat, 0.999),
        acked: lat.len() as u64,
        secs,
        fsyncs: flush1.fsyncs - flush0.fsyncs,
        fsync_secs: flush1.fsync_seconds - flush0.fsync_seconds,
        released: flush1.waiters_released - flush0.waiters_released,
    })
}

fn run(
    a: &Args,
    dir: &Path,
    flush: FlushDiskType,
    writers: Writers,
    messages: u64,
    write_buffer: bool,
) -> BenchResult<(RunResult, Arc<MessageStore>)> {
    let deferred = matches!(writers, Writers::Bursts { .. });
    let store = open_store(dir, flush, write_buffer, deferred, BENCH_SEGMENT, a.warm, a.retention)?;
    warm_up(&store, a.size, if a.retention { 3 } else { 1 })?;
    if a.retention && a.cold {
        // A long-running broker's recycled segments were written days ago: not cached.
        if let Err(e) = drop_caches() {
            eprintln!("--cold: cannot drop the page cache ({e}); measuring with it");
        }
    }
    let r = measure(&store, || drive(&store, writers, messages, a.size))?;
    Ok((r, store))
}

/// Once dispatched, the store read back through the ConsumeQueue by one consumer.
fn scan(store: &MessageStore) -> BenchResult<(f64, u64)> {
    store.wait_dispatched(store.max_phy_offset(), Duration::from_secs(120));
    scan_round_robin(store, 8, 32).map(|s| (s.msgs_per_s, s.msgs))
}

struct ScanResult {
    msgs_per_s: f64,
    mb_per_s: f64,
    msgs: u64,
    pulls: u64,
    secs: f64,
    cores: Cores,
}

/// A consumer of every queue of the topic: pulls of `batch` messages, round robin over the
/// queues (as a push consumer's pull requests take turns), until every queue is drained.
fn scan_round_robin(store: &MessageStore, queues: i32, batch: usize) -> BenchResult<ScanResult> {
    let mut offs: Vec<i64> = (0..queues).map(|q| store.get_min_offset_in_queue("BenchTopic", q)).collect();
    let mut live: Vec<bool> = vec![true; offs.len()];
    let (mut n, mut pulls, mut bytes) = (0u64, 0u64, 0u64);
    let cpu0 = cpu_now();
    let start = Instant::now();
    while live.iter().any(|l| *l) {
        for (q, off) in offs.iter_mut().enumerate() {
            if !live[q] {
                continue;
            }
            let r = store.get_message("g", "BenchTopic", q as i32, *off, batch, None)?;
            pulls += 1;
            n += r.messages.len() as u64;
            bytes += r.buffer_total_size as u64;
            if r.next_begin_offset <= *off {
                live[q] = false;
            }
            *off = r.next_begin_offset;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cores = cores(cpu0, cpu_now(), secs);
    Ok(ScanResult {
        msgs_per_s: n as f64 / secs,
        mb_per_s: bytes as f64 / secs / 1e6,
        msgs: n,
        pulls,
        secs,
        cores,
    })
}

/// Bytes of the files in `dir` that are in the page cache (`fincore`).
fn residency(dir: &Path) -> Option<u64> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let out = std::process::Command::new("fincore")
        .args(["--bytes", "--noheadings", "--raw", "--output", "RES"])
        .args(&files)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().parse::<u64>().unwrap_or(0)).sum())
}

/// How much of the CommitLog's `written` bytes are in the page cache (the preallocated next
/// segment is counted in the files' size, not in `written`).
fn residency_note(dir: &Path, written: u64) -> String {
    match residency(&dir.join("commitlog")) {
        Some(res) => format!(
            "{:.2} GB of the {:.2} GB CommitLog in page cache ({:.0} %)",
            res as f64 / 1e9,
            written as f64 / 1e9,
            (res as f64 / written.max(1) as f64 * 100.0).min(100.0)
        ),
        None => "page cache residency unknown (no fincore)".to_string(),
    }
}

fn drop_caches() -> std::io::Result<()> {
    std::process::Command::new("sync").status()?;
    std::fs::write("/proc/sys/vm/drop_caches", "3")
}

fn backlog(a: &Args, out: &mut std::io::Stdout) -> BenchResult<()> {
    let dir = a.dir.join("backlog");
    let messages = (a.backlog_gb * 1e9 / a.size as f64) as u64;
    let writers = Writers::Bursts { writers: a.threads, burst: a.burst, spread: true };
    writeln!(
        out,
        "backlog: {messages} msgs of {} bytes, 8 queues, ASYNC_FLUSH deferred commit, {} writers x bursts of {}, {} MiB segments",
        a.size, a.threads, a.burst, a.backlog_segment_mb
    )?;
    let store =
        open_store(&dir, FlushDiskType::AsyncFlush, false, true, a.backlog_segment_mb << 20, a.warm, false)?;
    let w = measure(&store, || drive(&store, writers, messages, a.size))?;
    writeln!(
        out,
        "  write: {:.0} msgs/s, {:.1} MB/s acknowledged ({} msgs in {:.1} s); {:.0} msgs/s dispatched; p50 {:.1} us p99 {:.1} us p99.9 {:.1} us; cores {:.2} other {:.2} steal {:.2}",
        w.msgs_per_s, w.mb_per_s, w.acked, w.secs, w.dispatched_msgs_per_s, w.p50_us, w.p99_us, w.p999_us,
        w.cores.own, w.cores.other, w.cores.steal
    )?;
    let t = Instant::now();
    store.flush()?;
    writeln!(out, "  flush (fdatasync) of the backlog: {:.1} s", t.elapsed().as_secs_f64())?;
    let scans: &[&str] = if a.cold { &["warm", "cold"] } else { &["warm"] };
    for &what in scans {
        if what == "cold" {
            if let Err(e) = drop_caches() {
                writeln!(out, "  cold scan skipped: cannot drop the page cache ({e})")?;
                continue;
            }
        }
        let note = residency_note(&dir, store.max_phy_offset());
        let s = scan_round_robin(&store, 8, 32)?;
        writeln!(
            out,
            "  scan ({what}; {note}): {:.0} msgs/s, {:.1} MB/s ({} msgs, {} pulls of <= 32, {:.1} s); cores {:.2} other {:.2} steal {:.2}; vs write: {:.0} %",
            s.msgs_per_s, s.mb_per_s, s.msgs, s.pulls, s.secs, s.cores.own, s.cores.other, s.cores.steal,
            s.msgs_per_s / w.msgs_per_s * 100.0
        )?;
    }
    store.shutdown()?;
    drop(store);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn main() -> BenchResult<()> {
    let a = parse_args();
    std::fs::create_dir_all(&a.dir)?;
    let volume = a.messages * a.size as u64;
    // Best of three: the first write into memory the VM has not touched for a while is
    // several times slower (measured: 378 MB/s, then 1.7 GB/s), and the store's runs
    // that follow reuse the pages it freed; the reference must not be the cold figure.
    let (probe_cpu, probe_start) = (cpu_now(), Instant::now());
    let mut raw = 0f64;
    for _ in 0..3 {
        raw = raw.max(raw_write(&a.dir, volume)?);
    }
    let fsync_us = fsync_latency_us(&a.dir)?;
    let t = template(a.size);
    let record = stored::record_len(
        stored::MessageVersion::V1,
        t.sys_flag,
        t.body.len(),
        t.topic.len(),
        t.properties.len(),
    );
    let group_bytes = 64 * record;
    let mut out = std::io::stdout();
    write!(
        out,
        "disk: raw sequential write {raw:.0} MB/s ({} MB, write + fdatasync, best of 3), fsync p50 {fsync_us:.0} us \
         (4 KiB append)",
        volume / 1_000_000
    )?;
    // The group's own fsync (64 MiB written and 400 fsyncs each): only for the 64-writer rows.
    let mut group_us = f64::NAN;
    if a.modes.iter().any(|m| m.starts_with("sync64")) {
        let new_us = group_fsync_us(&a.dir, group_bytes, false)?;
        let warm_us = group_fsync_us(&a.dir, group_bytes, true)?;
        // The SYNC rows run with the log's own kind of space (pre-written by default).
        group_us = if a.warm.unwrap_or(true) || a.retention { warm_us } else { new_us };
        write!(
            out,
            "; a 64-writer group ({group_bytes} B): fsync p50 {new_us:.0} us into new space, {warm_us:.0} us \
             pre-written"
        )?;
    }
    if a.modes.iter().any(|m| m.ends_with("-cb")) {
        // What the `-cb` rows' hand-off costs by itself on this machine.
        write!(out, "; thread hand-off round trip (two wake-ups) p50 {:.0} us", handoff_round_trip_us()?)?;
    }
    let probe_cores = cores(probe_cpu, cpu_now(), probe_start.elapsed().as_secs_f64());
    writeln!(out, "; steal {:.2} cores", probe_cores.steal)?;
    writeln!(
        out,
        "{:<46} {:>10} {:>9} {:>9} {:>9} {:>10} {:>6} {:>6} {:>6} {:>7}",
        "mode", "msgs/s", "MB/s", "p50 us", "p99 us", "p99.9 us", "cores", "other", "steal", "cpu us"
    )?;
    // The most the hypervisor took during a measured row.
    let max_steal = std::cell::Cell::new(probe_cores.steal);
    let line = |out: &mut std::io::Stdout, name: &str, r: &RunResult| {
        writeln!(
            out,
            "{name:<46} {:>10.0} {:>9.1} {:>9.1} {:>9.1} {:>10.1} {:>6.2} {:>6.2} {:>6.2} {:>7.2}",
            r.msgs_per_s,
            r.mb_per_s,
            r.p50_us,
            r.p99_us,
            r.p999_us,
            r.cores.own,
            r.cores.other,
            r.cores.steal,
            r.cores.own / r.dispatched_msgs_per_s * 1e6
        )?;
        max_steal.set(max_steal.get().max(r.cores.steal));
        Ok::<(), std::io::Error>(())
    };
    let want = |m: &str| a.modes.iter().any(|x| x == m);
    // ASYNC figures the SYNC 1,024 rows are compared with: (name, msgs/s).
    let mut async_refs: Vec<(String, f64)> = Vec::new();
    let mut async_lines = Vec::new();
    for mode in ["async", "async-tsp", "async-deferred"] {
        if !want(mode) {
            continue;
        }
        let (name, writers, wb) = match mode {
            "async" => (format!("ASYNC_FLUSH {} writers", a.threads), Writers::Threads(a.threads), false),
            "async-tsp" => (
                format!("ASYNC_FLUSH {} writers, transientStorePoolEnable", a.threads),
                Writers::Threads(a.threads),
                true,
            ),
            _ => (
                format!("ASYNC_FLUSH {} writers, deferred commit/{}", a.threads, a.burst),
                Writers::Bursts { writers: a.threads, burst: a.burst, spread: false },
                false,
            ),
        };
        let (r, store) = run(&a, &a.dir.join(mode), FlushDiskType::AsyncFlush, writers, a.messages, wb)?;
        line(&mut out, &name, &r)?;
        if a.retention {
            // Retention deletes segments under the scan: no figure worth printing.
            writeln!(out, "  appended and dispatched: {:.0} msgs/s", r.dispatched_msgs_per_s)?;
        } else {
            let (rate, n) = scan(&store)?;
            writeln!(
                out,
                "  appended and dispatched: {:.0} msgs/s; scan through ConsumeQueue: {rate:.0} msgs/s ({n} msgs)",
                r.dispatched_msgs_per_s
            )?;
        }
        store.shutdown()?;
        drop(store);
        async_lines.push((name.clone(), r.mb_per_s / raw * 100.0));
        if !wb {
            async_refs.push((name, r.msgs_per_s));
        }
    }
    let sync_msgs = (a.messages / 4).max(1000);
    let mut sync_runs: Vec<(String, usize, Writers)> = Vec::new();
    for writers in [1usize, 64, 1024] {
        if want(&format!("sync{writers}")) {
            sync_runs.push((format!("SYNC_FLUSH {writers} writers"), writers, Writers::Threads(writers)));
        }
    }
    for writers in [64usize, 1024] {
        if want(&format!("sync{writers}-cb")) {
            sync_runs.push((
                format!("SYNC_FLUSH {writers} writers, callbacks"),
                writers,
                Writers::Callbacks(writers),
            ));
        }
        if want(&format!("sync{writers}-inline")) {
            sync_runs.push((
                format!("SYNC_FLUSH {writers} writers, re-put in callback"),
                writers,
                Writers::Inline(writers),
            ));
        }
    }
    for writers in [64usize, 1024] {
        let mode = format!("sync{writers}-async");
        if !want(&mode) {
            continue;
        }
        #[cfg(feature = "bench-async")]
        for &rt_threads in &a.rt_threads {
            sync_runs.push((
                format!(
                    "SYNC_FLUSH {writers} tasks, {rt_threads} rt thread{}",
                    if rt_threads == 1 { "" } else { "s" }
                ),
                writers,
                Writers::Tasks { tasks: writers, rt_threads },
            ));
        }
        #[cfg(not(feature = "bench-async"))]
        writeln!(out, "{mode}: skipped, build with --features bench-async")?;
    }
    for (name, writers, how) in sync_runs {
        let (r, store) =
            run(&a, &a.dir.join(format!("sync{writers}")), FlushDiskType::SyncFlush, how, sync_msgs, false)?;
        line(&mut out, &name, &r)?;
        if writers == 64 {
            let ideal = 64.0 / (fsync_us / 1e6);
            let ceiling = 64.0 / (group_us / 1e6);
            writeln!(
                out,
                "  64 / fsync latency = {ideal:.0} msgs/s; achieved {:.0} % (64 / the group's own fsync = \
                 {ceiling:.0} msgs/s: {:.0} %)",
                r.msgs_per_s / ideal * 100.0,
                r.msgs_per_s / ceiling * 100.0
            )?;
        }
        if r.fsyncs > 0 {
            // Where a round's time goes: the fsync itself, and the rest (waking, re-puts).
            let round_us = r.secs / r.fsyncs as f64 * 1e6;
            let fsync_mean_us = r.fsync_secs / r.fsyncs as f64 * 1e6;
            writeln!(
                out,
                "  group commit: {} fsyncs, {:.1} writers each, round {round_us:.0} us = fsync {fsync_mean_us:.0} us \
                 + {:.0} us other",
                r.fsyncs,
                r.released as f64 / r.fsyncs as f64,
                round_us - fsync_mean_us
            )?;
        }
        if writers == 1024 {
            for (aname, amsgs) in &async_refs {
                writeln!(out, "  vs {aname}: {:.0} %", r.msgs_per_s / amsgs * 100.0)?;
            }
        }
        store.shutdown()?;
    }
    for (name, pct) in async_lines {
        writeln!(out, "{name} vs raw write bandwidth: {pct:.0} %")?;
    }
    if max_steal.get() >= STEAL_WARN {
        writeln!(
            out,
            "warning: the hypervisor took up to {:.2} cores (steal) during the probes or a row: its other guests \
             slow this VM's disk and wake-ups too; measure again when steal is ~0",
            max_steal.get()
        )?;
    }
    if a.backlog_gb > 0.0 {
        backlog(&a, &mut out)?;
    }
    std::fs::remove_dir_all(&a.dir)?;
    Ok(())
}
