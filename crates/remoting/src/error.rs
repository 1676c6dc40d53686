use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RemotingError {
    #[error("connect to {addr} failed: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("connect to {addr} timed out after {timeout:?}")]
    ConnectTimeout { addr: String, timeout: Duration },
    #[error("request {code} to {peer} timed out after {timeout:?}")]
    Timeout { peer: SocketAddr, code: i32, timeout: Duration },
    #[error("connection to {0} is closed")]
    Closed(SocketAddr),
    #[error("bind {addr} failed: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("invalid address {0:?}")]
    BadAddress(String),
}
