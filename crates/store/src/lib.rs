//! ferromq's message store, RocketMQ's storage model in Rust: every message is appended
//! to one CommitLog (fixed-size segment files, RocketMQ's record format, written through
//! the page cache with group write and group commit for SYNC_FLUSH); per topic and queue a
//! ConsumeQueue of 20-byte entries indexes it, and IndexFiles map message keys and unique
//! ids to offsets. Both are derived from the CommitLog by a dispatcher and can be trimmed
//! or rebuilt from it, which is what recovery does after a crash (checkpoint, `abort`
//! marker, tail validation by size, magic, offset and CRC). Retention deletes old segments
//! by age, hour and disk usage. For replication it serves committed bytes and takes raw
//! ones at an offset (master/slave), and can run as a Raft log (`enableDLegerCommitLog`:
//! entries with index and term in an entry index beside the CommitLog, a committed entry
//! below which consumers see data, truncation of an uncommitted suffix). The store does
//! no networking and spawns only its own
//! threads; the broker calls it in-process. Architecture invariant: the CommitLog is the
//! one source of truth, and nothing that fails validation is ever served.

mod checkpoint;
mod clock;
mod commitlog;
pub mod config;
mod consume_queue;
mod entry_index;
mod error;
mod fasthash;
mod flush;
mod index;
mod record;
mod segment;
mod stats;
mod store;
mod sys;

pub use checkpoint::CheckpointData;
pub use clock::{Clock, ManualClock, SystemClock};
pub use commitlog::CommitLogRecovery;
pub use config::{BrokerRole, FlushDiskType, MessageStoreConfig};
pub use consume_queue::CqEntry;
pub use entry_index::{EntryIndexRecovery, RaftEntry};
pub use error::{Result, StoreError};
pub use flush::{AppendResult, PutHandle, PutMessageResult, PutMessageStatus};
pub use record::{validate_topic, PutMessage};
pub use stats::{FlushStatsSnapshot, FSYNC_BUCKETS_SECONDS};
pub use store::{
    DiskUsage, DiskUsageProbe, GetMessageResult, GetMessageStatus, MessageArrivingListener, MessageFilter,
    MessageStore, QueryMessageResult, RecoveryReport, SelectedMessage, StatvfsProbe, StoreOptions,
};
