//! The broker crate's error type at its boundary.

use thiserror::Error;

pub use crate::metadata::persist::PersistError;

#[derive(Debug, Error)]
pub enum BrokerError {
    /// A metadata file (topics, subscription groups, consumer offsets) could not be read or
    /// written.
    #[error(transparent)]
    Persist(#[from] PersistError),
    /// A body or header from a peer could not be decoded.
    #[error(transparent)]
    Protocol(#[from] ferromq_protocol::ProtocolError),
    /// A configuration key or value was refused.
    #[error(transparent)]
    Config(crate::config::ConfigError),
    /// The message store could not be opened, started or stopped.
    #[error("store: {0}")]
    Store(ferromq_store::StoreError),
    /// A socket or task failed at start or stop.
    #[error("{0}")]
    Io(String),
}

pub type Result<T, E = BrokerError> = std::result::Result<T, E>;
