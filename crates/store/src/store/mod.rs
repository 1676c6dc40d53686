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

mod dispatch;
mod flushing;
mod raft;
mod reads;
mod replication;
mod retention;
mod types;

pub use types::{
    DiskUsage, DiskUsageProbe, GetMessageResult, GetMessageStatus, MessageArrivingListener, MessageFilter,
    QueryMessageResult, RecoveryReport, SelectedMessage, StatvfsProbe,
};

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
use crate::commitlog::{CommitLog, QueueTable, SegmentPrep};
use crate::config::{BrokerRole, FlushDiskType, MessageStoreConfig};
use crate::consume_queue::{ConsumeQueue, CqEntry, PutOutcome};
use crate::entry_index::{EntryIndex, EntryIndexRecovery};
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
/// log that is not pre-written (see `Space`), pre-written when configured (by default in
/// SYNC_FLUSH, [`MessageStoreConfig::warm_commit_log`]).
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
    /// The Raft entry index (`enableDLegerCommitLog`); its lock also orders entry appends.
    entries: Option<Mutex<EntryIndex>>,
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
        let entries = if config.enable_dleger_commit_log {
            let (idx, r, cut) =
                raft::open_entry_index(&config, &commitlog, cp.map(|c| c.consume_queue_dispatched))?;
            report.raft_log = Some(r);
            report.raft_log_cut_bytes = cut;
            Some(Mutex::new(idx))
        } else {
            None
        };
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
        if let Some(index) = &index {
            index.truncate_to(cl_end);
        }
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
            entries,
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
        // A Raft log shows consumers committed entries only. What was dispatched before
        // was committed; the rest waits until the Raft layer commits it again.
        let replay_to = if inner_ref.entries.is_some() {
            inner_ref.dispatch_limit.store(dispatch_from, Ordering::SeqCst);
            dispatch_from
        } else {
            cl_end
        };
        let gaps = inner_ref.reput_until(replay_to)?;
        if gaps > 0 && !rebuild {
            tracing::warn!(gaps, "ConsumeQueue gaps found while replaying; rebuilding from the CommitLog");
            rebuild = true;
            inner_ref.destroy_logics()?;
            inner_ref.dispatched.store(cl_min, Ordering::SeqCst);
            report.dispatched_from = cl_min;
            inner_ref.reput_until(replay_to)?;
        }
        report.full_rebuild = rebuild;
        inner_ref.recover_queue_table()?;
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
            // (A Raft log's entry index is flushed after it by `flush_logics` below.)
            result = inner.commitlog.flush().map(|_| ());
        }
        // Not past the confirmed offset (HA, or a Raft log's committed entry).
        let end = inner.commitlog.written().min(inner.dispatch_limit.load(Ordering::Acquire));
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
        if self.inner.entries.is_some() {
            return Err(raft::writes_go_through_entries());
        }
        self.put_unchecked(msgs)
    }

    /// [`MessageStore::put_messages`] without the Raft-mode check (used by `append_entry`).
    fn put_unchecked(&self, msgs: &[PutMessage]) -> Result<PutHandle> {
        let inner = &self.inner;
        inner.check_writable()?;
        if inner.config.broker_role == BrokerRole::Slave {
            return Err(StoreError::NotWritable("the store is a slave"));
        }
        let now = inner.clock.now_ms();
        let res = inner.commitlog.append(msgs, now, inner.config.max_message_size)?;
        match inner.config.flush_disk_type {
            FlushDiskType::AsyncFlush => {
                let buffered = inner.config.transient_store_pool_enable || inner.config.commits_deferred();
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
        if self.inner.commitlog.uncommitted_bytes() == 0 {
            // Nothing pending (a burst without sends): no write, and no dispatcher wake-up.
            return Ok(self.inner.commitlog.written());
        }
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
        let Some(data) = cl.read_record(phy_offset)? else {
            return Ok(None);
        };
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

    /// CommitLog bytes appended but not yet fsynced.
    pub fn flush_behind_bytes(&self) -> u64 {
        self.inner.commitlog.unflushed_bytes()
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

    /// The CommitLog's fsync counters since the store opened (latency histogram, bytes,
    /// writers released per fsync).
    pub fn flush_stats(&self) -> crate::FlushStatsSnapshot {
        self.inner.commitlog.stats.snapshot()
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

    /// Sets the next queue offsets from the ConsumeQueues and the undispatched records.
    /// Fails (leaving the table as it was) when an undispatched record cannot be read:
    /// going on would hand out queue offsets those records already hold.
    fn recover_queue_table(&self) -> Result<()> {
        let mut table = QueueTable::default();
        for cq in self.all_cqs() {
            table.entry(cq.topic().to_string()).or_default().insert(cq.queue_id(), cq.max_offset());
        }
        let (from, to) = (self.dispatched.load(Ordering::Acquire), self.commitlog.written());
        if from < to {
            self.cover_undispatched(from, to, &mut table)?;
        }
        self.commitlog.set_queue_table(table);
        Ok(())
    }
}
