//! [`MessageStoreConfig`]: the store's settings under Apache RocketMQ's property names
//! (`MessageStoreConfig.java`), with its defaults, parsed from a `broker.conf`-style map.
//! Keys the store does not know are ignored (a broker.conf holds broker keys too); a known
//! key with a bad value is an error naming the key, the value and what was expected.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};

/// Bytes in a ConsumeQueue entry: commitLogOffset 8 | size 4 | tagsCode 8.
pub const CQ_STORE_UNIT_SIZE: u64 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushDiskType {
    /// Acknowledge after fsync (group commit shares one fsync among waiting writers).
    SyncFlush,
    /// Acknowledge once the bytes are in the page cache; a flusher writes back.
    AsyncFlush,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerRole {
    AsyncMaster,
    SyncMaster,
    Slave,
}

#[derive(Debug, Clone)]
pub struct MessageStoreConfig {
    /// `storePathRootDir`: holds consumequeue/, index/, checkpoint, abort, lock.
    pub store_path_root_dir: PathBuf,
    /// `storePathCommitLog`: defaults to `{storePathRootDir}/commitlog`.
    pub store_path_commit_log: Option<PathBuf>,
    /// `mappedFileSizeCommitLog`: bytes per CommitLog segment (1 GiB).
    pub mapped_file_size_commit_log: u64,
    /// `mappedFileSizeConsumeQueue`: bytes per ConsumeQueue file (300,000 × 20); rounded
    /// down to a whole number of entries.
    pub mapped_file_size_consume_queue: u64,
    pub flush_disk_type: FlushDiskType,
    pub broker_role: BrokerRole,
    /// `flushIntervalCommitLog`: ASYNC_FLUSH flusher period.
    pub flush_interval_commit_log_ms: u64,
    /// `flushCommitLogLeastPages`: ASYNC_FLUSH writes back once this many 4 KiB pages are dirty.
    pub flush_commit_log_least_pages: u64,
    /// `flushCommitLogThoroughInterval`: ...or when this long has passed since the last flush.
    pub flush_commit_log_thorough_interval_ms: u64,
    /// `flushIntervalConsumeQueue`: period of the ConsumeQueue/Index flush and checkpoint.
    pub flush_interval_consume_queue_ms: u64,
    /// `syncFlushTimeout`: how long a SYNC_FLUSH put waits before FLUSH_DISK_TIMEOUT.
    pub sync_flush_timeout_ms: u64,
    /// `transientStorePoolEnable` (RocketMQ's name for its write-buffer mode): an
    /// ASYNC_FLUSH put returns once its record is in the store's in-memory write buffer;
    /// the dispatcher thread writes the buffer to the page cache in large chunks. Faster,
    /// but a process crash loses what the buffer held (at most a few milliseconds of
    /// appends). Off by default: an acknowledged ASYNC_FLUSH put is then in the page
    /// cache and survives a process crash. No effect on SYNC_FLUSH, whose puts are
    /// always written by the flusher and acknowledged after the fsync.
    pub transient_store_pool_enable: bool,
    /// Not a RocketMQ property: ASYNC_FLUSH puts stay in the write buffer until the caller
    /// calls [`crate::MessageStore::commit`], which writes everything pending in one `pwrite`.
    /// The broker commits once per burst of requests read from a connection, before any
    /// acknowledgement leaves the process, so an acknowledged message is in the page cache
    /// (it survives a process crash) while a pipelined burst costs one write, not one per
    /// message. A caller that sets this must commit before it acknowledges whenever
    /// [`MessageStoreConfig::commits_deferred`] says it applies.
    pub deferred_commit: bool,
    /// `warmMapedFileEnable` (RocketMQ's key; there it pre-touches the pages of new mapped
    /// files): pre-write zeros into the CommitLog ahead of the appends (with direct I/O, in
    /// the background), so that appends overwrite blocks already written and a SYNC_FLUSH
    /// fsync writes only the data, no block allocation or extent conversion (~115 µs per
    /// group-commit fsync instead of ~170 here). Unset (`None`): on for SYNC_FLUSH, where
    /// the group commit waits on every fsync (broker SYNC_FLUSH sends: +23–35 % at 16 in
    /// flight, +3–33 % at 64), off for ASYNC_FLUSH, whose periodic flush gains nothing from
    /// it. RocketMQ's default is off for both; it costs a second write of each segment until
    /// retention recycles segments (then no zeros are written). See
    /// [`Self::warm_commit_log`] and the store README.
    pub warm_maped_file_enable: Option<bool>,
    /// `fileReservedTime`: hours a CommitLog segment is kept.
    pub file_reserved_time_hours: u64,
    /// `deleteWhen`: hours of day (`"04"`, `"04;05"`) when expired segments are deleted.
    pub delete_when: Vec<u32>,
    /// `diskMaxUsedSpaceRatio`: percent of disk use above which cleanup runs at once,
    /// deleting the oldest segments even if not expired. Disk use, here and below, counts
    /// the CommitLog's reserved room (the unwritten rest of its segments) as free, as
    /// RocketMQ's sparse files do.
    pub disk_max_used_space_ratio: u32,
    /// `diskSpaceWarningLevelRatio`: percent of disk use above which writes are refused.
    pub disk_space_warning_level_ratio: u32,
    /// `cleanFileForciblyEnable`: allow deleting unexpired segments when the disk is full.
    pub clean_file_forcibly_enable: bool,
    /// `cleanResourceInterval`: period of the cleaner.
    pub clean_resource_interval_ms: u64,
    /// `deleteFileBatchMax`: segments deleted per cleaner round at most.
    pub delete_file_batch_max: usize,
    /// `maxMessageSize`: largest encoded body + properties accepted.
    pub max_message_size: usize,
    /// `messageIndexEnable`: build the IndexFile.
    pub message_index_enable: bool,
    /// `maxHashSlotNum`: hash slots per IndexFile.
    pub max_hash_slot_num: u32,
    /// `maxIndexNum`: entries per IndexFile.
    pub max_index_num: u32,
    /// `checkCRCOnRecover`: validate body CRCs while scanning the tail at start-up.
    pub check_crc_on_recover: bool,
    pub max_transfer_bytes_on_message_in_memory: u64,
    pub max_transfer_count_on_message_in_memory: u64,
    pub max_transfer_bytes_on_message_in_disk: u64,
    pub max_transfer_count_on_message_in_disk: u64,
    /// `accessMessageInMemoryMaxRatio`: percent of RAM; a consumer further behind than this
    /// is reading from disk (smaller batches, and a hint to pull from a slave).
    pub access_message_in_memory_max_ratio: u32,
    /// `maxFilterMessageCount`: ConsumeQueue entries one get_message scans at most
    /// (bounds the work of a pull whose filter matches nothing).
    pub max_filter_message_count: u64,
    /// `offsetCheckInSlave`: a slave corrects out-of-range pull offsets too.
    pub offset_check_in_slave: bool,
    /// `enableDLegerCommitLog`: the CommitLog is a Raft log. Every write is an entry with
    /// an index and a term (`MessageStore::append_entry`, `append_entry_raw`), kept in an
    /// entry index beside the CommitLog (`raftlog/`); consumers see entries only up to the
    /// committed one (`commit_entries_to`); an uncommitted suffix can be cut
    /// (`truncate_entries_after`). Plain `put_message` is refused. Only on a new store.
    pub enable_dleger_commit_log: bool,
    /// Entries per file of the Raft entry index (32 bytes each; not a RocketMQ key).
    pub raft_entries_per_file: u64,
}

impl Default for MessageStoreConfig {
    fn default() -> Self {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
        MessageStoreConfig {
            store_path_root_dir: home.join("store"),
            store_path_commit_log: None,
            mapped_file_size_commit_log: 1024 * 1024 * 1024,
            mapped_file_size_consume_queue: 300_000 * CQ_STORE_UNIT_SIZE,
            flush_disk_type: FlushDiskType::AsyncFlush,
            broker_role: BrokerRole::AsyncMaster,
            flush_interval_commit_log_ms: 500,
            flush_commit_log_least_pages: 4,
            flush_commit_log_thorough_interval_ms: 10_000,
            flush_interval_consume_queue_ms: 1000,
            sync_flush_timeout_ms: 5000,
            transient_store_pool_enable: false,
            deferred_commit: false,
            warm_maped_file_enable: None,
            file_reserved_time_hours: 72,
            delete_when: vec![4],
            disk_max_used_space_ratio: 75,
            disk_space_warning_level_ratio: 90,
            clean_file_forcibly_enable: true,
            clean_resource_interval_ms: 10_000,
            delete_file_batch_max: 10,
            max_message_size: 4 * 1024 * 1024,
            message_index_enable: true,
            max_hash_slot_num: 5_000_000,
            max_index_num: 20_000_000,
            check_crc_on_recover: true,
            max_transfer_bytes_on_message_in_memory: 256 * 1024,
            max_transfer_count_on_message_in_memory: 32,
            max_transfer_bytes_on_message_in_disk: 64 * 1024,
            max_transfer_count_on_message_in_disk: 8,
            access_message_in_memory_max_ratio: 40,
            max_filter_message_count: 16_000,
            offset_check_in_slave: false,
            enable_dleger_commit_log: false,
            raft_entries_per_file: 262_144,
        }
    }
}

fn parse_u64(key: &str, value: &str) -> Result<u64> {
    value.trim().parse::<u64>().map_err(|_| StoreError::config(key, value, "expected a non-negative integer"))
}

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.trim() {
        "true" | "TRUE" | "True" => Ok(true),
        "false" | "FALSE" | "False" => Ok(false),
        _ => Err(StoreError::config(key, value, "expected true or false")),
    }
}

