//! The CommitLog as a Raft log (`enableDLegerCommitLog`): the storage half of DLedger
//! mode, for a Raft library (openraft or raft-rs) driven from `crates/cluster` later. An
//! entry is one RocketMQ record or batch in the CommitLog; its index and term live in the
//! entry index beside it (`EntryIndex`). What this module guarantees:
//!
//! - entries are contiguous by index, each after the previous one in the CommitLog, and
//!   every CommitLog byte belongs to an entry (or is a segment's closing blank record);
//!   plain puts and raw HA appends are refused;
//! - consumers see an entry only once [`MessageStore::commit_entries_to`] covers it
//!   (the dispatcher stops at the committed entry's end, also across restarts);
//! - an uncommitted suffix can be cut ([`MessageStore::truncate_entries_after`]): the
//!   CommitLog, ConsumeQueues and entry index go back to the end of the kept entry; a
//!   committed entry can never be cut;
//! - a follower that appends the leader's entries byte for byte
//!   ([`MessageStore::append_entry_raw`]) ends up with the leader's CommitLog, offsets
//!   included (it writes the same closing blank record where the leader rolled a segment);
//! - after a crash, records without their entry (written, but the entry not yet) are cut,
//!   and entries whose bytes the CommitLog lost are dropped; an entry is durable once
//!   [`MessageStore::flush_entries`] has returned (CommitLog first, then the index);
//! - an entry index that lost committed entries (it ends before the checkpoint's
//!   dispatched offset) stops the store from opening instead of cutting the CommitLog.

use super::*;
use crate::entry_index::RaftEntry;

pub(super) fn writes_go_through_entries() -> StoreError {
    StoreError::InvalidEntry(
        "the CommitLog is a Raft log (enableDLegerCommitLog): write through append_entry".into(),
    )
}

fn not_a_raft_log() -> StoreError {
    StoreError::InvalidEntry("the store is not a Raft log (enableDLegerCommitLog=false)".into())
}

/// Opens the entry index at start-up and cuts the CommitLog back to what it covers.
/// Returns the index, what it held, and how many CommitLog bytes were cut.
///
/// `dispatched` is the checkpoint's dispatched offset. In a Raft log only committed
/// entries are dispatched, and the checkpoint is written only after the entries below it
/// were made durable (see `Inner::flush_logics`), so an index that ends before it has lost
/// durable, committed entries (files deleted, a disk that dropped writes). Cutting the
/// CommitLog to such an index would silently drop acknowledged messages, and a Raft node
/// must not rejoin its group without entries it had persisted: the store refuses to open.
pub(super) fn open_entry_index(
    config: &MessageStoreConfig,
    commitlog: &CommitLog,
    dispatched: Option<u64>,
) -> Result<(EntryIndex, EntryIndexRecovery, u64)> {
    let dir = config.raft_log_dir();
    let cl_min = commitlog.min_offset();
    let cl_end = commitlog.written();
    if !dir.exists() {
        if cl_end > cl_min {
            return Err(StoreError::InvalidEntry(format!(
                "enableDLegerCommitLog on a store whose CommitLog already holds records without Raft entries \
                 ({cl_min}..{cl_end}); a Raft log starts from an empty store"
            )));
        }
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        crate::segment::sync_dir(config.root())?;
    }
    let (index, report) = EntryIndex::open(&dir, config.raft_entries_per_file, cl_end)?;
    let covered = report.last.map_or(cl_min, |e| e.end()).max(cl_min);
    if let Some(d) = dispatched.filter(|&d| d > covered && cl_end > covered) {
        return Err(StoreError::InvalidEntry(format!(
            "the Raft entry index ({}) covers the CommitLog only up to offset {covered}, but entries up to \
             {} were committed and made durable (checkpoint): the entry index or the CommitLog lost durable \
             entries, and cutting the CommitLog back would drop committed messages. Restore {} from a \
             backup, or remove this node's store so that it copies the log from its group again",
            dir.display(),
            d.min(cl_end),
            dir.display()
        )));
    }
    let mut cut = 0;
    if cl_end > covered {
        tracing::warn!(from = covered, to = cl_end, "cutting CommitLog records that have no Raft entry");
        commitlog.truncate_to(covered)?;
        cut = cl_end - covered;
    }
    Ok((index, report, cut))
}

