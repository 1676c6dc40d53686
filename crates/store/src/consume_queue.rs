//! ConsumeQueue: per topic and queue id, the logical index into the CommitLog. Entry `i`
//! (the message with queue offset `i`) sits at byte `i * 20` of the queue's file sequence
//! under `consumequeue/{topic}/{queueId}/`, each file named by the 20-digit byte offset of
//! its first entry: `int64 commitLogOffset | int32 size | int64 tagsCode`.
//!
//! The CommitLog is the source of truth; a ConsumeQueue is derived, written only by the
//! dispatcher (one thread), trimmed or rebuilt from the CommitLog after a crash. Because
//! an entry's position is its queue offset, re-dispatching a record is idempotent.
//! Readers see entries only below the published `max_offset`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::config::CQ_STORE_UNIT_SIZE;
use crate::error::{Result, StoreError};
use crate::segment::{list_segment_files, Segment, Space};

const UNIT: u64 = CQ_STORE_UNIT_SIZE;
/// Bytes read per system call when scanning a queue file backwards.
const SCAN_CHUNK: u64 = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CqEntry {
    pub phy_offset: u64,
    pub size: u32,
    pub tags_code: i64,
}

impl CqEntry {
    fn encode(&self) -> [u8; UNIT as usize] {
        let mut b = [0u8; UNIT as usize];
        b[..8].copy_from_slice(&self.phy_offset.to_be_bytes());
        b[8..12].copy_from_slice(&self.size.to_be_bytes());
        b[12..20].copy_from_slice(&self.tags_code.to_be_bytes());
        b
    }

    /// `None` for an empty slot (size 0 or a negative offset).
    fn decode(b: &[u8]) -> Option<CqEntry> {
        let phy = i64::from_be_bytes(b.get(..8)?.try_into().ok()?);
        let size = i32::from_be_bytes(b.get(8..12)?.try_into().ok()?);
        let tags_code = i64::from_be_bytes(b.get(12..20)?.try_into().ok()?);
        if phy < 0 || size <= 0 {
            return None;
        }
        Some(CqEntry { phy_offset: phy as u64, size: size as u32, tags_code })
    }

    pub fn phy_end(&self) -> u64 {
        self.phy_offset + u64::from(self.size)
    }
}

/// What `put` did with an entry.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PutOutcome {
    Appended,
    /// Already present and identical (re-dispatch after restart).
    Present,
    /// A different entry was there and was replaced.
    Replaced,
    /// The queue offset jumped past the end: entries are missing in between.
    Gap {
        expected: i64,
    },
}

#[derive(Default)]
struct Pending {
    start: i64,
    data: Vec<u8>,
}

pub(crate) struct ConsumeQueue {
    topic: String,
    queue_id: i32,
    dir: PathBuf,
    file_size: u64,
    files: RwLock<Vec<Arc<Segment>>>,
    /// One past the last published entry.
    max_offset: AtomicI64,
    /// The first entry that still points at CommitLog data.
    min_offset: AtomicI64,
    flushed: AtomicI64,
    pending: Mutex<Pending>,
}

impl ConsumeQueue {
    pub(crate) fn create(root: &Path, topic: &str, queue_id: i32, file_size: u64) -> Result<Self> {
        let dir = root.join(topic).join(queue_id.to_string());
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        Ok(ConsumeQueue {
            topic: topic.to_string(),
            queue_id,
            dir,
            file_size,
            files: RwLock::new(Vec::new()),
            max_offset: AtomicI64::new(0),
            min_offset: AtomicI64::new(0),
            flushed: AtomicI64::new(0),
            pending: Mutex::new(Pending::default()),
        })
    }

