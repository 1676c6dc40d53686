//! The one error type of the store: everything the disk, the configuration or a caller can
//! cause. Operating errors are values; nothing a file contains can make the store panic.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A write or fsync failed earlier; the store no longer knows what is on disk and
    /// refuses every further write until it is reopened (which runs crash recovery).
    #[error("store is poisoned by an earlier failed {0}; writes are refused until restart")]
    Poisoned(String),
    #[error("invalid configuration {key}={value:?}: {reason}")]
    Config { key: String, value: String, reason: String },
    #[error("message of {size} bytes exceeds maxMessageSize {max}")]
    MessageTooLarge { size: usize, max: usize },
    #[error("invalid topic {0:?}")]
    InvalidTopic(String),
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    #[error("disk full: {used_percent}% used, writes are refused above {limit_percent}%")]
    DiskFull { used_percent: u32, limit_percent: u32 },
    #[error("corrupt data in {what} at offset {offset}: {detail}")]
    Corrupt { what: String, offset: u64, detail: String },
    #[error("the store is not writable: {0}")]
    NotWritable(&'static str),
    #[error("the store has been shut down")]
    Shutdown,
    #[error("offset {offset} is outside the CommitLog [{min}, {max})")]
    OffsetOutOfRange { offset: u64, min: u64, max: u64 },
    #[error("raw append at offset {offset} does not continue the CommitLog, whose end is {expected}")]
    AppendOffsetMismatch { offset: u64, expected: u64 },
    /// A Raft entry that does not continue the entry index (wrong index, overlapping
    /// bytes), or a Raft operation on a store without `enableDLegerCommitLog`.
    #[error("Raft log: {0}")]
    InvalidEntry(String),
    #[error("store directory {0} is locked by another process")]
    Locked(PathBuf),
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io { path: path.into(), source }
    }

    pub(crate) fn config(key: &str, value: &str, reason: impl Into<String>) -> Self {
        StoreError::Config { key: key.to_string(), value: value.to_string(), reason: reason.into() }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
