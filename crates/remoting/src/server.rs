//! Accepting connections.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::connection::{Connection, ConnectionConfig, RequestHandler};
use crate::error::RemotingError;

/// Accepts connections and serves each with the same handler.
pub struct RemotingServer;

/// A running server; dropping it does not stop it, [`ServerHandle::shutdown`] does.
pub struct ServerHandle {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting; established connections stay until their peers go.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

impl RemotingServer {
    /// Binds `addr` ("0.0.0.0:9876") and serves every accepted connection with `handler`.
    pub async fn bind<H: RequestHandler>(
        addr: &str,
        handler: Arc<H>,
        config: ConnectionConfig,
    ) -> Result<ServerHandle, RemotingError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| RemotingError::Bind { addr: addr.to_owned(), source })?;
        Self::serve(listener, handler, config)
            .map_err(|source| RemotingError::Bind { addr: addr.to_owned(), source })
    }

    /// Serves an already bound listener (the caller learns the port before serving).
    pub fn serve<H: RequestHandler>(
        listener: TcpListener,
        handler: Arc<H>,
        config: ConnectionConfig,
    ) -> std::io::Result<ServerHandle> {
        let local_addr = listener.local_addr()?;
        let (stop, mut stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, peer)) => {
                            if let Err(e) = Connection::start(stream, handler.clone(), config.clone()) {
                                tracing::debug!(%peer, error = %e, "could not set up connection");
                            }
                        }
                        Err(e) => {
                            // Out of file descriptors and the like: back off instead of spinning.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        }
                    },
                    _ = crate::connection::wait_closed(&mut stop_rx) => break,
                }
            }
        });
        Ok(ServerHandle { local_addr, stop })
    }
}
