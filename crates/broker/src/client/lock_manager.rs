//! `RebalanceLockManager`: the queue locks of orderly consumers (LOCK_BATCH_MQ /
//! UNLOCK_BATCH_MQ). A lock belongs to a client id and lapses when not renewed for
//! `rocketmq.broker.rebalance.lockMaxLiveTime` (60 s); orderly consumers renew every 20 s.

use std::collections::{BTreeSet, HashMap};

use ferromq_protocol::body::MessageQueue;
use parking_lot::Mutex;

/// Java's default `rocketmq.broker.rebalance.lockMaxLiveTime`.
pub const REBALANCE_LOCK_MAX_LIVE_TIME_MS: u64 = 60_000;

#[derive(Debug, Clone)]
struct LockEntry {
    client_id: String,
    last_update_ms: u64,
}

impl LockEntry {
    fn is_expired(&self, now_ms: u64, max_live_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_update_ms) > max_live_ms
    }

    fn is_locked_by(&self, client_id: &str, now_ms: u64, max_live_ms: u64) -> bool {
        self.client_id == client_id && !self.is_expired(now_ms, max_live_ms)
    }
}

#[derive(Debug)]
pub struct RebalanceLockManager {
    /// Group -> queue -> holder.
    table: Mutex<HashMap<String, HashMap<MessageQueue, LockEntry>>>,
    lock_max_live_ms: u64,
}

impl Default for RebalanceLockManager {
    fn default() -> Self {
        Self::new(REBALANCE_LOCK_MAX_LIVE_TIME_MS)
    }
}

impl RebalanceLockManager {
    pub fn new(lock_max_live_ms: u64) -> Self {
        RebalanceLockManager { table: Mutex::default(), lock_max_live_ms }
    }

    /// Java's `tryLock`: true if `client_id` holds (or now takes) the queue's lock: it was
    /// free, already the client's (renewed), or the holder's lock expired.
    pub fn try_lock(&self, group: &str, mq: &MessageQueue, client_id: &str, now_ms: u64) -> bool {
        !self.try_lock_batch(group, std::slice::from_ref(mq), client_id, now_ms).is_empty()
    }