/// A follower's entry bytes must be whole, valid records (CRC included) at the entry's
/// offsets, exactly filling it: anything else would stop the dispatcher for good.
fn check_records(e: RaftEntry, bytes: &[u8]) -> Result<()> {
    if bytes.is_empty() {
        return Err(StoreError::InvalidEntry(format!("entry {} has no bytes", e.index)));
    }
    let mut at = 0;
    while at < bytes.len() {
        match crate::record::peek(&bytes[at..], e.pos + at as u64, true) {
            crate::record::Peeked::Message { size, crc_ok: true, .. } => at += size,
            _ => {
                return Err(StoreError::InvalidEntry(format!(
                    "entry {}: no valid record at byte {at} of its {} bytes",
                    e.index,
                    bytes.len()
                )))
            }
        }
    }
    Ok(())
}

fn check_next(idx: &EntryIndex, index: u64) -> Result<()> {
    match idx.next_index() {
        Some(next) if next != index => Err(StoreError::InvalidEntry(format!(
            "entry {index} does not follow the last entry ({})",
            next - 1
        ))),
        _ => Ok(()),
    }
}

impl MessageStore {
    fn entry_index(&self) -> Result<&Mutex<EntryIndex>> {
        self.inner.entries.as_ref().ok_or_else(not_a_raft_log)
    }

    /// Leader side: appends `msgs` (one message, or a batch for one topic and queue) as
    /// entry `index` of `term`; `index` must follow the last entry (any index when the log
    /// is empty). The handle resolves as a put's does (in SYNC_FLUSH after the CommitLog
    /// fsync); the entry itself is durable after [`MessageStore::flush_entries`].
    pub fn append_entry(&self, term: u64, index: u64, msgs: &[PutMessage]) -> Result<(RaftEntry, PutHandle)> {
        let mut idx = self.entry_index()?.lock();
        check_next(&idx, index)?;
        let handle = self.put_unchecked(msgs)?;
        let a = handle.append_result();
        let size = u32::try_from(a.wrote_bytes)
            .map_err(|_| StoreError::InvalidEntry(format!("entry of {} bytes", a.wrote_bytes)))?;
        let entry = RaftEntry { index, term, pos: a.wrote_offset, size };
        if let Err(e) = idx.append(entry) {
            self.take_back(entry.pos);
            return Err(e);
        }
        Ok((entry, handle))
    }

    /// No record may stay without its entry: cuts the CommitLog back to `to` after an
    /// entry failed to go into the index.
    fn take_back(&self, to: u64) {
        if let Err(cut) = self.truncate_files(to) {
            tracing::error!(error = %cut, "could not remove a record whose entry failed");
        }
    }

    /// Follower side: appends the leader's entry `e` with its bytes as the leader's
    /// [`MessageStore::entry_bytes`] returned them, at the same CommitLog offset. Where the
    /// leader closed a segment before the entry, the same closing blank record is written.
    pub fn append_entry_raw(&self, e: RaftEntry, bytes: &[u8]) -> Result<()> {
        let mut idx = self.entry_index()?.lock();
        check_next(&idx, e.index)?;
        if bytes.len() as u64 != u64::from(e.size) {
            return Err(StoreError::InvalidEntry(format!(
                "entry {} has {} bytes, its header says {}",
                e.index,
                bytes.len(),
                e.size
            )));
        }
        check_records(e, bytes)?;
        let end = self.inner.commitlog.appended();
        if e.pos > end {
            self.close_segment(end, e.pos)?;
        }
        self.append_raw_unchecked(e.pos, bytes)?;
        if let Err(err) = idx.append(e) {
            self.take_back(end);
            return Err(err);
        }
        Ok(())
    }

