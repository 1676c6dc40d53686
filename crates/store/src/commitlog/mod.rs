//! The CommitLog: one append-only log of every message, in fixed-size segment files named
//! by their 20-digit start offset, in RocketMQ's record format. A segment that cannot hold
//! the next record is closed with a blank record (`remaining | 0xCBD43194`) and the next
//! segment (pre-created by a background thread) takes over.
//!
//! Three positions, never decreasing except by an explicit truncation, each at least the
//! next: `append_pos` (bytes assigned to records, some still in the in-memory pending
//! buffer; published as `appended`, readable: a read of pending bytes writes them out
//! first), `written` (pwritten into the page cache: survives a process crash; the
//! dispatcher reads only below it), `flushed` (fdatasynced: survives power loss;
//! published through [`FlushWatch`]).
//!
//! Group write: appends encode into a pending buffer under the append lock; whoever needs
//! its bytes in the page cache takes the commit lock and writes everything pending in one
//! `pwrite` (going round again while more arrives), so concurrent writers share system
//! calls the way group commit shares fsyncs. Who commits: an ASYNC_FLUSH put itself
//! (acknowledged = in the page cache), unless `transientStorePoolEnable` lets the
//! dispatcher do it in large chunks; for a SYNC_FLUSH put, the flusher (one `pwrite` and
//! one fsync per group).
//!
//! Invariant: the pending chunks cover exactly `[written, append_pos)`, in order.

mod prepare;
mod recycle;
mod scan;

pub(crate) use recycle::SPARE_FILE;
use scan::scan;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use parking_lot::{Condvar, Mutex, RwLock};

use crate::error::{Result, StoreError};
use crate::fasthash::FastMap;
use crate::flush::{AppendResult, FlushWatch};
use crate::record::{self, Peeked, PutMessage, END_FILE_MIN_BLANK_LENGTH};
use crate::segment::{list_segment_files, sync_dir, AlignedZeros, Segment, Space, BLOCK};
use crate::stats::FlushStats;

/// Bytes read per system call while scanning the log.
const SCAN_WINDOW: usize = 1 << 20;
/// Pending buffers kept for reuse, and the largest one kept.
const SPARE_BUFFERS: usize = 4;
const SPARE_BUFFER_MAX: usize = 4 << 20;
/// Rounds a committing thread makes while other writers keep appending.
const COMMIT_ROUNDS: usize = 4;
/// Pre-writing (`warmMapedFileEnable`): how far past the appends the log is pre-written
/// (the tail at most a quarter segment ahead; the next segment one segment size ahead if
/// that is more), how much one step writes, and the size of one write (a roll into the
/// next segment waits for at most one, ~0.1 ms).
const WARM_AHEAD: u64 = 32 << 20;
const WARM_BATCH: u64 = 4 << 20;
const WARM_CHUNK: u64 = 256 << 10;
/// How much of the tail a pre-written log pre-writes when it opens (a quarter segment at
/// most).
const WARM_AT_OPEN: u64 = 128 << 20;
/// How long pre-writing pauses after it failed (a full disk, say).
const WARM_RETRY: std::time::Duration = std::time::Duration::from_secs(10);
/// How often the preparing thread checks whether appends have used up the zeroed space.
const WARM_POLL: std::time::Duration = std::time::Duration::from_millis(5);

pub(crate) type QueueTable = FastMap<String, FastMap<i32, i64>>;

struct Chunk {
    seg: Arc<Segment>,
    file_pos: u64,
    data: Vec<u8>,
}

struct AppendState {
    append_pos: u64,
    tail: Arc<Segment>,
    pending: Vec<Chunk>,
    spare: Vec<Vec<u8>>,
    /// Next ConsumeQueue offset of every topic and queue (RocketMQ's topicQueueTable).
    queue_table: QueueTable,
    last_store_ts: i64,
    /// How far the tail segment is pre-written (`warmMapedFileEnable`; see `warm_tail`).
    tail_warmed: u64,
    /// `[from, to)` of the tail the preparing thread is writing zeros to right now. No
    /// append may write there meanwhile: appends that would wait on `fence_cond`.
    zeroing: Option<(u64, u64)>,
    /// Appends waiting for `zeroing` to end: no new zeroing starts while there are any,
    /// so that a large append cannot be held up round after round.
    fence_waiters: usize,
}

