//! The Raft entry index of a CommitLog used as a Raft (DLedger) log
//! (`enableDLegerCommitLog`): for each Raft index, the term and the CommitLog position and
//! size of its entry — one RocketMQ record or batch, stored in the CommitLog like any other.
//! Keeping index and term beside the log, not in each record, leaves the record format,
//! the dispatcher, readers and CommitLog recovery as they are.
//!
//! Entry `i` sits at byte `i * 32` of a file sequence under `raftlog/`, each file named by
//! the 20-digit byte offset of its first entry (like a ConsumeQueue):
//! `int32 magic | int32 size | int64 commitLogOffset | int64 index | int64 term`. The magic
//! and the index repeated inside the entry let recovery tell a written entry from a torn
//! or stale one.
//!
//! Rules the store keeps: indexes are contiguous; an entry's bytes lie below the CommitLog
//! end; an entry is appended only after its record (so after a crash the index may lack
//! the last records, never the reverse — the store then cuts the CommitLog back to the
//! last indexed entry).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Result, StoreError};
use crate::segment::{list_segment_files, Segment, Space};

/// Bytes per entry.
pub(crate) const ENTRY_SIZE: u64 = 32;
const MAGIC: i32 = 0x5241_4654; // "RAFT"

/// One Raft log entry: its index and term, and where its record(s) lie in the CommitLog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaftEntry {
    pub index: u64,
    pub term: u64,
    /// CommitLog offset of the entry's first byte.
    pub pos: u64,
    pub size: u32,
}

impl RaftEntry {
    /// CommitLog offset just past the entry.
    pub fn end(&self) -> u64 {
        self.pos + u64::from(self.size)
    }

    pub(crate) fn encode(&self) -> [u8; ENTRY_SIZE as usize] {
        let mut b = [0u8; ENTRY_SIZE as usize];
        b[..4].copy_from_slice(&MAGIC.to_be_bytes());
        b[4..8].copy_from_slice(&self.size.to_be_bytes());
        b[8..16].copy_from_slice(&self.pos.to_be_bytes());
        b[16..24].copy_from_slice(&self.index.to_be_bytes());
        b[24..32].copy_from_slice(&self.term.to_be_bytes());
        b
    }

    /// The entry in `b` if it is one written for `index`: magic, index and a non-zero size
    /// must agree (anything else — zeros, a torn write, a stale slot — is no entry).
    pub(crate) fn decode(b: &[u8], index: u64) -> Option<RaftEntry> {
        let magic = i32::from_be_bytes(b.get(..4)?.try_into().ok()?);
        let size = u32::from_be_bytes(b.get(4..8)?.try_into().ok()?);
        let pos = u64::from_be_bytes(b.get(8..16)?.try_into().ok()?);
        let stored_index = u64::from_be_bytes(b.get(16..24)?.try_into().ok()?);
        let term = u64::from_be_bytes(b.get(24..32)?.try_into().ok()?);
        if magic != MAGIC || size == 0 || stored_index != index || pos.checked_add(u64::from(size)).is_none()
        {
            return None;
        }
        Some(RaftEntry { index, term, pos, size })
    }
}

/// What opening the entry index found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryIndexRecovery {
    /// The last valid entry (none: the index is empty).
    pub last: Option<RaftEntry>,
    /// Entries dropped because their bytes were beyond the CommitLog end or their slot did
    /// not hold a valid entry (a torn write), counted from the end.
    pub entries_dropped: u64,
}

pub(crate) struct EntryIndex {
    dir: PathBuf,
    file_size: u64,
    files: Vec<Arc<Segment>>,
    first: Option<u64>,
    last: Option<RaftEntry>,
    /// The lowest index appended since the last flush (only the files from there on need
    /// an fsync).
    unflushed_from: Option<u64>,
}

