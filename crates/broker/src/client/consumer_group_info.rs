//! `ConsumerGroupInfo`: one consumer group's live channels and subscriptions.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ferromq_protocol::body::{
    ConsumeFromWhere, ConsumeType, ConsumerConnection, MessageModel, SubscriptionData,
};
use ferromq_remoting::Connection;

use super::channel::ClientChannelInfo;

#[derive(Debug, Clone)]
pub struct ConsumerGroupInfo {
    group_name: String,
    /// Topic -> subscription.
    subscription_table: HashMap<String, Arc<SubscriptionData>>,
    /// Connection id -> channel.
    channel_info_table: BTreeMap<u64, ClientChannelInfo>,
    consume_type: ConsumeType,
    message_model: MessageModel,
    consume_from_where: ConsumeFromWhere,
    last_update_ms: u64,
}

impl ConsumerGroupInfo {
    pub fn new(
        group_name: impl Into<String>,
        consume_type: ConsumeType,
        message_model: MessageModel,
        consume_from_where: ConsumeFromWhere,
        now_ms: u64,
    ) -> Self {
        ConsumerGroupInfo {
            group_name: group_name.into(),
            subscription_table: HashMap::new(),
            channel_info_table: BTreeMap::new(),
            consume_type,
            message_model,
            consume_from_where,
            last_update_ms: now_ms,
        }
    }

    pub fn group_name(&self) -> &str {
        &self.group_name
    }

    pub fn consume_type(&self) -> ConsumeType {
        self.consume_type
    }

    pub fn message_model(&self) -> MessageModel {
        self.message_model
    }

    pub fn is_broadcasting(&self) -> bool {
        self.message_model == MessageModel::Broadcasting
    }

    pub fn consume_from_where(&self) -> ConsumeFromWhere {
        self.consume_from_where
    }

    pub fn last_update_ms(&self) -> u64 {
        self.last_update_ms
    }

    pub fn channels(&self) -> impl Iterator<Item = &ClientChannelInfo> {
        self.channel_info_table.values()
    }

    pub fn channel_count(&self) -> usize {
        self.channel_info_table.len()
    }

    /// The channel of a client id.
    pub fn find_channel(&self, client_id: &str) -> Option<&ClientChannelInfo> {
        self.channel_info_table.values().find(|c| c.client_id == client_id)
    }

    /// Every connection of the group (to notify them).
    pub fn all_channels(&self) -> Vec<Connection> {
        self.channel_info_table.values().map(|c| c.connection.clone()).collect()
    }

    /// Every client id of the group (GET_CONSUMER_LIST_BY_GROUP).
    pub fn all_client_ids(&self) -> Vec<String> {
        self.channel_info_table.values().map(|c| c.client_id.clone()).collect()
    }

    pub fn subscription_table(&self) -> &HashMap<String, Arc<SubscriptionData>> {
        &self.subscription_table
    }

    pub fn subscribe_topics(&self) -> impl Iterator<Item = &str> {
        self.subscription_table.keys().map(String::as_str)
    }

    pub fn find_subscription_data(&self, topic: &str) -> Option<Arc<SubscriptionData>> {
        self.subscription_table.get(topic).cloned()
    }

    /// Removes a channel (UNREGISTER_CLIENT).
    pub fn unregister_channel(&mut self, connection_id: u64) -> Option<ClientChannelInfo> {
        let old = self.channel_info_table.remove(&connection_id);
        if let Some(old) = &old {
            tracing::info!(group = %self.group_name, client_id = %old.client_id, "unregister a consumer from consumer group");
        }
        old
    }

    /// The connection closed: true if it was one of the group's.
    pub fn do_channel_close_event(&mut self, connection_id: u64) -> bool {
        match self.channel_info_table.remove(&connection_id) {
            Some(info) => {
                tracing::warn!(group = %self.group_name, client_id = %info.client_id, addr = %info.client_addr(),
                    "remove not active channel from consumer group");
                true
            }
            None => false,
        }
    }

