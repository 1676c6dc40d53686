//! Administration (`AdminBrokerProcessor`): topics, subscription groups, broker config and
//! runtime info, consumer connections and consume stats.

use std::collections::BTreeMap;

use ferromq_protocol::body::{
    ConsumeStats, DataVersion, KVTable, MessageQueue, OffsetWrapper, SubscriptionGroupConfig, TopicConfig,
    TopicFilterType, TopicOffset, TopicStatsTable,
};
use ferromq_protocol::header::*;
use ferromq_protocol::{json, RemotingCommand, ResponseCode};
use ferromq_store::MessageStoreConfig;

use super::try_header;
use crate::context::{now_ms, BrokerContext};
use crate::metadata::validate_topic;

pub fn update_and_create_topic(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let h: CreateTopicRequestHeader = try_header!(req);
    if let Err(e) = validate_topic(&h.topic) {
        return RemotingCommand::error(e.response_code(), e.remark());
    }
    if ctx.topics.is_system_topic(&h.topic) && !ctx.topics.contains(&h.topic) {
        return RemotingCommand::error(
            ResponseCode::SYSTEM_ERROR,
            format!("The topic[{}] is conflict with system topic.", h.topic),
        );
    }
    if h.read_queue_nums <= 0
        || h.write_queue_nums <= 0
        || h.read_queue_nums > 1024
        || h.write_queue_nums > 1024
    {
        return RemotingCommand::error(
            ResponseCode::INVALID_PARAMETER,
            format!(
                "invalid queue numbers: read {} write {} (1..1024)",
                h.read_queue_nums, h.write_queue_nums
            ),
        );
    }
    let topic_filter_type = match h.topic_filter_type.as_str() {
        "MULTI_TAG" => TopicFilterType::MultiTag,
        _ => TopicFilterType::SingleTag,
    };
    let config = TopicConfig {
        topic_name: h.topic.clone(),
        read_queue_nums: h.read_queue_nums,
        write_queue_nums: h.write_queue_nums,
        perm: h.perm,
        topic_filter_type,
        topic_sys_flag: h.topic_sys_flag.unwrap_or(0),
        order: h.order,
        attributes: parse_attributes(h.attributes.as_deref()),
    };
    ctx.topics.update_topic_config(config, now_ms());
    ctx.topics_changed();
    RemotingCommand::success()
}

/// 5.x attributes: `+key=value,+key2=value2` (a `-key` removes; ignored on create).
fn parse_attributes(text: Option<&str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for item in text.unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Some((k, v)) = item.strip_prefix('+').unwrap_or(item).split_once('=') {
            out.insert(format!("+{}", k.trim_start_matches('+')), v.to_owned());
        }
    }
    out
}

pub fn delete_topic(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let h: DeleteTopicRequestHeader = try_header!(req);
    if ctx.topics.is_system_topic(&h.topic) {
        return RemotingCommand::error(
            ResponseCode::SYSTEM_ERROR,
            format!("The topic[{}] is conflict with system topic.", h.topic),
        );
    }
    ctx.topics.delete_topic_config(&h.topic, now_ms());
    ctx.offsets.clean_offset_by_topic(&h.topic);
    if let Err(e) = ctx.store.delete_topics(&[h.topic.as_str()]) {
        tracing::warn!(topic = %h.topic, error = %e, "deleting the topic's queues failed");
    }
    ctx.topics_changed();
    RemotingCommand::success()
}

pub fn all_topic_config(ctx: &BrokerContext) -> RemotingCommand {
    RemotingCommand::success().with_body(ctx.topics.encode(false))
}

pub fn topic_config(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let h: GetTopicConfigRequestHeader = try_header!(req);
    match ctx.topics.select_topic_config(&h.topic) {
        Some(c) => RemotingCommand::success().with_body(json::to_vec(&*c)),
        None => RemotingCommand::error(
            ResponseCode::TOPIC_NOT_EXIST,
            format!("No topic in this broker. topic: {}", h.topic),
        ),
    }
}

