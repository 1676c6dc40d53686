//! Durable JSON metadata files with RocketMQ's `ConfigManager` semantics, made crash-safe.
//!
//! Load: the file, or `<file>.bak` when the file is missing, empty or unreadable/corrupt.
//! Store: write `<file>.tmp` and fsync it, keep the current file as `<file>.bak` (a hard
//! link, so the file itself never disappears), rename the temporary file over the file and
//! fsync the directory. A crash at any point leaves the old or the new content under the
//! file name, and the previous one under `.bak`.
//!
//! One deviation from Java, on purpose: when the file is corrupt and there is no usable
//! backup, Java starts empty (silently dropping every topic or offset); we return
//! [`PersistError::Corrupt`] so the broker refuses to start with lost metadata.
//!
//! [`ChangeTracker`] makes persisting cheap when nothing changed: managers bump it under
//! their write lock on every change, and [`persist_if_changed`] writes only when the
//! latest change has not been written yet.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, MutexGuard};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PersistError {
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is corrupt ({reason}) and no usable backup exists")]
    Corrupt { path: PathBuf, reason: String },
}

impl PersistError {
    fn io(op: &'static str, path: &Path, source: std::io::Error) -> Self {
        PersistError::Io { op, path: path.to_owned(), source }
    }
}

/// Which copy [`ConfigFile::load`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadedFrom {
    /// The file itself.
    File,
    /// `<file>.bak`, because the file was missing, empty or corrupt.
    Backup,
    /// Neither exists (first start): nothing was loaded.
    Nothing,
}

/// One metadata file and its `.bak` / `.tmp` companions.
#[derive(Debug)]
pub struct ConfigFile {
    path: PathBuf,
    /// Serializes writers (snapshot + store) so an older snapshot never overwrites a newer one.
    write_lock: Mutex<()>,
}

