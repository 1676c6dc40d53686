//! The hooks replication sits on: master/slave HA (committed bytes out, raw bytes in,
//! truncation, a confirmed offset limiting dispatch).

use super::*;

impl MessageStore {
    /// Up to `max_bytes` of committed CommitLog bytes from `offset`, within one segment
    /// (the master side of HA; RocketMQ's `getCommitLogData`).
    pub fn get_commit_log_data(&self, offset: u64, max_bytes: usize) -> Result<Option<Bytes>> {
        self.inner.commitlog.read_committed(offset, max_bytes)
    }

    /// Appends raw CommitLog bytes at `offset`, which must be the current end (the slave
    /// side of HA; RocketMQ's `appendToCommitLog`). Returns the new end.
    pub fn append_to_commit_log(&self, offset: u64, data: &[u8]) -> Result<u64> {
        if self.inner.entries.is_some() {
            return Err(raft::writes_go_through_entries());
        }
        self.append_raw_unchecked(offset, data)
    }

    /// [`MessageStore::append_to_commit_log`] without the Raft-mode check.
    pub(super) fn append_raw_unchecked(&self, offset: u64, data: &[u8]) -> Result<u64> {
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
        if let Some(index) = &inner.index {
            index.truncate_to(offset);
        }
        if inner.dispatched.load(Ordering::Acquire) > offset {
            inner.dispatched.store(offset, Ordering::Release);
        }
        inner.recover_queue_table()
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
    /// master, once dispatch has caught up). Fails when a record not yet dispatched cannot
    /// be read (its queue offset would be handed out again).
    pub fn recover_topic_queue_table(&self) -> Result<()> {
        self.inner.recover_queue_table()
    }
}