pub fn topic_stats(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let h: GetTopicStatsInfoRequestHeader = try_header!(req);
    let Some(config) = ctx.topics.select_topic_config(&h.topic) else {
        return RemotingCommand::error(
            ResponseCode::TOPIC_NOT_EXIST,
            format!("topic[{}] not exist", h.topic),
        );
    };
    let broker_name = ctx.settings.read().broker.broker_name.clone();
    let mut table = TopicStatsTable::default();
    for queue_id in 0..config.write_queue_nums {
        let min_offset = ctx.store.get_min_offset_in_queue(&h.topic, queue_id);
        let max_offset = ctx.store.get_max_offset_in_queue(&h.topic, queue_id);
        let last_update_timestamp = if max_offset > 0 {
            ctx.store
                .get_message_store_timestamp(&h.topic, queue_id, max_offset - 1)
                .ok()
                .flatten()
                .unwrap_or(0)
        } else {
            0
        };
        table.offset_table.insert(
            MessageQueue::new(h.topic.clone(), broker_name.clone(), queue_id),
            TopicOffset { min_offset, max_offset, last_update_timestamp },
        );
    }
    RemotingCommand::success().with_body(json::to_vec(&table))
}

pub fn update_and_create_group(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let config: SubscriptionGroupConfig = match json::from_slice(&req.body) {
        Ok(c) => c,
        Err(e) => {
            return RemotingCommand::error(ResponseCode::SYSTEM_ERROR, format!("bad subscription group: {e}"))
        }
    };
    if config.group_name.is_empty() {
        return RemotingCommand::error(ResponseCode::SYSTEM_ERROR, "the group name is blank");
    }
    ctx.groups.update_subscription_group_config(config, now_ms());
    ctx.persist_groups();
    RemotingCommand::success()
}

pub fn all_group_config(ctx: &BrokerContext) -> RemotingCommand {
    RemotingCommand::success().with_body(ctx.groups.encode(false))
}

pub fn delete_group(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let h: DeleteSubscriptionGroupRequestHeader = try_header!(req);
    ctx.groups.delete_subscription_group_config(&h.group_name, now_ms());
    ctx.persist_groups();
    if h.clean_offset.or(h.remove_offset).unwrap_or(false) {
        ctx.offsets.remove_offset(&h.group_name);
    }
    RemotingCommand::success()
}

pub fn broker_config(ctx: &BrokerContext) -> RemotingCommand {
    let text = ctx.settings.read().to_properties();
    let version = json::to_vec(&DataVersion::new(ctx.boot_timestamp_ms as i64));
    RemotingCommand::success()
        .with_header(&GetBrokerConfigResponseHeader {
            version: String::from_utf8_lossy(&version).into_owned(),
        })
        .with_body(text.into_bytes())
}

/// Broker keys that only take effect at start; refused at run time as Java's blacklist
/// does. Every store key is refused too (`is_store_key`): the store reads its
/// configuration once, when it opens.
const START_ONLY_KEYS: &[&str] = &[
    "brokerClusterName",
    "brokerName",
    "brokerId",
    "listenPort",
    "bindAddress",
    "brokerIP1",
    "brokerIP2",
    "metricsPromExporterPort",
];

/// Whether the store's configuration takes `key` (whatever the value).
fn is_store_key(key: &str, value: &str) -> bool {
    !matches!(MessageStoreConfig::default().set(key, value), Ok(false))
}

pub fn update_broker_config(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let Ok(text) = std::str::from_utf8(&req.body) else {
        return RemotingCommand::error(ResponseCode::SYSTEM_ERROR, "config body is not UTF-8");
    };
    let entries = ferromq_protocol::properties_text::parse(text);
    if let Some(e) =
        entries.iter().find(|e| START_ONLY_KEYS.contains(&e.key.as_str()) || is_store_key(&e.key, &e.value))
    {
        return RemotingCommand::error(
            ResponseCode::NO_PERMISSION,
            format!("Can not update config in black list: {} takes effect only at start", e.key),
        );
    }
    let mut updated = ctx.settings.read().clone();
    if let Err(e) = updated.apply_properties(text, "UPDATE_BROKER_CONFIG") {
        return RemotingCommand::error(ResponseCode::SYSTEM_ERROR, e.to_string());
    }
    ctx.topics.set_auto_create_topic_enable(updated.broker.auto_create_topic_enable);
    ctx.groups.set_auto_create_subscription_group(updated.broker.auto_create_subscription_group);
    let permission_changed = updated.broker.broker_permission != ctx.settings.read().broker.broker_permission;
    *ctx.settings.write() = updated;
    if permission_changed {
        ctx.register_now.notify_one();
    }
    RemotingCommand::success()
}

