//! IndexFile: lookup of CommitLog offsets by message key (`KEYS`, space-separated) and by
//! unique id (`UNIQ_KEY`) within a time range, in RocketMQ's layout:
//!
//! ```text
//! header 40 bytes: beginTimestamp 8 | endTimestamp 8 | beginPhyOffset 8 | endPhyOffset 8
//!                  | hashSlotCount 4 | indexCount 4
//! slots:  maxHashSlotNum × int32, the newest entry number for the slot (0 = none)
//! entries: maxIndexNum × 20 bytes: keyHash 4 | phyOffset 8 | timeDiff (s) 4 | prevIndex 4
//! ```
//! Entry 0 is never used (`indexCount` starts at 1). The key hashed is `topic#key`
//! (Java's `String.hashCode`); entries of one slot chain newest to oldest. Files are named
//! by their creation time, `yyyyMMddHHmmssSSS`.
//!
//! The writable (newest) file keeps its slot table in memory and buffers new entries;
//! a flush writes entries, then the dirty slot pages, then the header, then fsyncs. After a
//! crash the newest file is discarded and rebuilt by the dispatcher, so a torn flush is
//! never trusted.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::clock::format_timestamp_ms;
use crate::error::{Result, StoreError};
use crate::record::java_hash;

const HEADER_SIZE: u64 = 40;
const SLOT_SIZE: u64 = 4;
const ENTRY_SIZE: u64 = 20;
const SLOT_PAGE: usize = 1024; // slots per dirty-tracking page (4 KiB)

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Header {
    begin_ts: i64,
    end_ts: i64,
    begin_phy: i64,
    end_phy: i64,
    hash_slot_count: i32,
    index_count: i32,
}

impl Header {
    fn encode(&self) -> [u8; HEADER_SIZE as usize] {
        let mut b = [0u8; HEADER_SIZE as usize];
        b[0..8].copy_from_slice(&self.begin_ts.to_be_bytes());
        b[8..16].copy_from_slice(&self.end_ts.to_be_bytes());
        b[16..24].copy_from_slice(&self.begin_phy.to_be_bytes());
        b[24..32].copy_from_slice(&self.end_phy.to_be_bytes());
        b[32..36].copy_from_slice(&self.hash_slot_count.to_be_bytes());
        b[36..40].copy_from_slice(&self.index_count.to_be_bytes());
        b
    }

    fn decode(b: &[u8; HEADER_SIZE as usize]) -> Header {
        let i64_at = |p: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[p..p + 8]);
            i64::from_be_bytes(x)
        };
        let i32_at = |p: usize| {
            let mut x = [0u8; 4];
            x.copy_from_slice(&b[p..p + 4]);
            i32::from_be_bytes(x)
        };
        Header {
            begin_ts: i64_at(0),
            end_ts: i64_at(8),
            begin_phy: i64_at(16),
            end_phy: i64_at(24),
            hash_slot_count: i32_at(32),
            index_count: i32_at(36).max(1),
        }
    }

    fn has_entries(&self) -> bool {
        self.index_count > 1
    }
}

struct Writable {
    slots: Vec<u32>,
    dirty_pages: Vec<bool>,
    pending: Vec<u8>,
    /// Entry number of the first pending entry.
    pending_first: i32,
}

struct IndexFile {
    path: PathBuf,
    file: File,
    name_ms: i64,
    slot_num: u32,
    index_num: u32,
    header: Header,
    writable: Option<Writable>,
}

fn slot_of(key_hash: i32, slot_num: u32) -> u32 {
    // Java: Math.abs(hash), with abs(Integer.MIN_VALUE) (still negative) taken as 0.
    let abs = key_hash.checked_abs().unwrap_or(0);
    abs as u32 % slot_num
}

impl IndexFile {
    fn file_size(slot_num: u32, index_num: u32) -> u64 {
        HEADER_SIZE + u64::from(slot_num) * SLOT_SIZE + u64::from(index_num) * ENTRY_SIZE
    }

    fn create(dir: &Path, name_ms: i64, slot_num: u32, index_num: u32) -> Result<IndexFile> {
        let path = dir.join(format_timestamp_ms(name_ms));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        file.set_len(Self::file_size(slot_num, index_num)).map_err(|e| StoreError::io(&path, e))?;
        let header = Header { index_count: 1, ..Header::default() };
        Ok(IndexFile {
            path,
            file,
            name_ms,
            slot_num,
            index_num,
            header,
            writable: Some(Writable {
                slots: vec![0; slot_num as usize],
                dirty_pages: vec![false; (slot_num as usize).div_ceil(SLOT_PAGE)],
                pending: Vec::new(),
                pending_first: 1,
            }),
        })
    }

