//! Client management: HEART_BEAT, UNREGISTER_CLIENT, consumer lists, offsets and queue
//! locks (`ClientManageProcessor`, `ConsumerManageProcessor`, the lock half of
//! `AdminBrokerProcessor`).

use std::collections::BTreeSet;

use ferromq_protocol::body::{
    perm, GetConsumerListByGroupResponseBody, HeartbeatData, LockBatchRequestBody, LockBatchResponseBody,
};
use ferromq_protocol::header::*;
use ferromq_protocol::{json, RemotingCommand, ResponseCode};
use ferromq_remoting::Connection;

use super::try_header;
use crate::client::{notify_consumer_ids_changed, ClientChannelInfo};
use crate::context::{now_ms, BrokerContext};
use crate::metadata::retry_topic;

pub fn heartbeat(ctx: &BrokerContext, conn: &Connection, req: &RemotingCommand) -> RemotingCommand {
    tracing::trace!(body = %String::from_utf8_lossy(&req.body), "heartbeat");
    let data: HeartbeatData = match json::from_slice(&req.body) {
        Ok(d) => d,
        Err(e) => {
            return RemotingCommand::error(ResponseCode::SYSTEM_ERROR, format!("bad heartbeat body: {e}"))
        }
    };
    let now = now_ms();
    let notify_enabled = ctx.settings.read().broker.notify_consumer_ids_changed_enable;
    let mut topic_created = false;
    for consumer in &data.consumer_data_set {
        let group_config = ctx.groups.find_subscription_group_config(&consumer.group_name, now);
        let mut group_notify = notify_enabled;
        if let Some(g) = &group_config {
            group_notify &= g.notify_consumer_ids_changed_enable;
            let sys_flag = if consumer.unit_mode {
                crate::metadata::topic_config::topic_sys_flag::build(false, true)
            } else {
                0
            };
            let lookup = ctx.topics.create_topic_in_send_message_back_method(
                &retry_topic(&consumer.group_name),
                g.retry_queue_nums,
                perm::READ | perm::WRITE,
                sys_flag,
                now,
            );
            topic_created |= lookup.created;
        }
        let channel =
            ClientChannelInfo::new(conn.clone(), data.client_id.clone(), req.language, req.version, now);
        let outcome = ctx.consumers.register_consumer(
            &consumer.group_name,
            channel,
            consumer.consume_type,
            consumer.message_model,
            consumer.consume_from_where,
            &consumer.subscription_data_set,
            group_notify,
            now,
        );
        if !outcome.notify.is_empty() {
            notify_consumer_ids_changed(&consumer.group_name, &outcome.notify);
        }
    }
    for producer in &data.producer_data_set {
        let channel =
            ClientChannelInfo::new(conn.clone(), data.client_id.clone(), req.language, req.version, now);
        ctx.producers.register_producer(&producer.group_name, channel, now);
    }
    if topic_created {
        ctx.topics_changed();
    }
    ctx.persist_groups();
    RemotingCommand::success()
}

pub fn unregister_client(ctx: &BrokerContext, conn: &Connection, req: &RemotingCommand) -> RemotingCommand {
    let h: UnregisterClientRequestHeader = try_header!(req);
    if let Some(group) = h.producer_group.as_deref().filter(|g| !g.is_empty()) {
        ctx.producers.unregister_producer(group, conn.id(), &h.client_id);
    }
    if let Some(group) = h.consumer_group.as_deref().filter(|g| !g.is_empty()) {
        let notify = ctx.settings.read().broker.notify_consumer_ids_changed_enable
            && ctx.groups.get(group).is_none_or(|g| g.notify_consumer_ids_changed_enable);
        if let Some(change) = ctx.consumers.unregister_consumer(group, conn.id(), notify) {
            if !change.remaining.is_empty() {
                notify_consumer_ids_changed(group, &change.remaining);
            }
        }
    }
    RemotingCommand::success()
}

/// A client connection went away: it leaves every group it was in.
pub fn channel_closed(ctx: &BrokerContext, conn: &Connection) {
    let notify = ctx.settings.read().broker.notify_consumer_ids_changed_enable;
    for change in ctx.consumers.do_channel_close_event(conn.id()) {
        if notify && !change.remaining.is_empty() {
            notify_consumer_ids_changed(&change.group, &change.remaining);
        }
    }
    ctx.producers.do_channel_close_event(conn.id());
}

pub fn consumer_list(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let h: GetConsumerListByGroupRequestHeader = try_header!(req);
    let ids = ctx.consumers.consumer_ids(&h.consumer_group);
    if ids.is_empty() {
        return RemotingCommand::error(
            ResponseCode::SYSTEM_ERROR,
            format!("no consumer for this group, {}", h.consumer_group),
        );
    }
    RemotingCommand::success()
        .with_body(json::to_vec(&GetConsumerListByGroupResponseBody { consumer_id_list: ids }))
}

pub fn update_offset(ctx: &BrokerContext, conn: &Connection, req: &RemotingCommand) -> RemotingCommand {
    let h: UpdateConsumerOffsetRequestHeader = try_header!(req);
    ctx.offsets.commit_offset(
        &conn.peer_addr().to_string(),
        &h.consumer_group,
        &h.topic,
        h.queue_id,
        h.commit_offset,
    );
    RemotingCommand::success()
}

pub fn query_offset(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let h: QueryConsumerOffsetRequestHeader = try_header!(req);
    let offset = ctx.offsets.query_offset(&h.consumer_group, &h.topic, h.queue_id);
    if offset >= 0 {
        return RemotingCommand::success().with_header(&QueryConsumerOffsetResponseHeader { offset });
    }
    // No committed offset. Java answers 0 when the queue still starts at offset 0 (a new
    // group of a young topic reads it all); otherwise "not found", and the client applies
    // its consume-from-where.
    if ctx.store.get_min_offset_in_queue(&h.topic, h.queue_id) <= 0 {
        return RemotingCommand::success().with_header(&QueryConsumerOffsetResponseHeader { offset: 0 });
    }
    RemotingCommand::error(
        ResponseCode::QUERY_NOT_FOUND,
        "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first",
    )
}

pub fn lock_batch(ctx: &BrokerContext, _conn: &Connection, req: &RemotingCommand) -> RemotingCommand {
    let body: LockBatchRequestBody = match json::from_slice(&req.body) {
        Ok(b) => b,
        Err(e) => return RemotingCommand::error(ResponseCode::SYSTEM_ERROR, format!("bad lock body: {e}")),
    };
    let locked: BTreeSet<_> =
        ctx.locks.try_lock_batch(&body.consumer_group, &body.mq_set, &body.client_id, now_ms());
    RemotingCommand::success().with_body(json::to_vec(&LockBatchResponseBody { lock_ok_mq_set: locked }))
}

pub fn unlock_batch(ctx: &BrokerContext, _conn: &Connection, req: &RemotingCommand) -> RemotingCommand {
    let body: LockBatchRequestBody = match json::from_slice(&req.body) {
        Ok(b) => b,
        Err(e) => return RemotingCommand::error(ResponseCode::SYSTEM_ERROR, format!("bad unlock body: {e}")),
    };
    ctx.locks.unlock_batch(&body.consumer_group, &body.mq_set, &body.client_id);
    RemotingCommand::success()
}
