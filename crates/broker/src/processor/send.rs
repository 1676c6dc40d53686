//! SEND_MESSAGE, SEND_MESSAGE_V2, SEND_BATCH_MESSAGE (`SendMessageProcessor`).

use std::net::SocketAddr;

use bytes::Bytes;
use ferromq_protocol::body::perm;
use ferromq_protocol::command::ExtFields;
use ferromq_protocol::header::{
    SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader,
};
use ferromq_protocol::message::{batch, id, properties, stored, sysflag};
use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_remoting::Connection;
use ferromq_store::{PutMessage, PutMessageStatus, StoreError};

use super::validate_topic_name;
use crate::context::BrokerContext;

/// Longest properties string, as Java's `Short.MAX_VALUE` check.
const MAX_PROPERTIES_LEN: usize = i16::MAX as usize;

pub fn process(ctx: &BrokerContext, conn: &Connection, req: RemotingCommand) -> Option<RemotingCommand> {
    let header = match decode_send_header(&req) {
        Ok(h) => h,
        Err(e) => return Some(RemotingCommand::error(ResponseCode::SYSTEM_ERROR, e.to_string())),
    };
    let msgs = match check_and_build(ctx, conn, &req, &header) {
        Ok(m) => m,
        Err(resp) => return Some(resp),
    };
    let store_host = ctx.store_host;
    let body_bytes: u64 = msgs.iter().map(|m| m.body.len() as u64).sum();
    let msg_count = msgs.len() as u64;
    let handle = match ctx.store.put_messages(&msgs) {
        Ok(h) => h,
        Err(e) => return Some(store_error_response(ctx, &e)),
    };
    let append = handle.append_result().clone();
    ctx.stats.record_put(&header.topic, msg_count, body_bytes);

    // One offsetMsgId per message: the records are contiguous, each as long as its encoding.
    let mut msg_ids = String::with_capacity(msgs.len() * 33);
    let mut offset = append.wrote_offset;
    for (i, m) in msgs.iter().enumerate() {
        if i > 0 {
            msg_ids.push(',');
        }
        id::write_offset_msg_id(&mut msg_ids, store_host, offset as i64);
        offset += stored::record_len(
            stored::MessageVersion::V1,
            m.sys_flag,
            m.body.len(),
            m.topic.len(),
            m.properties.len(),
        ) as u64;
    }
    let transaction_id = msgs.first().and_then(|m| {
        properties::find_str(&m.properties, properties::PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
            .map(str::to_owned)
    });
    let response_header = SendMessageResponseHeader {
        msg_id: msg_ids,
        queue_id: header.queue_id,
        queue_offset: append.logics_offset,
        transaction_id,
        ..Default::default()
    };
    let mut response = RemotingCommand::success();
    response.ext_fields = ExtFields::with_capacity(8);
    let mut response = response.with_header(&response_header);
    response.ext_fields.insert(properties::PROPERTY_MSG_REGION, ctx.region_id.as_str());
    response
        .ext_fields
        .insert(properties::PROPERTY_TRACE_SWITCH, if ctx.trace_on { "true" } else { "false" });

    if handle.is_ready() {
        return Some(response);
    }
    // SYNC_FLUSH: answered from the flusher once the group commit that covers this append
    // is done (no task or timer per send), or FLUSH_DISK_TIMEOUT after syncFlushTimeout.
    let oneway = req.is_oneway();
    let (conn, opaque, serialize_type) = (conn.clone(), req.opaque, req.serialize_type);
    handle.on_durable(move |r| {
        let response = match r {
            Ok(r) if r.status == PutMessageStatus::PutOk => response,
            Ok(_) => {
                response.code = ResponseCode::FLUSH_DISK_TIMEOUT;
                response.remark = Some("flush disk timeout".into());
                response
            }
            Err(e) => RemotingCommand::error(ResponseCode::SYSTEM_ERROR, format!("store error: {e}")),
        };
        if !oneway {
            let _ = conn.send_response(opaque, serialize_type, response);
        }
    });
    None
}

fn decode_send_header(
    req: &RemotingCommand,
) -> Result<SendMessageRequestHeader, ferromq_protocol::ProtocolError> {
    match req.code {
        RequestCode::SEND_MESSAGE_V2 | RequestCode::SEND_BATCH_MESSAGE
            if req.ext_fields.get("a").is_some() =>
        {
            Ok(req.decode_header::<SendMessageRequestHeaderV2>()?.to_v1())
        }
        _ => req.decode_header::<SendMessageRequestHeader>(),
    }
}

/// Java's `msgCheck` plus building what the store appends. `Err` is the response to send.
fn check_and_build(
    ctx: &BrokerContext,
    conn: &Connection,
    req: &RemotingCommand,
    h: &SendMessageRequestHeader,
) -> Result<Vec<PutMessage>, RemotingCommand> {
    let settings = ctx.settings.read();
    let broker = &settings.broker;
    if !perm::is_writeable(broker.broker_permission) {
        return Err(RemotingCommand::error(
            ResponseCode::NO_PERMISSION,
            format!("the broker[{}] sending message is forbidden", broker.broker_ip1),
        ));
    }
    validate_topic_name(&h.topic)?;
    if ctx.topics.is_not_allowed_send_topic(&h.topic) {
        return Err(RemotingCommand::error(
            ResponseCode::NO_PERMISSION,
            format!("Sending message to topic[{}] is forbidden.", h.topic),
        ));
    }
    let topic_config = match ctx.topics.select_topic_config(&h.topic) {
        Some(c) => c,
        None => {
            // Java's msgCheck: create from the default topic (refused by the manager when
            // auto-creation is off, i.e. TBW102 lacks inherit permission); retry topics of
            // consumer groups are created on their own terms.
            let now = crate::context::now_ms();
            let topic_sys_flag = if h.unit_mode.unwrap_or(false) {
                crate::metadata::topic_config::topic_sys_flag::build(true, false)
            } else {
                0
            };
            let mut created = ctx.topics.create_topic_in_send_message_method(
                &h.topic,
                &h.default_topic,
                &conn.peer_addr().to_string(),
                h.default_topic_queue_nums,
                topic_sys_flag,
                now,
            );
            if created.is_none() && h.topic.starts_with(crate::metadata::RETRY_GROUP_TOPIC_PREFIX) {
                created = Some(ctx.topics.create_topic_in_send_message_back_method(
                    &h.topic,
                    1,
                    perm::READ | perm::WRITE,
                    topic_sys_flag,
                    now,
                ));
            }
            match created {
                Some(lookup) => {
                    if lookup.created {
                        ctx.topics_changed();
                    }
                    lookup.config
                }
                None => {
                    return Err(RemotingCommand::error(
                        ResponseCode::TOPIC_NOT_EXIST,
                        format!("topic[{}] not exist, apply first please!", h.topic),
                    ))
                }
            }
        }
    };
    if !perm::is_writeable(topic_config.perm) {
        return Err(RemotingCommand::error(
            ResponseCode::NO_PERMISSION,
            format!("the topic[{}] sending message is forbidden", h.topic),
        ));
    }
    let queue_max = topic_config.write_queue_nums.max(topic_config.read_queue_nums);
    if h.queue_id >= queue_max {
        return Err(RemotingCommand::error(
            ResponseCode::SYSTEM_ERROR,
            format!(
                "request queueId[{}] is illegal, {:?} Producer: {}",
                h.queue_id,
                topic_config,
                conn.peer_addr()
            ),
        ));
    }
    let queue_id = if h.queue_id < 0 {
        (ctx.next_random() % topic_config.write_queue_nums.max(1) as u64) as i32
    } else {
        h.queue_id
    };
    let props = h.properties.as_deref().unwrap_or("");
    if props.len() > MAX_PROPERTIES_LEN {
        return Err(message_illegal(ctx));
    }
    if properties::find_str(props.as_bytes(), properties::PROPERTY_TRANSACTION_PREPARED)
        .is_some_and(|v| v == "true")
        && broker.reject_transaction_message
    {
        return Err(RemotingCommand::error(
            ResponseCode::NO_PERMISSION,
            format!("the broker[{}] sending transaction message is forbidden", broker.broker_ip1),
        ));
    }
    let born_host = conn.peer_addr();
    drop(settings);

    let base = PutMessageTemplate {
        topic: &h.topic,
        queue_id,
        sys_flag: h.sys_flag,
        born_timestamp: h.born_timestamp,
        born_host,
        store_host: ctx.store_host,
        reconsume_times: h.reconsume_times.unwrap_or(0),
        cluster: &ctx.cluster_name,
    };
    let max_size = ctx.store.config().max_message_size;
    if req.code == RequestCode::SEND_BATCH_MESSAGE || h.batch.unwrap_or(false) {
        let entries = batch::decode_batch_bytes(&req.body).map_err(|e| {
            RemotingCommand::error(ResponseCode::MESSAGE_ILLEGAL, format!("the batch body is malformed: {e}"))
        })?;
        if entries.is_empty() {
            return Err(RemotingCommand::error(ResponseCode::MESSAGE_ILLEGAL, "the batch holds no message"));
        }
        if req.body.len() > max_size {
            return Err(message_illegal(ctx));
        }
        let mut out = Vec::with_capacity(entries.len());
        for m in entries {
            let mut raw = Vec::with_capacity(props.len() + ctx.cluster_name.len() + 64);
            m.properties.encode_into(&mut raw);
            out.push(base.build(m.flag, m.body, raw));
        }
        Ok(out)
    } else {
        if req.body.len() > max_size {
            return Err(message_illegal(ctx));
        }
        // Room for the PROPERTY_CLUSTER pair `build` appends.
        let mut raw = Vec::with_capacity(props.len() + ctx.cluster_name.len() + 16);
        raw.extend_from_slice(props.as_bytes());
        Ok(vec![base.build(h.flag, req.body.clone(), raw)])
    }
}

struct PutMessageTemplate<'a> {
    topic: &'a str,
    queue_id: i32,
    sys_flag: i32,
    born_timestamp: i64,
    born_host: SocketAddr,
    store_host: SocketAddr,
    reconsume_times: i32,
    cluster: &'a str,
}

