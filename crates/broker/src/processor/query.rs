//! Offset and message queries answered from the store alone.

use ferromq_protocol::header::*;
use ferromq_protocol::{RemotingCommand, ResponseCode};

use super::try_header;
use crate::context::BrokerContext;

/// GET_MAX_OFFSET: the queue's next offset (= messages ever written to it).
pub fn max_offset(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let h: GetMaxOffsetRequestHeader = try_header!(req);
    let offset = ctx.store.get_max_offset_in_queue(&h.topic, h.queue_id);
    RemotingCommand::success().with_header(&GetMaxOffsetResponseHeader { offset })
}

/// GET_MIN_OFFSET.
pub fn min_offset(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let h: GetMinOffsetRequestHeader = try_header!(req);
    let offset = ctx.store.get_min_offset_in_queue(&h.topic, h.queue_id);
    RemotingCommand::success().with_header(&GetMinOffsetResponseHeader { offset })
}

/// SEARCH_OFFSET_BY_TIMESTAMP.
pub fn search_offset(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let h: SearchOffsetRequestHeader = try_header!(req);
    match ctx.store.get_offset_in_queue_by_time(&h.topic, h.queue_id, h.timestamp) {
        Ok(offset) => RemotingCommand::success().with_header(&SearchOffsetResponseHeader { offset }),
        Err(e) => RemotingCommand::error(ResponseCode::SYSTEM_ERROR, format!("store error: {e}")),
    }
}

/// GET_EARLIEST_MSG_STORETIME: store time of the queue's first message.
pub fn earliest_msg_store_time(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let h: GetEarliestMsgStoretimeRequestHeader = try_header!(req);
    let min = ctx.store.get_min_offset_in_queue(&h.topic, h.queue_id);
    match ctx.store.get_message_store_timestamp(&h.topic, h.queue_id, min) {
        Ok(ts) => RemotingCommand::success()
            .with_header(&GetEarliestMsgStoretimeResponseHeader { timestamp: ts.unwrap_or(-1) }),
        Err(e) => RemotingCommand::error(ResponseCode::SYSTEM_ERROR, format!("store error: {e}")),
    }
}

/// QUERY_MESSAGE: by key (or unique key with `_UNIQUE_KEY_QUERY`) within a time range.
pub fn query_message(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let h: QueryMessageRequestHeader = try_header!(req);
    let max =
        if req.ext_fields.get("_UNIQUE_KEY_QUERY") == Some("true") { 32 } else { h.max_num.clamp(1, 64_000) };
    match ctx.store.query_message(&h.topic, &h.key, max as usize, h.begin_timestamp, h.end_timestamp) {
        Ok(result) if !result.messages.is_empty() => {
            let mut body = Vec::new();
            for m in &result.messages {
                body.extend_from_slice(&m.data);
            }
            RemotingCommand::success()
                .with_header(&QueryMessageResponseHeader {
                    index_last_update_timestamp: result.index_last_update_timestamp,
                    index_last_update_phyoffset: result.index_last_update_phyoffset as i64,
                })
                .with_body(body)
        }
        Ok(_) => RemotingCommand::error(
            ResponseCode::QUERY_NOT_FOUND,
            "can not find message, maybe time range not correct",
        ),
        Err(e) => RemotingCommand::error(ResponseCode::SYSTEM_ERROR, format!("store error: {e}")),
    }
}

/// VIEW_MESSAGE_BY_ID: one stored message by its CommitLog offset (from an offsetMsgId).
pub fn view_message_by_id(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let h: ViewMessageRequestHeader = try_header!(req);
    let not_found = || {
        RemotingCommand::error(
            ResponseCode::SYSTEM_ERROR,
            format!("can not find message by the offset, {}", h.offset),
        )
    };
    if h.offset < 0 {
        return not_found();
    }
    match ctx.store.look_message_by_offset(h.offset as u64) {
        Ok(Some(bytes)) => RemotingCommand::success().with_body(bytes),
        Ok(None) => not_found(),
        Err(e) => RemotingCommand::error(ResponseCode::SYSTEM_ERROR, format!("store error: {e}")),
    }
}