impl ConfigFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ConfigFile { path: path.into(), write_lock: Mutex::new(()) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<file>.bak`.
    pub fn backup_path(&self) -> PathBuf {
        with_suffix(&self.path, ".bak")
    }

    /// `<file>.tmp`.
    pub fn temp_path(&self) -> PathBuf {
        with_suffix(&self.path, ".tmp")
    }

    /// Held while taking a snapshot and storing it.
    pub fn lock(&self) -> MutexGuard<'_, ()> {
        self.write_lock.lock()
    }

    /// Reads and decodes the file, falling back to the backup. `Ok(None)` when neither
    /// exists (or both are empty).
    pub fn load<T>(
        &self,
        decode: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Option<(T, LoadedFrom)>, PersistError> {
        let main_problem = match read_non_empty(&self.path) {
            Ok(Some(bytes)) => match decode(&bytes) {
                Ok(v) => return Ok(Some((v, LoadedFrom::File))),
                Err(reason) => {
                    tracing::error!(path = %self.path.display(), %reason, "metadata file is corrupt; trying the backup");
                    Some(reason)
                }
            },
            Ok(None) => None,
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "cannot read metadata file; trying the backup");
                Some(e.to_string())
            }
        };
        let bak = self.backup_path();
        let bak_problem = match read_non_empty(&bak) {
            Ok(Some(bytes)) => match decode(&bytes) {
                Ok(v) => {
                    tracing::warn!(path = %bak.display(), "metadata loaded from the backup file");
                    return Ok(Some((v, LoadedFrom::Backup)));
                }
                Err(reason) => Some(format!("backup: {reason}")),
            },
            Ok(None) => None,
            Err(e) => Some(format!("backup: {e}")),
        };
        match (main_problem, bak_problem) {
            (None, None) => Ok(None),
            (main, bak) => Err(PersistError::Corrupt {
                path: self.path.clone(),
                reason: [main, bak].into_iter().flatten().collect::<Vec<_>>().join("; "),
            }),
        }
    }

    /// Replaces the file's content atomically, keeping the previous content as `.bak`.
    pub fn store(&self, contents: &[u8]) -> Result<(), PersistError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| PersistError::io("create directory", dir, e))?;
        }
        let tmp = self.temp_path();
        {
            let mut f = std::fs::File::create(&tmp).map_err(|e| PersistError::io("create", &tmp, e))?;
            f.write_all(contents).map_err(|e| PersistError::io("write", &tmp, e))?;
            f.sync_all().map_err(|e| PersistError::io("fsync", &tmp, e))?;
        }
        if self.path.exists() {
            let bak = self.backup_path();
            match std::fs::remove_file(&bak) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(PersistError::io("remove", &bak, e)),
            }
            if std::fs::hard_link(&self.path, &bak).is_err() {
                std::fs::copy(&self.path, &bak).map_err(|e| PersistError::io("back up to", &bak, e))?;
            }
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| PersistError::io("rename over", &self.path, e))?;
        sync_parent_dir(&self.path);
        Ok(())
    }
}

/// Counts changes and remembers which one was last written.
#[derive(Debug)]
pub struct ChangeTracker {
    changes: AtomicU64,
    persisted: AtomicU64,
}

impl Default for ChangeTracker {
    /// Starts dirty, so that the first persist writes the initial state (system topics ...).
    fn default() -> Self {
        ChangeTracker { changes: AtomicU64::new(1), persisted: AtomicU64::new(0) }
    }
}

impl ChangeTracker {
    /// Records a change; call it while holding the state's write lock.
    pub fn touch(&self) {
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    /// The latest change; read it under the same lock as the snapshot it describes.
    pub fn current(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    pub fn is_dirty(&self) -> bool {
        self.persisted.load(Ordering::Acquire) != self.current()
    }

    /// Records that everything up to change `version` is on disk.
    pub fn mark_persisted(&self, version: u64) {
        self.persisted.fetch_max(version, Ordering::AcqRel);
    }

    /// Records that the state on disk is the current state (just loaded, say).
    pub fn mark_clean(&self) {
        self.mark_persisted(self.current());
    }
}

/// Writes `snapshot()` (the change version it reflects and its bytes) to `file` unless
/// everything is already on disk. `Ok(true)` when it wrote.
pub fn persist_if_changed(
    file: &ConfigFile,
    tracker: &ChangeTracker,
    snapshot: impl FnOnce() -> (u64, Vec<u8>),
) -> Result<bool, PersistError> {
    let _guard = file.lock();
    if !tracker.is_dirty() {
        return Ok(false);
    }
    let (version, bytes) = snapshot();
    file.store(&bytes)?;
    tracker.mark_persisted(version);
    Ok(true)
}

/// Serializes a metadata snapshot: pretty (as Java persists its files) or compact (as Java
/// answers GET_ALL_* requests).
pub fn encode_json<T: serde::Serialize>(value: &T, pretty: bool) -> Vec<u8> {
    let encoded = if pretty { serde_json::to_vec_pretty(value) } else { serde_json::to_vec(value) };
    // Plain data with string or integer keys: serializing to memory cannot fail.
    encoded.unwrap_or_else(|_| b"{}".to_vec())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The file's bytes; `None` if it does not exist or holds only white space.
fn read_non_empty(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(None),
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Makes the rename durable. Best effort: some file systems refuse to fsync a directory.
fn sync_parent_dir(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "cannot fsync directory");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_num(b: &[u8]) -> Result<u32, String> {
        std::str::from_utf8(b)
            .map_err(|e| e.to_string())?
            .trim()
            .parse()
            .map_err(|e: std::num::ParseIntError| e.to_string())
    }

    #[test]
    fn store_keeps_previous_as_backup_and_load_prefers_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = ConfigFile::new(dir.path().join("config").join("x.json"));
        assert!(f.load(decode_num).unwrap().is_none());
        f.store(b"1").unwrap();
        assert!(!f.backup_path().exists());
        f.store(b"2").unwrap();
        assert_eq!(std::fs::read(f.backup_path()).unwrap(), b"1");
        assert!(!f.temp_path().exists());
        assert_eq!(f.load(decode_num).unwrap(), Some((2, LoadedFrom::File)));
        // Storing again must not disturb the backup through the hard link.
        f.store(b"3").unwrap();
        assert_eq!(std::fs::read(f.backup_path()).unwrap(), b"2");
        assert_eq!(std::fs::read(f.path()).unwrap(), b"3");
    }

    #[test]
    fn falls_back_to_backup_when_missing_empty_or_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let f = ConfigFile::new(dir.path().join("x.json"));
        f.store(b"1").unwrap();
        f.store(b"2").unwrap();
        std::fs::write(f.path(), b"not a number").unwrap();
        assert_eq!(f.load(decode_num).unwrap(), Some((1, LoadedFrom::Backup)));
        std::fs::write(f.path(), b"  \n").unwrap();
        assert_eq!(f.load(decode_num).unwrap(), Some((1, LoadedFrom::Backup)));
        std::fs::remove_file(f.path()).unwrap();
        assert_eq!(f.load(decode_num).unwrap(), Some((1, LoadedFrom::Backup)));
    }

    #[test]
    fn corrupt_without_backup_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = ConfigFile::new(dir.path().join("x.json"));
        std::fs::write(f.path(), b"garbage").unwrap();
        let err = f.load(decode_num).unwrap_err();
        assert!(matches!(err, PersistError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("x.json"));
        std::fs::write(f.backup_path(), b"also garbage").unwrap();
        assert!(matches!(f.load(decode_num), Err(PersistError::Corrupt { .. })));
    }

    #[test]
    fn persist_if_changed_writes_once_per_change() {
        let dir = tempfile::tempdir().unwrap();
        let f = ConfigFile::new(dir.path().join("x.json"));
        let t = ChangeTracker::default();
        let mut writes = 0;
        for _ in 0..3 {
            if persist_if_changed(&f, &t, || (t.current(), b"7".to_vec())).unwrap() {
                writes += 1;
            }
        }
        assert_eq!(writes, 1);
        t.touch();
        assert!(persist_if_changed(&f, &t, || (t.current(), b"8".to_vec())).unwrap());
        assert!(!t.is_dirty());
        assert_eq!(f.load(decode_num).unwrap(), Some((8, LoadedFrom::File)));
    }

    #[test]
    fn store_into_an_unwritable_place_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let f = ConfigFile::new(blocker.join("sub").join("x.json"));
        assert!(matches!(f.store(b"1"), Err(PersistError::Io { .. })));
    }
}
