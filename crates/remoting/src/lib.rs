//! The remoting transport: RocketMQ frames over tokio TCP.
//!
//! A [`Connection`] is symmetric, like Netty's channel in Apache RocketMQ: either side may
//! send requests (matched to their responses by `opaque`, many in flight at once, each
//! with a timeout), oneway requests, and responses, and either side may serve requests
//! through a [`RequestHandler`]. A broker uses the same type to answer clients and to call
//! them back (NOTIFY_CONSUMER_IDS_CHANGED, CHECK_TRANSACTION_STATE). One reader task and
//! one writer task per connection; the writer coalesces queued frames into one `write`
//! call, so a connection with hundreds of requests in flight costs few syscalls, and the
//! reader writes the answers of one read burst itself when nothing is queued. The frame
//! codec itself lives in `ferromq-protocol`; this crate adds only I/O.

mod connection;
mod error;
mod pool;
mod server;

pub use connection::{Connection, ConnectionConfig, RejectRequests, RequestHandler};
pub use error::RemotingError;
pub use pool::ConnectionPool;
pub use server::{RemotingServer, ServerHandle};
