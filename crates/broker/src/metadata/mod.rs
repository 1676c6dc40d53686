//! Broker metadata kept on disk: topics, subscription groups, consumer offsets.
//!
//! Each manager is a thread-safe table with time passed in, loaded from and persisted to
//! RocketMQ's JSON file under `<storePathRootDir>/config/` with Java's `ConfigManager`
//! semantics made crash-safe (see [`persist`]). Mutations only touch memory; callers
//! persist explicitly (after admin changes, and periodically), which writes nothing when
//! nothing changed.

pub mod consumer_offset;
pub mod names;
pub mod persist;
pub mod subscription_group;
pub mod topic_config;
pub mod topic_validator;

pub use consumer_offset::ConsumerOffsetManager;
pub use names::*;
pub use persist::{LoadedFrom, PersistError};
pub use subscription_group::SubscriptionGroupManager;
pub use topic_config::{TopicConfigManager, TopicConfigOptions, TopicLookup};
pub use topic_validator::{validate_topic, TopicNameError, TOPIC_MAX_LENGTH};