    fn open(path: PathBuf, name_ms: i64, slot_num: u32, index_num: u32) -> Result<IndexFile> {
        let file =
            OpenOptions::new().read(true).write(true).open(&path).map_err(|e| StoreError::io(&path, e))?;
        let len = file.metadata().map_err(|e| StoreError::io(&path, e))?.len();
        if len != Self::file_size(slot_num, index_num) {
            return Err(StoreError::Corrupt {
                what: path.display().to_string(),
                offset: 0,
                detail: format!("index file is {len} bytes; maxHashSlotNum/maxIndexNum changed?"),
            });
        }
        let mut h = [0u8; HEADER_SIZE as usize];
        file.read_exact_at(&mut h, 0).map_err(|e| StoreError::io(&path, e))?;
        let header = Header::decode(&h);
        if header.index_count as i64 > i64::from(index_num) {
            return Err(StoreError::Corrupt {
                what: path.display().to_string(),
                offset: 36,
                detail: format!("indexCount {} exceeds maxIndexNum", header.index_count),
            });
        }
        Ok(IndexFile { path, file, name_ms, slot_num, index_num, header, writable: None })
    }

    fn io<T>(&self, r: std::io::Result<T>) -> Result<T> {
        r.map_err(|e| StoreError::io(&self.path, e))
    }

    /// Makes this file the writable one (loads its slot table into memory).
    fn make_writable(&mut self) -> Result<()> {
        if self.writable.is_some() {
            return Ok(());
        }
        let mut raw = vec![0u8; self.slot_num as usize * SLOT_SIZE as usize];
        let r = self.file.read_exact_at(&mut raw, HEADER_SIZE);
        self.io(r)?;
        let slots = raw.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect();
        self.writable = Some(Writable {
            slots,
            dirty_pages: vec![false; (self.slot_num as usize).div_ceil(SLOT_PAGE)],
            pending: Vec::new(),
            pending_first: self.header.index_count,
        });
        Ok(())
    }

    fn is_full(&self) -> bool {
        self.header.index_count as i64 >= i64::from(self.index_num)
    }

    /// RocketMQ's `putKey`. Returns false when the file is full.
    fn put_key(&mut self, key_hash: i32, phy: u64, store_ts: i64) -> Result<bool> {
        if self.is_full() {
            return Ok(false);
        }
        self.make_writable()?;
        let h = &mut self.header;
        let Some(w) = self.writable.as_mut() else {
            return Ok(false);
        };
        let slot = slot_of(key_hash, self.slot_num) as usize;
        let mut prev = w.slots.get(slot).copied().unwrap_or(0) as i32;
        if prev <= 0 || prev > h.index_count {
            prev = 0;
        }
        let time_diff = if h.begin_ts <= 0 {
            0
        } else {
            ((store_ts - h.begin_ts) / 1000).clamp(0, i64::from(i32::MAX)) as i32
        };
        let entry_no = h.index_count;
        w.pending.extend_from_slice(&key_hash.to_be_bytes());
        w.pending.extend_from_slice(&(phy as i64).to_be_bytes());
        w.pending.extend_from_slice(&time_diff.to_be_bytes());
        w.pending.extend_from_slice(&prev.to_be_bytes());
        if let Some(s) = w.slots.get_mut(slot) {
            *s = entry_no as u32;
        }
        if let Some(d) = w.dirty_pages.get_mut(slot / SLOT_PAGE) {
            *d = true;
        }
        if h.index_count <= 1 {
            h.begin_phy = phy as i64;
            h.begin_ts = store_ts;
        }
        if prev == 0 {
            h.hash_slot_count += 1;
        }
        h.index_count += 1;
        h.end_phy = phy as i64;
        h.end_ts = store_ts;
        Ok(true)
    }

    fn entries_pos(&self) -> u64 {
        HEADER_SIZE + u64::from(self.slot_num) * SLOT_SIZE
    }

