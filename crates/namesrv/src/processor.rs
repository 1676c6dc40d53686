//! The NameServer's request handler: decodes each request, applies it to the route table
//! or KV config, and encodes the answer as Apache RocketMQ's `DefaultRequestProcessor` does.

use std::collections::HashMap;
use std::sync::Arc;

use ferromq_protocol::body::{ClusterInfo, KVTable, RegisterBrokerBody, TopicList, TopicRouteData};
use ferromq_protocol::header::*;
use ferromq_protocol::{json, ProtocolError, RemotingCommand, RequestCode, ResponseCode};
use ferromq_remoting::{Connection, RequestHandler};
use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use crate::config::{NamesrvConfig, RUNTIME_IMMUTABLE_KEYS};
use crate::kvconfig::{KvConfigManager, NAMESPACE_ORDER_TOPIC_CONFIG};
use crate::route::{BrokerAddrInfo, BrokerRegistration, RouteTable, FLAG_UNIT, FLAG_UNIT_SUB};

/// Milliseconds since the Unix epoch: the one place the NameServer reads the clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Shared state of a running NameServer.
pub struct NamesrvState {
    pub config: RwLock<NamesrvConfig>,
    pub routes: RwLock<RouteTable>,
    pub kv: Mutex<KvConfigManager>,
    connections: Mutex<HashMap<u64, Connection>>,
}

impl NamesrvState {
    pub fn new(config: NamesrvConfig, routes: RouteTable, kv: KvConfigManager) -> Self {
        NamesrvState {
            config: RwLock::new(config),
            routes: RwLock::new(routes),
            kv: Mutex::new(kv),
            connections: Mutex::new(HashMap::new()),
        }
    }

    /// One liveness scan: drops silent brokers and closes their connections.
    pub fn scan_not_active_brokers(&self, now_ms: u64) -> usize {
        let expired = self.routes.write().scan_not_active_brokers(now_ms);
        for (_, connection_id) in &expired {
            let conn = connection_id.and_then(|id| self.connections.lock().get(&id).cloned());
            if let Some(conn) = conn {
                conn.close();
            }
        }
        expired.len()
    }
}

/// Serves NameServer requests on every connection.
pub struct NamesrvHandler {
    pub state: Arc<NamesrvState>,
}

enum Failure {
    Protocol(ProtocolError),
    Answer(Box<RemotingCommand>),
}

impl From<ProtocolError> for Failure {
    fn from(e: ProtocolError) -> Self {
        Failure::Protocol(e)
    }
}

type Outcome = Result<RemotingCommand, Failure>;

fn json_body<T: Serialize>(value: &T) -> RemotingCommand {
    RemotingCommand::success().with_body(json::to_vec(value))
}

impl RequestHandler for NamesrvHandler {
    fn handle(&self, conn: &Connection, request: RemotingCommand) -> Option<RemotingCommand> {
        tracing::trace!(code = request.code, name = RequestCode::name(request.code), peer = %conn.peer_addr(), "request");
        Some(self.process(conn.id(), &request))
    }

    fn on_connected(&self, conn: &Connection) {
        self.state.connections.lock().insert(conn.id(), conn.clone());
    }

    fn on_closed(&self, conn: &Connection) {
        self.state.connections.lock().remove(&conn.id());
        self.state.routes.write().on_connection_closed(conn.id());
    }
}

impl NamesrvHandler {
    /// Answers one request. Never fails: a bad request gets an error response.
    pub fn process(&self, connection_id: u64, request: &RemotingCommand) -> RemotingCommand {
        match self.dispatch(connection_id, request) {
            Ok(response) => response,
            Err(Failure::Answer(response)) => *response,
            Err(Failure::Protocol(e)) => RemotingCommand::error(ResponseCode::SYSTEM_ERROR, e.to_string()),
        }
    }

