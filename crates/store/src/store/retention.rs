//! Retention: expired and (when the disk is full) oldest CommitLog segments deleted, with
//! the ConsumeQueue, index and Raft entry-index files whose data is gone.

use super::*;

impl Inner {
    pub(super) fn clean_loop(&self) {
        while !self.stopping.load(Ordering::Acquire) {
            self.stop_signal.wait(Duration::from_millis(self.config.clean_resource_interval_ms));
            if self.stopping.load(Ordering::Acquire) {
                break;
            }
            if let Err(e) = self.clean_round(false) {
                tracing::error!(error = %e, "cleanup failed");
            }
        }
    }

    pub(super) fn check_disk(&self) -> f64 {
        let path = self.config.commit_log_dir();
        match self.probe.usage(&path) {
            Ok(usage) => {
                let r = usage.used_ratio(self.commitlog.reserved_unwritten());
                let pct = (r * 100.0).round() as u32;
                self.disk_used_percent.store(pct, Ordering::Release);
                let full = pct >= self.config.disk_space_warning_level_ratio;
                if full != self.disk_full.swap(full, Ordering::AcqRel) {
                    if full {
                        tracing::error!(used_percent = pct, "disk full; refusing writes");
                    } else {
                        tracing::info!(used_percent = pct, "disk space available again; accepting writes");
                    }
                }
                r
            }
            Err(e) => {
                tracing::warn!(error = %e, "disk usage probe failed");
                0.0
            }
        }
    }

    /// Age reference of a segment: the store time of the first record of the next one
    /// (when this one stopped receiving writes), else the file's mtime.
    pub(super) fn segment_last_write_ms(&self, seg_end: u64, mtime: Option<i64>) -> i64 {
        match self.store_timestamp_at(seg_end) {
            Ok(Some(t)) if t > 0 => t,
            _ => mtime.unwrap_or(i64::MAX),
        }
    }

    pub(super) fn clean_round(&self, force: bool) -> Result<usize> {
        let cfg = &self.config;
        let ratio = self.check_disk();
        let pressure = ratio * 100.0 >= f64::from(cfg.disk_max_used_space_ratio);
        let time_up = cfg.delete_when.contains(&self.clock.local_hour());
        let mut deleted = 0;
        if pressure {
            self.commitlog.drop_spare()?;
        }
        if time_up || pressure || force {
            let now = self.clock.now_ms();
            let reserved_ms = cfg.file_reserved_time_hours as i64 * 3_600_000;
            let segs = self.commitlog.segments();
            let dispatched = self.dispatched.load(Ordering::Acquire);
            let flushed = self.commitlog.flushed();
            for seg in segs.iter().take(segs.len().saturating_sub(1)) {
                if deleted >= cfg.delete_file_batch_max {
                    break;
                }
                if seg.end() > dispatched || seg.end() > flushed {
                    break;
                }
                let last = self.segment_last_write_ms(seg.end(), seg.modified_ms());
                let expired = now >= last.saturating_add(reserved_ms);
                let forcibly = pressure && cfg.clean_file_forcibly_enable;
                if !(expired || forcibly) {
                    break;
                }
                if !self.commitlog.delete_first_segment(seg.start(), !pressure)? {
                    break;
                }
                tracing::info!(segment = %seg.path().display(), expired, forcibly, "retired CommitLog segment");
                deleted += 1;
                if forcibly && !expired {
                    let r = self.check_disk();
                    if r * 100.0 < f64::from(cfg.disk_max_used_space_ratio) {
                        break;
                    }
                }
            }
        }
        let cl_min = self.commitlog.min_offset();
        for cq in self.all_cqs() {
            cq.delete_expired(cl_min)?;
        }
        if let Some(index) = &self.index {
            index.delete_expired(cl_min)?;
        }
        if let Some(entries) = &self.entries {
            entries.lock().delete_expired(cl_min)?;
        }
        if deleted > 0 {
            crate::segment::sync_dir(self.commitlog.dir())?;
            self.check_disk();
        }
        Ok(deleted)
    }
}