impl EntryIndex {
    /// Opens the index in `dir`. Like a ConsumeQueue's recovery it checks the tail only:
    /// the first entry is the first valid slot of the first file; the last is the end of
    /// the run of valid entries in the last file holding any, cut back further while an
    /// entry's bytes reach beyond `commit_log_end`. Whatever follows is zeroed.
    pub(crate) fn open(
        dir: &Path,
        entries_per_file: u64,
        commit_log_end: u64,
    ) -> Result<(Self, EntryIndexRecovery)> {
        let file_size = entries_per_file.max(1) * ENTRY_SIZE;
        let mut files = Vec::new();
        for (start, path) in list_segment_files(dir)? {
            if start % file_size != 0 {
                return Err(StoreError::Corrupt {
                    what: path.display().to_string(),
                    offset: start,
                    detail: format!("entry index file does not start at a multiple of {file_size}"),
                });
            }
            files.push(Arc::new(Segment::open(path, start, file_size, true)?));
        }
        let mut idx = EntryIndex {
            dir: dir.to_path_buf(),
            file_size,
            files,
            first: None,
            last: None,
            unflushed_from: None,
        };
        let mut report = EntryIndexRecovery::default();
        let Some((first, first_file)) = idx.first_written_slot()? else {
            idx.zero_from(0)?;
            return Ok((idx, report));
        };
        idx.first = Some(first);
        let mut first_file = Some(first_file);
        // The run of valid entries in the last file holding any; written slots after it
        // (torn or stale) are dropped, counted from the bytes already read.
        let mut end = first; // one past the last valid entry
        for f in idx.files.iter().rev() {
            let base = f.start() / ENTRY_SIZE;
            // The file holding the first entry was read already.
            let bytes = match first_file.take_if(|_| base <= first && first < base + entries_per_file.max(1))
            {
                Some(bytes) => bytes,
                None => read_file(f)?,
            };
            let run_start = base.max(first);
            let mut slot = run_start;
            let mut prev_end = 0;
            while let Some(e) = slot_entry(&bytes, base, slot) {
                if e.pos < prev_end {
                    break;
                }
                prev_end = e.end();
                slot += 1;
            }
            let after_run = bytes.get(((slot - base) * ENTRY_SIZE) as usize..).unwrap_or_default();
            report.entries_dropped +=
                after_run.chunks(ENTRY_SIZE as usize).filter(|c| c.iter().any(|b| *b != 0)).count() as u64;
            if slot > run_start {
                end = slot;
                break;
            }
        }
        // Entries whose bytes the CommitLog no longer holds.
        let mut last = None;
        while end > first {
            match idx.read(end - 1)? {
                Some(e) if e.end() <= commit_log_end => {
                    last = Some(e);
                    break;
                }
                _ => {
                    end -= 1;
                    report.entries_dropped += 1;
                }
            }
        }
        // Every slot after the run that held anything was counted as dropped. A tail that is
        // all zeros (a clean stop, or a crash between appends) needs no rewrite: zeroing is
        // a truncation, an allocation and an fsync of the last file at every start.
        let tail_dirty = report.entries_dropped > 0
            || idx.files.iter().any(|f| f.start() >= end.saturating_mul(ENTRY_SIZE));
        if tail_dirty {
            idx.zero_from(end)?;
        }
        idx.last = last;
        if last.is_none() {
            idx.first = None;
        }
        report.last = last;
        Ok((idx, report))
    }

    /// The first slot (of the first file) holding a valid entry, with that file's bytes.
    fn first_written_slot(&self) -> Result<Option<(u64, Vec<u8>)>> {
        for f in &self.files {
            let bytes = read_file(f)?;
            let base = f.start() / ENTRY_SIZE;
            let slots = self.file_size / ENTRY_SIZE;
            if let Some(slot) = (base..base + slots).find(|s| slot_entry(&bytes, base, *s).is_some()) {
                return Ok(Some((slot, bytes)));
            }
        }
        Ok(None)
    }

