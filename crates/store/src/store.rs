//! [`MessageStore`]: the composition of CommitLog, ConsumeQueues, IndexFile, checkpoint,
//! dispatcher, flushers and cleaner, with RocketMQ's `MessageStore` operations.
//!
//! Threads (started by [`MessageStore::start`], stopped by [`MessageStore::shutdown`]):
//! - `reput`: reads new CommitLog records in order, appends ConsumeQueue entries, builds
//!   the index, then calls the arrival listener (long polling);
//! - `flush-commitlog`: SYNC_FLUSH group commit, or the ASYNC_FLUSH periodic flusher;
//! - `flush-logics`: fsyncs ConsumeQueues and the index, then writes the checkpoint;
//! - `clean`: retention and the disk-space guard;
//! - `prealloc`: creates the next CommitLog segment ahead of time.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, CheckpointData};
use crate::clock::{Clock, SystemClock};
use crate::commitlog::{CommitLog, CommitLogRecovery, SegmentPrep};
use crate::config::{BrokerRole, FlushDiskType, MessageStoreConfig};
use crate::consume_queue::{ConsumeQueue, CqEntry, PutOutcome};
use crate::error::{Result, StoreError};
use crate::fasthash::FastMap;
use crate::flush::PutHandle;
use crate::index::IndexService;
use crate::record::{self, Peeked, PutMessage};
use crate::segment::Space;
use ferromq_protocol::message::stored;

/// Bytes the dispatcher reads per system call.
const REPUT_CHUNK: usize = 4 << 20;
/// Write-buffer mode (`transientStorePoolEnable`): appended bytes not yet written to the
/// page cache above which writers write the buffer out themselves (backpressure).
const WRITE_BUFFER_MAX: u64 = 8 << 20;
/// Longest the SYNC_FLUSH flusher waits for writers to gather before an fsync.
const MAX_GATHER: Duration = Duration::from_millis(2);
/// `get_message` reads picked records with one `pread` when the bytes between them are at
/// most READ_GAP_MAX and the read at most READ_SPAN_MAX.
const READ_GAP_MAX: u64 = 16 << 10;
const READ_SPAN_MAX: u64 = 64 << 10;
/// Upper bound on messages returned by one `query_message` (RocketMQ's maxMsgsNumBatch).
const QUERY_MAX: usize = 64;

/// How CommitLog segments are prepared: reserved (fallocate) unless this is a SYNC_FLUSH
/// log that is not pre-written (see `Space`), pre-written when configured.
fn segment_prep(config: &MessageStoreConfig) -> SegmentPrep {
    let warm = config.warm_commit_log();
    let space = if config.flush_disk_type == FlushDiskType::SyncFlush && !warm {
        Space::Sparse
    } else {
        Space::Reserved
    };
    SegmentPrep { space, warm }
}

type QueueMap = FastMap<String, FastMap<i32, Arc<ConsumeQueue>>>;

/// How full the disk holding the store is. The default uses `statvfs`; tests plug in
/// their own to simulate a filling disk.
pub trait DiskUsageProbe: Send + Sync + 'static {
    /// Used fraction, 0.0..=1.0, of the filesystem holding `path`.
    fn used_ratio(&self, path: &Path) -> std::io::Result<f64>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct StatvfsProbe;

impl DiskUsageProbe for StatvfsProbe {
    fn used_ratio(&self, path: &Path) -> std::io::Result<f64> {
        crate::sys::disk_used_ratio(path)
    }
}

/// Called by the dispatcher for every message it makes visible in a ConsumeQueue (the
/// broker's long-polling service wakes waiting pulls from here). Must be quick.
pub trait MessageArrivingListener: Send + Sync + 'static {
    /// `max_offset` is the queue's new max offset (one past the arrived message).
    fn arriving(&self, topic: &str, queue_id: i32, max_offset: i64, tags_code: i64, store_timestamp: i64);
}

impl<F> MessageArrivingListener for F
where
    F: Fn(&str, i32, i64, i64, i64) + Send + Sync + 'static,
{
    fn arriving(&self, topic: &str, queue_id: i32, max_offset: i64, tags_code: i64, store_timestamp: i64) {
        self(topic, queue_id, max_offset, tags_code, store_timestamp)
    }
}

/// A consumer's filter, consulted first with the ConsumeQueue tag code, then (if it says
/// so) with the stored record.
pub trait MessageFilter {
    fn is_matched_by_consume_queue(&self, tags_code: i64) -> bool;
    fn is_matched_by_commit_log(&self, _record: &[u8]) -> bool {
        true
    }
}

/// RocketMQ's `GetMessageStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetMessageStatus {
    Found,
    NoMatchedMessage,
    MessageWasRemoving,
    OffsetFoundNull,
    OffsetOverflowBadly,
    OffsetOverflowOne,
    OffsetTooSmall,
    NoMatchedLogicQueue,
    NoMessageInQueue,
}

/// One stored record (RocketMQ's record bytes, as a pull response body carries them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedMessage {
    pub phy_offset: u64,
    pub queue_offset: i64,
    pub tags_code: i64,
    pub data: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetMessageResult {
    pub status: GetMessageStatus,
    pub next_begin_offset: i64,
    pub min_offset: i64,
    pub max_offset: i64,
    pub messages: Vec<SelectedMessage>,
    pub buffer_total_size: usize,
    /// The consumer reads data no longer in memory: a slave could serve it.
    pub suggest_pull_from_slave: bool,
    /// Records skipped because they failed validation (bad CRC): never served.
    pub corrupt_skipped: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryMessageResult {
    pub messages: Vec<SelectedMessage>,
    pub index_last_update_timestamp: i64,
    pub index_last_update_phyoffset: u64,
}

/// What `open` found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The previous run did not shut down cleanly (the `abort` file was present).
    pub abnormal: bool,
    pub checkpoint_found: bool,
    pub commit_log: CommitLogRecovery,
    /// CommitLog offset the dispatcher replayed from.
    pub dispatched_from: u64,
    /// ConsumeQueues and index were rebuilt from scratch (missing or damaged files).
    pub full_rebuild: bool,
}

/// Queue set with min/max offsets, written after each logics flush; a queue missing or
/// shorter at start-up than recorded here means ConsumeQueue files were lost.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct Manifest {
    queues: HashMap<String, HashMap<i32, (i64, i64)>>,
}

/// How long the dispatcher gathers arrivals after being woken from idle. Adds at most this
/// much to the time until a consumer can see a message.
const REPUT_COALESCE: Duration = Duration::from_micros(100);

#[derive(Default)]
struct Signal {
    flag: Mutex<bool>,
    cond: Condvar,
    pending: AtomicBool,
}

impl Signal {
    /// Wakes the waiter; cheap when it is already awake and has work pending.
    fn notify(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            let mut f = self.flag.lock();
            *f = true;
            self.cond.notify_one();
        }
    }

    /// Waits for a notification or `timeout`; clears the pending mark. Returns whether it
    /// had to sleep (the waiter was idle until a notification or the timeout).
    fn wait(&self, timeout: Duration) -> bool {
        let mut f = self.flag.lock();
        let slept = !*f;
        if slept {
            self.cond.wait_for(&mut f, timeout);
        }
        *f = false;
        self.pending.store(false, Ordering::Release);
        slept
    }

    fn wake_all(&self) {
        let mut f = self.flag.lock();
        *f = true;
        self.cond.notify_all();
    }
}