    /// Writes buffered entries (enough for queries to read them back).
    fn write_entries(&mut self) -> Result<()> {
        let base = self.entries_pos();
        let Some(w) = self.writable.as_mut() else {
            return Ok(());
        };
        if w.pending.is_empty() {
            return Ok(());
        }
        let pos = base + w.pending_first as u64 * ENTRY_SIZE;
        let r = self.file.write_all_at(&w.pending, pos);
        r.map_err(|e| StoreError::io(&self.path, e))?;
        w.pending_first += (w.pending.len() as u64 / ENTRY_SIZE) as i32;
        w.pending.clear();
        Ok(())
    }

    /// Entries, then dirty slot pages, then the header; then fsync.
    fn flush(&mut self) -> Result<()> {
        self.write_entries()?;
        if let Some(w) = self.writable.as_mut() {
            for (page, dirty) in w.dirty_pages.iter_mut().enumerate() {
                if !*dirty {
                    continue;
                }
                *dirty = false;
                let lo = page * SLOT_PAGE;
                let hi = (lo + SLOT_PAGE).min(w.slots.len());
                let mut buf = Vec::with_capacity((hi - lo) * 4);
                for s in w.slots.get(lo..hi).unwrap_or_default() {
                    buf.extend_from_slice(&s.to_be_bytes());
                }
                self.file
                    .write_all_at(&buf, HEADER_SIZE + lo as u64 * SLOT_SIZE)
                    .map_err(|e| StoreError::io(&self.path, e))?;
            }
        }
        let r = self.file.write_all_at(&self.header.encode(), 0);
        self.io(r)?;
        let r = self.file.sync_data();
        self.io(r)
    }

    fn slot_value(&self, slot: u32) -> Result<i32> {
        if let Some(w) = &self.writable {
            return Ok(w.slots.get(slot as usize).copied().unwrap_or(0) as i32);
        }
        let mut b = [0u8; 4];
        let r = self.file.read_exact_at(&mut b, HEADER_SIZE + u64::from(slot) * SLOT_SIZE);
        self.io(r)?;
        Ok(i32::from_be_bytes(b))
    }

    /// RocketMQ's `selectPhyOffset`: offsets of entries for `key_hash` stored in
    /// `[begin, end]` (ms), newest first, at most `max` in `out`.
    fn select(&mut self, key_hash: i32, max: usize, begin: i64, end: i64, out: &mut Vec<u64>) -> Result<()> {
        self.write_entries()?;
        let count = self.header.index_count;
        let mut next = self.slot_value(slot_of(key_hash, self.slot_num))?;
        if next <= 0 || next > count || count <= 1 {
            return Ok(());
        }
        // Bounded: each step moves to a strictly older entry or stops.
        for _ in 0..count {
            if out.len() >= max {
                break;
            }
            let mut b = [0u8; ENTRY_SIZE as usize];
            let r = self.file.read_exact_at(&mut b, self.entries_pos() + next as u64 * ENTRY_SIZE);
            self.io(r)?;
            let hash = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let phy = i64::from_be_bytes([b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11]]);
            let time_diff = i32::from_be_bytes([b[12], b[13], b[14], b[15]]);
            let prev = i32::from_be_bytes([b[16], b[17], b[18], b[19]]);
            if time_diff < 0 {
                break;
            }
            // Saturating: the header comes from disk and may be garbage.
            let time_read = self.header.begin_ts.saturating_add(i64::from(time_diff) * 1000);
            if hash == key_hash && begin <= time_read && time_read <= end && phy >= 0 {
                out.push(phy as u64);
            }
            if prev <= 0 || prev >= next || time_read < begin {
                break;
            }
            next = prev;
        }
        Ok(())
    }

    fn time_overlaps(&self, begin: i64, end: i64) -> bool {
        self.header.has_entries() && self.header.begin_ts <= end && begin <= self.header.end_ts
    }

    fn delete(&self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(&self.path, e)),
        }
    }
}

fn parse_name(name: &str) -> Option<i64> {
    if name.len() != 17 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| name.get(a..b).and_then(|s| s.parse::<i64>().ok());
    let (y, mo, d, h, mi, s, ms) =
        (n(0, 4)?, n(4, 6)?, n(6, 8)?, n(8, 10)?, n(10, 12)?, n(12, 14)?, n(14, 17)?);
    // days from civil (Hinnant)
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms)
}

struct Inner {
    files: Vec<IndexFile>,
    /// CommitLog offset of the last indexed message (re-dispatch skips up to it).
    last_indexed: Option<u64>,
}

pub(crate) struct IndexService {
    dir: PathBuf,
    slot_num: u32,
    index_num: u32,
    inner: Mutex<Inner>,
}

