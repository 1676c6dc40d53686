//! The message properties string: `name \u0001 value \u0002 name \u0001 value ...`, and
//! the property names of Java's `MessageConst`.
//!
//! Encoding follows `MessageDecoder.messageProperties2String` of RocketMQ 4.9.4 – 5.1
//! (the 4.9.8 the project is checked against): pairs joined by `\u0002`, **without** a
//! trailing separator. 4.9.0–4.9.3 and 5.2+ append a trailing `\u0002`; every Java version
//! decodes both forms, and so does [`Properties::decode`].
//!
//! Decoding follows `string2messageProperties` of 4.9.8 / 5.x: the string is cut at each
//! `\u0002`; a piece is a pair when its first `\u0001` is neither its first nor its last
//! character (non-empty name and value); anything else (no `\u0001`, empty name, empty
//! value, empty piece from doubled or trailing separators) is skipped. The value keeps
//! any further `\u0001`. A repeated name keeps its last value (Java's `HashMap.put`).
//!
//! Consequently a pair round-trips only when its name and value are non-empty, the name
//! holds no `\u0001` and neither holds `\u0002`; the encoder writes other pairs as they
//! are (as Java does) and the decoder drops or splits them.

use std::borrow::Cow;

/// Separates a property's name from its value.
pub const NAME_VALUE_SEPARATOR: u8 = 1;
/// Separates two properties.
pub const PROPERTY_SEPARATOR: u8 = 2;
/// Separates several keys in the `KEYS` property.
pub const KEY_SEPARATOR: &str = " ";

pub const PROPERTY_KEYS: &str = "KEYS";
pub const PROPERTY_TAGS: &str = "TAGS";
pub const PROPERTY_WAIT_STORE_MSG_OK: &str = "WAIT";
pub const PROPERTY_DELAY_TIME_LEVEL: &str = "DELAY";
pub const PROPERTY_RETRY_TOPIC: &str = "RETRY_TOPIC";
pub const PROPERTY_REAL_TOPIC: &str = "REAL_TOPIC";
pub const PROPERTY_REAL_QUEUE_ID: &str = "REAL_QID";
pub const PROPERTY_TRANSACTION_PREPARED: &str = "TRAN_MSG";
pub const PROPERTY_PRODUCER_GROUP: &str = "PGROUP";
pub const PROPERTY_MIN_OFFSET: &str = "MIN_OFFSET";
pub const PROPERTY_MAX_OFFSET: &str = "MAX_OFFSET";
pub const PROPERTY_BUYER_ID: &str = "BUYER_ID";
pub const PROPERTY_ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
pub const PROPERTY_TRANSFER_FLAG: &str = "TRANSFER_FLAG";
pub const PROPERTY_CORRECTION_FLAG: &str = "CORRECTION_FLAG";
pub const PROPERTY_MQ2_FLAG: &str = "MQ2_FLAG";
pub const PROPERTY_RECONSUME_TIME: &str = "RECONSUME_TIME";
pub const PROPERTY_MSG_REGION: &str = "MSG_REGION";
pub const PROPERTY_TRACE_SWITCH: &str = "TRACE_ON";
pub const PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX: &str = "UNIQ_KEY";
pub const PROPERTY_EXTEND_UNIQ_INFO: &str = "EXTEND_UNIQ_INFO";
pub const PROPERTY_MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
pub const PROPERTY_CONSUME_START_TIMESTAMP: &str = "CONSUME_START_TIME";
pub const PROPERTY_INNER_NUM: &str = "INNER_NUM";
pub const PROPERTY_INNER_BASE: &str = "INNER_BASE";
pub const DUP_INFO: &str = "DUP_INFO";
pub const PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
pub const PROPERTY_TRANSACTION_ID: &str = "__transactionId__";
pub const PROPERTY_TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
pub const PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
pub const PROPERTY_INSTANCE_ID: &str = "INSTANCE_ID";
pub const PROPERTY_CORRELATION_ID: &str = "CORRELATION_ID";
pub const PROPERTY_MESSAGE_REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
pub const PROPERTY_MESSAGE_TTL: &str = "TTL";
pub const PROPERTY_REPLY_MESSAGE_ARRIVE_TIME: &str = "ARRIVE_TIME";
pub const PROPERTY_PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
pub const PROPERTY_CLUSTER: &str = "CLUSTER";
pub const PROPERTY_MESSAGE_TYPE: &str = "MSG_TYPE";
pub const PROPERTY_POP_CK: &str = "POP_CK";
pub const PROPERTY_POP_CK_OFFSET: &str = "POP_CK_OFFSET";
pub const PROPERTY_FIRST_POP_TIME: &str = "1ST_POP_TIME";
pub const PROPERTY_SHARDING_KEY: &str = "__SHARDINGKEY";
pub const PROPERTY_FORWARD_QUEUE_ID: &str = "PROPERTY_FORWARD_QUEUE_ID";
pub const PROPERTY_REDIRECT: &str = "REDIRECT";
pub const PROPERTY_INNER_MULTI_DISPATCH: &str = "INNER_MULTI_DISPATCH";
pub const PROPERTY_INNER_MULTI_QUEUE_OFFSET: &str = "INNER_MULTI_QUEUE_OFFSET";
pub const PROPERTY_TRACE_CONTEXT: &str = "TRACE_CONTEXT";
pub const PROPERTY_TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
pub const PROPERTY_TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
pub const PROPERTY_TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
pub const PROPERTY_TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
pub const PROPERTY_TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
pub const PROPERTY_TIMER_ROLL_TIMES: &str = "TIMER_ROLL_TIMES";
pub const PROPERTY_TIMER_OUT_MS: &str = "TIMER_OUT_MS";
pub const PROPERTY_TIMER_DEL_UNIQKEY: &str = "TIMER_DEL_UNIQKEY";
pub const PROPERTY_TIMER_DELAY_LEVEL: &str = "TIMER_DELAY_LEVEL";
pub const PROPERTY_BORN_HOST: &str = "__BORNHOST";
pub const PROPERTY_BORN_TIMESTAMP: &str = "BORN_TIMESTAMP";
pub const PROPERTY_DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
pub const PROPERTY_DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";
/// Properties whose name starts with this are never stored by the broker.
pub const PROPERTY_TRANSIENT_PREFIX: &str = "__RMQ.TRANSIENT.";
pub const PROPERTY_TRANSIENT_TOPIC_CONFIG: &str = "__RMQ.TRANSIENT.TOPIC_SYS_FLAG";
pub const PROPERTY_TRANSIENT_GROUP_CONFIG: &str = "__RMQ.TRANSIENT.GROUP_SYS_FLAG";