    /// Java's `updateChannel`: records the heartbeat; true if the channel is new.
    pub fn update_channel(
        &mut self,
        info: ClientChannelInfo,
        consume_type: ConsumeType,
        message_model: MessageModel,
        consume_from_where: ConsumeFromWhere,
        now_ms: u64,
    ) -> bool {
        self.consume_type = consume_type;
        self.message_model = message_model;
        self.consume_from_where = consume_from_where;
        self.last_update_ms = now_ms;
        let id = info.connection_id();
        match self.channel_info_table.get_mut(&id) {
            None => {
                tracing::info!(group = %self.group_name, client_id = %info.client_id, addr = %info.client_addr(),
                    ?consume_type, ?message_model, "new consumer connected");
                let mut info = info;
                info.last_update_ms = now_ms;
                self.channel_info_table.insert(id, info);
                true
            }
            Some(old) => {
                if old.client_id != info.client_id {
                    tracing::error!(group = %self.group_name, old = %old.client_id, new = %info.client_id,
                        "[BUG] consumer channel exists in broker, but clientId not equal");
                    *old = info;
                }
                old.last_update_ms = now_ms;
                false
            }
        }
    }

    /// Java's `updateSubscription`: adds new topics, replaces a subscription by a newer
    /// version, drops topics no longer subscribed. True if a topic was added or dropped
    /// (a newer version of an existing subscription alone does not count, as in Java).
    pub fn update_subscription(&mut self, subscriptions: &[SubscriptionData], now_ms: u64) -> bool {
        let mut updated = false;
        for sub in subscriptions {
            match self.subscription_table.get(&sub.topic) {
                None => {
                    tracing::info!(group = %self.group_name, topic = %sub.topic, sub = %sub.sub_string,
                        "subscription changed, add new topic");
                    self.subscription_table.insert(sub.topic.clone(), Arc::new(sub.clone()));
                    updated = true;
                }
                Some(old) if sub.sub_version > old.sub_version => {
                    if self.consume_type == ConsumeType::ConsumePassively {
                        tracing::info!(group = %self.group_name, topic = %sub.topic, old = %old.sub_string,
                            new = %sub.sub_string, "subscription changed");
                    }
                    self.subscription_table.insert(sub.topic.clone(), Arc::new(sub.clone()));
                }
                Some(_) => {}
            }
        }
        let before = self.subscription_table.len();
        let group_name = &self.group_name;
        self.subscription_table.retain(|topic, _| {
            let keep = subscriptions.iter().any(|s| &s.topic == topic);
            if !keep {
                tracing::warn!(group = %group_name, topic = %topic, "subscription changed, remove topic");
            }
            keep
        });
        updated |= self.subscription_table.len() != before;
        self.last_update_ms = now_ms;
        updated
    }

    /// GET_CONSUMER_CONNECTION_LIST's body.
    pub fn to_consumer_connection(&self) -> ConsumerConnection {
        ConsumerConnection {
            connection_set: self
                .channel_info_table
                .values()
                .map(ClientChannelInfo::to_connection_body)
                .collect(),
            subscription_table: self
                .subscription_table
                .iter()
                .map(|(k, v)| (k.clone(), SubscriptionData::clone(v)))
                .collect(),
            consume_type: self.consume_type,
            message_model: self.message_model,
            consume_from_where: self.consume_from_where,
        }
    }

    /// Drops channels not heard from for `timeout_ms`; returns them.
    pub(crate) fn remove_expired(&mut self, now_ms: u64, timeout_ms: u64) -> Vec<ClientChannelInfo> {
        let expired: Vec<u64> = self
            .channel_info_table
            .iter()
            .filter(|(_, c)| c.is_expired(now_ms, timeout_ms))
            .map(|(id, _)| *id)
            .collect();
        expired.into_iter().filter_map(|id| self.channel_info_table.remove(&id)).collect()
    }
}