impl AppendState {
    /// Whether appending `need` bytes (and maybe a closing blank record) at `append_pos`
    /// would reach the range being zeroed. Only the tail is ever zeroed, so an append
    /// that has rolled past it is never held up.
    fn blocked_by_zeroing(&self, need: u64) -> bool {
        self.zeroing.is_some_and(|(from, to)| {
            self.append_pos < to && self.append_pos + need + END_FILE_MIN_BLANK_LENGTH as u64 > from
        })
    }

    /// Waits (releasing `st`) until the zeroing in progress ends.
    fn wait_for_zeroing(cond: &Condvar, st: &mut parking_lot::MutexGuard<'_, AppendState>) {
        st.fence_waiters += 1;
        cond.wait(st);
        st.fence_waiters -= 1;
    }

    /// The buffer to append to for position `append_pos` in `tail`.
    fn chunk(&mut self) -> &mut Vec<u8> {
        let file_pos = self.append_pos - self.tail.start();
        let contiguous = self
            .pending
            .last()
            .is_some_and(|c| Arc::ptr_eq(&c.seg, &self.tail) && c.file_pos + c.data.len() as u64 == file_pos);
        if !contiguous {
            let data = self.spare.pop().unwrap_or_default();
            self.pending.push(Chunk { seg: self.tail.clone(), file_pos, data });
        }
        match self.pending.last_mut() {
            Some(c) => &mut c.data,
            // Unreachable: a chunk was pushed above if none matched.
            None => unreachable_chunk(),
        }
    }
}

#[allow(clippy::panic)]
fn unreachable_chunk() -> ! {
    // A programmer error, not something a file can cause: `chunk` always pushes first.
    panic!("pending chunk list empty right after a push")
}

#[derive(Default)]
struct PreallocState {
    want: Option<u64>,
    ready: Option<Arc<Segment>>,
    /// A retired segment kept for reuse, its file renamed to `recycle::SPARE_FILE`.
    spare: Option<Arc<Segment>>,
    stop: bool,
}

/// What recovery found in the CommitLog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitLogRecovery {
    pub scanned_from: u64,
    /// The end of the last valid record: the new append position.
    pub end: u64,
    pub messages_scanned: u64,
    /// Offsets of records whose header is valid but whose body fails its CRC while valid
    /// records follow: kept (so later messages keep their offsets) but never served.
    pub corrupt_records: Vec<u64>,
    /// Segment files removed because they lay wholly beyond the end.
    pub segments_removed: usize,
}

/// How the CommitLog prepares its segments (see [`Space`] and `warm` below).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentPrep {
    pub(crate) space: Space,
    /// Pre-write zeros ahead of the append position, so that appends overwrite blocks
    /// that are already written: an fsync then writes the data and nothing else (no block
    /// allocation or extent conversion to record), which is what a SYNC_FLUSH group commit
    /// waits for. Costs writing the log twice (zeros, then data); with direct I/O, hardly
    /// any CPU.
    pub(crate) warm: bool,
}