struct Inner {
    config: MessageStoreConfig,
    clock: Arc<dyn Clock>,
    probe: Arc<dyn DiskUsageProbe>,
    commitlog: CommitLog,
    cqs: RwLock<QueueMap>,
    index: Option<IndexService>,
    checkpoint: Mutex<Checkpoint>,
    manifest_written: Mutex<Option<Manifest>>,
    /// Every record below this CommitLog offset is in the ConsumeQueues and index.
    dispatched: AtomicU64,
    /// The dispatcher does not go past this (HA confirm offset / Raft committed index).
    dispatch_limit: AtomicU64,
    reput_lock: Mutex<()>,
    listener: RwLock<Option<Arc<dyn MessageArrivingListener>>>,
    stopping: AtomicBool,
    shut_down: AtomicBool,
    reput_signal: Signal,
    flush_signal: Signal,
    stop_signal: Signal,
    disk_full: AtomicBool,
    disk_used_percent: AtomicU32,
    corrupt_skipped: AtomicU64,
    memory_bytes: u64,
    recovery: RecoveryReport,
}

/// The message store. Open it, `start` it, use it from any thread, `shutdown` it.
pub struct MessageStore {
    inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Held (flock) while open so that two processes never share a store directory.
    lock: Mutex<Option<File>>,
}

/// Options beyond the configuration: the clock and the disk-usage probe.
#[derive(Clone)]
pub struct StoreOptions {
    pub clock: Arc<dyn Clock>,
    pub disk_probe: Arc<dyn DiskUsageProbe>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { clock: Arc::new(SystemClock), disk_probe: Arc::new(StatvfsProbe) }
    }
}

fn total_memory_bytes() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(8 << 30, |kb| kb * 1024)
}

impl MessageStore {
    /// Opens the store with the system clock and disk probe; see [`MessageStore::open_with`].
    pub fn open(config: MessageStoreConfig) -> Result<MessageStore> {
        Self::open_with(config, StoreOptions::default())
    }

    /// Opens (creating) the store and recovers it: CommitLog tail validated and
    /// truncated, ConsumeQueues and index trimmed, rebuilt or replayed to match. Writes
    /// the `abort` marker, removed again by a clean [`MessageStore::shutdown`].
    pub fn open_with(config: MessageStoreConfig, options: StoreOptions) -> Result<MessageStore> {
        config.validate()?;
        let root = config.root().to_path_buf();
        std::fs::create_dir_all(&root).map_err(|e| StoreError::io(&root, e))?;
        let lock_path = config.lock_path();
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| StoreError::io(&lock_path, e))?;
        if lock.try_lock().is_err() {
            return Err(StoreError::Locked(root));
        }
        let abnormal = config.abort_path().exists();
        let (checkpoint, cp) = Checkpoint::open(&config.checkpoint_path())?;
        let mut report = RecoveryReport { abnormal, checkpoint_found: cp.is_some(), ..Default::default() };
        if abnormal {
            tracing::warn!(root = %root.display(), "previous run did not shut down cleanly; recovering");
        }
        let (commitlog, cl_report) = CommitLog::open(
            &config.commit_log_dir(),
            config.mapped_file_size_commit_log,
            cp.map(|c| c.commit_log_flushed),
            config.check_crc_on_recover,
            config.max_message_size,
            segment_prep(&config),
        )?;
        report.commit_log = cl_report;
        let cl_min = commitlog.min_offset();
        let cl_end = commitlog.written();

