//! `ClientChannelInfo`: one client connection of a producer or consumer group.

use ferromq_protocol::body::ClientConnection;
use ferromq_protocol::LanguageCode;
use ferromq_remoting::Connection;

/// 120 s: a channel not heard from for longer is dropped (Java's `CHANNEL_EXPIRED_TIMEOUT`).
pub const CHANNEL_EXPIRED_TIMEOUT_MS: u64 = 120_000;

#[derive(Debug, Clone)]
pub struct ClientChannelInfo {
    pub connection: Connection,
    pub client_id: String,
    pub language: LanguageCode,
    pub version: i32,
    /// Last heartbeat, ms.
    pub last_update_ms: u64,
}

impl ClientChannelInfo {
    pub fn new(
        connection: Connection,
        client_id: impl Into<String>,
        language: LanguageCode,
        version: i32,
        now_ms: u64,
    ) -> Self {
        ClientChannelInfo {
            connection,
            client_id: client_id.into(),
            language,
            version,
            last_update_ms: now_ms,
        }
    }

    pub fn connection_id(&self) -> u64 {
        self.connection.id()
    }

    /// The client's address as Java prints it (`ip:port`).
    pub fn client_addr(&self) -> String {
        self.connection.peer_addr().to_string()
    }

    /// Whether it was last heard from more than `timeout_ms` before `now_ms`.
    pub fn is_expired(&self, now_ms: u64, timeout_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_update_ms) > timeout_ms
    }

    /// The `Connection` entry of GET_CONSUMER_CONNECTION_LIST / GET_PRODUCER_CONNECTION_LIST.
    pub fn to_connection_body(&self) -> ClientConnection {
        ClientConnection {
            client_id: self.client_id.clone(),
            client_addr: self.client_addr(),
            language: self.language.name().to_owned(),
            version: self.version,
        }
    }
}