    fn file_for(&self, index: u64) -> Option<&Arc<Segment>> {
        let pos = index.checked_mul(ENTRY_SIZE)?;
        let i = self.files.partition_point(|s| s.end() <= pos);
        self.files.get(i).filter(|s| s.contains(pos))
    }

    fn read(&self, index: u64) -> Result<Option<RaftEntry>> {
        let Some(f) = self.file_for(index) else {
            return Ok(None);
        };
        let mut b = [0u8; ENTRY_SIZE as usize];
        f.read_at(index * ENTRY_SIZE - f.start(), &mut b)?;
        Ok(RaftEntry::decode(&b, index))
    }

    pub(crate) fn first_index(&self) -> Option<u64> {
        self.first
    }

    pub(crate) fn last(&self) -> Option<RaftEntry> {
        self.last
    }

    /// The index the next append must carry (none when empty: a first entry may carry
    /// any index, e.g. after a snapshot).
    pub(crate) fn next_index(&self) -> Option<u64> {
        self.last.map(|e| e.index + 1)
    }

    /// Entry `index`, if the index holds it.
    pub(crate) fn get(&self, index: u64) -> Result<Option<RaftEntry>> {
        match (self.first, self.last) {
            (Some(first), Some(last)) if index >= first && index <= last.index => self.read(index),
            _ => Ok(None),
        }
    }

    /// Appends `e`, which must follow the last entry (index + 1, bytes at or after its end).
    pub(crate) fn append(&mut self, e: RaftEntry) -> Result<()> {
        if let Some(last) = self.last {
            if e.index != last.index + 1 || e.pos < last.end() {
                return Err(StoreError::InvalidEntry(format!(
                    "entry {} at offset {} does not follow entry {} ending at {}",
                    e.index,
                    e.pos,
                    last.index,
                    last.end()
                )));
            }
        }
        let pos = e
            .index
            .checked_mul(ENTRY_SIZE)
            .ok_or_else(|| StoreError::InvalidEntry(format!("index {} too large", e.index)))?;
        let f = match self.file_for(e.index) {
            Some(f) => f.clone(),
            None => {
                let start = pos - pos % self.file_size;
                let seg = Arc::new(Segment::create(&self.dir, start, self.file_size, Space::Reserved)?);
                let i = self.files.partition_point(|s| s.start() < start);
                self.files.insert(i, seg.clone());
                seg
            }
        };
        f.write_at(pos - f.start(), &e.encode())?;
        self.first.get_or_insert(e.index);
        self.last = Some(e);
        self.unflushed_from = Some(self.unflushed_from.map_or(e.index, |u| u.min(e.index)));
        Ok(())
    }

    /// Drops every entry after `index` (every entry when `index` is `None`), which must be
    /// one the index holds.
    pub(crate) fn truncate_after(&mut self, index: Option<u64>) -> Result<()> {
        let keep_last = match index {
            Some(i) => Some(self.get(i)?.ok_or_else(|| {
                StoreError::InvalidEntry(format!("cannot keep entry {i}: the log does not hold it"))
            })?),
            None => None,
        };
        let from = match (index, self.first) {
            (Some(i), _) => i + 1,
            (None, Some(first)) => first,
            (None, None) => 0,
        };
        self.zero_from(from)?;
        self.last = keep_last;
        if keep_last.is_none() {
            self.first = None;
        }
        Ok(())
    }

