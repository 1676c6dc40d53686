//! `ConsumerManager`: consumer groups registered by HEART_BEAT, their channels and
//! subscriptions, and the NOTIFY_CONSUMER_IDS_CHANGED call that makes group members
//! rebalance at once when the group changes.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use ferromq_protocol::body::{
    ConsumeFromWhere, ConsumeType, ConsumerConnection, MessageModel, SubscriptionData,
};
use ferromq_protocol::header::NotifyConsumerIdsChangedRequestHeader;
use ferromq_protocol::{RemotingCommand, RequestCode};
use ferromq_remoting::Connection;
use parking_lot::RwLock;

use super::channel::{ClientChannelInfo, CHANNEL_EXPIRED_TIMEOUT_MS};
use super::consumer_group_info::ConsumerGroupInfo;

/// What a heartbeat's registration changed.
#[derive(Debug, Clone, Default)]
pub struct RegisterOutcome {
    /// A new channel joined the group.
    pub channels_changed: bool,
    /// A topic was added to or removed from the group's subscriptions.
    pub subscriptions_changed: bool,
    /// The group's connections to send NOTIFY_CONSUMER_IDS_CHANGED to: every member when
    /// something changed and the group wants notifications, else empty.
    pub notify: Vec<Connection>,
}

impl RegisterOutcome {
    pub fn changed(&self) -> bool {
        self.channels_changed || self.subscriptions_changed
    }
}

/// A group that lost a channel (closed connection or unregistration).
#[derive(Debug, Clone)]
pub struct GroupChange {
    pub group: String,
    /// The group had no channel left and was removed.
    pub group_removed: bool,
    /// The remaining members, to notify.
    pub remaining: Vec<Connection>,
}

#[derive(Debug)]
pub struct ConsumerManager {
    table: RwLock<HashMap<String, ConsumerGroupInfo>>,
    channel_expired_timeout_ms: u64,
}

impl Default for ConsumerManager {
    fn default() -> Self {
        Self::new(CHANNEL_EXPIRED_TIMEOUT_MS)
    }
}

impl ConsumerManager {
    /// A manager that drops channels silent for `channel_expired_timeout_ms` (120 s in Java).
    pub fn new(channel_expired_timeout_ms: u64) -> Self {
        ConsumerManager { table: RwLock::default(), channel_expired_timeout_ms }
    }

    /// Java's `registerConsumer` (HEART_BEAT): adds or refreshes the channel, updates the
    /// subscriptions. `notify_enabled` is the group's `notifyConsumerIdsChangedEnable`.
    #[allow(clippy::too_many_arguments)]
    pub fn register_consumer(
        &self,
        group: &str,
        channel: ClientChannelInfo,
        consume_type: ConsumeType,
        message_model: MessageModel,
        consume_from_where: ConsumeFromWhere,
        subscriptions: &[SubscriptionData],
        notify_enabled: bool,
        now_ms: u64,
    ) -> RegisterOutcome {
        let mut table = self.table.write();
        let info = table.entry(group.to_owned()).or_insert_with(|| {
            ConsumerGroupInfo::new(group, consume_type, message_model, consume_from_where, now_ms)
        });
        let channels_changed =
            info.update_channel(channel, consume_type, message_model, consume_from_where, now_ms);
        let subscriptions_changed = info.update_subscription(subscriptions, now_ms);
        let notify = if (channels_changed || subscriptions_changed) && notify_enabled {
            info.all_channels()
        } else {
            Vec::new()
        };
        RegisterOutcome { channels_changed, subscriptions_changed, notify }
    }

    /// Java's `unregisterConsumer` (UNREGISTER_CLIENT): removes the group's channel of that
    /// connection, and the group when it is empty. `None` if the group is unknown; the
    /// remaining members are listed for notification only when `notify_enabled`.
    pub fn unregister_consumer(
        &self,
        group: &str,
        connection_id: u64,
        notify_enabled: bool,
    ) -> Option<GroupChange> {
        let mut table = self.table.write();
        let info = table.get_mut(group)?;
        info.unregister_channel(connection_id);
        let remaining = if notify_enabled { info.all_channels() } else { Vec::new() };
        let group_removed = info.channel_count() == 0;
        if group_removed {
            table.remove(group);
            tracing::info!(group, "unregister consumer ok, no any connection, and remove consumer group");
        }
        Some(GroupChange { group: group.to_owned(), group_removed, remaining })
    }

