#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferromq_protocol::message::stored::decode_stored_ref;
use ferromq_store::{
    DiskUsage, DiskUsageProbe, FlushDiskType, ManualClock, MessageStore, MessageStoreConfig, PutMessage,
    StoreOptions,
};

pub const T0: i64 = 1_700_000_000_000;

/// CommitLog segment size of [`small_config`].
pub const SMALL_SEGMENT: u64 = 16 * 1024;

/// Small sizes so that tests roll segments and files often.
pub fn small_config(root: &Path, flush: FlushDiskType) -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root(root);
    c.mapped_file_size_commit_log = SMALL_SEGMENT;
    c.mapped_file_size_consume_queue = 20 * 50;
    c.max_hash_slot_num = 64;
    c.max_index_num = 200;
    c.max_message_size = 8 * 1024;
    c.flush_disk_type = flush;
    c.flush_interval_commit_log_ms = 20;
    c.flush_interval_consume_queue_ms = 50;
    c.clean_resource_interval_ms = 3_600_000;
    c.delete_when = vec![4];
    c
}

/// A disk probe the test sets by hand (percent used).
#[derive(Default)]
pub struct FakeDisk(pub AtomicU64);

impl FakeDisk {
    pub fn set(&self, pct: u64) {
        self.0.store(pct, Ordering::SeqCst);
    }
}

impl DiskUsageProbe for FakeDisk {
    fn usage(&self, _path: &Path) -> std::io::Result<DiskUsage> {
        // A disk far larger than anything a test reserves: the percentage set is what the
        // store sees.
        let capacity = 1u64 << 50;
        Ok(DiskUsage { used: capacity / 100 * self.0.load(Ordering::SeqCst), capacity })
    }
}

pub struct Env {
    pub clock: Arc<ManualClock>,
    pub disk: Arc<FakeDisk>,
}

impl Env {
    pub fn new() -> Env {
        Env { clock: Arc::new(ManualClock::new(T0)), disk: Arc::new(FakeDisk::default()) }
    }

    pub fn options(&self) -> StoreOptions {
        StoreOptions { clock: self.clock.clone(), disk_probe: self.disk.clone() }
    }

    pub fn open(&self, cfg: &MessageStoreConfig) -> MessageStore {
        let s = MessageStore::open_with(cfg.clone(), self.options()).unwrap();
        s.start().unwrap();
        s
    }
}

pub fn msg(topic: &str, qid: i32, body: &str, tag: &str, keys: &str) -> PutMessage {
    let uniq = format!("U-{body}");
    PutMessage::new(topic, qid, body.as_bytes().to_vec()).with_properties([
        ("TAGS", tag),
        ("KEYS", keys),
        ("UNIQ_KEY", uniq.as_str()),
    ])
}

pub fn put(store: &MessageStore, m: PutMessage) -> ferromq_store::AppendResult {
    store.put_message(m).unwrap().wait().unwrap().append
}

pub fn wait_dispatched(store: &MessageStore) {
    assert!(store.wait_dispatched(store.max_phy_offset(), Duration::from_secs(10)));
}

/// Body of a stored record.
pub fn body_of(record: &[u8]) -> String {
    let (m, _) = decode_stored_ref(record, true).unwrap();
    String::from_utf8_lossy(m.body).into_owned()
}

/// Reads every message of a queue from its min offset; returns (queue offset, body).
pub fn read_queue(store: &MessageStore, topic: &str, qid: i32) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut off = store.get_min_offset_in_queue(topic, qid);
    loop {
        let r = store.get_message("g", topic, qid, off, 32, None).unwrap();
        for m in &r.messages {
            out.push((m.queue_offset, body_of(&m.data)));
        }
        if r.next_begin_offset <= off {
            break;
        }
        off = r.next_begin_offset;
    }
    out
}

/// Checks the invariants tying the ConsumeQueues to the CommitLog: every entry from min to
/// max points at a valid record of its topic and queue with that queue offset, and
/// min <= max.
pub fn check_invariants(store: &MessageStore) {
    wait_dispatched(store);
    for (topic, qid) in store.queues() {
        let min = store.get_min_offset_in_queue(&topic, qid);
        let max = store.get_max_offset_in_queue(&topic, qid);
        assert!(min <= max, "{topic}/{qid}: min {min} > max {max}");
        let got = read_queue(store, &topic, qid);
        let offsets: Vec<i64> = got.iter().map(|(o, _)| *o).collect();
        let expect: Vec<i64> = (min..max).collect();
        assert_eq!(offsets, expect, "{topic}/{qid} offsets not contiguous");
    }
}
