//! `ConsumerOffsetManager`: committed consumer offsets, `"topic@group"` -> queue id ->
//! offset, persisted to `config/consumerOffset.json` as `{"offsetTable":{...}}`.
//!
//! Commits happen on every pull (the piggybacked commit offset) and UPDATE_CONSUMER_OFFSET;
//! they only touch memory. The controller persists every `flushConsumerOffsetInterval`
//! (5 s in Java) and at shutdown through [`ConsumerOffsetManager::persist`], which writes
//! nothing when no offset moved.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use ferromq_protocol::body::ConsumerOffsetSerializeWrapper;
use ferromq_protocol::json;
use parking_lot::RwLock;

use super::persist::{encode_json, persist_if_changed, ChangeTracker, ConfigFile, LoadedFrom, PersistError};

/// Separates topic and group in the table's keys.
pub const TOPIC_GROUP_SEPARATOR: char = '@';

/// `topic@group`.
pub fn topic_group_key(topic: &str, group: &str) -> String {
    let mut key = String::with_capacity(topic.len() + group.len() + 1);
    key.push_str(topic);
    key.push(TOPIC_GROUP_SEPARATOR);
    key.push_str(group);
    key
}

/// `(topic, group)` of a key; `None` unless it has exactly one `@` (as Java's split).
pub fn split_topic_group(key: &str) -> Option<(&str, &str)> {
    let (topic, group) = key.split_once(TOPIC_GROUP_SEPARATOR)?;
    (!group.contains(TOPIC_GROUP_SEPARATOR) && !topic.is_empty() && !group.is_empty())
        .then_some((topic, group))
}

type OffsetTable = HashMap<String, BTreeMap<i32, i64>>;

#[derive(Debug)]
pub struct ConsumerOffsetManager {
    file: ConfigFile,
    tracker: ChangeTracker,
    table: RwLock<OffsetTable>,
}

