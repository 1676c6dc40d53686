//! `KVConfigManager`: namespaced key/value settings (e.g. ORDER_TOPIC_CONFIG), kept in
//! memory and persisted to `kvConfigPath` as `{"configTable":{ns:{k:v}}}`, written to a
//! temporary file, fsynced, and renamed, so that a crash leaves the old or the new file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Namespace of the order-topic configuration (`NamesrvUtil.NAMESPACE_ORDER_TOPIC_CONFIG`).
pub const NAMESPACE_ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

#[derive(Debug, thiserror::Error)]
pub enum KvConfigError {
    #[error("cannot read KV config {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("KV config {path} is not valid: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("cannot write KV config {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct KvConfigFile {
    config_table: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug)]
pub struct KvConfigManager {
    path: PathBuf,
    table: BTreeMap<String, BTreeMap<String, String>>,
}

impl KvConfigManager {
    /// Loads `path` if it exists; a missing file is an empty table.
    pub fn load(path: &Path) -> Result<Self, KvConfigError> {
        let table = match std::fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => BTreeMap::new(),
            Ok(bytes) => {
                let file: KvConfigFile = ferromq_protocol::json::from_slice(&bytes)
                    .map_err(|e| KvConfigError::Parse { path: path.to_owned(), reason: e.to_string() })?;
                file.config_table
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(KvConfigError::Read { path: path.to_owned(), source }),
        };
        Ok(KvConfigManager { path: path.to_owned(), table })
    }

    pub fn get(&self, namespace: &str, key: &str) -> Option<&str> {
        self.table.get(namespace)?.get(key).map(String::as_str)
    }

    pub fn namespace(&self, namespace: &str) -> Option<&BTreeMap<String, String>> {
        self.table.get(namespace)
    }

    pub fn put(&mut self, namespace: &str, key: &str, value: &str) -> Result<(), KvConfigError> {
        self.table.entry(namespace.to_owned()).or_default().insert(key.to_owned(), value.to_owned());
        self.persist()
    }

    pub fn delete(&mut self, namespace: &str, key: &str) -> Result<(), KvConfigError> {
        let removed = match self.table.get_mut(namespace) {
            Some(ns) => {
                let r = ns.remove(key).is_some();
                if ns.is_empty() {
                    self.table.remove(namespace);
                }
                r
            }
            None => false,
        };
        if removed {
            self.persist()?;
        }
        Ok(())
    }

    fn persist(&self) -> Result<(), KvConfigError> {
        let err = |source| KvConfigError::Write { path: self.path.clone(), source };
        let file = KvConfigFile { config_table: self.table.clone() };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| err(std::io::Error::other(e)))?;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(&bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("namesrv").join("kvConfig.json");
        let mut kv = KvConfigManager::load(&path).unwrap();
        kv.put(NAMESPACE_ORDER_TOPIC_CONFIG, "TopicOrder", "broker-a:4").unwrap();
        kv.put("ns", "k", "v").unwrap();
        kv.delete("ns", "k").unwrap();
        let kv = KvConfigManager::load(&path).unwrap();
        assert_eq!(kv.get(NAMESPACE_ORDER_TOPIC_CONFIG, "TopicOrder"), Some("broker-a:4"));
        assert_eq!(kv.get("ns", "k"), None);
    }

    #[test]
    fn a_corrupt_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.json");
        std::fs::write(&path, b"{not json").unwrap();
        let err = KvConfigManager::load(&path).unwrap_err();
        assert!(err.to_string().contains("is not valid"), "{err}");
    }
}