    /// Java's `tryLockBatch`: the queues of `mqs` that `client_id` now holds; the others
    /// are held by another live client.
    pub fn try_lock_batch<'a>(
        &self,
        group: &str,
        mqs: impl IntoIterator<Item = &'a MessageQueue>,
        client_id: &str,
        now_ms: u64,
    ) -> BTreeSet<MessageQueue> {
        let max_live = self.lock_max_live_ms;
        let mut table = self.table.lock();
        let group_table = table.entry(group.to_owned()).or_default();
        let mut locked = BTreeSet::new();
        for mq in mqs {
            let entry = group_table.entry(mq.clone()).or_insert_with(|| {
                tracing::info!(group, client_id, %mq, "tryLockBatch, message queue not locked, I got it");
                LockEntry { client_id: client_id.to_owned(), last_update_ms: now_ms }
            });
            if entry.is_locked_by(client_id, now_ms, max_live) {
                entry.last_update_ms = now_ms;
                locked.insert(mq.clone());
            } else if entry.is_expired(now_ms, max_live) {
                tracing::warn!(group, old_client_id = %entry.client_id, client_id, %mq,
                    "tryLockBatch, message queue lock expired, I got it");
                entry.client_id = client_id.to_owned();
                entry.last_update_ms = now_ms;
                locked.insert(mq.clone());
            } else {
                tracing::warn!(group, other_client_id = %entry.client_id, client_id, %mq,
                    "tryLockBatch, message queue locked by other client");
            }
        }
        locked
    }

    /// Java's `unlockBatch`: releases the queues `client_id` holds (expired or not);
    /// queues held by others are left alone. Returns how many were released.
    pub fn unlock_batch<'a>(
        &self,
        group: &str,
        mqs: impl IntoIterator<Item = &'a MessageQueue>,
        client_id: &str,
    ) -> usize {
        let mut table = self.table.lock();
        let Some(group_table) = table.get_mut(group) else {
            tracing::warn!(group, client_id, "unlockBatch, group not exist");
            return 0;
        };
        let mut released = 0;
        for mq in mqs {
            match group_table.get(mq) {
                Some(entry) if entry.client_id == client_id => {
                    group_table.remove(mq);
                    released += 1;
                    tracing::info!(group, client_id, %mq, "unlockBatch");
                }
                Some(entry) => {
                    tracing::warn!(group, other_client_id = %entry.client_id, client_id, %mq,
                        "unlockBatch, but mq locked by other client");
                }
                None => tracing::warn!(group, client_id, %mq, "unlockBatch, but mq not locked"),
            }
        }
        if group_table.is_empty() {
            table.remove(group);
        }
        released
    }

    /// The live holder of a queue's lock.
    pub fn lock_owner(&self, group: &str, mq: &MessageQueue, now_ms: u64) -> Option<String> {
        let table = self.table.lock();
        let entry = table.get(group)?.get(mq)?;
        (!entry.is_expired(now_ms, self.lock_max_live_ms)).then(|| entry.client_id.clone())
    }

    /// 5.x `isLockAllExpired`: no queue of the group is held by a live lock.
    pub fn is_lock_all_expired(&self, group: &str, now_ms: u64) -> bool {
        self.table
            .lock()
            .get(group)
            .is_none_or(|t| t.values().all(|e| e.is_expired(now_ms, self.lock_max_live_ms)))
    }

    /// Queues of the group held by live locks, with their holders.
    pub fn locked_queues(&self, group: &str, now_ms: u64) -> Vec<(MessageQueue, String)> {
        let table = self.table.lock();
        let mut out: Vec<(MessageQueue, String)> = table
            .get(group)
            .map(|t| {
                t.iter()
                    .filter(|(_, e)| !e.is_expired(now_ms, self.lock_max_live_ms))
                    .map(|(mq, e)| (mq.clone(), e.client_id.clone()))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(i: i32) -> MessageQueue {
        MessageQueue::new("T", "b", i)
    }

    #[test]
    fn a_second_client_waits_for_expiry() {
        let m = RebalanceLockManager::new(60_000);
        assert!(m.try_lock("g", &mq(0), "c1", 0));
        assert!(!m.try_lock("g", &mq(0), "c2", 1_000));
        assert!(!m.try_lock("g", &mq(0), "c2", 60_000), "exactly 60 s: still held");
        assert_eq!(m.lock_owner("g", &mq(0), 60_000).as_deref(), Some("c1"));
        assert!(m.try_lock("g", &mq(0), "c2", 60_001), "expired: taken over");
        assert_eq!(m.lock_owner("g", &mq(0), 60_001).as_deref(), Some("c2"));
        assert!(!m.try_lock("g", &mq(0), "c1", 60_002));
        // Other groups are independent.
        assert!(m.try_lock("g2", &mq(0), "c1", 60_002));
    }

    #[test]
    fn renewal_keeps_the_lock() {
        let m = RebalanceLockManager::default();
        assert!(m.try_lock("g", &mq(0), "c1", 0));
        assert!(m.try_lock("g", &mq(0), "c1", 50_000));
        assert!(!m.try_lock("g", &mq(0), "c2", 100_000), "renewed at 50 s, held until 110 s");
        assert!(m.try_lock("g", &mq(0), "c2", 110_001));
    }

    #[test]
    fn batch_lock_and_unlock() {
        let m = RebalanceLockManager::default();
        let all = [mq(0), mq(1), mq(2)];
        assert_eq!(m.try_lock_batch("g", &all[..2], "c1", 0).len(), 2);
        let got = m.try_lock_batch("g", &all, "c2", 10);
        assert_eq!(got.into_iter().collect::<Vec<_>>(), [mq(2)]);
        assert_eq!(m.locked_queues("g", 10).len(), 3);
        // c2 cannot release c1's queues; c1 can.
        assert_eq!(m.unlock_batch("g", &all, "c2"), 1);
        assert_eq!(m.unlock_batch("g", &all, "c1"), 2);
        assert!(m.is_lock_all_expired("g", 10));
        assert_eq!(m.try_lock_batch("g", &all, "c2", 20).len(), 3);
        assert!(!m.is_lock_all_expired("g", 20));
        assert!(m.is_lock_all_expired("g", 60_021));
        assert_eq!(m.unlock_batch("nope", &all, "c2"), 0);
    }
}