/// Message properties in insertion order (a handful of entries: a vector beats a hash
/// map and keeps the encoding deterministic). Names are unique: [`Properties::insert`]
/// replaces an earlier value in place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Properties(Vec<(String, String)>);

impl Properties {
    pub fn new() -> Self {
        Properties(Vec::new())
    }

    pub fn with_capacity(n: usize) -> Self {
        Properties(Vec::with_capacity(n))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// Sets `name`, replacing (in place) and returning an earlier value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) -> Option<String> {
        let name = name.into();
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => Some(std::mem::replace(&mut slot.1, value)),
            None => {
                self.0.push((name, value));
                None
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        let pos = self.0.iter().position(|(k, _)| k == name)?;
        Some(self.0.remove(pos).1)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.0.retain(|(k, v)| keep(k, v));
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn as_slice(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<(String, String)> {
        self.0
    }

    /// `TAGS`.
    pub fn tags(&self) -> Option<&str> {
        self.get(PROPERTY_TAGS)
    }

    /// The space-separated `KEYS`, empty pieces skipped.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.get(PROPERTY_KEYS).unwrap_or("").split(KEY_SEPARATOR).filter(|k| !k.is_empty())
    }

    /// `UNIQ_KEY`: the client-side message id.
    pub fn uniq_key(&self) -> Option<&str> {
        self.get(PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
    }

    /// Length in bytes of [`Properties::encode_into`]'s output.
    pub fn encoded_len(&self) -> usize {
        let pairs: usize = self.0.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        pairs.saturating_sub(1)
    }

    /// Appends the wire form (no trailing separator) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(PROPERTY_SEPARATOR);
            }
            out.extend_from_slice(k.as_bytes());
            out.push(NAME_VALUE_SEPARATOR);
            out.extend_from_slice(v.as_bytes());
        }
    }

    /// The wire form as a string (the `properties` field of a send header).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.encoded_len());
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(PROPERTY_SEPARATOR as char);
            }
            out.push_str(k);
            out.push(NAME_VALUE_SEPARATOR as char);
            out.push_str(v);
        }
        out
    }

    /// Parses the wire form with Java's leniency (see the module documentation).
    pub fn decode(s: &str) -> Properties {
        Properties::decode_bytes(s.as_bytes())
    }

    /// Parses wire bytes; invalid UTF-8 becomes U+FFFD as with Java's `new String(bytes,
    /// UTF_8)`.
    pub fn decode_bytes(raw: &[u8]) -> Properties {
        let mut props = Properties::new();
        for (k, v) in pairs(raw) {
            props.insert(utf8_lossy(k), utf8_lossy(v));
        }
        props
    }
}