    /// Closes the segment holding `end` with a blank record, so that the next byte goes to
    /// `next_start`, which must be the following segment's first byte.
    fn close_segment(&self, end: u64, next_start: u64) -> Result<()> {
        let cl = &self.inner.commitlog;
        if next_start != cl.roll_next_file(end) {
            return Err(StoreError::InvalidEntry(format!(
                "an entry at {next_start} leaves a gap after the log end {end} that is not a segment's end"
            )));
        }
        cl.close_segment_at(end)?;
        Ok(())
    }

    /// Entry `index`, if the log holds it.
    pub fn entry(&self, index: u64) -> Result<Option<RaftEntry>> {
        self.entry_index()?.lock().get(index)
    }

    /// Entry `index` with its CommitLog bytes (what a leader sends to its followers).
    pub fn entry_bytes(&self, index: u64) -> Result<Option<(RaftEntry, Bytes)>> {
        // Under the index lock: a truncation cannot swap the bytes under the entry.
        let idx = self.entry_index()?.lock();
        let Some(e) = idx.get(index)? else {
            return Ok(None);
        };
        Ok(Some((e, self.inner.commitlog.read(e.pos, e.size as usize)?)))
    }

    pub fn first_entry_index(&self) -> Result<Option<u64>> {
        Ok(self.entry_index()?.lock().first_index())
    }

    pub fn last_entry(&self) -> Result<Option<RaftEntry>> {
        Ok(self.entry_index()?.lock().last())
    }

    /// Makes entries up to `index` visible to consumers (the dispatcher goes up to that
    /// entry's end). The committed position only moves forward.
    pub fn commit_entries_to(&self, index: u64) -> Result<()> {
        // Under the index lock, as truncation is: the entry cannot be cut between the
        // lookup and the commit, nor two commits cross.
        let idx = self.entry_index()?.lock();
        let e = idx.get(index)?.ok_or_else(|| {
            StoreError::InvalidEntry(format!("cannot commit entry {index}: the log does not hold it"))
        })?;
        if e.end() > self.confirm_offset() {
            self.set_confirm_offset(e.end());
        }
        Ok(())
    }

    /// Cuts every entry after `index` (all of them for `None`): CommitLog, ConsumeQueues
    /// and entry index. Refused when that would cut a committed entry.
    pub fn truncate_entries_after(&self, index: Option<u64>) -> Result<()> {
        let mut idx = self.entry_index()?.lock();
        let cut_at = match index {
            Some(i) => idx
                .get(i)?
                .ok_or_else(|| {
                    StoreError::InvalidEntry(format!("cannot keep entry {i}: the log does not hold it"))
                })?
                .end(),
            None => match idx.first_index() {
                Some(first) => idx.get(first)?.map_or(self.inner.commitlog.min_offset(), |e| e.pos),
                None => return Ok(()),
            },
        };
        let committed = self.confirm_offset();
        if cut_at < committed {
            return Err(StoreError::InvalidEntry(format!(
                "cutting the log at {cut_at} would drop committed entries (committed up to {committed})"
            )));
        }
        if cut_at < self.inner.commitlog.appended() {
            self.truncate_files(cut_at)?;
        }
        idx.truncate_after(index)
    }

    /// Makes every appended entry durable: the CommitLog first, then the entry index (so a
    /// durable entry always has durable bytes).
    ///
    /// The CommitLog fsync runs without the index lock, so that leader appends go on
    /// meanwhile; an entry appended during it may have its slot fsynced before its bytes,
    /// which recovery handles (it drops entries whose bytes the CommitLog lost), and is not
    /// promised durable by this call.
    pub fn flush_entries(&self) -> Result<()> {
        let entries = self.entry_index()?;
        self.flush()?;
        entries.lock().flush()
    }
}