pub(crate) struct CommitLog {
    dir: PathBuf,
    segment_size: u64,
    prep: SegmentPrep,
    /// How far the CommitLog space is pre-written (zeros or data), when `prep.warm`.
    warm_until: AtomicU64,
    segments: RwLock<Vec<Arc<Segment>>>,
    state: Mutex<AppendState>,
    commit_lock: Mutex<()>,
    flush_lock: Mutex<()>,
    /// `append_pos` published for lock-free readers: everything below is encoded (in the
    /// pending buffer or the file) and can be read.
    appended: AtomicU64,
    written: AtomicU64,
    pub(crate) watch: Arc<FlushWatch>,
    poisoned: AtomicBool,
    prealloc: Mutex<PreallocState>,
    prealloc_cond: Condvar,
    /// Signalled when zeroing the tail ends (`AppendState::zeroing`), with `state`.
    fence_cond: Condvar,
    /// Every fsync's time, bytes and released waiters (the broker's metrics page).
    pub(crate) stats: FlushStats,
}

impl CommitLog {
    /// Opens the log in `dir`, scanning and validating from `scan_from` (a record boundary
    /// known durable, e.g. the checkpoint's flushed offset; `None` scans everything),
    /// truncating a torn or corrupt tail.
    pub(crate) fn open(
        dir: &Path,
        segment_size: u64,
        scan_from: Option<u64>,
        check_crc: bool,
        max_message_size: usize,
        prep: SegmentPrep,
    ) -> Result<(CommitLog, CommitLogRecovery)> {
        let files = list_segment_files(dir)?;
        let mut segments: Vec<Arc<Segment>> = Vec::with_capacity(files.len());
        let n = files.len();
        for (i, (start, path)) in files.into_iter().enumerate() {
            if let Some(prev) = segments.last() {
                if prev.end() != start {
                    return Err(StoreError::Corrupt {
                        what: format!("CommitLog {}", dir.display()),
                        offset: prev.end(),
                        detail: format!("segments are not contiguous: next file starts at {start}"),
                    });
                }
            }
            segments.push(Arc::new(Segment::open(path, start, segment_size, i + 1 == n)?));
        }
        // A new log: nothing to scan, and its first file needs no cutting back (which
        // would only free the blocks just reserved).
        let fresh = segments.is_empty();
        if fresh {
            segments.push(Arc::new(Segment::create(dir, 0, segment_size, prep.space)?));
            sync_dir(dir)?;
        }
        let first = segments.first().map_or(0, |s| s.start());
        let last_end = segments.last().map_or(0, |s| s.end());
        let from = match scan_from {
            Some(s) if s >= first && s <= last_end => s,
            _ => first,
        };
        let mut report = CommitLogRecovery { scanned_from: from, ..Default::default() };
        // Body and properties are bounded by maxMessageSize, the topic by 32 KiB, the
        // header by a few hundred bytes: a larger size field is corruption.
        let max_record = max_message_size + (64 << 10);
        let (end, last_ts) = scan(&segments, from, check_crc, max_record, &mut report)?;
        report.end = end;

        // Cut everything after `end`: zero the rest of its segment, drop later segments.
        let tail_idx = segments.iter().position(|s| s.contains(end));
        let tail = match tail_idx {
            Some(i) => {
                let removed: Vec<Arc<Segment>> = segments.drain(i + 1..).collect();
                // Usually the next segment the last run had prepared: one becomes the spare
                // (recycle.rs) when there is none, the rest go.
                let mut keep_one = !dir.join(SPARE_FILE).exists();
                for s in &removed {
                    if keep_one && s.size() == segment_size && recycle::rename_to_spare(dir, s) {
                        keep_one = false;
                        continue;
                    }
                    s.delete()?;
                }
                report.segments_removed = removed.len();
                let tail = segments[i].clone();
                if !fresh {
                    tail.zero_from(end - tail.start(), prep.space)?;
                }
                tail
            }
            None => {
                let seg = Arc::new(Segment::create(dir, end, segment_size, prep.space)?);
                segments.push(seg.clone());
                seg
            }
        };
        // A pre-written log pre-writes the next `WARM_AT_OPEN` bytes of its tail now (at
        // most a quarter segment, so that start-up stays quick: 0.4–2.5 s per GiB measured
        // here, more on a slow disk); the preparing thread does the rest of the tail in the
        // background, ahead of the appends (`warm_tail`), and later segments before they
        // become the tail.
        let warm_until = if prep.warm {
            let window = WARM_AT_OPEN.min(segment_size / 4);
            let until = page_up(end).saturating_add(window).min(tail.end());
            let zeros = AlignedZeros::new(1 << 20);
            tail.fill_zeros(page_up(end) - tail.start(), until - tail.start(), zeros.get())?;
            until
        } else {
            end
        };
        // What recovery accepted must be durable before anything is built on it.
        for s in segments.iter().filter(|s| s.end() > from) {
            s.sync()?;
        }
        sync_dir(dir)?;
        if !report.corrupt_records.is_empty() {
            tracing::error!(offsets = ?report.corrupt_records, "CommitLog records with a bad body CRC; they will not be served");
        }
        tracing::info!(from, end, scanned = report.messages_scanned, "CommitLog recovered");
        let log = CommitLog {
            dir: dir.to_path_buf(),
            segment_size,
            prep,
            warm_until: AtomicU64::new(warm_until),
            segments: RwLock::new(segments),
            state: Mutex::new(AppendState {
                append_pos: end,
                tail,
                pending: Vec::new(),
                spare: Vec::new(),
                queue_table: QueueTable::default(),
                last_store_ts: last_ts,
                tail_warmed: warm_until,
                zeroing: None,
                fence_waiters: 0,
            }),
            commit_lock: Mutex::new(()),
            flush_lock: Mutex::new(()),
            appended: AtomicU64::new(end),
            written: AtomicU64::new(end),
            watch: Arc::new(FlushWatch::new(end)),
            poisoned: AtomicBool::new(false),
            prealloc: Mutex::new(PreallocState {
                spare: recycle::adopt_spare(dir, segment_size),
                ..PreallocState::default()
            }),
            prealloc_cond: Condvar::new(),
            fence_cond: Condvar::new(),
            stats: FlushStats::default(),
        };
        Ok((log, report))
    }

