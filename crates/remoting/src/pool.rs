//! Client-side connections kept per address and re-established when they close.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferromq_protocol::RemotingCommand;
use tokio::sync::Mutex;

use crate::connection::{Connection, ConnectionConfig, RejectRequests, RequestHandler};
use crate::error::RemotingError;

/// One live connection per remote address, shared by all callers.
pub struct ConnectionPool<H: RequestHandler = RejectRequests> {
    handler: Arc<H>,
    config: ConnectionConfig,
    connect_timeout: Duration,
    // Async lock: two callers racing for a new address connect once.
    connections: Mutex<HashMap<String, Connection>>,
}

impl ConnectionPool<RejectRequests> {
    /// A pool for a plain client that serves no requests.
    pub fn client(connect_timeout: Duration) -> Self {
        ConnectionPool::new(Arc::new(RejectRequests), ConnectionConfig::default(), connect_timeout)
    }
}

impl<H: RequestHandler> ConnectionPool<H> {
    pub fn new(handler: Arc<H>, config: ConnectionConfig, connect_timeout: Duration) -> Self {
        ConnectionPool { handler, config, connect_timeout, connections: Mutex::new(HashMap::new()) }
    }

    /// The live connection to `addr`, connecting if there is none.
    pub async fn get(&self, addr: &str) -> Result<Connection, RemotingError> {
        let mut map = self.connections.lock().await;
        if let Some(conn) = map.get(addr) {
            if !conn.is_closed() {
                return Ok(conn.clone());
            }
        }
        let conn = Connection::connect(addr, self.handler.clone(), self.config.clone(), self.connect_timeout)
            .await?;
        map.insert(addr.to_owned(), conn.clone());
        Ok(conn)
    }

    /// Sends `request` to `addr` and waits for the response.
    pub async fn invoke(
        &self,
        addr: &str,
        request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let conn = self.get(addr).await?;
        conn.invoke(request, timeout).await
    }

    /// Closes every connection.
    pub async fn close_all(&self) {
        for (_, conn) in self.connections.lock().await.drain() {
            conn.close();
        }
    }
}