        // ConsumeQueues: load, trim to the CommitLog end, check against the manifest.
        let cq_root = config.consume_queue_dir();
        let (cqs, mut rebuild) = load_consume_queues(&config, &cq_root, cl_min, cl_end)?;
        let manifest = read_manifest(&config.cq_manifest_path());
        for (topic, queues) in &manifest.queues {
            for (qid, (_, max)) in queues {
                let have = cqs.get(topic).and_then(|q| q.get(qid)).map(|c| c.max_offset());
                if *max > 0 && have.is_none_or(|h| h < *max) && cl_end > cl_min {
                    tracing::warn!(topic, qid, "ConsumeQueue files missing; rebuilding from the CommitLog");
                    rebuild = true;
                }
            }
        }
        let index_load = if config.message_index_enable {
            Some(IndexService::load(
                &config.index_dir(),
                config.max_hash_slot_num,
                config.max_index_num,
                abnormal,
                cl_min,
            )?)
        } else {
            None
        };
        let mut dispatch_from = match cp {
            Some(c) => c.consume_queue_dispatched.min(c.index_dispatched),
            None => cl_min,
        };
        if let Some(from) = index_load.as_ref().and_then(|l| l.rebuild_from) {
            dispatch_from = dispatch_from.min(from);
        }
        let index = index_load.map(|l| l.service);
        let inner = Arc::new(Inner {
            memory_bytes: total_memory_bytes(),
            clock: options.clock,
            probe: options.disk_probe,
            commitlog,
            cqs: RwLock::new(cqs),
            index,
            checkpoint: Mutex::new(checkpoint),
            manifest_written: Mutex::new(None),
            dispatched: AtomicU64::new(0),
            dispatch_limit: AtomicU64::new(u64::MAX),
            reput_lock: Mutex::new(()),
            listener: RwLock::new(None),
            stopping: AtomicBool::new(false),
            shut_down: AtomicBool::new(false),
            reput_signal: Signal::default(),
            flush_signal: Signal::default(),
            stop_signal: Signal::default(),
            disk_full: AtomicBool::new(false),
            disk_used_percent: AtomicU32::new(0),
            corrupt_skipped: AtomicU64::new(0),
            recovery: RecoveryReport::default(),
            config,
        });
        let inner_ref = &inner;
        if rebuild {
            inner_ref.destroy_logics()?;
            dispatch_from = cl_min;
        }
        dispatch_from = dispatch_from.clamp(cl_min, cl_end);
        inner_ref.dispatched.store(dispatch_from, Ordering::SeqCst);
        report.dispatched_from = dispatch_from;
        let gaps = inner_ref.reput_until(cl_end)?;
        if gaps > 0 && !rebuild {
            tracing::warn!(gaps, "ConsumeQueue gaps found while replaying; rebuilding from the CommitLog");
            rebuild = true;
            inner_ref.destroy_logics()?;
            inner_ref.dispatched.store(cl_min, Ordering::SeqCst);
            report.dispatched_from = cl_min;
            inner_ref.reput_until(cl_end)?;
        }
        report.full_rebuild = rebuild;
        inner_ref.recover_queue_table();
        // Make what recovery built durable, then mark the store as running.
        inner_ref.flush_logics()?;
        File::create(inner_ref.config.abort_path())
            .and_then(|f| f.sync_all())
            .map_err(|e| StoreError::io(inner_ref.config.abort_path(), e))?;
        crate::segment::sync_dir(&root)?;
        let mut inner = inner;
        if let Some(i) = Arc::get_mut(&mut inner) {
            i.recovery = report;
        }
        Ok(MessageStore { inner, threads: Mutex::new(Vec::new()), lock: Mutex::new(Some(lock)) })
    }

    /// Starts the background threads (idempotent).
    pub fn start(&self) -> Result<()> {
        let mut threads = self.threads.lock();
        if !threads.is_empty() {
            return Ok(());
        }
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(format!("ferromq-store-{name}"))
                .spawn(f)
                .map_err(|e| StoreError::io(PathBuf::from(name), e))
        };
        let i = self.inner.clone();
        threads.push(spawn("prealloc", Box::new(move || i.commitlog.prealloc_loop()))?);
        self.inner.commitlog.request_prealloc();
        let i = self.inner.clone();
        threads.push(spawn("reput", Box::new(move || i.reput_loop()))?);
        let i = self.inner.clone();
        threads.push(spawn("flush-commitlog", Box::new(move || i.flush_commitlog_loop()))?);
        let i = self.inner.clone();
        threads.push(spawn("flush-logics", Box::new(move || i.flush_logics_loop()))?);
        let i = self.inner.clone();
        threads.push(spawn("clean", Box::new(move || i.clean_loop()))?);
        Ok(())
    }

    /// Tells every store thread to stop, wakes them and waits for them.
    fn stop_threads(&self) {
        let inner = &self.inner;
        inner.stopping.store(true, Ordering::SeqCst);
        inner.commitlog.stop_prealloc();
        inner.reput_signal.wake_all();
        inner.flush_signal.wake_all();
        inner.stop_signal.wake_all();
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
    }

    /// Stops the threads, flushes everything, writes the checkpoint and removes the
    /// `abort` marker (kept if the store is poisoned, so the next start recovers).
    pub fn shutdown(&self) -> Result<()> {
        let inner = &self.inner;
        if inner.shut_down.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.stop_threads();
        let mut result = Ok(());
        if !inner.commitlog.is_poisoned() {
            result = inner.commitlog.flush().map(|_| ());
        }
        let end = inner.commitlog.written();
        if let Err(e) = inner.reput_until(end) {
            tracing::error!(error = %e, "final dispatch failed");
        }
        let logics = inner.flush_logics();
        inner.commitlog.watch.shutdown();
        if result.is_ok() && logics.is_ok() && !inner.commitlog.is_poisoned() {
            let abort = inner.config.abort_path();
            std::fs::remove_file(&abort).map_err(|e| StoreError::io(&abort, e))?;
            crate::segment::sync_dir(inner.config.root())?;
        }
        self.lock.lock().take();
        result.and(logics)
    }

    /// Stops the threads and releases the directory lock *without* flushing, dispatching
    /// or writing the checkpoint, and leaves the `abort` marker: what a SIGKILL leaves
    /// behind (bytes already written stay in the page cache). For tests.
    #[doc(hidden)]
    pub fn simulate_crash(self) {
        let inner = &self.inner;
        inner.shut_down.store(true, Ordering::SeqCst);
        self.stop_threads();
        inner.commitlog.watch.shutdown();
        self.lock.lock().take();
    }

    pub fn config(&self) -> &MessageStoreConfig {
        &self.inner.config
    }

    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.recovery
    }

    /// Registers the arrival listener (replacing any previous one).
    pub fn set_message_arriving_listener(&self, listener: Arc<dyn MessageArrivingListener>) {
        *self.inner.listener.write() = Some(listener);
    }

    // ---- writes ---------------------------------------------------------------------

    /// Appends one message. The returned handle resolves when it is as durable as
    /// `flushDiskType` promises (SYNC_FLUSH: fsynced, unless the message says `WAIT=false`).
    pub fn put_message(&self, msg: PutMessage) -> Result<PutHandle> {
        self.put_messages(std::slice::from_ref(&msg))
    }

    /// Appends a batch (one topic and queue) contiguously, with consecutive queue offsets.
    pub fn put_messages(&self, msgs: &[PutMessage]) -> Result<PutHandle> {
        let inner = &self.inner;
        inner.check_writable()?;
        if inner.config.broker_role == BrokerRole::Slave {
            return Err(StoreError::NotWritable("the store is a slave"));
        }
        let now = inner.clock.now_ms();
        let res = inner.commitlog.append(msgs, now, inner.config.max_message_size)?;
        match inner.config.flush_disk_type {
            FlushDiskType::AsyncFlush => {
                let buffered = inner.config.transient_store_pool_enable || inner.config.deferred_commit;
                if !buffered || inner.commitlog.uncommitted_bytes() > WRITE_BUFFER_MAX {
                    // Acknowledged means in the page cache (survives a process crash);
                    // in write-buffer mode, a full buffer makes writers write it out.
                    inner.commitlog.commit_to(res.end_offset())?;
                }
                inner.reput_signal.notify();
                Ok(PutHandle::ready(res))
            }
            FlushDiskType::SyncFlush => {
                let wait = msgs
                    .first()
                    .and_then(|m| record::property(&m.properties, "WAIT"))
                    .is_none_or(|w| w != "false");
                if wait {
                    // The flusher writes this record with everything else pending (one
                    // pwrite), fsyncs, and only then is the handle resolved.
                    inner.flush_signal.notify();
                    Ok(PutHandle::waiting(
                        res,
                        inner.commitlog.watch.clone(),
                        Duration::from_millis(inner.config.sync_flush_timeout_ms),
                    ))
                } else {
                    inner.commitlog.commit_to(res.end_offset())?;
                    inner.reput_signal.notify();
                    inner.flush_signal.notify();
                    Ok(PutHandle::ready(res))
                }
            }
        }
    }

    /// Writes every appended byte still in the write buffer to the page cache (one `pwrite`
    /// per segment touched); returns the written end. With `deferred_commit`, call this
    /// before acknowledging ASYNC_FLUSH puts.
    pub fn commit(&self) -> Result<u64> {
        let end = self.inner.commitlog.commit_all()?;
        self.inner.reput_signal.notify();
        Ok(end)
    }

    /// Flushes the CommitLog now (commit + fsync); returns the flushed offset.
    pub fn flush(&self) -> Result<u64> {
        self.inner.commitlog.flush()
    }

    // ---- reads ----------------------------------------------------------------------

    /// RocketMQ's `getMessage`: up to `max_msgs` messages of a queue from `offset`.
    pub fn get_message(
        &self,
        _group: &str,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_msgs: usize,
        filter: Option<&dyn MessageFilter>,
    ) -> Result<GetMessageResult> {
        self.inner.get_message(topic, queue_id, offset, max_msgs, filter)
    }

    pub fn get_max_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner.find_cq(topic, queue_id).map_or(0, |c| c.max_offset())
    }

    pub fn get_min_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner.find_cq(topic, queue_id).map_or(0, |c| c.min_offset())
    }

    /// CommitLog offset of the message at `offset` in the queue.
    pub fn get_commit_log_offset_in_queue(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
    ) -> Result<Option<u64>> {
        Ok(match self.inner.find_cq(topic, queue_id) {
            Some(cq) => cq.get(offset)?.map(|e| e.phy_offset),
            None => None,
        })
    }

    /// The first queue offset whose message was stored at or after `timestamp_ms` (the
    /// max offset if none; the min offset if all are later).
    pub fn get_offset_in_queue_by_time(&self, topic: &str, queue_id: i32, timestamp_ms: i64) -> Result<i64> {
        self.inner.offset_by_time(topic, queue_id, timestamp_ms)
    }

    pub fn get_message_store_timestamp(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
    ) -> Result<Option<i64>> {
        let Some(cq) = self.inner.find_cq(topic, queue_id) else {
            return Ok(None);
        };
        match cq.get(offset)? {
            Some(e) => self.inner.store_timestamp_at(e.phy_offset),
            None => Ok(None),
        }
    }

    /// Store time of the oldest message in the CommitLog.
    pub fn get_earliest_message_time(&self) -> Result<Option<i64>> {
        let cl = &self.inner.commitlog;
        let min = cl.min_offset();
        if min >= cl.appended() {
            return Ok(None);
        }
        self.inner.store_timestamp_at(min)
    }

    /// The validated record at a CommitLog offset (`None` if there is none there).
    pub fn look_message_by_offset(&self, phy_offset: u64) -> Result<Option<Bytes>> {
        let cl = &self.inner.commitlog;
        if phy_offset < cl.min_offset() || phy_offset >= cl.appended() {
            return Ok(None);
        }
        let data = cl.read_record(phy_offset)?;
        match record::peek(&data, phy_offset, true) {
            Peeked::Message { crc_ok: true, .. } => Ok(Some(data)),
            Peeked::Message { crc_ok: false, .. } => Err(StoreError::Corrupt {
                what: "CommitLog".into(),
                offset: phy_offset,
                detail: "body CRC mismatch".into(),
            }),
            _ => Ok(None),
        }
    }

    /// Messages of `topic` carrying `key` (a `KEYS` entry or the `UNIQ_KEY`) stored in
    /// `[begin_ms, end_ms]`, newest first, at most `max` (capped at 64).
    pub fn query_message(
        &self,
        topic: &str,
        key: &str,
        max: usize,
        begin_ms: i64,
        end_ms: i64,
    ) -> Result<QueryMessageResult> {
        let Some(index) = &self.inner.index else {
            return Ok(QueryMessageResult::default());
        };
        let max = max.clamp(1, QUERY_MAX);
        let (offsets, ts, phy) = index.query(topic, key, max * 2, begin_ms, end_ms)?;
        let mut out = QueryMessageResult {
            messages: Vec::new(),
            index_last_update_timestamp: ts,
            index_last_update_phyoffset: phy,
        };
        let mut seen = std::collections::HashSet::new();
        for off in offsets {
            if out.messages.len() >= max || !seen.insert(off) {
                continue;
            }
            let Ok(Some(data)) = self.look_message_by_offset(off) else {
                continue;
            };
            if let Peeked::Message { msg, .. } = record::peek(&data, off, false) {
                if msg.topic == topic && record::has_key(&msg, key) {
                    out.messages.push(SelectedMessage {
                        phy_offset: off,
                        queue_offset: msg.queue_offset,
                        tags_code: msg.tags_code(),
                        data: data.clone(),
                    });
                }
            }
        }
        Ok(out)
    }

    // ---- offsets and state ------------------------------------------------------------

    /// End of the readable CommitLog (RocketMQ's `getMaxPhyOffset`): every appended
    /// record, including those still in the write buffer (a read writes them out first).
    pub fn max_phy_offset(&self) -> u64 {
        self.inner.commitlog.appended()
    }

    pub fn min_phy_offset(&self) -> u64 {
        self.inner.commitlog.min_offset()
    }

    pub fn flushed_phy_offset(&self) -> u64 {
        self.inner.commitlog.flushed()
    }

    /// Everything below this CommitLog offset is in the ConsumeQueues and index.
    pub fn dispatched_phy_offset(&self) -> u64 {
        self.inner.dispatched.load(Ordering::Acquire)
    }

    pub fn dispatch_behind_bytes(&self) -> u64 {
        self.max_phy_offset().saturating_sub(self.dispatched_phy_offset())
    }

    /// Blocks until the dispatcher has reached `phy_offset` or `timeout` passes.
    pub fn wait_dispatched(&self, phy_offset: u64, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while self.dispatched_phy_offset() < phy_offset {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            self.inner.reput_signal.notify();
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// Next queue offset that will be assigned (RocketMQ's topicQueueTable).
    pub fn queue_offset_to_assign(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner.commitlog.queue_table_offset(topic, queue_id)
    }

    pub fn is_poisoned(&self) -> bool {
        self.inner.commitlog.is_poisoned()
    }

    pub fn is_disk_full(&self) -> bool {
        self.inner.disk_full.load(Ordering::Acquire)
    }

    /// Disk use seen by the last check, in percent.
    pub fn disk_used_percent(&self) -> u32 {
        self.inner.disk_used_percent.load(Ordering::Acquire)
    }

    /// Records skipped by reads because they failed validation.
    pub fn corrupt_records_skipped(&self) -> u64 {
        self.inner.corrupt_skipped.load(Ordering::Relaxed)
    }

    /// The topics and queue ids with a ConsumeQueue.
    pub fn queues(&self) -> Vec<(String, i32)> {
        let cqs = self.inner.cqs.read();
        let mut v: Vec<(String, i32)> =
            cqs.iter().flat_map(|(t, q)| q.keys().map(move |id| (t.clone(), *id))).collect();
        v.sort();
        v
    }

    /// Deletes the ConsumeQueues of `topics` (their CommitLog data ages out normally).
    pub fn delete_topics(&self, topics: &[&str]) -> Result<()> {
        let _r = self.inner.reput_lock.lock();
        for t in topics {
            let removed = self.inner.cqs.write().remove(*t);
            if let Some(queues) = removed {
                for cq in queues.values() {
                    cq.destroy()?;
                }
            }
            let _ = std::fs::remove_dir(self.inner.config.consume_queue_dir().join(t));
            self.inner.commitlog.remove_topic(t);
        }
        self.inner.write_manifest(true)
    }

    // ---- retention ----------------------------------------------------------------------

    /// Runs one cleaner round now (disk check, then deletion if it is `deleteWhen`, the
    /// disk is past `diskMaxUsedSpaceRatio`, or `force`). Returns segments deleted.
    pub fn clean_expired_files(&self, force: bool) -> Result<usize> {
        self.inner.clean_round(force)
    }

    // ---- replication hooks ---------------------------------------------------------------

    /// Up to `max_bytes` of committed CommitLog bytes from `offset`, within one segment
    /// (the master side of HA; RocketMQ's `getCommitLogData`).
    pub fn get_commit_log_data(&self, offset: u64, max_bytes: usize) -> Result<Option<Bytes>> {
        self.inner.commitlog.read_committed(offset, max_bytes)
    }

    /// Appends raw CommitLog bytes at `offset`, which must be the current end (the slave
    /// side of HA; RocketMQ's `appendToCommitLog`). Returns the new end.
    pub fn append_to_commit_log(&self, offset: u64, data: &[u8]) -> Result<u64> {
        self.inner.check_writable()?;
        let end = self.inner.commitlog.append_raw(offset, data)?;
        self.inner.reput_signal.notify();
        if self.inner.config.flush_disk_type == FlushDiskType::SyncFlush {
            self.inner.flush_signal.notify();
        }
        Ok(end)
    }

    /// Cuts the CommitLog back to `offset` (a record boundary) and trims ConsumeQueues
    /// to match: a diverged slave, or a Raft follower dropping an uncommitted suffix.
    pub fn truncate_files(&self, offset: u64) -> Result<()> {
        let inner = &self.inner;
        let _r = inner.reput_lock.lock();
        inner.commitlog.truncate_to(offset)?;
        for cq in inner.all_cqs() {
            cq.trim_to_phy(offset)?;
        }
        if inner.dispatched.load(Ordering::Acquire) > offset {
            inner.dispatched.store(offset, Ordering::Release);
        }
        inner.recover_queue_table();
        Ok(())
    }

    /// Limits dispatch (visibility to consumers) to CommitLog bytes below `offset`: the
    /// committed index of a Raft log, or the offset confirmed by replication.
    /// `u64::MAX` removes the limit.
    pub fn set_confirm_offset(&self, offset: u64) {
        self.inner.dispatch_limit.store(offset, Ordering::Release);
        self.inner.reput_signal.notify();
    }

    pub fn confirm_offset(&self) -> u64 {
        self.inner.dispatch_limit.load(Ordering::Acquire)
    }

    /// Recomputes the next queue offsets from the ConsumeQueues (after a slave becomes
    /// master, once dispatch has caught up).
    pub fn recover_topic_queue_table(&self) {
        self.inner.recover_queue_table();
    }
}

impl Drop for MessageStore {
    fn drop(&mut self) {
        if !self.inner.shut_down.load(Ordering::SeqCst) {
            if let Err(e) = self.shutdown() {
                tracing::error!(error = %e, "store shutdown on drop failed");
            }
        }
    }
}

fn load_consume_queues(
    config: &MessageStoreConfig,
    root: &Path,
    cl_min: u64,
    cl_end: u64,
) -> Result<(QueueMap, bool)> {
    std::fs::create_dir_all(root).map_err(|e| StoreError::io(root, e))?;
    let mut out: QueueMap = QueueMap::default();
    let mut damaged = false;
    for topic_entry in std::fs::read_dir(root).map_err(|e| StoreError::io(root, e))? {
        let topic_entry = topic_entry.map_err(|e| StoreError::io(root, e))?;
        let Some(topic) = topic_entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if record::validate_topic(&topic).is_err() || !topic_entry.path().is_dir() {
            continue;
        }
        let tdir = topic_entry.path();
        for q in std::fs::read_dir(&tdir).map_err(|e| StoreError::io(&tdir, e))? {
            let q = q.map_err(|e| StoreError::io(&tdir, e))?;
            let Some(qid) = q.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            match ConsumeQueue::load(root, &topic, qid, config.cq_file_size(), cl_min, cl_end)? {
                Some(cq) => {
                    out.entry(topic.clone()).or_default().insert(qid, Arc::new(cq));
                }
                None => damaged = true,
            }
        }
    }
    Ok((out, damaged))
}

fn read_manifest(path: &Path) -> Manifest {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "unreadable ConsumeQueue manifest; ignoring it");
            Manifest::default()
        }),
        Err(_) => Manifest::default(),
    }
}

