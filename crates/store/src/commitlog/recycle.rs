//! Segment recycling: a segment that retention retires becomes the spare (renamed to
//! [`SPARE_FILE`]), and the next segment the log needs is made from it instead of a new
//! file. Its blocks are allocated and written already, so appends into it overwrite: a
//! SYNC_FLUSH fsync then writes the data and nothing else (no block allocation, no extent
//! conversion), as with `warmMapedFileEnable` but without writing zeros, and retention does
//! not free (and, with online discard, discard) a segment's worth of blocks per deletion.
//! A broker keeping its `fileReservedTime` runs in this state once the first segments
//! expire.
//!
//! The old records left in a recycled segment are never served: reads stop at the append
//! position, and recovery rejects a record whose stored physical offset is not where it
//! sits (each stale record claims its old segment's offsets), so the log ends where the
//! new data ends. A retired segment still held by a reader is not reused (the reader must
//! go on reading the old bytes); there is one spare at most, and none under disk pressure.

use super::*;
use crate::segment::segment_name;

/// Name of the spare segment file in the CommitLog directory.
pub(crate) const SPARE_FILE: &str = "spare";

impl CommitLog {
    /// Retires `seg` (already out of the segment list): keeps it as the spare when `keep`
    /// and there is none, else deletes it.
    pub(super) fn retire(&self, seg: Arc<Segment>, keep: bool) -> Result<()> {
        if keep && seg.size() == self.segment_size {
            let mut p = self.prealloc.lock();
            if p.spare.is_none() && rename_to_spare(&self.dir, &seg) {
                p.spare = Some(seg);
                return Ok(());
            }
        }
        seg.delete()
    }

    /// Deletes the spare, if any (disk pressure: its space goes back to the filesystem).
    pub(crate) fn drop_spare(&self) -> Result<()> {
        if self.prealloc.lock().spare.take().is_none() {
            return Ok(());
        }
        let path = self.dir.join(SPARE_FILE);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(&path, e)),
        }
    }

    /// The segment starting at `start` made from the spare, when there is one that no
    /// reader holds; its directory entry is synced by the caller. The rename happens under
    /// the lock through which [`CommitLog::retire`] puts a spare in place, so the file
    /// renamed is the spare that was checked.
    pub(super) fn segment_from_spare(&self, start: u64) -> Option<Segment> {
        let to = self.dir.join(segment_name(start));
        {
            let mut p = self.prealloc.lock();
            match p.spare.take() {
                Some(s) if Arc::strong_count(&s) == 1 => drop(s),
                other => {
                    p.spare = other;
                    return None;
                }
            }
            let from = self.dir.join(SPARE_FILE);
            if let Err(e) = std::fs::rename(&from, &to) {
                tracing::warn!(error = %e, "could not reuse the spare segment; creating a new one");
                let _ = std::fs::remove_file(&from);
                return None;
            }
        }
        match Segment::open(to.clone(), start, self.segment_size, false) {
            Ok(s) => {
                tracing::info!(start, "CommitLog segment made from the spare (recycled)");
                Some(s)
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not open the reused spare segment; creating a new one");
                let _ = std::fs::remove_file(&to);
                None
            }
        }
    }
}

/// Renames `seg`'s file to the spare's name in `dir`; false (logged) when that fails.
pub(super) fn rename_to_spare(dir: &Path, seg: &Segment) -> bool {
    match std::fs::rename(seg.path(), dir.join(SPARE_FILE)) {
        Ok(()) => {
            tracing::debug!(segment = seg.start(), "CommitLog segment kept as the spare");
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, file = %seg.path().display(), "could not keep a segment as the spare; deleting it");
            false
        }
    }
}

/// The spare a previous run left in `dir`, if it has the segment size (else it is deleted).
pub(super) fn adopt_spare(dir: &Path, segment_size: u64) -> Option<Arc<Segment>> {
    let path = dir.join(SPARE_FILE);
    if !path.exists() {
        return None;
    }
    match Segment::open(path.clone(), 0, segment_size, false) {
        Ok(s) => Some(Arc::new(s)),
        Err(e) => {
            tracing::info!(error = %e, "deleting a spare segment of another size");
            let _ = std::fs::remove_file(&path);
            None
        }
    }
}