    /// Java's `doChannelCloseEvent`: the connection is gone from every group it was in;
    /// returns those groups with their remaining members (to notify).
    pub fn do_channel_close_event(&self, connection_id: u64) -> Vec<GroupChange> {
        let mut table = self.table.write();
        let mut changes = Vec::new();
        for (group, info) in table.iter_mut() {
            if info.do_channel_close_event(connection_id) {
                changes.push(GroupChange {
                    group: group.clone(),
                    group_removed: info.channel_count() == 0,
                    remaining: info.all_channels(),
                });
            }
        }
        for change in changes.iter().filter(|c| c.group_removed) {
            table.remove(&change.group);
            tracing::info!(group = %change.group, "unregister consumer ok, no any connection, and remove consumer group");
        }
        changes
    }

    /// Java's `scanNotActiveChannel`: drops channels silent for longer than the expiry
    /// (and groups left empty), closes their connections, returns `(group, channel)`.
    pub fn scan_not_active_channel(&self, now_ms: u64) -> Vec<(String, ClientChannelInfo)> {
        let mut expired = Vec::new();
        {
            let mut table = self.table.write();
            table.retain(|group, info| {
                for channel in info.remove_expired(now_ms, self.channel_expired_timeout_ms) {
                    tracing::warn!(group = %group, client_id = %channel.client_id, addr = %channel.client_addr(),
                        "SCAN: remove expired channel from ConsumerManager consumerTable");
                    expired.push((group.clone(), channel));
                }
                if info.channel_count() == 0 {
                    tracing::warn!(group = %group, "SCAN: remove expired channel from ConsumerManager consumerTable, all clear");
                    return false;
                }
                true
            });
        }
        for (_, channel) in &expired {
            channel.connection.close();
        }
        expired
    }

    /// A snapshot of the group.
    pub fn get_consumer_group_info(&self, group: &str) -> Option<ConsumerGroupInfo> {
        self.table.read().get(group).cloned()
    }

    pub fn find_channel(&self, group: &str, client_id: &str) -> Option<ClientChannelInfo> {
        self.table.read().get(group)?.find_channel(client_id).cloned()
    }

    pub fn find_subscription_data(&self, group: &str, topic: &str) -> Option<Arc<SubscriptionData>> {
        self.table.read().get(group)?.find_subscription_data(topic)
    }

    pub fn find_subscription_data_count(&self, group: &str) -> usize {
        self.table.read().get(group).map_or(0, |g| g.subscription_table().len())
    }

    /// The group's message model, if it is registered.
    pub fn message_model(&self, group: &str) -> Option<MessageModel> {
        self.table.read().get(group).map(ConsumerGroupInfo::message_model)
    }

    /// Client ids of the group (GET_CONSUMER_LIST_BY_GROUP); empty if unknown.
    pub fn consumer_ids(&self, group: &str) -> Vec<String> {
        self.table.read().get(group).map(ConsumerGroupInfo::all_client_ids).unwrap_or_default()
    }

    /// Connections of the group (to notify or call back).
    pub fn all_channels(&self, group: &str) -> Vec<Connection> {
        self.table.read().get(group).map(ConsumerGroupInfo::all_channels).unwrap_or_default()
    }

    /// GET_CONSUMER_CONNECTION_LIST's body; `None` if the group is not online.
    pub fn consumer_connection(&self, group: &str) -> Option<ConsumerConnection> {
        self.table.read().get(group).map(ConsumerGroupInfo::to_consumer_connection)
    }

    /// Java's `queryTopicConsumeByWho`: groups subscribing to `topic`.
    pub fn query_topic_consume_by_who(&self, topic: &str) -> BTreeSet<String> {
        self.table
            .read()
            .iter()
            .filter(|(_, info)| info.subscription_table().contains_key(topic))
            .map(|(g, _)| g.clone())
            .collect()
    }

    /// Names of the online groups.
    pub fn groups(&self) -> BTreeSet<String> {
        self.table.read().keys().cloned().collect()
    }
}

/// The NOTIFY_CONSUMER_IDS_CHANGED oneway request for a group (`Broker2Client`).
pub fn notify_consumer_ids_changed_request(group: &str) -> RemotingCommand {
    let header =
        NotifyConsumerIdsChangedRequestHeader { consumer_group: group.to_owned(), ..Default::default() };
    RemotingCommand::request_with_header(RequestCode::NOTIFY_CONSUMER_IDS_CHANGED, &header)
}

/// Tells each connection that `group`'s membership changed (oneway, never blocks).
/// Returns how many were sent; failures (a closed connection) are logged.
pub fn notify_consumer_ids_changed(group: &str, channels: &[Connection]) -> usize {
    if channels.is_empty() {
        return 0;
    }
    let request = notify_consumer_ids_changed_request(group);
    channels
        .iter()
        .filter(|conn| match conn.invoke_oneway(request.clone()) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(group, peer = %conn.peer_addr(), error = %e, "notifyConsumerIdsChanged failed");
                false
            }
        })
        .count()
}

#[cfg(test)]
#[path = "consumer_manager_tests.rs"]
mod tests;
