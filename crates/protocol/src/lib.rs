//! The RocketMQ remoting protocol, without I/O.
//!
//! Everything a RocketMQ peer puts on the wire is defined here as plain data and pure
//! functions: the length-prefixed frame, [`RemotingCommand`] with its JSON and ROCKETMQ
//! binary header encodings, the request and response codes of Apache RocketMQ 4.9/5.x,
//! the typed request/response headers (flattened to and from `extFields`), the JSON
//! bodies (routes, cluster info, broker registration ...), and the message encodings
//! (properties string, stored-message record, batch body, message ids). No sockets, no
//! clocks, no tasks: the `remoting` crate puts this on tokio, and the store writes the
//! same stored-message record to disk. Every decoder takes untrusted bytes and returns a
//! [`ProtocolError`] instead of panicking or allocating more than the input justifies.

pub mod body;
pub mod code;
pub mod command;
pub mod error;
pub mod frame;
pub mod header;
pub mod json;
pub mod message;
pub mod properties_text;

pub use code::{LanguageCode, RequestCode, ResponseCode};
pub use command::{ExtFields, RemotingCommand, SerializeType};
pub use error::ProtocolError;
pub use frame::{decode_frame, encode_frame, DEFAULT_MAX_FRAME_BYTES};
pub use header::CommandHeader;
