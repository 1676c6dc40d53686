//! Connected clients: producer and consumer groups, their channels, queue locks.
//!
//! Plain thread-safe tables with time passed in (`now_ms`); the controller runs the expiry
//! scans and the processors call the registration methods. A channel is keyed by its
//! connection (Java keys by Netty channel), so a client that reconnects appears under its
//! new connection at its next heartbeat and the old one leaves when it closes or expires.

pub mod channel;
pub mod consumer_group_info;
pub mod consumer_manager;
pub mod lock_manager;
pub mod producer_manager;

#[cfg(test)]
pub(crate) mod test_support;

pub use channel::ClientChannelInfo;
pub use consumer_group_info::ConsumerGroupInfo;
pub use consumer_manager::{notify_consumer_ids_changed, ConsumerManager, GroupChange, RegisterOutcome};
pub use lock_manager::RebalanceLockManager;
pub use producer_manager::ProducerManager;