/// What loading the index decided.
pub(crate) struct IndexLoad {
    pub service: IndexService,
    /// Dispatch must restart at or before this CommitLog offset for the index to be
    /// complete (`None`: the index is complete up to the checkpoint).
    pub rebuild_from: Option<u64>,
}

impl IndexService {
    /// Loads the index files. After a crash (`abnormal`) the newest file is discarded and
    /// must be rebuilt from the returned offset.
    pub(crate) fn load(
        dir: &Path,
        slot_num: u32,
        index_num: u32,
        abnormal: bool,
        cl_min: u64,
    ) -> Result<IndexLoad> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let mut named = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))? {
            let entry = entry.map_err(|e| StoreError::io(dir, e))?;
            let name = entry.file_name();
            match name.to_str().and_then(parse_name) {
                Some(ms) => named.push((ms, entry.path())),
                None => {
                    tracing::warn!(file = %entry.path().display(), "ignoring unexpected file in index directory")
                }
            }
        }
        named.sort();
        let mut files = Vec::with_capacity(named.len());
        for (ms, path) in named {
            match IndexFile::open(path.clone(), ms, slot_num, index_num) {
                Ok(f) => files.push(f),
                Err(e) => {
                    tracing::warn!(error = %e, "discarding unusable index file");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let mut rebuild_from = None;
        if abnormal {
            if let Some(last) = files.pop() {
                last.delete()?;
                let from = files
                    .iter()
                    .rev()
                    .find(|f| f.header.has_entries())
                    .map_or(cl_min, |f| f.header.end_phy.max(0) as u64);
                rebuild_from = Some(from);
            }
        }
        let last_indexed =
            files.iter().rev().find(|f| f.header.has_entries()).map(|f| f.header.end_phy.max(0) as u64);
        Ok(IndexLoad {
            service: IndexService {
                dir: dir.to_path_buf(),
                slot_num,
                index_num,
                inner: Mutex::new(Inner { files, last_indexed }),
            },
            rebuild_from,
        })
    }

    /// Adds `keys` of the message at `phy` (skipped if already indexed).
    pub(crate) fn build_index<'a>(
        &self,
        topic: &str,
        keys: impl Iterator<Item = &'a str>,
        phy: u64,
        store_ts: i64,
        now_ms: i64,
    ) -> Result<()> {
        let mut inner = self.inner.lock();
        if inner.last_indexed.is_some_and(|l| phy <= l) {
            return Ok(());
        }
        let mut any = false;
        let mut key_buf = String::with_capacity(topic.len() + 32);
        for key in keys {
            key_buf.clear();
            key_buf.push_str(topic);
            key_buf.push('#');
            key_buf.push_str(key);
            let hash = java_hash(&key_buf);
            let mut done = match inner.files.last_mut() {
                Some(f) => f.put_key(hash, phy, store_ts)?,
                None => false,
            };
            if !done {
                self.roll(&mut inner, now_ms)?;
                if let Some(f) = inner.files.last_mut() {
                    done = f.put_key(hash, phy, store_ts)?;
                }
            }
            any |= done;
        }
        if any {
            inner.last_indexed = Some(phy);
        }
        Ok(())
    }

    fn roll(&self, inner: &mut Inner, now_ms: i64) -> Result<()> {
        let mut name_ms = now_ms;
        if let Some(last) = inner.files.last_mut() {
            last.flush()?;
            last.writable = None;
            name_ms = name_ms.max(last.name_ms + 1);
        }
        let f = IndexFile::create(&self.dir, name_ms, self.slot_num, self.index_num)?;
        tracing::info!(file = %f.path.display(), "new index file");
        inner.files.push(f);
        Ok(())
    }

    /// Offsets of messages of `topic` with `key` stored in `[begin, end]` ms, newest files
    /// first, at most `max`. (Hash collisions are possible: the caller checks the message.)
    pub(crate) fn query(
        &self,
        topic: &str,
        key: &str,
        max: usize,
        begin: i64,
        end: i64,
    ) -> Result<(Vec<u64>, i64, u64)> {
        let hash = java_hash(&format!("{topic}#{key}"));
        let mut inner = self.inner.lock();
        let mut out = Vec::new();
        let mut last_ts = 0;
        let mut last_phy = 0;
        for f in inner.files.iter_mut().rev() {
            if last_ts == 0 && f.header.has_entries() {
                last_ts = f.header.end_ts;
                last_phy = f.header.end_phy.max(0) as u64;
            }
            if out.len() >= max {
                break;
            }
            if f.time_overlaps(begin, end) {
                f.select(hash, max, begin, end, &mut out)?;
            }
        }
        Ok((out, last_ts, last_phy))
    }

    pub(crate) fn flush(&self) -> Result<()> {
        let mut inner = self.inner.lock();
        if let Some(f) = inner.files.last_mut() {
            if f.writable.is_some() {
                f.flush()?;
            }
        }
        Ok(())
    }

    /// Deletes files whose newest entry points below `cl_min` (never the newest file).
    pub(crate) fn delete_expired(&self, cl_min: u64) -> Result<usize> {
        let mut inner = self.inner.lock();
        let mut deleted = 0;
        while inner.files.len() > 1 {
            let expired = inner.files.first().is_some_and(|f| f.header.end_phy < cl_min as i64);
            if !expired {
                break;
            }
            let f = inner.files.remove(0);
            f.delete()?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Forgets that messages at or after `offset` were indexed, as the CommitLog was cut
    /// there (HA or Raft truncation, or a log end behind the index after a crash): messages
    /// appended there again are indexed. Entries of the cut messages stay in the files;
    /// a query checks the message at each offset it finds, so they return nothing wrong.
    pub(crate) fn truncate_to(&self, offset: u64) {
        let mut inner = self.inner.lock();
        if inner.last_indexed.is_some_and(|l| l >= offset) {
            inner.last_indexed = offset.checked_sub(1);
        }
    }

    /// Removes every index file (full rebuild).
    pub(crate) fn destroy_all(&self) -> Result<()> {
        let mut inner = self.inner.lock();
        for f in inner.files.drain(..) {
            f.delete()?;
        }
        inner.last_indexed = None;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn file_count(&self) -> usize {
        self.inner.lock().files.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for ms in [0i64, 1_709_214_306_789, 4_102_444_800_000] {
            assert_eq!(parse_name(&format_timestamp_ms(ms)), Some(ms));
        }
        assert_eq!(parse_name("abc"), None);
    }

    #[test]
    fn put_query_roll_reload() {
        let dir = tempfile::tempdir().unwrap();
        let svc = IndexService::load(dir.path(), 8, 10, false, 0).unwrap().service;
        for i in 0..25u64 {
            let key = format!("k{}", i % 3);
            svc.build_index(
                "T",
                [key.as_str(), "all"].into_iter(),
                i * 100,
                1_000_000 + i as i64 * 1000,
                5_000 + i as i64,
            )
            .unwrap();
        }
        // 50 keys, 9 usable entries per file: 6 files.
        assert_eq!(svc.file_count(), 6);
        let (k0, _, last_phy) = svc.query("T", "k0", 100, 0, i64::MAX).unwrap();
        assert_eq!(last_phy, 2400);
        let mut expect: Vec<u64> = (0..25).filter(|i| i % 3 == 0).map(|i| i * 100).collect();
        expect.reverse();
        assert_eq!(k0, expect);
        let (all, _, _) = svc.query("T", "all", 5, 0, i64::MAX).unwrap();
        assert_eq!(all, vec![2400, 2300, 2200, 2100, 2000]);
        // Time range: messages stored in [1_010_000, 1_012_000] are i = 10, 11, 12.
        let (ranged, _, _) = svc.query("T", "all", 100, 1_010_000, 1_012_000).unwrap();
        assert_eq!(ranged, vec![1200, 1100, 1000]);
        assert!(svc.query("U", "k0", 10, 0, i64::MAX).unwrap().0.is_empty());
        // Re-dispatch is skipped.
        svc.build_index("T", ["k0"].into_iter(), 2400, 0, 0).unwrap();
        assert_eq!(svc.query("T", "k0", 100, 0, i64::MAX).unwrap().0.len(), expect.len());
        svc.flush().unwrap();
        drop(svc);
        let svc = IndexService::load(dir.path(), 8, 10, false, 0).unwrap().service;
        assert_eq!(svc.query("T", "k0", 100, 0, i64::MAX).unwrap().0, expect);
        assert_eq!(svc.delete_expired(1000).unwrap(), 2);
        drop(svc);
        let load = IndexService::load(dir.path(), 8, 10, true, 0).unwrap();
        assert_eq!(load.service.file_count(), 3);
        assert!(load.rebuild_from.is_some());
    }
}