enum Batch {
    Full,
    Ok,
}

impl Inner {
    fn check_writable(&self) -> Result<()> {
        if self.stopping.load(Ordering::Acquire) {
            return Err(StoreError::Shutdown);
        }
        self.commitlog.check_writable()?;
        if self.disk_full.load(Ordering::Acquire) {
            return Err(StoreError::DiskFull {
                used_percent: self.disk_used_percent.load(Ordering::Acquire),
                limit_percent: self.config.disk_space_warning_level_ratio,
            });
        }
        Ok(())
    }

    fn find_cq(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        self.cqs.read().get(topic).and_then(|q| q.get(&queue_id)).cloned()
    }

    fn find_or_create_cq(&self, topic: &str, queue_id: i32) -> Result<Arc<ConsumeQueue>> {
        if let Some(cq) = self.find_cq(topic, queue_id) {
            return Ok(cq);
        }
        let mut cqs = self.cqs.write();
        let queues = cqs.entry(topic.to_string()).or_default();
        if let Some(cq) = queues.get(&queue_id) {
            return Ok(cq.clone());
        }
        let cq = Arc::new(ConsumeQueue::create(
            &self.config.consume_queue_dir(),
            topic,
            queue_id,
            self.config.cq_file_size(),
        )?);
        queues.insert(queue_id, cq.clone());
        Ok(cq)
    }

