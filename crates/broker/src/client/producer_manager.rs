//! `ProducerManager`: producer groups registered by HEART_BEAT, used to pick a producer
//! connection for a transaction check-back and for the admin connection lists.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use ferromq_protocol::body::{ProducerConnection, ProducerInfo, ProducerTableInfo};
use ferromq_remoting::Connection;
use parking_lot::Mutex;

use super::channel::{ClientChannelInfo, CHANNEL_EXPIRED_TIMEOUT_MS};

/// Channels tried by [`ProducerManager::get_available_channel`] after the first.
const GET_AVAILABLE_CHANNEL_RETRY_COUNT: usize = 3;

#[derive(Debug, Default)]
struct Tables {
    /// Group -> connection id -> channel.
    groups: HashMap<String, BTreeMap<u64, ClientChannelInfo>>,
    /// Client id -> its latest connection.
    clients: HashMap<String, Connection>,
}

#[derive(Debug)]
pub struct ProducerManager {
    tables: Mutex<Tables>,
    counter: AtomicUsize,
    channel_expired_timeout_ms: u64,
}

impl Default for ProducerManager {
    fn default() -> Self {
        Self::new(CHANNEL_EXPIRED_TIMEOUT_MS)
    }
}

impl ProducerManager {
    /// A manager that drops channels silent for `channel_expired_timeout_ms` (120 s in Java).
    pub fn new(channel_expired_timeout_ms: u64) -> Self {
        ProducerManager { tables: Mutex::default(), counter: AtomicUsize::new(0), channel_expired_timeout_ms }
    }

    /// Java's `registerProducer` (HEART_BEAT): adds the channel or refreshes its time.
    /// True if it is new.
    pub fn register_producer(&self, group: &str, channel: ClientChannelInfo, now_ms: u64) -> bool {
        let mut t = self.tables.lock();
        let id = channel.connection_id();
        let table = t.groups.entry(group.to_owned()).or_default();
        if let Some(found) = table.get_mut(&id) {
            found.last_update_ms = now_ms;
            return false;
        }
        tracing::info!(group, client_id = %channel.client_id, addr = %channel.client_addr(), "new producer connected");
        let (client_id, conn) = (channel.client_id.clone(), channel.connection.clone());
        table.insert(id, ClientChannelInfo { last_update_ms: now_ms, ..channel });
        t.clients.insert(client_id, conn);
        true
    }

    /// Java's `unregisterProducer` (UNREGISTER_CLIENT); true if the channel was registered.
    pub fn unregister_producer(&self, group: &str, connection_id: u64, client_id: &str) -> bool {
        let mut t = self.tables.lock();
        let Some(table) = t.groups.get_mut(group) else { return false };
        let removed = table.remove(&connection_id).is_some();
        let now_empty = table.is_empty();
        if now_empty {
            t.groups.remove(group);
            tracing::info!(group, "unregister a producer group");
        }
        t.clients.remove(client_id);
        removed
    }

    /// Java's `doChannelCloseEvent`: the connection is gone from every group; returns them.
    pub fn do_channel_close_event(&self, connection_id: u64) -> Vec<String> {
        let mut t = self.tables.lock();
        let mut affected = Vec::new();
        let mut gone_clients = Vec::new();
        t.groups.retain(|group, table| {
            if let Some(info) = table.remove(&connection_id) {
                tracing::info!(group = %group, client_id = %info.client_id, "remove channel from ProducerManager");
                gone_clients.push(info.client_id);
                affected.push(group.clone());
            }
            !table.is_empty()
        });
        for client_id in gone_clients {
            if t.clients.get(&client_id).is_some_and(|c| c.id() == connection_id) {
                t.clients.remove(&client_id);
            }
        }
        affected
    }

    /// Java's `scanNotActiveChannel`: drops channels silent for longer than the expiry,
    /// closes their connections, returns `(group, channel)`.
    pub fn scan_not_active_channel(&self, now_ms: u64) -> Vec<(String, ClientChannelInfo)> {
        let mut expired = Vec::new();
        {
            let mut t = self.tables.lock();
            let timeout = self.channel_expired_timeout_ms;
            t.groups.retain(|group, table| {
                table.retain(|_, info| {
                    if info.is_expired(now_ms, timeout) {
                        tracing::warn!(group = %group, addr = %info.client_addr(),
                            "SCAN: remove expired channel from ProducerManager groupChannelTable");
                        expired.push((group.clone(), info.clone()));
                        return false;
                    }
                    true
                });
                !table.is_empty()
            });
            for (_, info) in &expired {
                if t.clients.get(&info.client_id).is_some_and(|c| c.id() == info.connection_id()) {
                    t.clients.remove(&info.client_id);
                }
            }
        }
        for (_, info) in &expired {
            info.connection.close();
        }
        expired
    }

