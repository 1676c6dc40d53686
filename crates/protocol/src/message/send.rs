//! The client-side message (`org.apache.rocketmq.common.message.Message`): what a
//! producer sends (SEND_MESSAGE header + body, or one entry of a batch body).

use bytes::Bytes;

use super::properties::{
    Properties, KEY_SEPARATOR, PROPERTY_DELAY_TIME_LEVEL, PROPERTY_KEYS, PROPERTY_TAGS,
    PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, PROPERTY_WAIT_STORE_MSG_OK,
};

/// A message as a producer builds it. `transaction_id` is client-side state, not part of
/// any encoding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub flag: i32,
    pub properties: Properties,
    pub body: Bytes,
    pub transaction_id: Option<String>,
}

impl Message {
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Message { topic: topic.into(), body: body.into(), ..Message::default() }
    }

    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name)
    }

    pub fn put_property(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.properties.insert(name, value);
    }

    pub fn tags(&self) -> Option<&str> {
        self.properties.tags()
    }

    pub fn set_tags(&mut self, tags: impl Into<String>) {
        self.properties.insert(PROPERTY_TAGS, tags);
    }

    /// The space-separated `KEYS`.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.properties.keys()
    }

    /// Sets `KEYS` to the keys joined by a space (Java's `setKeys(Collection)`).
    pub fn set_keys<I, S>(&mut self, keys: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut joined = String::new();
        for k in keys {
            if !joined.is_empty() {
                joined.push_str(KEY_SEPARATOR);
            }
            joined.push_str(k.as_ref());
        }
        self.properties.insert(PROPERTY_KEYS, joined);
    }

    /// `DELAY` (0 when absent or not a number).
    pub fn delay_time_level(&self) -> i32 {
        self.property(PROPERTY_DELAY_TIME_LEVEL).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    pub fn set_delay_time_level(&mut self, level: i32) {
        self.properties.insert(PROPERTY_DELAY_TIME_LEVEL, level.to_string());
    }

    /// `WAIT`: true unless the property says `false` (Java's `isWaitStoreMsgOK`).
    pub fn wait_store_msg_ok(&self) -> bool {
        self.property(PROPERTY_WAIT_STORE_MSG_OK) != Some("false")
    }

    pub fn set_wait_store_msg_ok(&mut self, wait: bool) {
        self.properties.insert(PROPERTY_WAIT_STORE_MSG_OK, if wait { "true" } else { "false" });
    }

    /// `UNIQ_KEY`, the client message id.
    pub fn uniq_key(&self) -> Option<&str> {
        self.properties.uniq_key()
    }

    /// Sets `UNIQ_KEY` unless present (Java's `MessageClientIDSetter.setUniqID`).
    pub fn set_uniq_key_if_absent(&mut self, id: impl FnOnce() -> String) {
        if !self.properties.contains_key(PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) {
            self.properties.insert(PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, id());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn accessors() {
        let mut m = Message::new("T", &b"body"[..]);
        assert!(m.wait_store_msg_ok());
        m.set_wait_store_msg_ok(false);
        assert!(!m.wait_store_msg_ok());
        m.set_tags("TagA");
        m.set_keys(["k1", "k2"]);
        m.set_delay_time_level(3);
        m.set_uniq_key_if_absent(|| "ID1".to_owned());
        m.set_uniq_key_if_absent(|| "ID2".to_owned());
        assert_eq!(m.tags(), Some("TagA"));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["k1", "k2"]);
        assert_eq!(m.delay_time_level(), 3);
        assert_eq!(m.uniq_key(), Some("ID1"));
        assert_eq!(
            m.properties.encode(),
            "WAIT\u{1}false\u{2}TAGS\u{1}TagA\u{2}KEYS\u{1}k1 k2\u{2}DELAY\u{1}3\u{2}UNIQ_KEY\u{1}ID1"
        );
    }
}