    /// Zeroes the slots from `index` on; files that start at or after it are deleted.
    fn zero_from(&mut self, index: u64) -> Result<()> {
        let pos = index.saturating_mul(ENTRY_SIZE);
        let (gone, kept): (Vec<_>, Vec<_>) = self.files.drain(..).partition(|f| f.start() >= pos);
        self.files = kept;
        if let Some(f) = self.files.last().filter(|f| f.contains(pos)) {
            f.zero_from(pos - f.start(), Space::Reserved)?;
        }
        for f in &gone {
            f.delete()?;
        }
        if !gone.is_empty() {
            crate::segment::sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Retention: deletes the files whose entries all end at or below `cl_min` (their
    /// CommitLog segments are gone), never the one holding the last entry. Returns how many.
    pub(crate) fn delete_expired(&mut self, cl_min: u64) -> Result<usize> {
        let mut deleted = 0;
        while self.files.len() > 1 {
            let Some(f) = self.files.first() else { break };
            // A file wholly before the first entry (left by truncating everything, when the
            // log went on at a higher index) holds nothing to keep.
            let before_first = self.first.is_none_or(|first| f.end() <= first.saturating_mul(ENTRY_SIZE));
            if !before_first {
                let last_slot = f.end() / ENTRY_SIZE - 1;
                if self.read(last_slot)?.is_none_or(|e| e.end() > cl_min) {
                    break;
                }
            }
            let f = self.files.remove(0);
            f.delete()?;
            if !before_first {
                self.first = Some(f.end() / ENTRY_SIZE);
            }
            deleted += 1;
        }
        if deleted > 0 {
            crate::segment::sync_dir(&self.dir)?;
        }
        Ok(deleted)
    }

    /// fsyncs the files holding entries appended since the last flush.
    pub(crate) fn flush(&mut self) -> Result<()> {
        let Some(from) = self.unflushed_from else {
            return Ok(());
        };
        let pos = from.saturating_mul(ENTRY_SIZE);
        for f in self.files.iter().filter(|f| f.end() > pos) {
            f.sync()?;
        }
        self.unflushed_from = None;
        Ok(())
    }
}

fn read_file(f: &Segment) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; f.size() as usize];
    f.read_at(0, &mut bytes)?;
    Ok(bytes)
}

/// The entry for `slot` in the bytes of the file whose first slot is `base`.
fn slot_entry(bytes: &[u8], base: u64, slot: u64) -> Option<RaftEntry> {
    let at = (slot.checked_sub(base)? * ENTRY_SIZE) as usize;
    RaftEntry::decode(bytes.get(at..at + ENTRY_SIZE as usize)?, slot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64, pos: u64) -> RaftEntry {
        RaftEntry { index, term, pos, size: 100 }
    }

    #[test]
    fn entries_round_trip_and_reject_what_is_not_theirs() {
        let e = RaftEntry { index: 7, term: 3, pos: 4096, size: 512 };
        let b = e.encode();
        assert_eq!(RaftEntry::decode(&b, 7), Some(e));
        assert_eq!(RaftEntry::decode(&b, 8), None, "a stale slot of another index");
        assert_eq!(RaftEntry::decode(&[0u8; 32], 0), None);
        let mut torn = b;
        torn[0] ^= 1;
        assert_eq!(RaftEntry::decode(&torn, 7), None);
        assert_eq!(RaftEntry::decode(&b[..31], 7), None);
    }

    #[test]
    fn append_get_truncate_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (mut idx, r) = EntryIndex::open(dir.path(), 4, 0).unwrap();
        assert_eq!(r.last, None);
        for i in 1..=10u64 {
            idx.append(entry(i, 1 + i / 5, i * 100)).unwrap();
        }
        assert_eq!(idx.first_index(), Some(1));
        assert_eq!(idx.last().unwrap().index, 10);
        assert_eq!(idx.get(6).unwrap(), Some(entry(6, 2, 600)));
        assert_eq!(idx.get(11).unwrap(), None);
        assert_eq!(idx.get(0).unwrap(), None);
        // Out of order, or overlapping the last entry's bytes: refused.
        assert!(idx.append(entry(12, 2, 1200)).is_err());
        assert!(idx.append(entry(11, 2, 1050)).is_err());
        // Keeping an entry the index does not hold is refused and changes nothing.
        assert!(idx.truncate_after(Some(99)).is_err());
        assert_eq!(idx.last().map(|e| e.index), Some(10));
        idx.truncate_after(Some(6)).unwrap();
        assert_eq!(idx.last(), Some(entry(6, 2, 600)));
        assert_eq!(idx.get(7).unwrap(), None);
        idx.append(entry(7, 3, 700)).unwrap();
        idx.flush().unwrap();
        drop(idx);
        let (idx, r) = EntryIndex::open(dir.path(), 4, 10_000).unwrap();
        assert_eq!(r.last, Some(entry(7, 3, 700)));
        assert_eq!(r.entries_dropped, 0);
        assert_eq!(idx.get(7).unwrap(), Some(entry(7, 3, 700)));
        assert_eq!(idx.first_index(), Some(1));
    }