    fn all_cqs(&self) -> Vec<Arc<ConsumeQueue>> {
        self.cqs.read().values().flat_map(|q| q.values().cloned()).collect()
    }

    fn destroy_logics(&self) -> Result<()> {
        for cq in self.all_cqs() {
            cq.destroy()?;
        }
        self.cqs.write().clear();
        if let Some(index) = &self.index {
            index.destroy_all()?;
        }
        Ok(())
    }

    fn recover_queue_table(&self) {
        let mut table = crate::commitlog::QueueTable::default();
        for cq in self.all_cqs() {
            table.entry(cq.topic().to_string()).or_default().insert(cq.queue_id(), cq.max_offset());
        }
        self.commitlog.set_queue_table(table);
    }

    // ---- dispatcher ----------------------------------------------------------------

    fn reput_loop(&self) {
        // In write-buffer mode (transientStorePoolEnable) the dispatcher is also the
        // committer: it writes the pending buffer to the page cache in large chunks, then
        // dispatches from there. With `deferred_commit` the caller commits (the broker, once
        // per read burst, before acknowledging): a dispatcher committing too only makes
        // the two contend for the commit lock (measured: ~10 % less broker throughput).
        let commits = self.config.transient_store_pool_enable;
        while !self.stopping.load(Ordering::Acquire) {
            // Also here, so that SYNC_FLUSH callbacks time out while an fsync hangs.
            self.commitlog.watch.expire_callbacks(std::time::Instant::now());
            let limit = self.dispatch_limit.load(Ordering::Acquire);
            if commits && self.commitlog.uncommitted_bytes() > 0 {
                if let Err(e) = self.commitlog.commit_all() {
                    tracing::error!(error = %e, "CommitLog commit failed");
                    self.stop_signal.wait(Duration::from_millis(100));
                    continue;
                }
            }
            let target = self.commitlog.written().min(limit);
            if let Err(e) = self.reput_until(target) {
                tracing::error!(error = %e, "dispatch failed; retrying");
                self.stop_signal.wait(Duration::from_millis(100));
            }
            let idle = self.dispatched.load(Ordering::Acquire) >= self.commitlog.written().min(limit)
                && (!commits || self.commitlog.uncommitted_bytes() == 0);
            if idle && self.reput_signal.wait(Duration::from_millis(50)) {
                // Woken from idle by a put: let a few more arrive before dispatching, so a
                // steady stream costs one wake-up per batch rather than one futex round trip
                // per message (RocketMQ's dispatcher simply polls every millisecond). Puts
                // during this window find the signal pending and make no system call.
                std::thread::sleep(REPUT_COALESCE);
            }
        }
    }