    /// Java's `getAvailableChannel`: a live connection of the group, round robin (for a
    /// transaction check-back); `None` if the group has none.
    pub fn get_available_channel(&self, group: &str) -> Option<Connection> {
        let channels: Vec<Connection> =
            self.tables.lock().groups.get(group)?.values().map(|c| c.connection.clone()).collect();
        if channels.is_empty() {
            return None;
        }
        let size = channels.len();
        let mut index = self.counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1) % size;
        for _ in 0..=GET_AVAILABLE_CHANNEL_RETRY_COUNT {
            if let Some(c) = channels.get(index).filter(|c| !c.is_closed()) {
                return Some(c.clone());
            }
            index = (index + 1) % size;
        }
        None
    }

    /// Java's `findChannel`: the connection of a producer client id.
    pub fn find_channel(&self, client_id: &str) -> Option<Connection> {
        self.tables.lock().clients.get(client_id).cloned()
    }

    /// GET_PRODUCER_CONNECTION_LIST's body; `None` if the group is not online.
    pub fn producer_connection(&self, group: &str) -> Option<ProducerConnection> {
        let t = self.tables.lock();
        let table = t.groups.get(group)?;
        Some(ProducerConnection {
            connection_set: table.values().map(ClientChannelInfo::to_connection_body).collect(),
        })
    }

    /// 5.x GET_ALL_PRODUCER_INFO's body.
    pub fn producer_table(&self) -> ProducerTableInfo {
        let t = self.tables.lock();
        let data = t
            .groups
            .iter()
            .map(|(group, table)| {
                let infos = table
                    .values()
                    .map(|c| ProducerInfo {
                        client_id: c.client_id.clone(),
                        remote_ip: c.client_addr(),
                        language: c.language.name().to_owned(),
                        version: c.version,
                        last_update_timestamp: i64::try_from(c.last_update_ms).unwrap_or(i64::MAX),
                    })
                    .collect();
                (group.clone(), infos)
            })
            .collect();
        ProducerTableInfo { data }
    }

    /// Names of the online producer groups.
    pub fn groups(&self) -> BTreeSet<String> {
        self.tables.lock().groups.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use ferromq_protocol::LanguageCode;

    use super::*;
    use crate::client::test_support::connect;

    fn channel(conn: &Connection, client_id: &str) -> ClientChannelInfo {
        ClientChannelInfo::new(conn.clone(), client_id, LanguageCode::Cpp, 1, 0)
    }

    #[tokio::test]
    async fn register_refresh_expire() {
        let m = ProducerManager::new(120_000);
        let (a, _ca, _ra) = connect().await;
        let (b, _cb, _rb) = connect().await;
        assert!(m.register_producer("pg", channel(&a, "a"), 0));
        assert!(!m.register_producer("pg", channel(&a, "a"), 50_000), "known channel: refreshed");
        assert!(m.register_producer("pg", channel(&b, "b"), 10_000));
        assert_eq!(m.find_channel("a"), Some(a.clone()));
        let pc = m.producer_connection("pg").unwrap();
        assert_eq!(pc.connection_set.len(), 2);
        assert_eq!(pc.connection_set.iter().next().unwrap().language, "CPP");
        assert_eq!(m.producer_table().data["pg"].len(), 2);

        let expired = m.scan_not_active_channel(140_000);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].1.client_id, "b");
        assert!(b.is_closed() && !a.is_closed());
        assert!(m.find_channel("b").is_none());
        m.scan_not_active_channel(200_000);
        assert!(m.groups().is_empty());
        assert!(m.producer_connection("pg").is_none());
    }

    #[tokio::test]
    async fn available_channel_skips_closed_ones() {
        let m = ProducerManager::default();
        assert!(m.get_available_channel("pg").is_none());
        let (a, _ca, _ra) = connect().await;
        let (b, _cb, _rb) = connect().await;
        m.register_producer("pg", channel(&a, "a"), 0);
        m.register_producer("pg", channel(&b, "b"), 0);
        let picks: BTreeSet<u64> =
            (0..4).filter_map(|_| m.get_available_channel("pg")).map(|c| c.id()).collect();
        assert_eq!(picks.len(), 2, "round robin over both");
        a.close();
        for _ in 0..4 {
            assert_eq!(m.get_available_channel("pg").unwrap(), b);
        }
        b.close();
        assert!(m.get_available_channel("pg").is_none());
    }

    #[tokio::test]
    async fn close_and_unregister() {
        let m = ProducerManager::default();
        let (a, _ca, _ra) = connect().await;
        let (b, _cb, _rb) = connect().await;
        m.register_producer("pg", channel(&a, "a"), 0);
        m.register_producer("other", channel(&a, "a"), 0);
        m.register_producer("pg", channel(&b, "b"), 0);
        let mut affected = m.do_channel_close_event(a.id());
        affected.sort();
        assert_eq!(affected, ["other", "pg"]);
        assert!(m.find_channel("a").is_none());
        assert_eq!(m.groups().into_iter().collect::<Vec<_>>(), ["pg"]);
        assert!(m.unregister_producer("pg", b.id(), "b"));
        assert!(!m.unregister_producer("pg", b.id(), "b"));
        assert!(m.groups().is_empty());
    }
}
