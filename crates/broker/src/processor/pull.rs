//! PULL_MESSAGE and LITE_PULL_MESSAGE (`PullMessageProcessor`), with long polling.

use std::time::Duration;

use ferromq_protocol::body::perm;
use ferromq_protocol::header::{PullMessageRequestHeader, PullMessageResponseHeader};
use ferromq_protocol::message::sysflag::pull as pull_flag;
use ferromq_protocol::{RemotingCommand, ResponseCode};
use ferromq_remoting::Connection;
use ferromq_store::{GetMessageStatus, MessageFilter};

use super::hold::HeldPull;
use crate::context::BrokerContext;
use crate::filter::{self, SubscriptionFilter};

/// brokerId of the master, suggested to consumers.
const MASTER_ID: i64 = 0;

/// Handles a pull; `allow_suspend` is false when a held pull is re-executed.
pub fn process(
    ctx: &BrokerContext,
    conn: &Connection,
    req: RemotingCommand,
    allow_suspend: bool,
) -> Option<RemotingCommand> {
    let h: PullMessageRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return Some(RemotingCommand::error(ResponseCode::SYSTEM_ERROR, e.to_string())),
    };
    let (long_polling, short_polling_ms) = {
        let s = ctx.settings.read();
        if !perm::is_readable(s.broker.broker_permission) {
            return Some(RemotingCommand::error(
                ResponseCode::NO_PERMISSION,
                format!("the broker[{}] pulling message is forbidden", s.broker.broker_ip1),
            ));
        }
        (s.broker.long_polling_enable, s.broker.short_polling_time_ms)
    };
    let group = match ctx.groups.find_subscription_group_config(&h.consumer_group, crate::context::now_ms()) {
        Some(g) => g,
        None => {
            return Some(RemotingCommand::error(
                ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("subscription group [{}] does not exist", h.consumer_group),
            ))
        }
    };
    if !group.consume_enable {
        return Some(RemotingCommand::error(
            ResponseCode::NO_PERMISSION,
            format!("subscription group no permission, {}", h.consumer_group),
        ));
    }
    let Some(topic_config) = ctx.topics.select_topic_config(&h.topic) else {
        return Some(RemotingCommand::error(
            ResponseCode::TOPIC_NOT_EXIST,
            format!("topic[{}] not exist, apply first please!", h.topic),
        ));
    };
    if !perm::is_readable(topic_config.perm) {
        return Some(RemotingCommand::error(
            ResponseCode::NO_PERMISSION,
            format!("the topic[{}] pulling message is forbidden", h.topic),
        ));
    }
    if h.queue_id < 0 || h.queue_id >= topic_config.read_queue_nums {
        return Some(RemotingCommand::error(
            ResponseCode::SYSTEM_ERROR,
            format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}] consumer:[{}]",
                h.queue_id,
                h.topic,
                topic_config.read_queue_nums,
                conn.peer_addr()
            ),
        ));
    }

    // The subscription: from the request (subscription flag, lite pull) or the heartbeat.
    let subscription = if pull_flag::has_subscription_flag(h.sys_flag) {
        let expression = h.subscription.as_deref().unwrap_or("*");
        match filter::build_subscription_data(&h.topic, expression, h.expression_type.as_deref()) {
            Ok(s) => std::sync::Arc::new(s),
            Err(e) => {
                return Some(RemotingCommand::error(
                    ResponseCode::SUBSCRIPTION_PARSE_FAILED,
                    format!("parse the consumer's subscription[{expression}] failed: {e}"),
                ))
            }
        }
    } else {
        let Some(model) = ctx.consumers.message_model(&h.consumer_group) else {
            return Some(RemotingCommand::error(
                ResponseCode::SUBSCRIPTION_NOT_EXIST,
                format!("the consumer's group info not exist, group: {}", h.consumer_group),
            ));
        };
        if !group.consume_broadcast_enable && model == ferromq_protocol::body::MessageModel::Broadcasting {
            return Some(RemotingCommand::error(
                ResponseCode::NO_PERMISSION,
                format!("the consumer group[{}] can not consume by broadcast way", h.consumer_group),
            ));
        }
        let Some(sub) = ctx.consumers.find_subscription_data(&h.consumer_group, &h.topic) else {
            return Some(RemotingCommand::error(
                ResponseCode::SUBSCRIPTION_NOT_EXIST,
                format!("the consumer's subscription not exist, group: {}", h.consumer_group),
            ));
        };
        if sub.sub_version < h.sub_version {
            return Some(RemotingCommand::error(
                ResponseCode::SUBSCRIPTION_NOT_LATEST,
                "the consumer's subscription not latest".to_string(),
            ));
        }
        sub
    };
    let sub_filter = SubscriptionFilter::new(&subscription);

    let max_msgs = h.max_msg_nums.clamp(1, 1024) as usize;
    let result = match ctx.store.get_message(
        &h.consumer_group,
        &h.topic,
        h.queue_id,
        h.queue_offset,
        max_msgs,
        Some(&sub_filter),
    ) {
        Ok(r) => r,
        Err(e) => {
            return Some(RemotingCommand::error(ResponseCode::SYSTEM_ERROR, format!("store error: {e}")))
        }
    };

    let response_header = PullMessageResponseHeader {
        suggest_which_broker_id: if result.suggest_pull_from_slave {
            group.which_broker_when_consume_slowly
        } else {
            MASTER_ID
        },
        next_begin_offset: result.next_begin_offset,
        min_offset: result.min_offset,
        max_offset: result.max_offset,
        topic_sys_flag: Some(topic_config.topic_sys_flag),
        group_sys_flag: Some(group.group_sys_flag),
        ..Default::default()
    };
    let code = match result.status {
        GetMessageStatus::Found => ResponseCode::SUCCESS,
        GetMessageStatus::MessageWasRemoving | GetMessageStatus::NoMatchedMessage => {
            ResponseCode::PULL_RETRY_IMMEDIATELY
        }
        GetMessageStatus::NoMatchedLogicQueue | GetMessageStatus::NoMessageInQueue => {
            if h.queue_offset != 0 {
                ResponseCode::PULL_OFFSET_MOVED
            } else {
                ResponseCode::PULL_NOT_FOUND
            }
        }
        GetMessageStatus::OffsetFoundNull | GetMessageStatus::OffsetOverflowOne => {
            ResponseCode::PULL_NOT_FOUND
        }
        GetMessageStatus::OffsetOverflowBadly | GetMessageStatus::OffsetTooSmall => {
            ResponseCode::PULL_OFFSET_MOVED
        }
    };

    // The commit-offset piggyback of push consumers (masters only).
    let is_slave = ctx.store.config().broker_role == ferromq_store::BrokerRole::Slave;
    if allow_suspend && pull_flag::has_commit_offset_flag(h.sys_flag) && !is_slave {
        ctx.offsets.commit_offset(
            &conn.peer_addr().to_string(),
            &h.consumer_group,
            &h.topic,
            h.queue_id,
            h.commit_offset,
        );
    }

    if code == ResponseCode::SUCCESS {
        let mut body = Vec::with_capacity(result.buffer_total_size);
        for m in &result.messages {
            body.extend_from_slice(&m.data);
        }
        ctx.stats.record_get(&h.topic, &h.consumer_group, result.messages.len() as u64, body.len() as u64);
        return Some(RemotingCommand::response(code, None).with_header(&response_header).with_body(body));
    }
    if code == ResponseCode::PULL_NOT_FOUND && allow_suspend && pull_flag::has_suspend_flag(h.sys_flag) {
        let hold_ms = if long_polling { h.suspend_timeout_millis.max(0) as u64 } else { short_polling_ms };
        let tag_codes = if subscription.is_all() {
            None
        } else {
            Some(subscription.code_set.iter().map(|c| *c as i64).collect())
        };
        ctx.hold.hold(HeldPull {
            conn: conn.clone(),
            request: req,
            topic: h.topic,
            queue_id: h.queue_id,
            pull_from_offset: h.queue_offset,
            deadline: tokio::time::Instant::now() + Duration::from_millis(hold_ms),
            tag_codes,
        });
        return None;
    }
    let remark = match code {
        ResponseCode::PULL_OFFSET_MOVED => Some(format!("offset moved: {:?}", result.status)),
        ResponseCode::PULL_RETRY_IMMEDIATELY => Some(format!("{:?}", result.status)),
        _ => None,
    };
    Some(RemotingCommand::response(code, remark).with_header(&response_header))
}

impl MessageFilter for SubscriptionFilter {
    fn is_matched_by_consume_queue(&self, tags_code: i64) -> bool {
        self.matches_tags_code(tags_code)
    }
}