    /// Dispatches records up to `target`; returns how many ConsumeQueue gaps it met.
    fn reput_until(&self, target: u64) -> Result<u64> {
        let _r = self.reput_lock.lock();
        // `target` may have been read before a truncation (which holds the reput lock):
        // never read past what is written now.
        let target = target.min(self.commitlog.written());
        let mut gaps = 0;
        let mut from = self.dispatched.load(Ordering::Acquire);
        let mut window = REPUT_CHUNK;
        let mut buf: Vec<u8> = Vec::new();
        while from < target {
            let cl_min = self.commitlog.min_offset();
            if from < cl_min {
                from = cl_min;
                continue;
            }
            let Some(seg) = self.commitlog.segment_for(from) else {
                break;
            };
            let end = target.min(seg.end());
            let len = ((end - from) as usize).min(window);
            // One buffer per call, reused chunk after chunk (zeroed only where it grows).
            buf.resize(len, 0);
            seg.read_at(from - seg.start(), &mut buf)?;
            // The index's "now", once per chunk rather than a clock read per message.
            let now_ms = self.clock.now_ms();
            let mut off = 0usize;
            let mut notes: Vec<(Arc<ConsumeQueue>, i64, i64, i64)> = Vec::new();
            let mut touched: Vec<Arc<ConsumeQueue>> = Vec::new();
            let mut next_from;
            let mut bigger_window = None;
            loop {
                let rest = buf.get(off..).unwrap_or_default();
                let pos = from + off as u64;
                next_from = pos;
                if rest.len() < record::END_FILE_MIN_BLANK_LENGTH {
                    break;
                }
                match record::peek(rest, pos, false) {
                    Peeked::Message { msg, size, .. } => {
                        if record::takes_queue_offset(msg.sys_flag) {
                            let cq = self.find_or_create_cq(msg.topic, msg.queue_id)?;
                            let tags_code = record::tags_code(&msg);
                            let entry = CqEntry { phy_offset: pos, size: size as u32, tags_code };
                            if let PutOutcome::Gap { expected } = cq.put(msg.queue_offset, entry)? {
                                tracing::warn!(
                                    topic = msg.topic,
                                    queue_id = msg.queue_id,
                                    expected,
                                    got = msg.queue_offset,
                                    "ConsumeQueue gap"
                                );
                                gaps += 1;
                            }
                            if !touched.last().is_some_and(|c| Arc::ptr_eq(c, &cq)) {
                                touched.push(cq.clone());
                            }
                            notes.push((cq, msg.queue_offset + 1, tags_code, msg.store_timestamp));
                        }
                        if let Some(index) = &self.index {
                            if !record::is_rollback(msg.sys_flag) {
                                index.build_index(
                                    msg.topic,
                                    record::index_keys(&msg),
                                    pos,
                                    msg.store_timestamp,
                                    now_ms,
                                )?;
                            }
                        }
                        off += size;
                    }
                    Peeked::Blank { size } => {
                        if pos + size as u64 != seg.end() {
                            tracing::error!(
                                offset = pos,
                                "misplaced blank record; skipping to the next segment"
                            );
                        }
                        next_from = seg.end();
                        break;
                    }
                    Peeked::Incomplete { size } => {
                        if off == 0 && pos + size as u64 <= end {
                            bigger_window = Some(size);
                        }
                        break;
                    }
                    Peeked::Invalid(why) => {
                        if target > seg.end() {
                            tracing::error!(offset = pos, %why, "invalid CommitLog record; skipping to the next segment");
                            next_from = seg.end();
                        }
                        break;
                    }
                }
            }
            touched.sort_by_key(|c| Arc::as_ptr(c) as usize);
            touched.dedup_by(|a, b| Arc::ptr_eq(a, b));
            for cq in &touched {
                cq.commit()?;
            }
            self.dispatched.store(next_from, Ordering::Release);
            if let Some(l) = self.listener.read().clone() {
                for (cq, max, tags, ts) in &notes {
                    l.arriving(cq.topic(), cq.queue_id(), *max, *tags, *ts);
                }
            }
            if next_from == from {
                match bigger_window {
                    Some(size) => {
                        window = size;
                        continue;
                    }
                    // The rest of a record has not arrived yet (raw replication).
                    None => break,
                }
            }
            from = next_from;
            window = REPUT_CHUNK;
        }
        Ok(gaps)
    }

    // ---- flushing --------------------------------------------------------------------

    fn flush_commitlog_loop(&self) {
        let cfg = &self.config;
        let mut last_thorough = self.clock.now_ms();
        // Group commit state: waiters the last fsync found registered, and its duration.
        let mut last_waiters = 0usize;
        let mut last_fsync = Duration::ZERO;
        while !self.stopping.load(Ordering::Acquire) {
            match cfg.flush_disk_type {
                FlushDiskType::SyncFlush => {
                    if last_waiters > 1 {
                        // Group commit under way: the writers the last fsync released are
                        // appending again. Wait for them (at most about one fsync time) so
                        // that this fsync serves them all, without first sleeping on the
                        // flush signal (one wake-up less per round).
                        self.commitlog.watch.gather(last_waiters, last_fsync.min(MAX_GATHER));
                    } else {
                        self.flush_signal.wait(Duration::from_millis(10));
                    }
                    self.commitlog.watch.expire_callbacks(std::time::Instant::now());
                    // Threads whose turn in the wake-up tree was lost (rare): wake them now.
                    self.commitlog.watch.wake_stragglers();
                    if self.commitlog.unflushed_bytes() == 0 {
                        last_waiters = 0;
                        continue;
                    }
                }
                FlushDiskType::AsyncFlush => {
                    self.flush_signal.wait(Duration::from_millis(cfg.flush_interval_commit_log_ms));
                    let now = self.clock.now_ms();
                    let thorough = now - last_thorough >= cfg.flush_commit_log_thorough_interval_ms as i64;
                    let least = cfg.flush_commit_log_least_pages * 4096;
                    let dirty = self.commitlog.unflushed_bytes();
                    if dirty == 0 || (!thorough && dirty < least) {
                        continue;
                    }
                    last_thorough = now;
                }
            }
            let started = std::time::Instant::now();
            match self.commitlog.flush_counted() {
                Ok((_, waiters)) => {
                    last_waiters = waiters;
                    last_fsync = started.elapsed();

                    self.reput_signal.notify();
                }
                Err(e) => {
                    tracing::error!(error = %e, "CommitLog flush failed");
                    self.stop_signal.wait(Duration::from_millis(100));
                }
            }
        }
    }

    fn flush_logics_loop(&self) {
        while !self.stopping.load(Ordering::Acquire) {
            self.stop_signal.wait(Duration::from_millis(self.config.flush_interval_consume_queue_ms));
            if self.stopping.load(Ordering::Acquire) {
                break;
            }
            if let Err(e) = self.flush_logics() {
                tracing::error!(error = %e, "ConsumeQueue/index flush failed");
            }
        }
    }

