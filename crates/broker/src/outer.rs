//! `BrokerOuterAPI`: the broker's calls to the NameServers (register, unregister).

use std::time::Duration;

use ferromq_protocol::body::{KVTable, RegisterBrokerBody, TopicConfigSerializeWrapper};
use ferromq_protocol::header::{
    RegisterBrokerRequestHeader, RegisterBrokerResponseHeader, UnRegisterBrokerRequestHeader,
};
use ferromq_protocol::{json, RemotingCommand, RequestCode, ResponseCode};
use ferromq_remoting::ConnectionPool;

use crate::config::BrokerConfig;

/// What one NameServer answered to a registration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registered {
    pub namesrv: String,
    pub master_addr: Option<String>,
    pub ha_server_addr: Option<String>,
    pub order_topic_config: KVTable,
}

pub struct NamesrvRegistrar {
    pool: ConnectionPool,
}

impl Default for NamesrvRegistrar {
    fn default() -> Self {
        NamesrvRegistrar { pool: ConnectionPool::client(Duration::from_secs(3)) }
    }
}

impl NamesrvRegistrar {
    /// REGISTER_BROKER to every NameServer at once; one result per NameServer. The
    /// connection stays open: a NameServer drops a broker whose connection closes.
    pub async fn register_all(
        &self,
        config: &BrokerConfig,
        topics: &TopicConfigSerializeWrapper,
    ) -> Vec<Result<Registered, String>> {
        let body = RegisterBrokerBody {
            topic_config_serialize_wrapper: topics.clone(),
            filter_server_list: Vec::new(),
        };
        let bytes = if config.compressed_register { body.encode_compressed() } else { json::to_vec(&body) };
        let header = RegisterBrokerRequestHeader {
            broker_name: config.broker_name.clone(),
            broker_addr: config.broker_addr(),
            cluster_name: config.broker_cluster_name.clone(),
            ha_server_addr: config.ha_server_addr(),
            broker_id: config.broker_id,
            heartbeat_timeout_millis: Some(config.broker_not_active_timeout_ms as i64),
            enable_acting_master: Some(false),
            compressed: Some(config.compressed_register),
            // Java's UtilAll.crc32: CRC-32 with the top bit cleared.
            body_crc32: Some((crc32fast::hash(&bytes) & 0x7FFF_FFFF) as i32),
        };
        let request =
            RemotingCommand::request_with_header(RequestCode::REGISTER_BROKER, &header).with_body(bytes);
        let timeout = Duration::from_millis(config.register_broker_timeout_ms);
        let calls = config.namesrv_addr.iter().map(|addr| {
            let request = request.clone();
            async move {
                let response = self.pool.invoke(addr, request, timeout).await.map_err(|e| e.to_string())?;
                if response.code != ResponseCode::SUCCESS {
                    return Err(format!(
                        "{addr} refused the registration: code {} {}",
                        response.code,
                        response.remark.unwrap_or_default()
                    ));
                }
                let h: RegisterBrokerResponseHeader = response.decode_header().map_err(|e| e.to_string())?;
                let order_topic_config = if response.body.is_empty() {
                    KVTable::default()
                } else {
                    json::from_slice(&response.body).unwrap_or_default()
                };
                Ok(Registered {
                    namesrv: addr.clone(),
                    master_addr: h.master_addr,
                    ha_server_addr: h.ha_server_addr,
                    order_topic_config,
                })
            }
        });
        join_all(calls).await
    }

    /// UNREGISTER_BROKER to every NameServer (graceful shutdown).
    pub async fn unregister_all(&self, config: &BrokerConfig) {
        let header = UnRegisterBrokerRequestHeader {
            broker_name: config.broker_name.clone(),
            broker_addr: config.broker_addr(),
            cluster_name: config.broker_cluster_name.clone(),
            broker_id: config.broker_id,
        };
        let request = RemotingCommand::request_with_header(RequestCode::UNREGISTER_BROKER, &header);
        let timeout = Duration::from_millis(config.register_broker_timeout_ms);
        let calls = config.namesrv_addr.iter().map(|addr| {
            let request = request.clone();
            async move {
                if let Err(e) = self.pool.invoke(addr, request, timeout).await {
                    tracing::warn!(namesrv = %addr, error = %e, "unregister failed");
                }
            }
        });
        join_all(calls).await;
        self.pool.close_all().await;
    }
}

/// Runs futures concurrently on the current task and collects their outputs in order.
async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