fn parse_percent(key: &str, value: &str) -> Result<u32> {
    let v = parse_u64(key, value)?;
    if !(10..=95).contains(&v) {
        return Err(StoreError::config(key, value, "expected a percentage in 10..=95"));
    }
    Ok(v as u32)
}

fn parse_delete_when(key: &str, value: &str) -> Result<Vec<u32>> {
    let mut hours = Vec::new();
    for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<u32>() {
            Ok(h) if h < 24 => hours.push(h),
            _ => {
                return Err(StoreError::config(
                    key,
                    value,
                    "expected hours of day 0..=23 separated by ';' (e.g. 04 or 04;05)",
                ))
            }
        }
    }
    if hours.is_empty() {
        return Err(StoreError::config(key, value, "expected at least one hour"));
    }
    Ok(hours)
}

impl MessageStoreConfig {
    /// A configuration rooted at `root` with RocketMQ's defaults otherwise.
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        MessageStoreConfig { store_path_root_dir: root.into(), ..Self::default() }
    }

    /// Defaults overridden by the known keys of `props` (unknown keys are ignored).
    pub fn from_properties<K, V, I>(props: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut cfg = Self::default();
        for (k, v) in props {
            cfg.set(k.as_ref(), v.as_ref())?;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parse a `key=value` per line text (`#` comments), as in `broker.conf`.
    pub fn from_properties_text(text: &str) -> Result<Self> {
        let map: HashMap<&str, &str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
            .filter_map(|l| l.split_once(['=', ':']))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        Self::from_properties(map)
    }

    /// Set one property by its RocketMQ name. Returns `Ok(false)` for a key the store does
    /// not know (left to the caller), an error for a known key with a bad value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool> {
        match key {
            "storePathRootDir" => self.store_path_root_dir = PathBuf::from(value.trim()),
            "storePathCommitLog" => {
                self.store_path_commit_log = Some(PathBuf::from(value.trim()));
            }
            "mappedFileSizeCommitLog" => {
                self.mapped_file_size_commit_log = parse_u64(key, value)?;
            }
            "mappedFileSizeConsumeQueue" => {
                self.mapped_file_size_consume_queue = parse_u64(key, value)?;
            }
            "flushDiskType" => {
                self.flush_disk_type = match value.trim() {
                    "SYNC_FLUSH" => FlushDiskType::SyncFlush,
                    "ASYNC_FLUSH" => FlushDiskType::AsyncFlush,
                    _ => return Err(StoreError::config(key, value, "expected SYNC_FLUSH or ASYNC_FLUSH")),
                }
            }
            "brokerRole" => {
                self.broker_role = match value.trim() {
                    "ASYNC_MASTER" => BrokerRole::AsyncMaster,
                    "SYNC_MASTER" => BrokerRole::SyncMaster,
                    "SLAVE" => BrokerRole::Slave,
                    _ => {
                        return Err(StoreError::config(
                            key,
                            value,
                            "expected ASYNC_MASTER, SYNC_MASTER or SLAVE",
                        ))
                    }
                }
            }
            "flushIntervalCommitLog" => {
                self.flush_interval_commit_log_ms = parse_u64(key, value)?;
            }
            "flushCommitLogLeastPages" => {
                self.flush_commit_log_least_pages = parse_u64(key, value)?;
            }
            "flushCommitLogThoroughInterval" => {
                self.flush_commit_log_thorough_interval_ms = parse_u64(key, value)?;
            }
            "flushIntervalConsumeQueue" => {
                self.flush_interval_consume_queue_ms = parse_u64(key, value)?;
            }
            "syncFlushTimeout" => self.sync_flush_timeout_ms = parse_u64(key, value)?,
            "transientStorePoolEnable" => self.transient_store_pool_enable = parse_bool(key, value)?,
            "warmMapedFileEnable" => self.warm_maped_file_enable = Some(parse_bool(key, value)?),
            "fileReservedTime" => self.file_reserved_time_hours = parse_u64(key, value)?,
            "deleteWhen" => self.delete_when = parse_delete_when(key, value)?,
            "diskMaxUsedSpaceRatio" => {
                self.disk_max_used_space_ratio = parse_percent(key, value)?;
            }
            "diskSpaceWarningLevelRatio" => {
                self.disk_space_warning_level_ratio = parse_percent(key, value)?;
            }
            "cleanFileForciblyEnable" => {
                self.clean_file_forcibly_enable = parse_bool(key, value)?;
            }
            "cleanResourceInterval" => self.clean_resource_interval_ms = parse_u64(key, value)?,
            "deleteFileBatchMax" => self.delete_file_batch_max = parse_u64(key, value)? as usize,
            "maxMessageSize" => self.max_message_size = parse_u64(key, value)? as usize,
            "messageIndexEnable" => self.message_index_enable = parse_bool(key, value)?,
            "maxHashSlotNum" => {
                self.max_hash_slot_num = u32::try_from(parse_u64(key, value)?)
                    .map_err(|_| StoreError::config(key, value, "too large"))?;
            }
            "maxIndexNum" => {
                self.max_index_num = u32::try_from(parse_u64(key, value)?)
                    .map_err(|_| StoreError::config(key, value, "too large"))?;
            }
            "checkCRCOnRecover" => self.check_crc_on_recover = parse_bool(key, value)?,
            "maxTransferBytesOnMessageInMemory" => {
                self.max_transfer_bytes_on_message_in_memory = parse_u64(key, value)?;
            }
            "maxTransferCountOnMessageInMemory" => {
                self.max_transfer_count_on_message_in_memory = parse_u64(key, value)?;
            }
            "maxTransferBytesOnMessageInDisk" => {
                self.max_transfer_bytes_on_message_in_disk = parse_u64(key, value)?;
            }
            "maxTransferCountOnMessageInDisk" => {
                self.max_transfer_count_on_message_in_disk = parse_u64(key, value)?;
            }
            "accessMessageInMemoryMaxRatio" => {
                let v = parse_u64(key, value)?;
                if v > 100 {
                    return Err(StoreError::config(key, value, "expected a percentage 0..=100"));
                }
                self.access_message_in_memory_max_ratio = v as u32;
            }
            "maxFilterMessageCount" => self.max_filter_message_count = parse_u64(key, value)?,
            "offsetCheckInSlave" => self.offset_check_in_slave = parse_bool(key, value)?,
            "enableDLegerCommitLog" => self.enable_dleger_commit_log = parse_bool(key, value)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Cross-field checks; called by `from_properties` and by `MessageStore::open`.
    pub fn validate(&self) -> Result<()> {
        let seg = self.mapped_file_size_commit_log;
        if seg < 4096 {
            return Err(StoreError::config(
                "mappedFileSizeCommitLog",
                &seg.to_string(),
                "must be at least 4096 bytes",
            ));
        }
        if self.mapped_file_size_consume_queue < CQ_STORE_UNIT_SIZE {
            return Err(StoreError::config(
                "mappedFileSizeConsumeQueue",
                &self.mapped_file_size_consume_queue.to_string(),
                "must hold at least one 20-byte entry",
            ));
        }
        // A maxMessageSize larger than a segment is allowed (RocketMQ does not check it
        // either); such a message is refused at put time with MessageTooLarge.
        if self.max_message_size == 0 {
            return Err(StoreError::config("maxMessageSize", "0", "must be positive"));
        }
        if self.disk_space_warning_level_ratio < self.disk_max_used_space_ratio {
            return Err(StoreError::config(
                "diskSpaceWarningLevelRatio",
                &self.disk_space_warning_level_ratio.to_string(),
                "must not be below diskMaxUsedSpaceRatio",
            ));
        }
        if self.message_index_enable && (self.max_hash_slot_num == 0 || self.max_index_num < 2) {
            return Err(StoreError::config(
                "maxIndexNum",
                &self.max_index_num.to_string(),
                "maxHashSlotNum must be positive and maxIndexNum at least 2",
            ));
        }
        if self.flush_interval_commit_log_ms == 0 || self.flush_interval_consume_queue_ms == 0 {
            return Err(StoreError::config(
                "flushIntervalCommitLog",
                &self.flush_interval_commit_log_ms.to_string(),
                "flush intervals must be positive",
            ));
        }
        Ok(())
    }

    pub fn commit_log_dir(&self) -> PathBuf {
        self.store_path_commit_log.clone().unwrap_or_else(|| self.store_path_root_dir.join("commitlog"))
    }

    pub fn consume_queue_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("consumequeue")
    }

    pub fn index_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("index")
    }

    /// Whether puts wait in the write buffer for [`crate::MessageStore::commit`]: only
    /// when `deferred_commit` is asked for and applies, in ASYNC_FLUSH without
    /// `transientStorePoolEnable` (SYNC_FLUSH puts are written by the flusher, and the
    /// write-buffer mode's dispatcher commits by itself). A caller acknowledges only after
    /// committing when this is true.
    pub fn commits_deferred(&self) -> bool {
        self.deferred_commit
            && self.flush_disk_type == FlushDiskType::AsyncFlush
            && !self.transient_store_pool_enable
    }

    /// Whether the CommitLog is pre-written: `warmMapedFileEnable` when set, else on for
    /// SYNC_FLUSH only.
    pub fn warm_commit_log(&self) -> bool {
        self.warm_maped_file_enable.unwrap_or(self.flush_disk_type == FlushDiskType::SyncFlush)
    }

    /// The Raft entry index (`enableDLegerCommitLog`).
    pub fn raft_log_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("raftlog")
    }

    pub fn checkpoint_path(&self) -> PathBuf {
        self.store_path_root_dir.join("checkpoint")
    }

    pub fn abort_path(&self) -> PathBuf {
        self.store_path_root_dir.join("abort")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.store_path_root_dir.join("lock")
    }

    pub(crate) fn cq_manifest_path(&self) -> PathBuf {
        self.store_path_root_dir.join("config").join("consumequeue-manifest.json")
    }

    /// ConsumeQueue file size rounded down to whole entries.
    pub(crate) fn cq_file_size(&self) -> u64 {
        (self.mapped_file_size_consume_queue / CQ_STORE_UNIT_SIZE).max(1) * CQ_STORE_UNIT_SIZE
    }

    pub(crate) fn root(&self) -> &Path {
        &self.store_path_root_dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_rocketmqs() {
        let c = MessageStoreConfig::default();
        assert_eq!(c.mapped_file_size_commit_log, 1 << 30);
        assert_eq!(c.mapped_file_size_consume_queue, 6_000_000);
        assert_eq!(c.flush_interval_commit_log_ms, 500);
        assert_eq!(c.file_reserved_time_hours, 72);
        assert_eq!(c.delete_when, vec![4]);
        assert_eq!(c.disk_max_used_space_ratio, 75);
        assert_eq!(c.disk_space_warning_level_ratio, 90);
        assert_eq!(c.max_message_size, 4 << 20);
        assert_eq!(c.flush_disk_type, FlushDiskType::AsyncFlush);
    }

    #[test]
    fn parses_broker_conf() {
        let c = MessageStoreConfig::from_properties_text(
            "# comment\nbrokerName=b\nstorePathRootDir=/tmp/x\nflushDiskType=SYNC_FLUSH\n\
             mappedFileSizeCommitLog=65536\ndeleteWhen=04;05\nfileReservedTime=48\n\
             diskMaxUsedSpaceRatio=80\nbrokerRole=SLAVE\n",
        )
        .unwrap();
        assert_eq!(c.store_path_root_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.commit_log_dir(), PathBuf::from("/tmp/x/commitlog"));
        assert_eq!(c.flush_disk_type, FlushDiskType::SyncFlush);
        assert_eq!(c.mapped_file_size_commit_log, 65536);
        assert_eq!(c.delete_when, vec![4, 5]);
        assert_eq!(c.file_reserved_time_hours, 48);
        assert_eq!(c.disk_max_used_space_ratio, 80);
        assert_eq!(c.broker_role, BrokerRole::Slave);
    }

    #[test]
    fn prewriting_is_on_for_sync_flush_unless_set() {
        let mut c = MessageStoreConfig::default();
        assert_eq!(c.warm_maped_file_enable, None);
        assert!(!c.warm_commit_log(), "ASYNC_FLUSH by default");
        c.flush_disk_type = FlushDiskType::SyncFlush;
        assert!(c.warm_commit_log());
        c.set("warmMapedFileEnable", "false").unwrap();
        assert!(!c.warm_commit_log());
        c.flush_disk_type = FlushDiskType::AsyncFlush;
        c.set("warmMapedFileEnable", "true").unwrap();
        assert!(c.warm_commit_log());
        assert!(c.set("warmMapedFileEnable", "maybe").is_err());
    }

    #[test]
    fn commits_are_deferred_only_in_async_flush_without_the_write_buffer() {
        let mut c = MessageStoreConfig::default();
        assert!(!c.commits_deferred(), "not asked for");
        c.deferred_commit = true;
        assert!(c.commits_deferred());
        c.transient_store_pool_enable = true;
        assert!(!c.commits_deferred(), "the write-buffer mode's dispatcher commits");
        c.transient_store_pool_enable = false;
        c.flush_disk_type = FlushDiskType::SyncFlush;
        assert!(!c.commits_deferred(), "the flusher writes SYNC_FLUSH puts");
    }

    #[test]
    fn bad_values_name_the_key() {
        for (k, v) in [
            ("flushDiskType", "SOMETIMES"),
            ("fileReservedTime", "-1"),
            ("deleteWhen", "25"),
            ("diskMaxUsedSpaceRatio", "99"),
            ("messageIndexEnable", "yes"),
            ("mappedFileSizeCommitLog", "100"),
        ] {
            let err = MessageStoreConfig::from_properties([(k, v)]).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(k), "{text}");
        }
    }
}
