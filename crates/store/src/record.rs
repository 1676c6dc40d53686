//! The store's view of the stored-message record. The byte format itself belongs to
//! `ferromq_protocol::message::stored` (RocketMQ's CommitLog record); this module adds
//! what only the store needs: the put input ([`PutMessage`]), encoding with the
//! store-assigned offsets and timestamp, and validation of a record read back from disk.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use bytes::Bytes;
use ferromq_protocol::message::properties::{self, Properties};
use ferromq_protocol::message::stored::{self, MessageExt, MessageVersion, RecordKind, StoredMessageRef};
use ferromq_protocol::message::sysflag;

use crate::error::{Result, StoreError};

pub use stored::{BLANK_MAGIC_CODE, END_FILE_MIN_BLANK_LENGTH, MIN_RECORD_LEN};

/// A message to append: RocketMQ's `MessageExtBrokerInner` minus what the store assigns
/// (queue offset, CommitLog offset, store timestamp, sizes and CRC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutMessage {
    pub topic: String,
    pub queue_id: i32,
    pub flag: i32,
    pub body: Bytes,
    /// The raw properties string (`name\u{1}value\u{2}`...), stored as given.
    pub properties: Bytes,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
}

const UNSPECIFIED: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));

impl PutMessage {
    /// A plain message with the given properties (hosts unspecified, no flags).
    pub fn new(topic: impl Into<String>, queue_id: i32, body: impl Into<Bytes>) -> Self {
        PutMessage {
            topic: topic.into(),
            queue_id,
            flag: 0,
            body: body.into(),
            properties: Bytes::new(),
            sys_flag: 0,
            born_timestamp: 0,
            born_host: UNSPECIFIED,
            store_host: UNSPECIFIED,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    /// Builder: set the properties from name/value pairs.
    pub fn with_properties<'a>(mut self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let props: Properties = pairs.into_iter().collect();
        self.properties = Bytes::from(props.encode().into_bytes());
        self
    }

    /// From a protocol message (its store-assigned fields are ignored).
    pub fn from_message_ext(m: &MessageExt) -> Self {
        PutMessage {
            topic: m.topic.clone(),
            queue_id: m.queue_id,
            flag: m.flag,
            body: m.body.clone(),
            properties: Bytes::from(m.properties.encode().into_bytes()),
            sys_flag: m.sys_flag,
            born_timestamp: m.born_timestamp,
            born_host: m.born_host,
            store_host: m.store_host,
            reconsume_times: m.reconsume_times,
            prepared_transaction_offset: m.prepared_transaction_offset,
        }
    }

    pub fn tran_type(&self) -> i32 {
        sysflag::transaction_value(self.sys_flag)
    }

    /// Prepared and rolled-back transactional messages get no ConsumeQueue entry and
    /// do not advance the queue offset (as RocketMQ).
    pub(crate) fn takes_queue_offset(&self) -> bool {
        takes_queue_offset(self.sys_flag)
    }

    fn as_ref(&self, queue_offset: i64, phy_offset: u64, store_ts: i64) -> StoredMessageRef<'_> {
        StoredMessageRef {
            version: MessageVersion::V1,
            store_size: 0,
            body_crc: 0,
            queue_id: self.queue_id,
            flag: self.flag,
            queue_offset,
            commit_log_offset: phy_offset as i64,
            sys_flag: self.sys_flag,
            born_timestamp: self.born_timestamp,
            born_host: self.born_host,
            store_timestamp: store_ts,
            store_host: self.store_host,
            reconsume_times: self.reconsume_times,
            prepared_transaction_offset: self.prepared_transaction_offset,
            body: &self.body,
            topic: &self.topic,
            properties: &self.properties,
        }
    }

    /// Checks the topic and sizes; returns the encoded record size.
    pub(crate) fn check(&self, max_message_size: usize) -> Result<usize> {
        validate_topic(&self.topic)?;
        if self.queue_id < 0 {
            return Err(StoreError::InvalidMessage(format!("negative queue id {}", self.queue_id)));
        }
        let payload = self.body.len() + self.properties.len();
        if payload > max_message_size {
            return Err(StoreError::MessageTooLarge { size: payload, max: max_message_size });
        }
        self.as_ref(0, 0, 0).encoded_len().map_err(|e| StoreError::InvalidMessage(e.to_string()))
    }

    /// Appends the record with its store-assigned fields to `out`.
    pub(crate) fn encode(
        &self,
        queue_offset: i64,
        phy_offset: u64,
        store_ts: i64,
        out: &mut Vec<u8>,
    ) -> Result<usize> {
        stored::encode_stored_ref(&self.as_ref(queue_offset, phy_offset, store_ts), out)
            .map_err(|e| StoreError::InvalidMessage(e.to_string()))
    }
}

pub(crate) fn takes_queue_offset(sys_flag: i32) -> bool {
    let t = sysflag::transaction_value(sys_flag);
    t == sysflag::TRANSACTION_NOT_TYPE || t == sysflag::TRANSACTION_COMMIT_TYPE
}

pub(crate) fn is_rollback(sys_flag: i32) -> bool {
    sysflag::transaction_value(sys_flag) == sysflag::TRANSACTION_ROLLBACK_TYPE
}

