//! Store benchmark: appends 500-byte messages from several writer threads in ASYNC_FLUSH
//! and SYNC_FLUSH (64 and 1024 writers) and reports msgs/s, MB/s and append latency
//! percentiles, beside a raw sequential write of the same volume and the fsync latency of
//! the same disk, then scans the backlog through the ConsumeQueue.
//!
//! `cargo run --release -p ferromq-store --bin store-bench -- [--dir D] [--messages N]
//! [--size BYTES] [--threads T] [--modes async,async-tsp,sync1,sync64,sync1024]`

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferromq_store::{FlushDiskType, MessageStore, MessageStoreConfig, PutMessage};

struct Args {
    dir: PathBuf,
    messages: u64,
    size: usize,
    threads: usize,
    /// Which runs: any of `async`, `sync1`, `sync64`, `sync1024` (default: all).
    modes: Vec<String>,
}

fn parse_args() -> Args {
    let mut a = Args {
        dir: std::env::temp_dir().join(format!("ferromq-store-bench-{}", std::process::id())),
        messages: 400_000,
        size: 500,
        threads: 4,
        modes: ["async", "async-tsp", "sync1", "sync64", "sync1024"].map(String::from).to_vec(),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--dir" => a.dir = PathBuf::from(v),
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
    let buf = vec![1u8; 4096];
    let mut lat = Vec::new();
    for i in 0..200u64 {
        f.write_all_at(&buf, i * 4096)?;
        let t = Instant::now();
        f.sync_data()?;
        lat.push(t.elapsed().as_micros() as u64);
    }
    std::fs::remove_file(&path)?;
    lat.sort_unstable();
    Ok(lat[lat.len() / 2] as f64)
}

/// Busy CPU time of the whole machine and of this process, in seconds.
fn cpu_now() -> (f64, f64) {
    let tick = 100.0; // USER_HZ
    let machine = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| {
            let v: Vec<f64> =
                t.lines().next()?.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
            // user nice system idle iowait irq softirq steal
            Some(v.iter().enumerate().filter(|(i, _)| *i != 3 && *i != 4 && *i < 8).map(|(_, x)| x).sum())
        })
        .unwrap_or(0.0);
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| {
            let rest = t.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
        })
        .unwrap_or(0.0);
    (machine / tick, own / tick)
}

struct RunResult {
    /// Cores used by this process and by everything else during the run (until dispatched).
    own_cores: f64,
    /// Messages per second until the last one was dispatched (consumable).
    dispatched_msgs_per_s: f64,
    other_cores: f64,
    msgs_per_s: f64,
    mb_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    p999_us: f64,
}

fn run(
    dir: &Path,
    flush: FlushDiskType,
    writers: usize,
    messages: u64,
    size: usize,
    write_buffer: bool,
) -> Result<(RunResult, Arc<MessageStore>), Box<dyn std::error::Error>> {
    let _ = std::fs::remove_dir_all(dir);
    let mut cfg = MessageStoreConfig::with_root(dir);
    cfg.flush_disk_type = flush;
    cfg.transient_store_pool_enable = write_buffer;
    cfg.mapped_file_size_commit_log = 256 << 20;
    cfg.message_index_enable = true;
    let store = Arc::new(MessageStore::open(cfg)?);
    store.start()?;
    let body = vec![b'x'; size.saturating_sub(120).max(1)];
    let template = PutMessage::new("BenchTopic", 0, body).with_properties([("TAGS", "bench")]);
    let next = Arc::new(AtomicU64::new(0));
    let cpu0 = cpu_now();
    let start = Instant::now();
    let mut handles = Vec::new();
    for w in 0..writers {
        let (store, next) = (store.clone(), next.clone());
        let mut m = template.clone();
        m.queue_id = (w % 8) as i32;
        handles.push(std::thread::Builder::new().stack_size(256 * 1024).spawn(move || {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= messages {
                    break;
                }
                let t = Instant::now();
                match store.put_message(m.clone()).and_then(|h| h.wait()) {
                    Ok(_) => lat.push(t.elapsed().as_nanos() as u64),
                    Err(e) => {
                        eprintln!("put failed: {e}");
                        break;
                    }
                }
            }
            lat
        })?);
    }
    let mut lat: Vec<u64> = Vec::new();
    for h in handles {
        lat.extend(h.join().unwrap_or_default());
    }
    let secs = start.elapsed().as_secs_f64();
    // Appended is not yet consumable: also time until the dispatcher has caught up.
    store.wait_dispatched(store.max_phy_offset(), Duration::from_secs(120));
    let dispatched_secs = start.elapsed().as_secs_f64();
    let cpu1 = cpu_now();
    let own_cores = (cpu1.1 - cpu0.1) / dispatched_secs;
    let other_cores = ((cpu1.0 - cpu0.0) - (cpu1.1 - cpu0.1)).max(0.0) / dispatched_secs;
    lat.sort_unstable();
    let bytes = store.max_phy_offset() as f64;
    Ok((
        RunResult {
            own_cores,
            other_cores,
            dispatched_msgs_per_s: lat.len() as f64 / dispatched_secs,
            msgs_per_s: lat.len() as f64 / secs,
            mb_per_s: bytes / secs / 1e6,
            p50_us: pct(&lat, 0.5),
            p99_us: pct(&lat, 0.99),
            p999_us: pct(&lat, 0.999),
        },
        store,
    ))
}