impl PutMessageTemplate<'_> {
    fn build(&self, flag: i32, body: Bytes, mut props: Vec<u8>) -> PutMessage {
        // Java stamps the cluster name on every stored message (PROPERTY_CLUSTER).
        properties::push_raw(&mut props, properties::PROPERTY_CLUSTER, self.cluster);
        let mut sys_flag = self.sys_flag & !(sysflag::BORNHOST_V6_FLAG | sysflag::STOREHOSTADDRESS_V6_FLAG);
        if self.born_host.is_ipv6() {
            sys_flag |= sysflag::BORNHOST_V6_FLAG;
        }
        if self.store_host.is_ipv6() {
            sys_flag |= sysflag::STOREHOSTADDRESS_V6_FLAG;
        }
        PutMessage {
            topic: self.topic.to_owned(),
            queue_id: self.queue_id,
            flag,
            body,
            properties: Bytes::from(props),
            sys_flag,
            born_timestamp: self.born_timestamp,
            born_host: self.born_host,
            store_host: self.store_host,
            reconsume_times: self.reconsume_times,
            prepared_transaction_offset: 0,
        }
    }
}

fn message_illegal(ctx: &BrokerContext) -> RemotingCommand {
    RemotingCommand::error(
        ResponseCode::MESSAGE_ILLEGAL,
        format!(
            "the message is illegal, maybe msg body or properties length not matched. msg body length limit {}B, msg properties length limit 32KB.",
            ctx.store.config().max_message_size
        ),
    )
}

/// The response for a store that refused an append.
pub fn store_error_response(ctx: &BrokerContext, e: &StoreError) -> RemotingCommand {
    match e {
        StoreError::MessageTooLarge { .. } => message_illegal(ctx),
        StoreError::DiskFull { .. } => RemotingCommand::error(
            ResponseCode::SERVICE_NOT_AVAILABLE,
            format!("service not available now. It may be caused by one of the following reasons: the broker's disk is full [{e}]"),
        ),
        StoreError::NotWritable(_) => RemotingCommand::error(
            ResponseCode::SERVICE_NOT_AVAILABLE,
            format!("service not available now, maybe disk full, maybe your broker machine memory too small. [{e}]"),
        ),
        other => RemotingCommand::error(ResponseCode::SYSTEM_ERROR, format!("store error: {other}")),
    }
}
