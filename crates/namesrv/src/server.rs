//! The NameServer process shell: binds the port, serves requests, runs the liveness scan.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferromq_remoting::{ConnectionConfig, RemotingServer, ServerHandle};

use crate::config::NamesrvConfig;
use crate::kvconfig::KvConfigManager;
use crate::processor::{now_ms, NamesrvHandler, NamesrvState};
use crate::route::{RouteTable, RouteTableOptions};
use crate::NamesrvError;

/// A running NameServer.
pub struct NameServer {
    server: ServerHandle,
    state: Arc<NamesrvState>,
    scanner: tokio::task::JoinHandle<()>,
}

impl NameServer {
    /// Loads the KV config, binds `bindAddress:listenPort` and starts serving.
    pub async fn start(config: NamesrvConfig) -> Result<NameServer, NamesrvError> {
        let kv = KvConfigManager::load(&config.kv_config_path)?;
        let routes = RouteTable::new(RouteTableOptions {
            delete_topic_with_broker_registration: config.delete_topic_with_broker_registration,
        });
        let addr = format!("{}:{}", config.bind_address, config.listen_port);
        let connection_config =
            ConnectionConfig { max_frame_bytes: config.frame_max_length, ..Default::default() };
        let state = Arc::new(NamesrvState::new(config, routes, kv));
        let handler = Arc::new(NamesrvHandler { state: state.clone() });
        let server = RemotingServer::bind(&addr, handler, connection_config).await?;
        let scan_state = state.clone();
        let scanner = tokio::spawn(async move {
            loop {
                let interval = scan_state.config.read().scan_not_active_broker_interval_ms.max(1);
                tokio::time::sleep(Duration::from_millis(interval)).await;
                scan_state.scan_not_active_brokers(now_ms());
            }
        });
        tracing::info!(addr = %server.local_addr(), "NameServer started");
        Ok(NameServer { server, state, scanner })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn state(&self) -> &Arc<NamesrvState> {
        &self.state
    }

    /// Stops accepting connections and the scan.
    pub fn shutdown(&self) {
        self.server.shutdown();
        self.scanner.abort();
    }
}