fn scan(store: &MessageStore) -> (f64, u64) {
    store.wait_dispatched(store.max_phy_offset(), Duration::from_secs(120));
    let start = Instant::now();
    let mut n = 0u64;
    for q in 0..8 {
        let mut off = store.get_min_offset_in_queue("BenchTopic", q);
        while let Ok(r) = store.get_message("g", "BenchTopic", q, off, 32, None) {
            n += r.messages.len() as u64;
            if r.next_begin_offset <= off {
                break;
            }
            off = r.next_begin_offset;
        }
    }
    (n as f64 / start.elapsed().as_secs_f64(), n)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = parse_args();
    std::fs::create_dir_all(&a.dir)?;
    let volume = a.messages * a.size as u64;
    let raw = raw_write(&a.dir, volume)?;
    let fsync_us = fsync_latency_us(&a.dir)?;
    let mut out = std::io::stdout();
    writeln!(
        out,
        "disk: raw sequential write {raw:.0} MB/s ({} MB), fsync p50 {fsync_us:.0} us",
        volume / 1_000_000
    )?;
    writeln!(
        out,
        "{:<46} {:>10} {:>9} {:>9} {:>9} {:>10} {:>6} {:>6} {:>7}",
        "mode", "msgs/s", "MB/s", "p50 us", "p99 us", "p99.9 us", "cores", "other", "cpu us"
    )?;
    let line = |out: &mut std::io::Stdout, name: &str, r: &RunResult| {
        writeln!(
            out,
            "{name:<46} {:>10.0} {:>9.1} {:>9.1} {:>9.1} {:>10.1} {:>6.2} {:>6.2} {:>7.2}",
            r.msgs_per_s,
            r.mb_per_s,
            r.p50_us,
            r.p99_us,
            r.p999_us,
            r.own_cores,
            r.other_cores,
            r.own_cores / r.dispatched_msgs_per_s * 1e6
        )
    };
    let want = |m: &str| a.modes.iter().any(|x| x == m);
    let mut asyncr = None;
    let mut async_lines = Vec::new();
    for (mode, wb) in [("async", false), ("async-tsp", true)] {
        if !want(mode) {
            continue;
        }
        let name = if wb {
            format!("ASYNC_FLUSH {} writers, transientStorePoolEnable", a.threads)
        } else {
            format!("ASYNC_FLUSH {} writers", a.threads)
        };
        let (r, store) =
            run(&a.dir.join(mode), FlushDiskType::AsyncFlush, a.threads, a.messages, a.size, wb)?;
        line(&mut out, &name, &r)?;
        let (rate, n) = scan(&store);
        writeln!(
            out,
            "  appended and dispatched: {:.0} msgs/s; scan through ConsumeQueue: {rate:.0} msgs/s ({n} msgs)",
            r.dispatched_msgs_per_s
        )?;
        store.shutdown()?;
        drop(store);
        async_lines.push((name, r.mb_per_s / raw * 100.0));
        if !wb {
            asyncr = Some(r);
        }
    }
    let sync_msgs = (a.messages / 4).max(1000);
    for writers in [1usize, 64, 1024] {
        if !want(&format!("sync{writers}")) {
            continue;
        }
        let (r, store) = run(
            &a.dir.join(format!("sync{writers}")),
            FlushDiskType::SyncFlush,
            writers,
            sync_msgs,
            a.size,
            false,
        )?;
        line(&mut out, &format!("SYNC_FLUSH {writers} writers"), &r)?;
        if writers == 64 {
            let ideal = 64.0 / (fsync_us / 1e6);
            writeln!(
                out,
                "  64 / fsync latency = {ideal:.0} msgs/s; achieved {:.0} %",
                r.msgs_per_s / ideal * 100.0
            )?;
        }
        if let (1024, Some(ar)) = (writers, &asyncr) {
            writeln!(out, "  vs ASYNC_FLUSH: {:.0} %", r.msgs_per_s / ar.msgs_per_s * 100.0)?;
        }
        store.shutdown()?;
    }
    for (name, pct) in async_lines {
        writeln!(out, "{name} vs raw write bandwidth: {pct:.0} %")?;
    }
    std::fs::remove_dir_all(&a.dir)?;
    Ok(())
}
