//! The store's public vocabulary: what it reports (get and query results, the recovery
//! report) and what a caller plugs in (disk usage probe, arrival listener, message filter).

use std::path::Path;

use bytes::Bytes;

use crate::commitlog::CommitLogRecovery;
use crate::entry_index::EntryIndexRecovery;

/// Space on the filesystem holding the store, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskUsage {
    pub used: u64,
    /// Used plus what is still available to the store (as `df` computes it).
    pub capacity: u64,
}

impl DiskUsage {
    /// Used fraction, 0.0..=1.0, counting `reserved` bytes as free: space the CommitLog
    /// holds for records it has not written yet (reserved or pre-written segments). With
    /// RocketMQ's sparse mapped files that space is not in use either, so the cleanup and
    /// write-refusal ratios mean the same here.
    pub fn used_ratio(&self, reserved: u64) -> f64 {
        if self.capacity == 0 {
            return 0.0;
        }
        (self.used.saturating_sub(reserved) as f64 / self.capacity as f64).clamp(0.0, 1.0)
    }
}

/// How full the disk holding the store is. The default uses `statvfs`; tests plug in
/// their own to simulate a filling disk.
pub trait DiskUsageProbe: Send + Sync + 'static {
    /// Usage of the filesystem holding `path`.
    fn usage(&self, path: &Path) -> std::io::Result<DiskUsage>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct StatvfsProbe;

impl DiskUsageProbe for StatvfsProbe {
    fn usage(&self, path: &Path) -> std::io::Result<DiskUsage> {
        let (used, capacity) = crate::sys::disk_usage(path)?;
        Ok(DiskUsage { used, capacity })
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
    /// `enableDLegerCommitLog`: what the Raft entry index held, and the CommitLog bytes
    /// cut because no entry covered them (records whose entry was not written).
    pub raft_log: Option<EntryIndexRecovery>,
    pub raft_log_cut_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::DiskUsage;

    #[test]
    fn reserved_room_counts_as_free() {
        let d = DiskUsage { used: 900, capacity: 1000 };
        assert_eq!(d.used_ratio(0), 0.9);
        assert_eq!(d.used_ratio(200), 0.7);
        assert_eq!(d.used_ratio(5000), 0.0);
        assert_eq!(DiskUsage { used: 0, capacity: 0 }.used_ratio(0), 0.0);
    }
}