    fn poison(&self, op: &str, err: StoreError) -> StoreError {
        let why = format!("{op}: {err}");
        if !self.poisoned.swap(true, Ordering::SeqCst) {
            tracing::error!(%why, "CommitLog poisoned; refusing further writes");
        }
        self.watch.poison(why);
        err
    }

    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(StoreError::Poisoned(self.watch.poisoned().unwrap_or_else(|| "write".to_string())));
        }
        Ok(())
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::SeqCst)
    }

    /// Makes the tail segment able to take `need` more bytes plus a closing blank record,
    /// closing the current one with a blank record if it cannot.
    fn ensure_room(&self, st: &mut AppendState, need: u64) -> Result<()> {
        let remaining = st.tail.end() - st.append_pos;
        if need + END_FILE_MIN_BLANK_LENGTH as u64 <= remaining {
            return Ok(());
        }
        if need + END_FILE_MIN_BLANK_LENGTH as u64 > self.segment_size {
            return Err(StoreError::MessageTooLarge {
                size: need as usize,
                max: self.segment_size as usize - END_FILE_MIN_BLANK_LENGTH,
            });
        }
        self.roll(st)
    }

    /// Closes the tail segment with a blank record over what remains of it (if anything)
    /// and makes the next segment the tail.
    fn roll(&self, st: &mut AppendState) -> Result<()> {
        let remaining = st.tail.end() - st.append_pos;
        let next = self.obtain_segment(st.tail.end())?;
        if remaining > 0 {
            let blank_len = i32::try_from(remaining).map_err(|_| StoreError::Corrupt {
                what: "CommitLog".into(),
                offset: st.append_pos,
                detail: "segment too large for a blank record".into(),
            })?;
            let chunk = st.chunk();
            chunk.extend_from_slice(&blank_len.to_be_bytes());
            chunk.extend_from_slice(&record::BLANK_MAGIC_CODE.to_be_bytes());
        }
        self.segments.write().push(next.clone());
        st.append_pos = next.start();
        self.appended.store(st.append_pos, Ordering::Release);
        st.tail_warmed = self.warmed_extent(&next);
        st.tail = next;
        Ok(())
    }

    /// How far `seg`, about to become the tail, is pre-written: whole when recycled, else
    /// as far as the preparing thread got with it.
    fn warmed_extent(&self, seg: &Segment) -> u64 {
        if seg.written_through() {
            return seg.end();
        }
        self.warm_until.load(Ordering::Acquire).clamp(seg.start(), seg.end())
    }

    /// Appends `msgs` (one message, or a batch kept contiguous in one segment) with
    /// consecutive queue offsets. The bytes are pending until committed.
    pub(crate) fn append(
        &self,
        msgs: &[PutMessage],
        now_ms: i64,
        max_message_size: usize,
    ) -> Result<AppendResult> {
        let first = msgs.first().ok_or_else(|| StoreError::InvalidMessage("empty batch".into()))?;
        let mut total: u64 = 0;
        for m in msgs {
            if m.topic != first.topic || m.queue_id != first.queue_id {
                return Err(StoreError::InvalidMessage("a batch must go to one topic and queue".into()));
            }
            total += m.check(max_message_size)? as u64;
        }
        let mut st = self.state.lock();
        while st.blocked_by_zeroing(total) {
            AppendState::wait_for_zeroing(&self.fence_cond, &mut st);
        }
        self.check_writable()?;
        self.ensure_room(&mut st, total)?;
        let wrote_offset = st.append_pos;
        let store_ts = now_ms;
        let mut queue_offset = st
            .queue_table
            .get(first.topic.as_str())
            .and_then(|q| q.get(&first.queue_id))
            .copied()
            .unwrap_or(0);
        let logics_offset = queue_offset;
        for m in msgs {
            let takes = m.takes_queue_offset();
            let qo = if takes { queue_offset } else { 0 };
            let phy = st.append_pos;
            let chunk = st.chunk();
            let before = chunk.len();
            let n = match m.encode(qo, phy, store_ts, chunk) {
                Ok(n) => n,
                Err(e) => {
                    chunk.truncate(before);
                    return Err(e);
                }
            };
            st.append_pos += n as u64;
            if takes {
                queue_offset += 1;
            }
        }
        if queue_offset != logics_offset {
            match st.queue_table.get_mut(first.topic.as_str()) {
                Some(q) => {
                    q.insert(first.queue_id, queue_offset);
                }
                None => {
                    let mut q = FastMap::default();
                    q.insert(first.queue_id, queue_offset);
                    st.queue_table.insert(first.topic.clone(), q);
                }
            }
        }
        st.last_store_ts = store_ts;
        self.appended.store(st.append_pos, Ordering::Release);
        Ok(AppendResult {
            wrote_offset,
            wrote_bytes: st.append_pos - wrote_offset,
            logics_offset: if first.takes_queue_offset() { logics_offset } else { 0 },
            store_timestamp: store_ts,
            msg_num: msgs.len() as u32,
        })
    }

    /// Closes the tail segment at `offset`, which must be the current end, with a blank
    /// record, as a roll does (a Raft follower where its leader rolled). Returns the next
    /// segment's start.
    pub(crate) fn close_segment_at(&self, offset: u64) -> Result<u64> {
        let mut st = self.state.lock();
        while st.blocked_by_zeroing(0) {
            AppendState::wait_for_zeroing(&self.fence_cond, &mut st);
        }
        self.check_writable()?;
        if offset != st.append_pos {
            return Err(StoreError::AppendOffsetMismatch { offset, expected: st.append_pos });
        }
        if st.tail.end() - st.append_pos < END_FILE_MIN_BLANK_LENGTH as u64 {
            return Err(StoreError::InvalidEntry(format!("no room for a blank record at {offset}")));
        }
        self.roll(&mut st)?;
        Ok(st.append_pos)
    }

    /// Appends raw bytes at `offset` (a slave copying its master's CommitLog), which must
    /// be the current end. Bytes may end mid-record; the dispatcher waits for the rest.
    pub(crate) fn append_raw(&self, offset: u64, data: &[u8]) -> Result<u64> {
        let end = {
            let mut st = self.state.lock();
            self.check_writable()?;
            if offset != st.append_pos {
                return Err(StoreError::AppendOffsetMismatch { offset, expected: st.append_pos });
            }
            let mut rest = data;
            while !rest.is_empty() {
                if st.append_pos == st.tail.end() {
                    let next = self.obtain_segment(st.tail.end())?;
                    self.segments.write().push(next.clone());
                    st.tail_warmed = self.warmed_extent(&next);
                    st.tail = next;
                }
                let room = (st.tail.end() - st.append_pos) as usize;
                let n = room.min(rest.len());
                if st.blocked_by_zeroing(n as u64) {
                    AppendState::wait_for_zeroing(&self.fence_cond, &mut st);
                    continue;
                }
                let (now, later) = rest.split_at(n);
                st.chunk().extend_from_slice(now);
                st.append_pos += n as u64;
                rest = later;
            }
            self.appended.store(st.append_pos, Ordering::Release);
            st.append_pos
        };
        self.commit_to(end)
    }

    /// Writes pending bytes until at least `end` is in the page cache; returns `written`.
    ///
    /// Group write: the thread holding the commit lock writes everything pending (its own
    /// bytes and those of writers that appended meanwhile) in one `pwrite` per chunk, and
    /// goes round again while more arrived, so that writers queued behind it find their
    /// bytes written instead of each issuing a small `pwrite` of its own.
    pub(crate) fn commit_to(&self, end: u64) -> Result<u64> {
        let w = self.written.load(Ordering::Acquire);
        if w >= end {
            return Ok(w);
        }
        let _c = self.commit_lock.lock();
        let w = self.written.load(Ordering::Acquire);
        if w >= end {
            return Ok(w);
        }
        let mut chunks = std::mem::take(&mut self.state.lock().pending);
        let mut rounds = 0;
        while !chunks.is_empty() {
            rounds += 1;
            let mut done = Vec::with_capacity(chunks.len());
            for mut c in chunks {
                let len = c.data.len() as u64;
                if self.prep.warm || c.seg.written_through() {
                    // Whole blocks only: a write ending inside a block that holds old data
                    // (pre-written, recycled, or from before a restart) and is not cached
                    // makes the kernel read the block from disk first, in the append
                    // path. Zeros to the block's end avoid that; the next commit writes
                    // over them, and the next write into the block finds it cached.
                    let end = c.file_pos + len;
                    let block_end = page_up(end).min(c.seg.size());
                    c.data.resize((len + block_end.saturating_sub(end)) as usize, 0);
                }
                if let Err(e) = c.seg.write_at(c.file_pos, &c.data) {
                    return Err(self.poison("write", e));
                }
                self.written.store(c.seg.start() + c.file_pos + len, Ordering::Release);
                done.push(c.data);
            }
            let mut st = self.state.lock();
            for mut d in done {
                if st.spare.len() < SPARE_BUFFERS && d.capacity() <= SPARE_BUFFER_MAX {
                    d.clear();
                    st.spare.push(d);
                }
            }
            chunks = if rounds < COMMIT_ROUNDS { std::mem::take(&mut st.pending) } else { Vec::new() };
        }
        Ok(self.written.load(Ordering::Acquire))
    }

    /// End of the appended (readable) bytes, some maybe still in the pending buffer.
    pub(crate) fn appended(&self) -> u64 {
        self.appended.load(Ordering::Acquire)
    }

    /// Bytes appended but not yet written to the page cache.
    pub(crate) fn uncommitted_bytes(&self) -> u64 {
        self.appended().saturating_sub(self.written())
    }

    /// Commits everything appended so far.
    pub(crate) fn commit_all(&self) -> Result<u64> {
        self.commit_to(self.appended())
    }

    /// Commits and fdatasyncs everything appended so far; publishes the flushed position.
    pub(crate) fn flush(&self) -> Result<u64> {
        self.flush_counted().map(|(end, _)| end)
    }

    /// [`CommitLog::flush`], also returning how many waiters were registered when the
    /// flushed position advanced (0 if it did not).
    pub(crate) fn flush_counted(&self) -> Result<(u64, usize)> {
        let _f = self.flush_lock.lock();
        self.check_writable()?;
        let target = self.commit_all()?;
        let from = self.watch.flushed();
        if target <= from {
            return Ok((from, 0));
        }
        let segs: Vec<Arc<Segment>> =
            self.segments.read().iter().filter(|s| s.end() > from && s.start() < target).cloned().collect();
        let started = std::time::Instant::now();
        for s in segs {
            if let Err(e) = s.sync() {
                return Err(self.poison("fsync", e));
            }
        }
        self.stats.record_fsync(started.elapsed(), target - from);
        let advanced = self.watch.advance(target);
        self.stats.record_released(advanced.released);
        Ok((target, advanced.registered))
    }

    /// Bytes written to the page cache but not yet fsynced.
    pub(crate) fn unflushed_bytes(&self) -> u64 {
        self.appended().saturating_sub(self.watch.flushed())
    }

    pub(crate) fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    pub(crate) fn flushed(&self) -> u64 {
        self.watch.flushed()
    }

    pub(crate) fn min_offset(&self) -> u64 {
        self.segments.read().first().map_or(0, |s| s.start())
    }

    pub(crate) fn last_store_ts(&self) -> i64 {
        self.state.lock().last_store_ts
    }

    pub(crate) fn segment_for(&self, offset: u64) -> Option<Arc<Segment>> {
        let segs = self.segments.read();
        let i = segs.partition_point(|s| s.end() <= offset);
        segs.get(i).filter(|s| s.contains(offset)).cloned()
    }

    pub(crate) fn segments(&self) -> Vec<Arc<Segment>> {
        self.segments.read().clone()
    }

    /// The start of the segment after the one holding `offset`.
    pub(crate) fn roll_next_file(&self, offset: u64) -> u64 {
        offset - offset % self.segment_size + self.segment_size
    }

    /// `len` bytes at `offset`, which must lie in one segment below `written`.
    /// Bytes still in the pending buffer are written out first.
    pub(crate) fn read(&self, offset: u64, len: usize) -> Result<Bytes> {
        let end = offset + len as u64;
        let mut written = self.written();
        if end > written && end <= self.appended() {
            written = self.commit_to(end)?;
        }
        if end > written {
            return Err(StoreError::OffsetOutOfRange { offset: end, min: self.min_offset(), max: written });
        }
        let seg = self
            .segment_for(offset)
            .filter(|s| end <= s.end())
            .ok_or(StoreError::OffsetOutOfRange { offset, min: self.min_offset(), max: written })?;
        let mut buf = BytesMut::zeroed(len);
        seg.read_at(offset - seg.start(), &mut buf)?;
        Ok(buf.freeze())
    }

    /// Up to `max_len` committed bytes from `offset`, within one segment (replication:
    /// the master's HA stream). `None` when nothing is there yet.
    pub(crate) fn read_committed(&self, offset: u64, max_len: usize) -> Result<Option<Bytes>> {
        let mut written = self.written();
        if offset >= written && offset < self.appended() {
            written = self.commit_all()?;
        }
        if offset >= written {
            return Ok(None);
        }
        let Some(seg) = self.segment_for(offset) else {
            return Err(StoreError::OffsetOutOfRange { offset, min: self.min_offset(), max: written });
        };
        let end = written.min(seg.end()).min(offset + max_len as u64);
        self.read(offset, (end - offset) as usize).map(Some)
    }

    /// The whole record at `offset` (header first, then the rest); `None` at the blank
    /// record closing a segment, which may be shorter than any message.
    pub(crate) fn read_record(&self, offset: u64) -> Result<Option<Bytes>> {
        let head = self.read(offset, 8)?;
        if let Peeked::Blank { .. } = record::peek(&head, offset, false) {
            return Ok(None);
        }
        let size = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        if size < record::MIN_RECORD_LEN as i32 {
            return Err(StoreError::Corrupt {
                what: "CommitLog".into(),
                offset,
                detail: format!("no message record here (size field {size})"),
            });
        }
        self.read(offset, size as usize).map(Some)
    }

    // ---- queue table -------------------------------------------------------------

    pub(crate) fn set_queue_table(&self, table: QueueTable) {
        self.state.lock().queue_table = table;
    }

    pub(crate) fn queue_table_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.state.lock().queue_table.get(topic).and_then(|q| q.get(&queue_id)).copied().unwrap_or(0)
    }

    pub(crate) fn remove_topic(&self, topic: &str) {
        self.state.lock().queue_table.remove(topic);
    }

    // ---- truncation and deletion -------------------------------------------------------

    /// Cuts the log back to `offset` (a record boundary): an HA slave diverged from its
    /// master, or a Raft follower dropping an uncommitted suffix.
    pub(crate) fn truncate_to(&self, offset: u64) -> Result<()> {
        self.commit_all()?;
        let _f = self.flush_lock.lock();
        let _c = self.commit_lock.lock();
        let mut st = self.state.lock();
        // Not under zeros being written (at most one batch, a few milliseconds).
        while st.zeroing.is_some() {
            AppendState::wait_for_zeroing(&self.fence_cond, &mut st);
        }
        if !st.pending.is_empty() {
            return Err(StoreError::NotWritable("appends raced with a truncation"));
        }
        let min = self.min_offset();
        if offset < min || offset > st.append_pos {
            return Err(StoreError::OffsetOutOfRange { offset, min, max: st.append_pos });
        }
        let mut segs = self.segments.write();
        let keep = segs.iter().position(|s| s.contains(offset));
        let tail = match keep {
            Some(i) => {
                for s in segs.drain(i + 1..) {
                    s.delete()?;
                }
                segs[i].clone()
            }
            None => {
                // `offset` is the end of the last segment: start a new one there.
                let s = Arc::new(Segment::create(&self.dir, offset, self.segment_size, self.prep.space)?);
                segs.push(s.clone());
                s
            }
        };
        tail.zero_from(offset - tail.start(), self.prep.space)?;
        self.warm_until.store(offset, Ordering::Release);
        sync_dir(&self.dir)?;
        {
            let mut p = self.prealloc.lock();
            if p.ready.as_ref().is_some_and(|s| s.start() > tail.start()) {
                p.ready = None;
            }
        }
        st.tail = tail;
        st.append_pos = offset;
        st.tail_warmed = offset;
        self.appended.store(offset, Ordering::Release);
        self.written.store(offset, Ordering::Release);
        if self.watch.flushed() > offset {
            self.watch.reset(offset);
        }
        Ok(())
    }

    /// Removes the oldest segment if it starts at `start` and is not the tail: kept as
    /// the spare for reuse when `keep` (see `recycle.rs`), else deleted.
    pub(crate) fn delete_first_segment(&self, start: u64, keep: bool) -> Result<bool> {
        let tail_start = self.state.lock().tail.start();
        let seg = {
            let mut segs = self.segments.write();
            match segs.first() {
                Some(s) if s.start() == start && start != tail_start && segs.len() > 1 => segs.remove(0),
                _ => return Ok(false),
            }
        };
        self.retire(seg, keep)?;
        Ok(true)
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// `offset` rounded up to a block boundary.
fn page_up(offset: u64) -> u64 {
    offset.div_ceil(BLOCK).saturating_mul(BLOCK)
}

#[cfg(test)]
mod tests;