    /// fsync ConsumeQueues and index, then record in the checkpoint what is durable.
    fn flush_logics(&self) -> Result<()> {
        let dispatched = self.dispatched.load(Ordering::Acquire);
        for cq in self.all_cqs() {
            cq.flush()?;
        }
        if let Some(index) = &self.index {
            index.flush()?;
        }
        let ts = self.commitlog.last_store_ts();
        let data = CheckpointData {
            physic_msg_timestamp: ts,
            logics_msg_timestamp: ts,
            index_msg_timestamp: ts,
            commit_log_flushed: self.commitlog.flushed(),
            consume_queue_dispatched: dispatched,
            index_dispatched: dispatched,
        };
        self.checkpoint.lock().store(&data)?;
        self.write_manifest(false)
    }

    fn write_manifest(&self, force: bool) -> Result<()> {
        let mut m = Manifest::default();
        for cq in self.all_cqs() {
            m.queues
                .entry(cq.topic().to_string())
                .or_default()
                .insert(cq.queue_id(), (cq.min_offset(), cq.max_offset()));
        }
        let mut last = self.manifest_written.lock();
        if !force && last.as_ref() == Some(&m) {
            return Ok(());
        }
        let path = self.config.cq_manifest_path();
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let tmp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec(&m).map_err(|e| StoreError::io(&path, std::io::Error::other(e)))?;
        std::fs::write(&tmp, bytes)
            .and_then(|_| File::open(&tmp)?.sync_all())
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| StoreError::io(&path, e))?;
        *last = Some(m);
        Ok(())
    }

    // ---- reads -------------------------------------------------------------------------

    fn correction(&self, old: i64, new: i64) -> i64 {
        if self.config.broker_role != BrokerRole::Slave || self.config.offset_check_in_slave {
            new
        } else {
            old
        }
    }

    fn get_message(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_msgs: usize,
        filter: Option<&dyn MessageFilter>,
    ) -> Result<GetMessageResult> {
        let mut r = GetMessageResult {
            status: GetMessageStatus::NoMatchedLogicQueue,
            next_begin_offset: offset,
            min_offset: 0,
            max_offset: 0,
            messages: Vec::new(),
            buffer_total_size: 0,
            suggest_pull_from_slave: false,
            corrupt_skipped: 0,
        };
        if self.shut_down.load(Ordering::Acquire) {
            return Err(StoreError::Shutdown);
        }
        let Some(cq) = self.find_cq(topic, queue_id) else {
            r.next_begin_offset = self.correction(offset, 0);
            return Ok(r);
        };
        let (min, max) = (cq.min_offset(), cq.max_offset());
        r.min_offset = min;
        r.max_offset = max;
        if max == 0 {
            r.status = GetMessageStatus::NoMessageInQueue;
            r.next_begin_offset = self.correction(offset, 0);
            return Ok(r);
        }
        if offset < min {
            r.status = GetMessageStatus::OffsetTooSmall;
            r.next_begin_offset = self.correction(offset, min);
            return Ok(r);
        }
        if offset == max {
            r.status = GetMessageStatus::OffsetOverflowOne;
            r.next_begin_offset = self.correction(offset, offset);
            return Ok(r);
        }
        if offset > max {
            r.status = GetMessageStatus::OffsetOverflowBadly;
            r.next_begin_offset = self.correction(offset, if min == 0 { min } else { max });
            return Ok(r);
        }
        let cfg = &self.config;
        let max_msgs = max_msgs.max(1);
        let scan_entries = (cfg.max_filter_message_count.max(max_msgs as u64 * 20) / 20) as usize;
        // ConsumeQueue entries are read in chunks as the picking needs them: a pull of 32
        // should not read and decode the 800 entries `maxFilterMessageCount` allows.
        let mut chunk_len = max_msgs.min(scan_entries).max(1);
        let mut base = 0usize;
        let mut entries = cq.entries(offset, chunk_len)?;
        let cl_max = self.commitlog.written();
        let cl_min = self.commitlog.min_offset();
        let memory = self.memory_bytes / 100 * u64::from(cfg.access_message_in_memory_max_ratio);
        r.status = GetMessageStatus::NoMatchedMessage;
        if entries.is_empty() {
            r.status = GetMessageStatus::OffsetFoundNull;
            r.next_begin_offset = self.correction(offset, offset + 1);
            return Ok(r);
        }
        // Pick entries by the ConsumeQueue alone, then read them in contiguous runs.
        let mut picked: Vec<(i64, CqEntry)> = Vec::new();
        let mut total: u64 = 0;
        let mut scanned = 0usize;
        let mut max_phy_pulling = 0;
        let mut next_phy_file_start: Option<u64> = None;
        'pick: loop {
            for (j, slot) in entries.iter().enumerate() {
                let i = base + j;
                scanned = i;
                let Some(e) = slot else {
                    if picked.is_empty() {
                        r.status = GetMessageStatus::OffsetFoundNull;
                    }
                    scanned = i + 1;
                    continue;
                };
                max_phy_pulling = e.phy_offset;
                if next_phy_file_start.is_some_and(|s| e.phy_offset < s) {
                    scanned = i + 1;
                    continue;
                }
                if e.phy_offset < cl_min || e.phy_end() > cl_max {
                    if picked.is_empty() {
                        r.status = GetMessageStatus::MessageWasRemoving;
                    }
                    next_phy_file_start = Some(self.commitlog.roll_next_file(e.phy_offset));
                    scanned = i + 1;
                    continue;
                }
                let in_disk = cl_max - e.phy_offset > memory;
                if let Batch::Full =
                    batch_full(cfg, u64::from(e.size), max_msgs, total, picked.len(), in_disk)
                {
                    break 'pick;
                }
                scanned = i + 1;
                if let Some(f) = filter {
                    if !f.is_matched_by_consume_queue(e.tags_code) {
                        continue;
                    }
                }
                total += u64::from(e.size);
                picked.push((offset + i as i64, *e));
            }
            base += entries.len();
            if entries.len() < chunk_len || base >= scan_entries || picked.len() >= max_msgs {
                break;
            }
            chunk_len = (chunk_len * 2).min(scan_entries - base);
            entries = cq.entries(offset + base as i64, chunk_len)?;
            if entries.is_empty() {
                break;
            }
        }
        // Read the picked records, several per read when they lie close together in the
        // CommitLog (a queue's messages interleaved with a few other queues'): one
        // `pread` of up to READ_SPAN_MAX bytes, gaps of other records included, costs less
        // than a system call per record.
        let mut k = 0;
        while k < picked.len() {
            let (_, first) = picked[k];
            let mut run_end = first.phy_end();
            let mut j = k + 1;
            let seg_end = self.commitlog.roll_next_file(first.phy_offset);
            while let Some((_, e)) = picked.get(j) {
                let close = e.phy_offset >= run_end
                    && e.phy_offset - run_end <= READ_GAP_MAX
                    && e.phy_end() - first.phy_offset <= READ_SPAN_MAX
                    && e.phy_end() <= seg_end;
                if !close {
                    break;
                }
                run_end = e.phy_end();
                j += 1;
            }
            let data = self.commitlog.read(first.phy_offset, (run_end - first.phy_offset) as usize)?;
            for (qo, e) in picked.get(k..j).unwrap_or_default() {
                let lo = (e.phy_offset - first.phy_offset) as usize;
                let rec = data.slice(lo..lo + e.size as usize);
                let ok = match record::peek(&rec, e.phy_offset, true) {
                    Peeked::Message { msg, crc_ok, size } => {
                        crc_ok
                            && size == rec.len()
                            && msg.topic == topic
                            && msg.queue_id == queue_id
                            && msg.queue_offset == *qo
                    }
                    _ => false,
                };
                if !ok {
                    tracing::error!(
                        topic,
                        queue_id,
                        queue_offset = qo,
                        phy = e.phy_offset,
                        "stored record fails validation; not served"
                    );
                    r.corrupt_skipped += 1;
                    self.corrupt_skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if let Some(f) = filter {
                    if !f.is_matched_by_commit_log(&rec) {
                        continue;
                    }
                }
                r.buffer_total_size += rec.len();
                r.messages.push(SelectedMessage {
                    phy_offset: e.phy_offset,
                    queue_offset: *qo,
                    tags_code: e.tags_code,
                    data: rec,
                });
            }
            k = j;
        }
        if !r.messages.is_empty() {
            r.status = GetMessageStatus::Found;
        }
        r.next_begin_offset = offset + scanned as i64;
        r.suggest_pull_from_slave = cl_max.saturating_sub(max_phy_pulling) > memory;
        Ok(r)
    }

    /// Store timestamp of the record at `phy`.
    fn store_timestamp_at(&self, phy: u64) -> Result<Option<i64>> {
        let head_len = stored::body_length_position(0x30) + 4;
        let seg_end = self.commitlog.roll_next_file(phy);
        let avail = self.commitlog.written().min(seg_end).saturating_sub(phy) as usize;
        if avail < head_len.min(record::MIN_RECORD_LEN) {
            return Ok(None);
        }
        let head = self.commitlog.read(phy, head_len.min(avail))?;
        let sys_flag = i32::from_be_bytes([head[36], head[37], head[38], head[39]]);
        let p = stored::store_timestamp_position(sys_flag);
        let Some(b) = head.get(p..p + 8) else {
            return Ok(None);
        };
        let mut x = [0u8; 8];
        x.copy_from_slice(b);
        Ok(Some(i64::from_be_bytes(x)))
    }

    fn offset_by_time(&self, topic: &str, queue_id: i32, ts: i64) -> Result<i64> {
        let Some(cq) = self.find_cq(topic, queue_id) else {
            return Ok(0);
        };
        let cl_min = self.commitlog.min_offset();
        let (mut lo, mut hi) = (cq.min_offset(), cq.max_offset());
        // First offset in [lo, hi) whose store time >= ts; empty or removed slots count
        // as older.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let t = match cq.get(mid)? {
                Some(e) if e.phy_offset >= cl_min => {
                    self.store_timestamp_at(e.phy_offset)?.unwrap_or(i64::MIN)
                }
                _ => i64::MIN,
            };
            if t < ts {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    // ---- retention ---------------------------------------------------------------------

    fn clean_loop(&self) {
        while !self.stopping.load(Ordering::Acquire) {
            self.stop_signal.wait(Duration::from_millis(self.config.clean_resource_interval_ms));
            if self.stopping.load(Ordering::Acquire) {
                break;
            }
            if let Err(e) = self.clean_round(false) {
                tracing::error!(error = %e, "cleanup failed");
            }
        }
    }

    fn check_disk(&self) -> f64 {
        let path = self.config.commit_log_dir();
        match self.probe.used_ratio(&path) {
            Ok(r) => {
                let pct = (r * 100.0).round() as u32;
                self.disk_used_percent.store(pct, Ordering::Release);
                let full = pct >= self.config.disk_space_warning_level_ratio;
                if full != self.disk_full.swap(full, Ordering::AcqRel) {
                    if full {
                        tracing::error!(used_percent = pct, "disk full; refusing writes");
                    } else {
                        tracing::info!(used_percent = pct, "disk space available again; accepting writes");
                    }
                }
                r
            }
            Err(e) => {
                tracing::warn!(error = %e, "disk usage probe failed");
                0.0
            }
        }
    }

    /// Age reference of a segment: the store time of the first record of the next one
    /// (when this one stopped receiving writes), else the file's mtime.
    fn segment_last_write_ms(&self, seg_end: u64, mtime: Option<i64>) -> i64 {
        match self.store_timestamp_at(seg_end) {
            Ok(Some(t)) if t > 0 => t,
            _ => mtime.unwrap_or(i64::MAX),
        }
    }

    fn clean_round(&self, force: bool) -> Result<usize> {
        let cfg = &self.config;
        let ratio = self.check_disk();
        let pressure = ratio * 100.0 >= f64::from(cfg.disk_max_used_space_ratio);
        let time_up = cfg.delete_when.contains(&self.clock.local_hour());
        let mut deleted = 0;
        if time_up || pressure || force {
            let now = self.clock.now_ms();
            let reserved_ms = cfg.file_reserved_time_hours as i64 * 3_600_000;
            let segs = self.commitlog.segments();
            let dispatched = self.dispatched.load(Ordering::Acquire);
            let flushed = self.commitlog.flushed();
            for seg in segs.iter().take(segs.len().saturating_sub(1)) {
                if deleted >= cfg.delete_file_batch_max {
                    break;
                }
                if seg.end() > dispatched || seg.end() > flushed {
                    break;
                }
                let last = self.segment_last_write_ms(seg.end(), seg.modified_ms());
                let expired = now >= last.saturating_add(reserved_ms);
                let forcibly = pressure && cfg.clean_file_forcibly_enable;
                if !(expired || forcibly) {
                    break;
                }
                if !self.commitlog.delete_first_segment(seg.start())? {
                    break;
                }
                tracing::info!(segment = %seg.path().display(), expired, forcibly, "deleted CommitLog segment");
                deleted += 1;
                if forcibly && !expired {
                    let r = self.check_disk();
                    if r * 100.0 < f64::from(cfg.disk_max_used_space_ratio) {
                        break;
                    }
                }
            }
        }
        let cl_min = self.commitlog.min_offset();
        for cq in self.all_cqs() {
            cq.delete_expired(cl_min)?;
        }
        if let Some(index) = &self.index {
            index.delete_expired(cl_min)?;
        }
        if deleted > 0 {
            crate::segment::sync_dir(self.commitlog.dir())?;
            self.check_disk();
        }
        Ok(deleted)
    }
}

fn batch_full(
    cfg: &MessageStoreConfig,
    size: u64,
    max_msgs: usize,
    total: u64,
    count: usize,
    in_disk: bool,
) -> Batch {
    if count == 0 {
        return Batch::Ok;
    }
    if count >= max_msgs {
        return Batch::Full;
    }
    let (max_bytes, max_count) = if in_disk {
        (cfg.max_transfer_bytes_on_message_in_disk, cfg.max_transfer_count_on_message_in_disk)
    } else {
        (cfg.max_transfer_bytes_on_message_in_memory, cfg.max_transfer_count_on_message_in_memory)
    };
    if total + size > max_bytes || count as u64 + 1 > max_count {
        return Batch::Full;
    }
    Batch::Ok
}