    #[test]
    fn recovery_drops_entries_beyond_the_commit_log_and_torn_slots() {
        let dir = tempfile::tempdir().unwrap();
        let (mut idx, _) = EntryIndex::open(dir.path(), 4, 0).unwrap();
        for i in 0..10u64 {
            idx.append(entry(i, 1, i * 100)).unwrap();
        }
        drop(idx);
        // The CommitLog ends inside entry 7: entries 7.. are dropped.
        let (idx, r) = EntryIndex::open(dir.path(), 4, 750).unwrap();
        assert_eq!(r.last.map(|e| e.index), Some(6));
        assert_eq!(r.entries_dropped, 3);
        assert_eq!(idx.next_index(), Some(7));
        drop(idx);
        // A torn slot in the last file: it and everything after it (entry 6) are dropped.
        let path = dir.path().join(crate::segment::segment_name(4 * ENTRY_SIZE));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[ENTRY_SIZE as usize + 3] ^= 0xFF; // entry 5
        std::fs::write(&path, &bytes).unwrap();
        let (idx, r) = EntryIndex::open(dir.path(), 4, 10_000).unwrap();
        assert_eq!(r.last.map(|e| e.index), Some(4));
        assert_eq!(r.entries_dropped, 2);
        assert_eq!(idx.get(5).unwrap(), None);
    }

