//! Test helper for the crash suite (`tests/crash.rs`): opens a store in SYNC_FLUSH mode
//! with small segments and appends messages from several threads forever, printing one
//! line per acknowledged (fsynced) message:
//! `ack <seq> <phy> <topic> <queue_id> <queue_offset> <store_timestamp>`.
//! The test SIGKILLs it at a random moment and checks every acknowledged message.
//!
//! With `raft` it runs the store as a Raft log (`enableDLegerCommitLog`): one thread
//! (`threads` is not used) appends entries of term `<first-seq>` in batches of up to 8,
//! makes them durable with `flush_entries`, commits them, and prints one line per durable
//! entry:
//! `entry <index> <term> <pos> <size> <seq> <queue_offset> <store_timestamp>`.
//!
//! With `warm` the store pre-writes its CommitLog (`warmMapedFileEnable`); with `recycle`
//! retention deletes every segment as soon as it may (no reserved time, every hour, the
//! cleaner every 5 ms), so that the writer appends into recycled segments.
//!
//! Usage: `ferromq-store-crash-writer <store-dir> <first-seq> [threads] [raft|warm|recycle]`

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ferromq_store::{FlushDiskType, MessageStore, MessageStoreConfig, PutMessage, PutMessageStatus};

/// The message for sequence number `seq`: the test rebuilds it from `seq` alone.
pub fn message_for(seq: u64) -> PutMessage {
    let topic = format!("Crash{}", seq % 3);
    let queue_id = (seq / 3 % 4) as i32;
    let len = (seq * 7919 % 1500) as usize;
    let body: Vec<u8> = (0..len).map(|i| (seq as usize + i) as u8).collect();
    let uniq = format!("UNIQ{seq}");
    let keys = format!("K{seq} k{}", seq % 10);
    PutMessage::new(topic, queue_id, body).with_properties([
        ("TAGS", "T"),
        ("KEYS", keys.as_str()),
        ("UNIQ_KEY", uniq.as_str()),
    ])
}

/// The store configuration; the crash test opens the store with the same.
pub fn config(dir: &std::path::Path, raft: bool) -> MessageStoreConfig {
    let mut cfg = MessageStoreConfig::with_root(dir);
    cfg.flush_disk_type = FlushDiskType::SyncFlush;
    cfg.mapped_file_size_commit_log = 64 * 1024;
    cfg.mapped_file_size_consume_queue = 20 * 100;
    cfg.max_hash_slot_num = 128;
    cfg.max_index_num = 1000;
    cfg.max_message_size = 16 * 1024;
    cfg.flush_interval_consume_queue_ms = 20;
    cfg.enable_dleger_commit_log = raft;
    cfg.raft_entries_per_file = 64;
    cfg
}

/// Opens the store, retrying a held lock for up to 1 s. The crash tests run side by side
/// in one process under `cargo test`: a writer the other test forks shares that process's
/// open files until its exec, a store's lock file included.
pub fn open_retrying(cfg: MessageStoreConfig) -> ferromq_store::Result<MessageStore> {
    for _ in 0..100 {
        match MessageStore::open(cfg.clone()) {
            Err(ferromq_store::StoreError::Locked(_)) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            other => return other,
        }
    }
    MessageStore::open(cfg)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(first)) = (args.get(1), args.get(2).and_then(|s| s.parse::<u64>().ok())) else {
        eprintln!("usage: ferromq-store-crash-writer <store-dir> <first-seq> [threads] [raft|warm|recycle]");
        std::process::exit(2);
    };
    let threads: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4);
    let mode = args.get(4).map_or("plain", String::as_str);
    let raft = mode == "raft";
    let mut cfg = config(std::path::Path::new(dir), raft);
    match mode {
        // Pre-writing is explicit: it is the SYNC_FLUSH default.
        "plain" | "raft" => cfg.warm_maped_file_enable = Some(false),
        "warm" => cfg.warm_maped_file_enable = Some(true),
        // Retention as fast as it can, so that segments are recycled (pre-writing is on,
        // but recycled segments are written already).
        "recycle" => {
            cfg.file_reserved_time_hours = 0;
            cfg.delete_when = (0..24).collect();
            cfg.clean_resource_interval_ms = 5;
        }
        other => {
            eprintln!("unknown mode {other:?}: expected plain, raft, warm or recycle");
            std::process::exit(2);
        }
    }
    let store = match open_retrying(cfg) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("open failed: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = store.start() {
        eprintln!("start failed: {e}");
        std::process::exit(1);
    }
    println!("ready");
    if raft {
        raft_entries(&store, first);
    }
    let next = Arc::new(AtomicU64::new(first));
    let stdout = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let mut handles = Vec::new();
    for _ in 0..threads {
        let (store, next, stdout) = (store.clone(), next.clone(), stdout.clone());
        handles.push(std::thread::spawn(move || loop {
            let seq = next.fetch_add(1, Ordering::SeqCst);
            let m = message_for(seq);
            let (topic, qid) = (m.topic.clone(), m.queue_id);
            let r = match store.put_message(m).and_then(|h| h.wait()) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("put failed: {e}");
                    std::process::exit(1);
                }
            };
            if r.status != PutMessageStatus::PutOk {
                continue;
            }
            let a = r.append;
            if let Ok(mut out) = stdout.lock() {
                let _ = writeln!(
                    out,
                    "ack {seq} {} {topic} {qid} {} {}",
                    a.wrote_offset, a.logics_offset, a.store_timestamp
                );
                let _ = out.flush();
            }
        }));
    }
    for h in handles {
        let _ = h.join();
    }
}

/// The Raft-log loop: batches of entries, each batch flushed, committed, then reported.
fn raft_entries(store: &MessageStore, term: u64) -> ! {
    let fail = |what: &str, e: ferromq_store::StoreError| -> ! {
        eprintln!("{what} failed: {e}");
        std::process::exit(1)
    };
    let mut index = match store.last_entry() {
        Ok(last) => last.map_or(1, |e| e.index + 1),
        Err(e) => fail("last_entry", e),
    };
    let mut seq = term;
    loop {
        let mut batch = Vec::new();
        for _ in 0..=(seq % 8) {
            let (e, h) = match store.append_entry(term, index, &[message_for(seq)]) {
                Ok(r) => r,
                Err(e) => fail("append_entry", e),
            };
            let a = h.append_result();
            batch.push((e, seq, a.logics_offset, a.store_timestamp));
            index += 1;
            seq += 1;
        }
        if let Err(e) = store.flush_entries() {
            fail("flush_entries", e);
        }
        if let Err(e) = store.commit_entries_to(index - 1) {
            fail("commit_entries_to", e);
        }
        let mut out = std::io::stdout().lock();
        for (e, seq, qo, ts) in batch {
            let _ = writeln!(out, "entry {} {} {} {} {seq} {qo} {ts}", e.index, e.term, e.pos, e.size);
        }
        let _ = out.flush();
    }
}
