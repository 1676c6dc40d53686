//! The ferromq broker: Apache RocketMQ's broker request surface over the ferromq store.
//!
//! Producers send (SEND_MESSAGE / V2 / BATCH), consumers pull with long polling, commit
//! offsets, heartbeat and lock queues; admin tools create topics and query messages. The
//! broker registers its topics with every NameServer. Metadata (topics, subscription
//! groups, consumer offsets) is kept in RocketMQ's JSON files, written atomically.
//! `metadata` and `client` hold the state managers (plain data structures with time passed
//! in); `processor` maps request codes onto them and the store; `controller` is the
//! composition root: the one place that opens files and sockets, spawns tasks and reads
//! the clock.

pub mod client;
pub mod config;
pub mod context;
pub mod controller;
pub mod error;
pub mod filter;
pub mod metadata;
pub mod metrics;
pub mod outer;
pub mod processor;
pub mod stats;

pub use config::{BrokerConfig, BrokerSettings, ConfigError};
pub use controller::Broker;