/// RocketMQ's topic rule (`^[%|a-zA-Z0-9_-]+$`, at most 127 characters); it also keeps a
/// topic from naming a path outside `consumequeue/`.
pub fn validate_topic(topic: &str) -> Result<()> {
    let ok = !topic.is_empty()
        && topic.len() <= 127
        && topic.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidTopic(topic.to_string()))
    }
}

/// What a CommitLog position holds, judged from the bytes available there.
#[derive(Debug)]
pub(crate) enum Peeked<'a> {
    /// A structurally valid record (`crc_ok` false: the body does not match its CRC).
    Message { msg: StoredMessageRef<'a>, size: usize, crc_ok: bool },
    /// The end-of-segment blank record.
    Blank { size: usize },
    /// The record announced by the header extends past the bytes given.
    Incomplete { size: usize },
    /// Not a record (zeros, garbage, inconsistent lengths).
    Invalid(String),
}

/// Validates the record at the start of `buf`, which sits at CommitLog offset `phy`: the
/// header, the lengths adding up to `totalSize`, the stored physical offset equal to
/// `phy`, and (if `check_crc`) the body CRC.
pub(crate) fn peek(buf: &[u8], phy: u64, check_crc: bool) -> Peeked<'_> {
    match stored::peek_record(buf) {
        Err(e) => Peeked::Invalid(e.to_string()),
        Ok(RecordKind::Blank { total_size }) => Peeked::Blank { size: total_size },
        Ok(RecordKind::Message { total_size, .. }) => {
            if total_size > buf.len() {
                return Peeked::Incomplete { size: total_size };
            }
            match stored::decode_stored_ref(buf, false) {
                Err(e) => Peeked::Invalid(e.to_string()),
                Ok((msg, size)) => {
                    if msg.commit_log_offset != phy as i64 {
                        return Peeked::Invalid(format!(
                            "record claims offset {} but sits at {phy}",
                            msg.commit_log_offset
                        ));
                    }
                    let crc_ok = !check_crc || stored::body_crc(msg.body) == msg.body_crc;
                    Peeked::Message { msg, size, crc_ok }
                }
            }
        }
    }
}

/// The ConsumeQueue tag code of a stored record.
pub(crate) fn tags_code(msg: &StoredMessageRef<'_>) -> i64 {
    msg.tags_code()
}

/// The index keys of a record: `UNIQ_KEY` and each space-separated `KEYS` entry.
pub(crate) fn index_keys<'a>(msg: &StoredMessageRef<'a>) -> impl Iterator<Item = &'a str> {
    let uniq = msg.uniq_key().filter(|k| !k.is_empty());
    let keys = msg.keys().into_iter().flat_map(|k| k.split(' ')).filter(|k| !k.is_empty());
    uniq.into_iter().chain(keys)
}

/// Does the stored record carry `key` as its unique key or one of its keys?
pub(crate) fn has_key(msg: &StoredMessageRef<'_>, key: &str) -> bool {
    index_keys(msg).any(|k| k == key)
}

/// Java's `String.hashCode` (UTF-16 code units).
pub(crate) fn java_hash(s: &str) -> i32 {
    let mut h: i32 = 0;
    for unit in s.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    h
}

pub(crate) fn property<'a>(raw: &'a [u8], name: &str) -> Option<&'a str> {
    properties::find_str(raw, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_validates() {
        let m = PutMessage::new("TopicA", 3, &b"hello"[..]).with_properties([
            ("TAGS", "TagA"),
            ("KEYS", "k1 k2"),
            ("UNIQ_KEY", "U1"),
        ]);
        let len = m.check(1024).unwrap();
        let mut buf = Vec::new();
        assert_eq!(m.encode(7, 4096, 123, &mut buf).unwrap(), len);
        match peek(&buf, 4096, true) {
            Peeked::Message { msg, size, crc_ok } => {
                assert_eq!(size, len);
                assert!(crc_ok);
                assert_eq!(msg.topic, "TopicA");
                assert_eq!(msg.queue_offset, 7);
                assert_eq!(msg.store_timestamp, 123);
                assert_eq!(index_keys(&msg).collect::<Vec<_>>(), ["U1", "k1", "k2"]);
                assert_eq!(tags_code(&msg), i64::from(java_hash("TagA")));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(peek(&buf, 0, true), Peeked::Invalid(_)));
        assert!(matches!(peek(&buf[..50], 4096, true), Peeked::Incomplete { .. }));
        assert!(matches!(peek(&[0u8; 64], 0, true), Peeked::Invalid(_)));
        let body_at = buf.len() - 5 - 1 - 6 - 2 - m.properties.len();
        buf[body_at] ^= 0xFF;
        assert!(matches!(peek(&buf, 4096, true), Peeked::Message { crc_ok: false, .. }));
    }

    #[test]
    fn topic_rule() {
        assert!(validate_topic("%RETRY%g_1|x-y").is_ok());
        for bad in ["", "../x", "a/b", "a b", ".", &"t".repeat(128)] {
            assert!(validate_topic(bad).is_err(), "{bad}");
        }
    }
}