fn utf8_lossy(bytes: &[u8]) -> String {
    match String::from_utf8_lossy(bytes) {
        Cow::Borrowed(s) => s.to_owned(),
        Cow::Owned(s) => s,
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Properties {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut props = Properties::new();
        props.extend(iter);
        props
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for Properties {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl IntoIterator for Properties {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// The pairs of a raw properties string, in wire order, without allocating; pieces Java
/// would skip are skipped. A repeated name is yielded each time (Java keeps the last).
pub fn pairs(raw: &[u8]) -> RawPairs<'_> {
    RawPairs { rest: raw }
}

/// Iterator returned by [`pairs`].
#[derive(Debug, Clone)]
pub struct RawPairs<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for RawPairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.rest.is_empty() {
            let (piece, rest) = match self.rest.iter().position(|&b| b == PROPERTY_SEPARATOR) {
                Some(i) => (self.rest.get(..i)?, self.rest.get(i + 1..)?),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            if let Some(sep) = piece.iter().position(|&b| b == NAME_VALUE_SEPARATOR) {
                if sep > 0 && sep + 1 < piece.len() {
                    return Some((piece.get(..sep)?, piece.get(sep + 1..)?));
                }
            }
        }
        None
    }
}

/// The value of `name` in a raw properties string (the last one if repeated, as Java),
/// without allocating.
pub fn find<'a>(raw: &'a [u8], name: &str) -> Option<&'a [u8]> {
    pairs(raw).filter(|(k, _)| *k == name.as_bytes()).last().map(|(_, v)| v)
}

/// [`find`] as a string; `None` also when the value is not valid UTF-8.
pub fn find_str<'a>(raw: &'a [u8], name: &str) -> Option<&'a str> {
    find(raw, name).and_then(|v| std::str::from_utf8(v).ok())
}

/// Appends one pair to a raw properties string, adding a separator when `raw` does not
/// already end with one (what the broker does when it adds properties to a stored
/// string, e.g. the batch properties of `CommitLog`).
pub fn push_raw(raw: &mut Vec<u8>, name: &str, value: &str) {
    if raw.last().is_some_and(|&b| b != PROPERTY_SEPARATOR) {
        raw.push(PROPERTY_SEPARATOR);
    }
    raw.extend_from_slice(name.as_bytes());
    raw.push(NAME_VALUE_SEPARATOR);
    raw.extend_from_slice(value.as_bytes());
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn java_compatible_encoding() {
        let mut p = Properties::new();
        p.insert(PROPERTY_TAGS, "TagA");
        p.insert(PROPERTY_KEYS, "k1 k2");
        p.insert(PROPERTY_WAIT_STORE_MSG_OK, "true");
        assert_eq!(p.encode(), "TAGS\u{1}TagA\u{2}KEYS\u{1}k1 k2\u{2}WAIT\u{1}true");
        let mut raw = Vec::new();
        p.encode_into(&mut raw);
        assert_eq!(raw, p.encode().as_bytes());
        assert_eq!(raw.len(), p.encoded_len());
        assert_eq!(Properties::decode(&p.encode()), p);
        assert_eq!(p.keys().collect::<Vec<_>>(), ["k1", "k2"]);
        assert_eq!(Properties::new().encode(), "");
        assert_eq!(Properties::new().encoded_len(), 0);
    }

    #[test]
    fn java_decoding_leniency() {
        // Trailing separator (4.9.0-4.9.3, 5.2+), doubled separators, a piece without
        // \u0001, empty name, empty value: all tolerated / skipped.
        let s = "A\u{1}1\u{2}\u{2}junk\u{2}\u{1}x\u{2}B\u{1}\u{2}C\u{1}3\u{1}4\u{2}D\u{1}5\u{2}";
        let p = Properties::decode(s);
        let got: Vec<_> = p.iter().collect();
        assert_eq!(got, [("A", "1"), ("C", "3\u{1}4"), ("D", "5")]);
        // Repeated names: last value wins, first position kept.
        let p = Properties::decode("A\u{1}1\u{2}B\u{1}2\u{2}A\u{1}3");
        assert_eq!(p.iter().collect::<Vec<_>>(), [("A", "3"), ("B", "2")]);
        assert_eq!(find(b"A\x011\x02A\x013", "A"), Some(&b"3"[..]));
        assert!(Properties::decode("").is_empty());
        assert!(Properties::decode("\u{2}\u{2}\u{1}").is_empty());
        assert_eq!(find_str(b"TAGS\x01TagA\x02KEYS\x01k", "KEYS"), Some("k"));
        assert_eq!(find_str(b"TAGS\x01TagA", "KEYS"), None);
        // Invalid UTF-8 is replaced, not rejected.
        let p = Properties::decode_bytes(b"K\x01\xff");
        assert_eq!(p.get("K"), Some("\u{fffd}"));
    }

    #[test]
    fn insert_remove_keep_order() {
        let mut p: Properties = [("a", "1"), ("b", "2"), ("c", "3")].into_iter().collect();
        assert_eq!(p.insert("b", "20"), Some("2".to_owned()));
        assert_eq!(p.remove("a"), Some("1".to_owned()));
        assert_eq!(p.remove("zz"), None);
        p.insert("d", "4");
        assert_eq!(p.iter().collect::<Vec<_>>(), [("b", "20"), ("c", "3"), ("d", "4")]);
        assert!(p.contains_key("c"));
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn push_raw_adds_separator_once() {
        let mut raw = b"A\x011".to_vec();
        push_raw(&mut raw, "B", "2");
        assert_eq!(raw, b"A\x011\x02B\x012");
        let mut raw = b"A\x011\x02".to_vec();
        push_raw(&mut raw, "B", "2");
        assert_eq!(raw, b"A\x011\x02B\x012");
        let mut raw = Vec::new();
        push_raw(&mut raw, "B", "2");
        assert_eq!(raw, b"B\x012");
    }
}
