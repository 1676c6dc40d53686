//! JSON bodies exchanged with the NameServer and the broker, with Java's field names.
//!
//! Every struct reads leniently (`#[serde(default)]`: missing fields take Java's defaults,
//! unknown fields are ignored, fastjson's bare numeric keys are accepted through
//! [`crate::json::from_slice`]) and writes standard JSON carrying both the 4.x fields and
//! the 5.x ones, so that 4.x and 5.x clients of every language parse it.
//!
//! Maps keyed by a `MessageQueue` (stats, resets) are the one place where Java does not
//! write JSON; see [`queue`] for how we write and read them.

pub mod admin;
pub mod client;
pub mod group;
pub mod lenient;
pub mod queue;
pub mod register;
pub mod route;
pub mod topic;

pub use admin::*;
pub use client::*;
pub use group::*;
pub use queue::{mq_key_map, MessageQueue, MessageQueueMap};
pub use register::*;
pub use route::*;
pub use topic::*;

use serde::{Deserialize, Serialize};

/// `KVTable`: a string map (order-topic config, KV lists).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KVTable {
    pub table: std::collections::BTreeMap<String, String>,
}

/// `TopicList`: topic names, and the broker address they came from when relevant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicList {
    pub topic_list: std::collections::BTreeSet<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
}

/// Permission bits of a topic or broker (`PermName`).
pub mod perm {
    pub const PRIORITY: i32 = 0x8;
    pub const READ: i32 = 0x4;
    pub const WRITE: i32 = 0x2;
    pub const INHERIT: i32 = 0x1;

    pub fn is_readable(perm: i32) -> bool {
        perm & READ == READ
    }

    pub fn is_writeable(perm: i32) -> bool {
        perm & WRITE == WRITE
    }

    pub fn is_inherited(perm: i32) -> bool {
        perm & INHERIT == INHERIT
    }

    /// `PermName.perm2String`: `R--`, `RW-`, `RWX` ...
    pub fn to_display(perm: i32) -> String {
        let mut s = String::with_capacity(3);
        s.push(if is_readable(perm) { 'R' } else { '-' });
        s.push(if is_writeable(perm) { 'W' } else { '-' });
        s.push(if is_inherited(perm) { 'X' } else { '-' });
        s
    }
}
