//! The ferromq NameServer: the routing center of a RocketMQ cluster.
//!
//! Brokers register with every NameServer (REGISTER_BROKER, every 30 s) carrying the
//! topics they host; clients ask any NameServer for a topic's route
//! (GET_ROUTEINFO_BY_TOPIC) or the cluster's members. NameServers never talk to each
//! other: each holds the whole table because every broker tells each of them. The core is
//! [`route::RouteTable`], a pure state machine with time passed in; [`processor`] maps
//! requests onto it as Apache RocketMQ's `DefaultRequestProcessor` does; [`server`] is the
//! thin I/O shell (socket, liveness scan). Its only durable state is the KV config.

pub mod config;
pub mod kvconfig;
pub mod processor;
pub mod route;
pub mod server;

pub use config::{ConfigError, NamesrvConfig};
pub use server::NameServer;

#[derive(Debug, thiserror::Error)]
pub enum NamesrvError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    KvConfig(#[from] kvconfig::KvConfigError),
    #[error(transparent)]
    Remoting(#[from] ferromq_remoting::RemotingError),
}