    fn dispatch(&self, connection_id: u64, req: &RemotingCommand) -> Outcome {
        match req.code {
            RequestCode::REGISTER_BROKER => self.register_broker(connection_id, req),
            RequestCode::UNREGISTER_BROKER => {
                let h: UnRegisterBrokerRequestHeader = req.decode_header()?;
                self.state.routes.write().unregister_broker(
                    &h.cluster_name,
                    &h.broker_addr,
                    &h.broker_name,
                    h.broker_id,
                );
                Ok(RemotingCommand::success())
            }
            RequestCode::BROKER_HEARTBEAT => {
                let h: BrokerHeartbeatRequestHeader = req.decode_header()?;
                let info = BrokerAddrInfo { cluster_name: h.cluster_name, broker_addr: h.broker_addr };
                self.state.routes.write().touch(&info, now_ms());
                Ok(RemotingCommand::success())
            }
            RequestCode::QUERY_DATA_VERSION => self.query_data_version(req),
            RequestCode::GET_ROUTEINFO_BY_TOPIC => self.route_info(req),
            RequestCode::GET_BROKER_CLUSTER_INFO => {
                Ok(json_body::<ClusterInfo>(&self.state.routes.read().cluster_info()))
            }
            RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => {
                Ok(json_body(&self.state.routes.read().all_topics()))
            }
            RequestCode::GET_SYSTEM_TOPIC_LIST_FROM_NS => {
                Ok(json_body(&self.state.routes.read().system_topics()))
            }
            RequestCode::GET_TOPICS_BY_CLUSTER => {
                let h: GetTopicsByClusterRequestHeader = req.decode_header()?;
                Ok(json_body(&self.state.routes.read().topics_by_cluster(&h.cluster)))
            }
            RequestCode::GET_UNIT_TOPIC_LIST => Ok(self.topics_with_flags(|f| f & FLAG_UNIT != 0)),
            RequestCode::GET_HAS_UNIT_SUB_TOPIC_LIST => {
                Ok(self.topics_with_flags(|f| f & FLAG_UNIT_SUB != 0))
            }
            RequestCode::GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST => {
                Ok(self.topics_with_flags(|f| f & FLAG_UNIT == 0 && f & FLAG_UNIT_SUB != 0))
            }
            RequestCode::DELETE_TOPIC_IN_NAMESRV => {
                let h: DeleteTopicFromNamesrvRequestHeader = req.decode_header()?;
                self.state.routes.write().delete_topic(&h.topic, h.cluster_name.as_deref());
                Ok(RemotingCommand::success())
            }
            RequestCode::REGISTER_TOPIC_IN_NAMESRV => {
                let h: RegisterTopicRequestHeader = req.decode_header()?;
                if !req.body.is_empty() {
                    let route: TopicRouteData = json::from_slice(&req.body)?;
                    self.state.routes.write().register_topic(&h.topic, &route.queue_datas);
                }
                Ok(RemotingCommand::success())
            }
            RequestCode::WIPE_WRITE_PERM_OF_BROKER => {
                let h: WipeWritePermOfBrokerRequestHeader = req.decode_header()?;
                let count = self.state.routes.write().set_write_perm_of_broker(&h.broker_name, false);
                Ok(RemotingCommand::success()
                    .with_header(&WipeWritePermOfBrokerResponseHeader { wipe_topic_count: count }))
            }
            RequestCode::ADD_WRITE_PERM_OF_BROKER => {
                let h: AddWritePermOfBrokerRequestHeader = req.decode_header()?;
                let count = self.state.routes.write().set_write_perm_of_broker(&h.broker_name, true);
                Ok(RemotingCommand::success()
                    .with_header(&AddWritePermOfBrokerResponseHeader { add_topic_count: count }))
            }
            RequestCode::GET_BROKER_MEMBER_GROUP => {
                let h: GetBrokerMemberGroupRequestHeader = req.decode_header()?;
                let addrs = self.state.routes.read().broker_member_group(&h.cluster_name, &h.broker_name);
                Ok(json_body(&serde_json::json!({
                    "brokerMemberGroup": {"cluster": h.cluster_name, "brokerName": h.broker_name, "brokerAddrs": addrs}
                })))
            }
            RequestCode::PUT_KV_CONFIG => {
                let h: PutKVConfigRequestHeader = req.decode_header()?;
                self.state.kv.lock().put(&h.namespace, &h.key, &h.value).map_err(system_error)?;
                Ok(RemotingCommand::success())
            }
            RequestCode::GET_KV_CONFIG => {
                let h: GetKVConfigRequestHeader = req.decode_header()?;
                match self.state.kv.lock().get(&h.namespace, &h.key) {
                    Some(v) => Ok(RemotingCommand::success()
                        .with_header(&GetKVConfigResponseHeader { value: Some(v.to_owned()) })),
                    None => Ok(RemotingCommand::error(
                        ResponseCode::QUERY_NOT_FOUND,
                        format!("No config item, Namespace: {} Key: {}", h.namespace, h.key),
                    )),
                }
            }
            RequestCode::DELETE_KV_CONFIG => {
                let h: DeleteKVConfigRequestHeader = req.decode_header()?;
                self.state.kv.lock().delete(&h.namespace, &h.key).map_err(system_error)?;
                Ok(RemotingCommand::success())
            }
            RequestCode::GET_KVLIST_BY_NAMESPACE => {
                let h: GetKVListByNamespaceRequestHeader = req.decode_header()?;
                match self.state.kv.lock().namespace(&h.namespace) {
                    Some(table) => Ok(json_body(&KVTable { table: table.clone() })),
                    None => Ok(RemotingCommand::error(
                        ResponseCode::QUERY_NOT_FOUND,
                        format!("No config item, Namespace: {}", h.namespace),
                    )),
                }
            }
            RequestCode::UPDATE_NAMESRV_CONFIG => self.update_config(req),
            RequestCode::GET_NAMESRV_CONFIG => {
                Ok(RemotingCommand::success()
                    .with_body(self.state.config.read().to_properties().into_bytes()))
            }
            code => Ok(RemotingCommand::not_supported(code)),
        }
    }