pub fn runtime_info(ctx: &BrokerContext) -> RemotingCommand {
    let s = &ctx.store;
    let (put_msgs, _) = ctx.stats.put_total();
    let (get_msgs, _) = ctx.stats.get_total();
    let mut table = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        table.insert(k.to_owned(), v);
    };
    put("version", ferromq_protocol::command::CURRENT_VERSION.to_string());
    put("brokerVersion", ferromq_protocol::command::CURRENT_VERSION.to_string());
    put("brokerVersionDesc", format!("ferromq {}", env!("CARGO_PKG_VERSION")));
    put("bootTimestamp", ctx.boot_timestamp_ms.to_string());
    put("runtime", runtime_text(now_ms().saturating_sub(ctx.boot_timestamp_ms)));
    put("msgPutTotalTodayNow", put_msgs.to_string());
    put("msgGetTotalTodayNow", get_msgs.to_string());
    put("msgPutTotalTodayMorning", "0".into());
    put("msgGetTotalTodayMorning", "0".into());
    put("msgPutTotalYesterdayMorning", "0".into());
    put("msgGetTotalYesterdayMorning", "0".into());
    put("putTps", ctx.stats.tps_triplet(true));
    put("getTransferedTps", ctx.stats.tps_triplet(false));
    put("getTotalTps", ctx.stats.tps_triplet(false));
    put("commitLogMaxOffset", s.max_phy_offset().to_string());
    put("commitLogMinOffset", s.min_phy_offset().to_string());
    put("dispatchBehindBytes", s.dispatch_behind_bytes().to_string());
    put("commitLogDiskRatio", format!("{:.4}", s.disk_used_percent() as f64 / 100.0));
    put("earliestMessageTimeStamp", s.get_earliest_message_time().ok().flatten().unwrap_or(0).to_string());
    put("brokerActive", "true".into());
    put("pullHeldCount", ctx.hold.held_count().to_string());
    put("pageCacheLockTimeMills", "0".into());
    put("sendThreadPoolQueueSize", "0".into());
    put("pullThreadPoolQueueSize", "0".into());
    RemotingCommand::success().with_body(json::to_vec(&KVTable { table }))
}

fn runtime_text(ms: u64) -> String {
    let secs = ms / 1000;
    format!(
        "[ {} days, {} hours, {} minutes, {} seconds ]",
        secs / 86_400,
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

pub fn consumer_connections(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let h: GetConsumerConnectionListRequestHeader = try_header!(req);
    match ctx.consumers.consumer_connection(&h.consumer_group) {
        Some(c) => RemotingCommand::success().with_body(json::to_vec(&c)),
        None => RemotingCommand::error(
            ResponseCode::CONSUMER_NOT_ONLINE,
            format!("the consumer group[{}] not online", h.consumer_group),
        ),
    }
}

pub fn consume_stats(ctx: &BrokerContext, req: &RemotingCommand) -> RemotingCommand {
    let h: GetConsumeStatsRequestHeader = try_header!(req);
    let topics: Vec<String> = match h.topic.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => vec![t.to_owned()],
        None => ctx.offsets.which_topic_by_consumer(&h.consumer_group).into_iter().collect(),
    };
    let broker_name = ctx.settings.read().broker.broker_name.clone();
    let mut stats = ConsumeStats::default();
    for topic in topics {
        let Some(config) = ctx.topics.select_topic_config(&topic) else { continue };
        for queue_id in 0..config.write_queue_nums {
            let broker_offset = ctx.store.get_max_offset_in_queue(&topic, queue_id).max(0);
            let consumer_offset = ctx.offsets.query_offset(&h.consumer_group, &topic, queue_id).max(0);
            let last_timestamp = if consumer_offset > 0 {
                ctx.store
                    .get_message_store_timestamp(&topic, queue_id, consumer_offset - 1)
                    .ok()
                    .flatten()
                    .unwrap_or(0)
            } else {
                0
            };
            stats.offset_table.insert(
                MessageQueue::new(topic.clone(), broker_name.clone(), queue_id),
                OffsetWrapper {
                    broker_offset,
                    consumer_offset,
                    pull_offset: consumer_offset,
                    last_timestamp,
                },
            );
        }
    }
    stats.consume_tps = ctx.stats.tps(10).1;
    RemotingCommand::success().with_body(json::to_vec(&stats))
}