    #[test]
    fn a_clean_tail_is_not_rewritten_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let (mut idx, _) = EntryIndex::open(dir.path(), 4, 0).unwrap();
        for i in 0..6u64 {
            idx.append(entry(i, 1, i * 100)).unwrap();
        }
        idx.flush().unwrap();
        drop(idx);
        let path = dir.path().join(crate::segment::segment_name(4 * ENTRY_SIZE));
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (idx, r) = EntryIndex::open(dir.path(), 4, 10_000).unwrap();
        assert_eq!((r.last.map(|e| e.index), r.entries_dropped), (Some(5), 0));
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            before,
            "the last file was rewritten"
        );
        drop(idx);
        // A dropped entry still zeroes what follows the run.
        let (_, r) = EntryIndex::open(dir.path(), 4, 550).unwrap();
        assert_eq!((r.last.map(|e| e.index), r.entries_dropped), (Some(4), 1));
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes[ENTRY_SIZE as usize..].iter().all(|b| *b == 0), "entry 5 is zeroed");
        assert_ne!(std::fs::metadata(&path).unwrap().modified().unwrap(), before);
    }

    #[test]
    fn truncating_everything_empties_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let (mut idx, _) = EntryIndex::open(dir.path(), 4, 0).unwrap();
        for i in 5..9u64 {
            idx.append(entry(i, 1, i * 100)).unwrap();
        }
        idx.truncate_after(None).unwrap();
        assert_eq!((idx.first_index(), idx.last()), (None, None));
        // A new first entry may carry any index.
        idx.append(entry(20, 2, 0)).unwrap();
        drop(idx);
        let (mut idx, r) = EntryIndex::open(dir.path(), 4, 10_000).unwrap();
        assert_eq!(r.last, Some(entry(20, 2, 0)));
        assert_eq!(idx.first_index(), Some(20));
        // The emptied file before the new first entry does not hold retention back.
        assert_eq!(idx.files.len(), 2);
        assert_eq!(idx.delete_expired(0).unwrap(), 1);
        assert_eq!((idx.first_index(), idx.last()), (Some(20), Some(entry(20, 2, 0))));
    }

    #[test]
    fn retention_deletes_files_whose_entries_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let (mut idx, _) = EntryIndex::open(dir.path(), 4, 0).unwrap();
        for i in 1..=10u64 {
            idx.append(entry(i, 1, i * 100)).unwrap(); // entry i ends at i * 100 + 100
        }
        // Files hold slots 0-3, 4-7, 8-11. The CommitLog now starts at 750: entries up to 6
        // are gone, so the first file (entries 1-3) goes, the second (4-7, 7 ends at 800)
        // stays.
        assert_eq!(idx.delete_expired(750).unwrap(), 1);
        assert_eq!(idx.first_index(), Some(4));
        assert_eq!(idx.get(3).unwrap(), None);
        assert_eq!(idx.get(4).unwrap(), Some(entry(4, 1, 400)));
        // Never the file holding the last entry.
        assert_eq!(idx.delete_expired(10_000).unwrap(), 1);
        assert_eq!(idx.first_index(), Some(8));
        assert_eq!(idx.last(), Some(entry(10, 1, 1000)));
        drop(idx);
        let (idx, r) = EntryIndex::open(dir.path(), 4, 10_000).unwrap();
        assert_eq!((idx.first_index(), r.last.map(|e| e.index)), (Some(8), Some(10)));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Append(u8),
        TruncateBack(u8),
        /// Reopen with the CommitLog ending at this fraction (in 1/8) of the last entry's end.
        Reopen(u8),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (1u8..12).prop_map(Op::Append),
            1 => (0u8..6).prop_map(Op::TruncateBack),
            1 => (0u8..=8).prop_map(Op::Reopen),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any sequence of appends, truncations and reopens (with the CommitLog cut
        /// anywhere) keeps the index equal to a model: contiguous entries, each readable,
        /// none beyond the CommitLog end, nothing after the last.
        #[test]
        fn the_index_follows_a_model(ops in proptest::collection::vec(op(), 1..40), first in 0u64..100) {
            let dir = tempfile::tempdir().unwrap();
            let (mut idx, _) = EntryIndex::open(dir.path(), 8, 0).unwrap();
            let mut model: Vec<RaftEntry> = Vec::new();
            for op in ops {
                match op {
                    Op::Append(n) => {
                        for _ in 0..n {
                            let (index, pos) = model.last().map_or((first, 0), |l| (l.index + 1, l.end() + l.index % 3));
                            let e = RaftEntry { index, term: index / 10, pos, size: 50 + (index % 7) as u32 };
                            idx.append(e).unwrap();
                            model.push(e);
                        }
                    }
                    Op::TruncateBack(k) => {
                        let keep = model.len().saturating_sub(k as usize);
                        idx.truncate_after(keep.checked_sub(1).map(|i| model[i].index)).unwrap();
                        model.truncate(keep);
                    }
                    Op::Reopen(eighths) => {
                        let end = model.last().map_or(0, |l| l.end()) * u64::from(eighths) / 8;
                        drop(idx);
                        let (reopened, report) = EntryIndex::open(dir.path(), 8, end).unwrap();
                        idx = reopened;
                        model.retain(|e| e.end() <= end);
                        proptest::prop_assert_eq!(report.last, model.last().copied());
                    }
                }
                proptest::prop_assert_eq!(idx.last(), model.last().copied());
                proptest::prop_assert_eq!(idx.first_index(), model.first().map(|e| e.index));
                for e in &model {
                    proptest::prop_assert_eq!(idx.get(e.index).unwrap(), Some(*e));
                }
                if let Some(l) = model.last() {
                    proptest::prop_assert_eq!(idx.get(l.index + 1).unwrap(), None);
                }
            }
        }
    }
}