impl ConsumerOffsetManager {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ConsumerOffsetManager {
            file: ConfigFile::new(path),
            tracker: ChangeTracker::default(),
            table: RwLock::default(),
        }
    }

    /// Reads the file (or its backup); its table replaces the current one (as Java).
    pub fn load(&self) -> Result<LoadedFrom, PersistError> {
        let loaded = self
            .file
            .load(|b| json::from_slice::<ConsumerOffsetSerializeWrapper>(b).map_err(|e| e.to_string()))?;
        let Some((wrapper, from)) = loaded else { return Ok(LoadedFrom::Nothing) };
        let mut table = self.table.write();
        *table = wrapper.offset_table.into_iter().collect();
        self.tracker.touch();
        Ok(from)
    }

    /// Writes the file if any offset changed since the last write; `Ok(true)` when it wrote.
    pub fn persist(&self) -> Result<bool, PersistError> {
        persist_if_changed(&self.file, &self.tracker, || {
            let table = self.table.read();
            (self.tracker.current(), encode_json(&Self::wrapper_of(&table), true))
        })
    }

    /// GET_ALL_CONSUMER_OFFSET's body (the file's form).
    pub fn encode(&self, pretty: bool) -> Vec<u8> {
        encode_json(&Self::wrapper_of(&self.table.read()), pretty)
    }

    fn wrapper_of(table: &OffsetTable) -> ConsumerOffsetSerializeWrapper {
        ConsumerOffsetSerializeWrapper {
            offset_table: table.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            data_version: None,
        }
    }

    /// The whole table, sorted.
    pub fn offset_table(&self) -> BTreeMap<String, BTreeMap<i32, i64>> {
        Self::wrapper_of(&self.table.read()).offset_table
    }

    /// Records a group's offset in a queue. Java logs, but accepts, an offset going back.
    pub fn commit_offset(&self, client_host: &str, group: &str, topic: &str, queue_id: i32, offset: i64) {
        let key = topic_group_key(topic, group);
        let mut table = self.table.write();
        let queues = table.entry(key).or_default();
        match queues.insert(queue_id, offset) {
            Some(old) if old == offset => return,
            Some(old) if offset < old => tracing::warn!(
                client_host,
                group,
                topic,
                queue_id,
                request_offset = offset,
                store_offset = old,
                "[NOTIFYME] update consumer offset less than store"
            ),
            _ => {}
        }
        self.tracker.touch();
    }

    /// The group's committed offset in a queue; -1 when it has none.
    pub fn query_offset(&self, group: &str, topic: &str, queue_id: i32) -> i64 {
        let key = topic_group_key(topic, group);
        self.table.read().get(&key).and_then(|q| q.get(&queue_id)).copied().unwrap_or(-1)
    }

    /// All of the group's offsets in a topic.
    pub fn query_offsets(&self, group: &str, topic: &str) -> Option<BTreeMap<i32, i64>> {
        self.table.read().get(&topic_group_key(topic, group)).cloned()
    }

    /// Topics the group has offsets in.
    pub fn which_topic_by_consumer(&self, group: &str) -> BTreeSet<String> {
        self.keys_matching(|_, g| g == group, |t, _| t)
    }

    /// Groups that have offsets in the topic.
    pub fn which_group_by_topic(&self, topic: &str) -> BTreeSet<String> {
        self.keys_matching(|t, _| t == topic, |_, g| g)
    }

    fn keys_matching(
        &self,
        pred: impl Fn(&str, &str) -> bool,
        pick: impl for<'a> Fn(&'a str, &'a str) -> &'a str,
    ) -> BTreeSet<String> {
        self.table
            .read()
            .keys()
            .filter_map(|k| split_topic_group(k))
            .filter(|(t, g)| pred(t, g))
            .map(|(t, g)| pick(t, g).to_owned())
            .collect()
    }

    /// Java's `cloneOffset`: `dest_group` gets a copy of `src_group`'s offsets in `topic`.
    pub fn clone_offset(&self, src_group: &str, dest_group: &str, topic: &str) -> bool {
        let mut table = self.table.write();
        let Some(offsets) = table.get(&topic_group_key(topic, src_group)).cloned() else { return false };
        table.insert(topic_group_key(topic, dest_group), offsets);
        self.tracker.touch();
        true
    }

    /// Replaces the group's offsets in `topic` (an offset reset); an empty map removes them.
    pub fn reset_offsets(&self, group: &str, topic: &str, offsets: BTreeMap<i32, i64>) {
        let key = topic_group_key(topic, group);
        let mut table = self.table.write();
        if offsets.is_empty() {
            table.remove(&key);
        } else {
            table.insert(key, offsets);
        }
        self.tracker.touch();
    }

    /// Java's `removeOffset`: forgets every offset of the group (group deleted).
    pub fn remove_offset(&self, group: &str) -> Vec<String> {
        self.remove_where(|_, g| g == group)
    }

    /// 5.x `cleanOffsetByTopic`: forgets every group's offsets in the topic (topic deleted).
    pub fn clean_offset_by_topic(&self, topic: &str) -> Vec<String> {
        self.remove_where(|t, _| t == topic)
    }

    /// Forgets one group's offsets in one topic.
    pub fn remove_consumer_offset(&self, group: &str, topic: &str) -> bool {
        let removed = self.table.write().remove(&topic_group_key(topic, group)).is_some();
        if removed {
            self.tracker.touch();
        }
        removed
    }

    fn remove_where(&self, pred: impl Fn(&str, &str) -> bool) -> Vec<String> {
        let mut table = self.table.write();
        let doomed: Vec<String> =
            table.keys().filter(|k| split_topic_group(k).is_some_and(|(t, g)| pred(t, g))).cloned().collect();
        for key in &doomed {
            table.remove(key);
            tracing::warn!(key = %key, "clean group offset");
        }
        if !doomed.is_empty() {
            self.tracker.touch();
        }
        doomed
    }

    /// Java's `queryMinOffsetInAllGroup`: per queue of `topic`, the smallest offset of any
    /// group not in the comma-separated `filter_groups`, ignoring offsets below the queue's
    /// minimum in the store.
    pub fn query_min_offset_in_all_group(
        &self,
        topic: &str,
        filter_groups: &str,
        min_offset_in_store: impl Fn(i32) -> i64,
    ) -> BTreeMap<i32, i64> {
        let excluded: BTreeSet<&str> =
            filter_groups.split(',').map(str::trim).filter(|g| !g.is_empty()).collect();
        let table = self.table.read();
        let mut result = BTreeMap::new();
        for (key, queues) in table.iter() {
            let Some((t, g)) = split_topic_group(key) else { continue };
            if t != topic || excluded.contains(g) {
                continue;
            }
            for (&queue_id, &offset) in queues {
                if offset >= min_offset_in_store(queue_id) {
                    result.entry(queue_id).and_modify(|m: &mut i64| *m = (*m).min(offset)).or_insert(offset);
                }
            }
        }
        result
    }

    /// Java's `scanUnsubscribedTopic`: removes `topic@group` entries whose group no longer
    /// subscribes to the topic and whose every offset is at or below the queue's minimum
    /// in the store. Returns the removed keys.
    pub fn scan_unsubscribed_topic(
        &self,
        is_subscribed: impl Fn(&str, &str) -> bool,
        min_offset_in_store: impl Fn(&str, i32) -> i64,
    ) -> Vec<String> {
        let mut table = self.table.write();
        let doomed: Vec<String> = table
            .iter()
            .filter(|(key, queues)| {
                split_topic_group(key).is_some_and(|(topic, group)| {
                    !is_subscribed(group, topic)
                        && !queues.is_empty()
                        && queues.iter().all(|(&q, &offset)| offset <= min_offset_in_store(topic, q))
                })
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in &doomed {
            table.remove(key);
            tracing::warn!(key = %key, "remove topic offset");
        }
        if !doomed.is_empty() {
            self.tracker.touch();
        }
        doomed
    }
}

#[cfg(test)]
mod tests {
    use super::super::names::consumer_offset_path;
    use super::*;

    fn manager() -> (tempfile::TempDir, ConsumerOffsetManager) {
        let dir = tempfile::tempdir().unwrap();
        let m = ConsumerOffsetManager::new(consumer_offset_path(dir.path()));
        (dir, m)
    }

    #[test]
    fn commit_query_and_keys() {
        let (_d, m) = manager();
        assert_eq!(m.query_offset("g", "t", 0), -1);
        m.commit_offset("1.1.1.1:1", "g", "t", 0, 10);
        m.commit_offset("1.1.1.1:1", "g", "t", 1, 20);
        m.commit_offset("1.1.1.1:1", "g", "t", 0, 5); // backwards: accepted
        m.commit_offset("1.1.1.1:1", "g2", "t", 0, 7);
        m.commit_offset("1.1.1.1:1", "g", "%RETRY%g", 0, 1);
        assert_eq!(m.query_offset("g", "t", 0), 5);
        assert_eq!(m.query_offset("g", "t", 9), -1);
        assert_eq!(m.query_offsets("g", "t").unwrap().len(), 2);
        assert_eq!(m.which_topic_by_consumer("g").into_iter().collect::<Vec<_>>(), ["%RETRY%g", "t"]);
        assert_eq!(m.which_group_by_topic("t").into_iter().collect::<Vec<_>>(), ["g", "g2"]);
        assert_eq!(split_topic_group("a@b@c"), None);
        assert_eq!(split_topic_group("a@b"), Some(("a", "b")));
    }

    #[test]
    fn clone_reset_remove() {
        let (_d, m) = manager();
        m.commit_offset("h", "g", "t", 0, 10);
        m.commit_offset("h", "g", "u", 0, 3);
        assert!(m.clone_offset("g", "g3", "t"));
        assert!(!m.clone_offset("nope", "g3", "t"));
        assert_eq!(m.query_offset("g3", "t", 0), 10);
        m.reset_offsets("g", "t", [(0, 1), (1, 2)].into_iter().collect());
        assert_eq!((m.query_offset("g", "t", 0), m.query_offset("g", "t", 1)), (1, 2));
        assert_eq!(m.remove_offset("g").len(), 2);
        assert_eq!(m.query_offset("g", "u", 0), -1);
        assert_eq!(m.clean_offset_by_topic("t"), vec!["t@g3".to_string()]);
        assert!(m.offset_table().is_empty());
        m.commit_offset("h", "g", "t", 0, 1);
        assert!(m.remove_consumer_offset("g", "t"));
        assert!(!m.remove_consumer_offset("g", "t"));
    }

    #[test]
    fn min_offset_in_all_groups_and_unsubscribed_scan() {
        let (_d, m) = manager();
        m.commit_offset("h", "a", "t", 0, 10);
        m.commit_offset("h", "b", "t", 0, 4);
        m.commit_offset("h", "c", "t", 0, 2);
        m.commit_offset("h", "a", "t", 1, 8);
        let min = m.query_min_offset_in_all_group("t", "b", |_| 3);
        assert_eq!(
            min,
            [(0, 10), (1, 8)].into_iter().collect(),
            "c is below the store minimum, b is filtered"
        );
        let min = m.query_min_offset_in_all_group("t", "", |_| 0);
        assert_eq!(min[&0], 2);

        let removed = m.scan_unsubscribed_topic(|g, _| g == "a", |_, _| 5);
        assert_eq!(
            removed.into_iter().collect::<BTreeSet<_>>(),
            ["t@b".to_string(), "t@c".to_string()].into()
        );
        assert_eq!(m.query_offset("a", "t", 0), 10);
    }

    #[test]
    fn persist_only_when_changed_and_reload() {
        let (dir, m) = manager();
        assert_eq!(m.load().unwrap(), LoadedFrom::Nothing);
        m.commit_offset("h", "g", "TopicTest", 3, 42);
        assert!(m.persist().unwrap());
        assert!(!m.persist().unwrap());
        m.commit_offset("h", "g", "TopicTest", 3, 42); // same value: still clean
        assert!(!m.persist().unwrap());
        m.commit_offset("h", "g", "TopicTest", 3, 43);
        assert!(m.persist().unwrap());

        let m2 = ConsumerOffsetManager::new(consumer_offset_path(dir.path()));
        assert_eq!(m2.load().unwrap(), LoadedFrom::File);
        assert_eq!(m2.query_offset("g", "TopicTest", 3), 43);
        let text = String::from_utf8(m2.encode(false)).unwrap();
        assert_eq!(text, r#"{"offsetTable":{"TopicTest@g":{"3":43}}}"#);
    }

    #[test]
    fn loads_java_file_with_bare_queue_ids() {
        let (dir, m) = manager();
        let path = consumer_offset_path(dir.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            "{\n\t\"offsetTable\":{\n\t\t\"TopicTest@please_rename\":{0:250,1:249\n\t\t}\n\t}\n}",
        )
        .unwrap();
        assert_eq!(m.load().unwrap(), LoadedFrom::File);
        assert_eq!(m.query_offset("please_rename", "TopicTest", 1), 249);
    }
}
