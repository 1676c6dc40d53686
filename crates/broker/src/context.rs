//! `BrokerContext`: everything the request processors share.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ferromq_store::MessageStore;
use parking_lot::RwLock;

use crate::client::{ConsumerManager, ProducerManager, RebalanceLockManager};
use crate::config::BrokerSettings;
use crate::metadata::{ConsumerOffsetManager, SubscriptionGroupManager, TopicConfigManager};
use crate::processor::hold::PullHoldService;
use crate::stats::BrokerStats;

pub struct BrokerContext {
    /// Current settings (UPDATE_BROKER_CONFIG changes the broker keys at run time).
    pub settings: RwLock<BrokerSettings>,
    pub store: Arc<MessageStore>,
    /// `brokerIP1:listenPort`, stamped on stored messages and in offsetMsgIds.
    pub store_host: SocketAddr,
    /// `brokerClusterName`, stamped on every stored message (start-only, never changes).
    pub cluster_name: String,
    pub region_id: String,
    pub trace_on: bool,
    pub topics: TopicConfigManager,
    pub groups: SubscriptionGroupManager,
    pub offsets: ConsumerOffsetManager,
    pub consumers: ConsumerManager,
    pub producers: ProducerManager,
    pub locks: RebalanceLockManager,
    pub hold: Arc<PullHoldService>,
    pub stats: BrokerStats,
    pub boot_timestamp_ms: u64,
    /// Wakes the registration task: topics changed, tell the NameServers now.
    pub register_now: tokio::sync::Notify,
    rng: AtomicU64,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub struct ContextParts {
    pub settings: BrokerSettings,
    pub store: Arc<MessageStore>,
    pub store_host: SocketAddr,
    pub topics: TopicConfigManager,
    pub groups: SubscriptionGroupManager,
    pub offsets: ConsumerOffsetManager,
    pub hold: Arc<PullHoldService>,
}

impl BrokerContext {
    pub fn new(parts: ContextParts) -> Self {
        let b = &parts.settings.broker;
        let now = now_ms();
        BrokerContext {
            store_host: parts.store_host,
            cluster_name: b.broker_cluster_name.clone(),
            region_id: b.region_id.clone(),
            trace_on: b.trace_on,
            consumers: ConsumerManager::new(b.channel_expired_timeout_ms),
            producers: ProducerManager::new(b.channel_expired_timeout_ms),
            locks: RebalanceLockManager::default(),
            stats: BrokerStats::default(),
            boot_timestamp_ms: now,
            register_now: tokio::sync::Notify::new(),
            rng: AtomicU64::new(now | 1),
            settings: RwLock::new(parts.settings),
            store: parts.store,
            topics: parts.topics,
            groups: parts.groups,
            offsets: parts.offsets,
            hold: parts.hold,
        }
    }

    /// Persists changed topics and re-registers with the NameServers at once.
    pub fn topics_changed(&self) {
        if let Err(e) = self.topics.persist() {
            tracing::error!(error = %e, "persisting topics failed");
        }
        self.register_now.notify_one();
    }

    pub fn persist_groups(&self) {
        if let Err(e) = self.groups.persist() {
            tracing::error!(error = %e, "persisting subscription groups failed");
        }
    }

    /// A cheap pseudo-random number (xorshift) for queue selection.
    pub fn next_random(&self) -> u64 {
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        x
    }
}