    /// Loads a queue from disk, keeping only entries that end at or below `cl_end` (the
    /// recovered CommitLog end). Returns `None` when the files are unusable (not
    /// contiguous), which calls for a rebuild.
    pub(crate) fn load(
        root: &Path,
        topic: &str,
        queue_id: i32,
        file_size: u64,
        cl_min: u64,
        cl_end: u64,
    ) -> Result<Option<Self>> {
        let cq = Self::create(root, topic, queue_id, file_size)?;
        let mut files = Vec::new();
        for (start, path) in list_segment_files(&cq.dir)? {
            if start % UNIT != 0 {
                return Ok(None);
            }
            if let Some(prev) = files.last().map(|s: &Arc<Segment>| s.end()) {
                if prev != start {
                    tracing::warn!(topic, queue_id, "ConsumeQueue files are not contiguous");
                    return Ok(None);
                }
            }
            match Segment::open(path, start, file_size, true) {
                Ok(s) => files.push(Arc::new(s)),
                Err(StoreError::Corrupt { .. }) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        *cq.files.write() = files;
        cq.trim_to_phy(cl_end)?;
        cq.correct_min_offset(cl_min)?;
        let max = cq.max_offset();
        cq.flushed.store(max, Ordering::SeqCst);
        Ok(Some(cq))
    }

    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    pub(crate) fn queue_id(&self) -> i32 {
        self.queue_id
    }

    pub(crate) fn max_offset(&self) -> i64 {
        self.max_offset.load(Ordering::Acquire)
    }

    pub(crate) fn min_offset(&self) -> i64 {
        self.min_offset.load(Ordering::Acquire)
    }

    fn entries_per_file(&self) -> u64 {
        self.file_size / UNIT
    }

    fn file_for(&self, index: i64) -> Option<Arc<Segment>> {
        let pos = index as u64 * UNIT;
        let files = self.files.read();
        let i = files.partition_point(|s| s.end() <= pos);
        files.get(i).filter(|s| s.contains(pos)).cloned()
    }

    fn file_for_write(&self, index: i64) -> Result<Arc<Segment>> {
        if let Some(f) = self.file_for(index) {
            return Ok(f);
        }
        let pos = index as u64 * UNIT;
        let start = pos - pos % self.file_size;
        // Sparse, not reserved: a broker has a ConsumeQueue per queue of every topic, and
        // reserving ~6 MB for each (thousands of queues) would fill a disk with nothing.
        let seg = Arc::new(Segment::create(&self.dir, start, self.file_size, Space::Sparse)?);
        let mut files = self.files.write();
        let i = files.partition_point(|s| s.start() < start);
        files.insert(i, seg.clone());
        Ok(seg)
    }

    /// Reads entry `index` from disk (ignoring the published bound).
    fn read_raw(&self, index: i64) -> Result<Option<CqEntry>> {
        let Some(f) = self.file_for(index) else {
            return Ok(None);
        };
        let mut b = [0u8; UNIT as usize];
        f.read_at(index as u64 * UNIT - f.start(), &mut b)?;
        Ok(CqEntry::decode(&b))
    }

    /// Adds (or confirms) the entry for queue offset `index`. Dispatcher thread only;
    /// visible to readers after [`ConsumeQueue::commit`].
    pub(crate) fn put(&self, index: i64, entry: CqEntry) -> Result<PutOutcome> {
        let mut p = self.pending.lock();
        let end =
            if p.data.is_empty() { self.max_offset() } else { p.start + (p.data.len() as u64 / UNIT) as i64 };
        if index < end {
            if index >= self.max_offset() {
                // Inside the pending buffer: only a buggy dispatcher would do this.
                let at = ((index - p.start) as u64 * UNIT) as usize;
                if let Some(slot) = p.data.get_mut(at..at + UNIT as usize) {
                    slot.copy_from_slice(&entry.encode());
                }
                return Ok(PutOutcome::Replaced);
            }
            return match self.read_raw(index)? {
                Some(e) if e == entry => Ok(PutOutcome::Present),
                _ => {
                    let f = self.file_for_write(index)?;
                    f.write_at(index as u64 * UNIT - f.start(), &entry.encode())?;
                    Ok(PutOutcome::Replaced)
                }
            };
        }
        let mut outcome = PutOutcome::Appended;
        if index > end {
            let empty = end == 0 && self.files.read().is_empty();
            if !empty {
                outcome = PutOutcome::Gap { expected: end };
            }
            drop(p);
            self.commit()?;
            p = self.pending.lock();
            if empty {
                self.min_offset.store(index, Ordering::Release);
            }
            // Readers may see the hole as empty entries (treated as removed messages).
            self.max_offset.store(index, Ordering::Release);
            if self.flushed.load(Ordering::Acquire) > index {
                self.flushed.store(index, Ordering::Release);
            }
        }
        if p.data.is_empty() {
            p.start = index;
        }
        p.data.extend_from_slice(&entry.encode());
        Ok(outcome)
    }

    /// Writes pending entries and publishes them.
    pub(crate) fn commit(&self) -> Result<()> {
        let mut p = self.pending.lock();
        if p.data.is_empty() {
            return Ok(());
        }
        let mut index = p.start;
        let mut rest: &[u8] = &p.data;
        while !rest.is_empty() {
            let f = self.file_for_write(index)?;
            let pos = index as u64 * UNIT - f.start();
            let n = ((f.size() - pos) as usize).min(rest.len());
            let (now, later) = rest.split_at(n);
            f.write_at(pos, now)?;
            index += (n as u64 / UNIT) as i64;
            rest = later;
        }
        p.data.clear();
        self.max_offset.store(index, Ordering::Release);
        Ok(())
    }

    /// fdatasync the files written since the last flush.
    pub(crate) fn flush(&self) -> Result<()> {
        let max = self.max_offset();
        let from = self.flushed.load(Ordering::Acquire);
        if max <= from {
            return Ok(());
        }
        let (lo, hi) = (from as u64 * UNIT, max as u64 * UNIT);
        let files: Vec<_> =
            self.files.read().iter().filter(|f| f.end() > lo && f.start() < hi).cloned().collect();
        for f in files {
            f.sync()?;
        }
        self.flushed.store(max, Ordering::Release);
        Ok(())
    }

    /// Entry `index`, if published.
    pub(crate) fn get(&self, index: i64) -> Result<Option<CqEntry>> {
        if index < 0 || index >= self.max_offset() {
            return Ok(None);
        }
        self.read_raw(index)
    }

    /// Up to `max` published entries from `from` (`None` for empty slots), in order.
    pub(crate) fn entries(&self, from: i64, max: usize) -> Result<Vec<Option<CqEntry>>> {
        let end = self.max_offset().min(from.saturating_add(max as i64));
        let mut out = Vec::with_capacity((end - from).max(0) as usize);
        let mut index = from.max(0);
        while index < end {
            let Some(f) = self.file_for(index) else {
                // A missing file (removed by retention): empty slots up to the next file.
                let next = (index as u64 / self.entries_per_file() + 1) * self.entries_per_file();
                let stop = (next as i64).min(end);
                out.extend((index..stop).map(|_| None));
                index = stop;
                continue;
            };
            let pos = index as u64 * UNIT - f.start();
            let n = ((f.size() - pos) / UNIT).min((end - index) as u64);
            let mut buf = vec![0u8; (n * UNIT) as usize];
            f.read_at(pos, &mut buf)?;
            out.extend(buf.chunks_exact(UNIT as usize).map(CqEntry::decode));
            index += n as i64;
        }
        Ok(out)
    }

    /// The last non-empty entry at or before the end of the files, scanning backwards.
    fn last_entry_on_disk(&self) -> Result<Option<(i64, CqEntry)>> {
        let files = self.files.read().clone();
        for f in files.iter().rev() {
            let mut hi = f.size();
            while hi > 0 {
                let lo = hi.saturating_sub(SCAN_CHUNK);
                let mut buf = vec![0u8; (hi - lo) as usize];
                f.read_at(lo, &mut buf)?;
                let found = buf
                    .chunks_exact(UNIT as usize)
                    .enumerate()
                    .rev()
                    .find_map(|(i, c)| CqEntry::decode(c).map(|e| (i, e)));
                if let Some((i, e)) = found {
                    let index = ((f.start() + lo) / UNIT) as i64 + i as i64;
                    return Ok(Some((index, e)));
                }
                hi = lo;
            }
        }
        Ok(None)
    }

    /// Drops entries pointing at or past `cl_end` and everything after them, and sets
    /// `max_offset` to one past the last entry kept.
    pub(crate) fn trim_to_phy(&self, cl_end: u64) -> Result<()> {
        self.commit()?;
        let mut last = self.last_entry_on_disk()?;
        while let Some((i, e)) = last {
            if e.phy_end() <= cl_end {
                break;
            }
            last = match i.checked_sub(1) {
                Some(prev) if prev >= 0 => self.read_raw(prev)?.map(|e| (prev, e)),
                _ => None,
            };
        }
        match last {
            None => {
                let files = std::mem::take(&mut *self.files.write());
                for f in files {
                    f.delete()?;
                }
                self.max_offset.store(0, Ordering::Release);
                self.min_offset.store(0, Ordering::Release);
            }
            Some((i, _)) => {
                let max = i + 1;
                let pos = max as u64 * UNIT;
                let mut files = self.files.write();
                let keep = files.partition_point(|f| f.start() < pos).max(1);
                for f in files.drain(keep..) {
                    f.delete()?;
                }
                if let Some(f) = files.last() {
                    if pos < f.end() {
                        f.zero_from(pos - f.start(), Space::Sparse)?;
                    }
                }
                drop(files);
                self.max_offset.store(max, Ordering::Release);
                if self.min_offset() > max {
                    self.min_offset.store(max, Ordering::Release);
                }
            }
        }
        let max = self.max_offset();
        if self.flushed.load(Ordering::Acquire) > max {
            self.flushed.store(max, Ordering::Release);
        }
        Ok(())
    }

    /// Moves `min_offset` to the first entry whose message is still in the CommitLog.
    pub(crate) fn correct_min_offset(&self, cl_min: u64) -> Result<()> {
        let max = self.max_offset();
        let files = self.files.read().clone();
        for f in &files {
            let first_index = (f.start() / UNIT) as i64;
            if first_index >= max {
                break;
            }
            let n = ((f.size() / UNIT) as i64).min(max - first_index);
            let mut buf = vec![0u8; (n as u64 * UNIT) as usize];
            f.read_at(0, &mut buf)?;
            let found = buf
                .chunks_exact(UNIT as usize)
                .position(|c| CqEntry::decode(c).is_some_and(|e| e.phy_offset >= cl_min));
            if let Some(i) = found {
                self.min_offset.store(first_index + i as i64, Ordering::Release);
                return Ok(());
            }
        }
        self.min_offset.store(max, Ordering::Release);
        Ok(())
    }

    /// Deletes files whose every entry points below `cl_min` (never the last file), then
    /// corrects `min_offset`. Returns the number of files deleted.
    pub(crate) fn delete_expired(&self, cl_min: u64) -> Result<usize> {
        let files = self.files.read().clone();
        let mut deleted = 0;
        for f in files.iter().take(files.len().saturating_sub(1)) {
            let mut b = [0u8; UNIT as usize];
            f.read_at(f.size() - UNIT, &mut b)?;
            match CqEntry::decode(&b) {
                Some(e) if e.phy_end() <= cl_min => {
                    self.files.write().retain(|x| !Arc::ptr_eq(x, f));
                    f.delete()?;
                    deleted += 1;
                }
                _ => break,
            }
        }
        self.correct_min_offset(cl_min)?;
        Ok(deleted)
    }

    /// Removes every file and the directory (topic deletion).
    pub(crate) fn destroy(&self) -> Result<()> {
        let files = std::mem::take(&mut *self.files.write());
        for f in files {
            f.delete()?;
        }
        self.max_offset.store(0, Ordering::Release);
        self.min_offset.store(0, Ordering::Release);
        let _ = std::fs::remove_dir(&self.dir);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(phy: u64) -> CqEntry {
        CqEntry { phy_offset: phy, size: 100, tags_code: 7 }
    }

    #[test]
    fn put_commit_read_across_files_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let cq = ConsumeQueue::create(dir.path(), "T", 0, 5 * UNIT).unwrap();
        for i in 0..12 {
            assert_eq!(cq.put(i, e(i as u64 * 100)).unwrap(), PutOutcome::Appended);
        }
        assert_eq!(cq.max_offset(), 0);
        cq.commit().unwrap();
        assert_eq!(cq.max_offset(), 12);
        let got = cq.entries(3, 100).unwrap();
        assert_eq!(got.len(), 9);
        assert_eq!(got[0], Some(e(300)));
        assert_eq!(cq.put(4, e(400)).unwrap(), PutOutcome::Present);
        cq.flush().unwrap();
        drop(cq);
        // The CommitLog ends at 950: entries 10 (1000..1100) and 11 are dropped, 9 ends at 1000 > 950.
        let cq = ConsumeQueue::load(dir.path(), "T", 0, 5 * UNIT, 200, 950).unwrap().unwrap();
        assert_eq!(cq.max_offset(), 9);
        assert_eq!(cq.min_offset(), 2);
        assert_eq!(cq.get(8).unwrap(), Some(e(800)));
        assert_eq!(cq.get(9).unwrap(), None);
        assert_eq!(cq.put(9, e(900)).unwrap(), PutOutcome::Appended);
        cq.commit().unwrap();
        assert_eq!(cq.delete_expired(600).unwrap(), 1);
        assert_eq!(cq.min_offset(), 6);
    }

    #[test]
    fn starts_mid_queue_and_reports_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let cq = ConsumeQueue::create(dir.path(), "T", 1, 4 * UNIT).unwrap();
        assert_eq!(cq.put(10, e(0)).unwrap(), PutOutcome::Appended);
        cq.commit().unwrap();
        assert_eq!((cq.min_offset(), cq.max_offset()), (10, 11));
        assert_eq!(cq.put(13, e(500)).unwrap(), PutOutcome::Gap { expected: 11 });
        cq.commit().unwrap();
        assert_eq!(cq.max_offset(), 14);
        assert_eq!(cq.entries(10, 10).unwrap(), vec![Some(e(0)), None, None, Some(e(500))]);
    }
}