    fn register_broker(&self, connection_id: u64, req: &RemotingCommand) -> Outcome {
        let h: RegisterBrokerRequestHeader = req.decode_header()?;
        if let Some(expected) = h.body_crc32.filter(|c| *c != 0) {
            // Java's UtilAll.crc32 clears the top bit.
            let actual = (crc32fast::hash(&req.body) & 0x7FFF_FFFF) as i32;
            if actual != expected {
                tracing::warn!(broker = %h.broker_addr, expected, actual, "register body CRC mismatch");
                return Ok(RemotingCommand::error(ResponseCode::SYSTEM_ERROR, "crc32 not match"));
            }
        }
        let body = RegisterBrokerBody::decode(&req.body, h.compressed.unwrap_or(false))?;
        let (default_timeout, return_order_conf) = {
            let c = self.state.config.read();
            (c.broker_channel_expired_time_ms, c.return_order_topic_config_to_broker)
        };
        let registration = BrokerRegistration {
            cluster_name: h.cluster_name,
            broker_addr: h.broker_addr,
            broker_name: h.broker_name,
            broker_id: h.broker_id,
            ha_server_addr: h.ha_server_addr,
            topic_config_wrapper: Some(body.topic_config_serialize_wrapper),
            filter_server_list: body.filter_server_list,
            heartbeat_timeout_ms: h
                .heartbeat_timeout_millis
                .filter(|t| *t > 0)
                .map(|t| t as u64)
                .unwrap_or(default_timeout),
            enable_acting_master: h.enable_acting_master.unwrap_or(false),
            connection_id: Some(connection_id),
        };
        let Some(outcome) = self.state.routes.write().register_broker(registration, now_ms()) else {
            return Ok(RemotingCommand::error(
                ResponseCode::SYSTEM_ERROR,
                "register broker failed: stale state version",
            ));
        };
        let mut response = RemotingCommand::success().with_header(&RegisterBrokerResponseHeader {
            ha_server_addr: outcome.ha_server_addr,
            master_addr: outcome.master_addr,
        });
        if return_order_conf {
            if let Some(table) = self.state.kv.lock().namespace(NAMESPACE_ORDER_TOPIC_CONFIG) {
                response.body = json::to_vec(&KVTable { table: table.clone() }).into();
            }
        }
        Ok(response)
    }

    fn query_data_version(&self, req: &RemotingCommand) -> Outcome {
        let h: QueryDataVersionRequestHeader = req.decode_header()?;
        let version: ferromq_protocol::body::DataVersion = json::from_slice(&req.body)?;
        let info = BrokerAddrInfo { cluster_name: h.cluster_name, broker_addr: h.broker_addr };
        let mut routes = self.state.routes.write();
        let changed = routes.is_broker_topic_config_changed(&info, &version);
        if !changed {
            routes.touch(&info, now_ms());
        }
        Ok(RemotingCommand::success().with_header(&QueryDataVersionResponseHeader { changed }))
    }

    fn route_info(&self, req: &RemotingCommand) -> Outcome {
        let h: GetRouteInfoRequestHeader = req.decode_header()?;
        let route = self.state.routes.read().pick_topic_route_data(&h.topic);
        let Some(mut route) = route else {
            return Ok(RemotingCommand::error(
                ResponseCode::TOPIC_NOT_EXIST,
                format!("No topic route info in name server for the topic: {}", h.topic),
            ));
        };
        if self.state.config.read().order_message_enable {
            route.order_topic_conf =
                self.state.kv.lock().get(NAMESPACE_ORDER_TOPIC_CONFIG, &h.topic).map(str::to_owned);
        }
        Ok(json_body(&route))
    }

    fn topics_with_flags(&self, want: impl Fn(i32) -> bool) -> RemotingCommand {
        json_body::<TopicList>(&self.state.routes.read().topics_with_flags(want))
    }

    fn update_config(&self, req: &RemotingCommand) -> Outcome {
        let text = std::str::from_utf8(&req.body).map_err(|_| {
            Failure::Answer(Box::new(RemotingCommand::error(
                ResponseCode::SYSTEM_ERROR,
                "config body is not UTF-8",
            )))
        })?;
        let entries = ferromq_protocol::properties_text::parse(text);
        if entries.iter().any(|e| RUNTIME_IMMUTABLE_KEYS.contains(&e.key.as_str())) {
            return Ok(RemotingCommand::error(
                ResponseCode::NO_PERMISSION,
                "Can not update config in black list.",
            ));
        }
        let mut updated = self.state.config.read().clone();
        if let Err(e) = updated.apply_properties(text, "UPDATE_NAMESRV_CONFIG") {
            return Ok(RemotingCommand::error(ResponseCode::SYSTEM_ERROR, e.to_string()));
        }
        *self.state.config.write() = updated;
        Ok(RemotingCommand::success())
    }
}

fn system_error(e: impl std::fmt::Display) -> Failure {
    Failure::Answer(Box::new(RemotingCommand::error(ResponseCode::SYSTEM_ERROR, e.to_string())))
}
