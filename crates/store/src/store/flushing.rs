//! The flush threads: the CommitLog flusher (SYNC_FLUSH group commit or the ASYNC_FLUSH
//! period) and the ConsumeQueue/index flush with its checkpoint.

use super::*;

impl Inner {
    pub(super) fn flush_commitlog_loop(&self) {
        let cfg = &self.config;
        let mut last_thorough = self.clock.now_ms();
        // Group commit state: waiters the last fsync found registered, and its duration.
        let mut last_waiters = 0usize;
        let mut last_fsync = Duration::ZERO;
        while !self.stopping.load(Ordering::Acquire) {
            match cfg.flush_disk_type {
                FlushDiskType::SyncFlush => {
                    if last_waiters > 1 {
                        // Group commit under way: the writers the last fsync released are
                        // appending again. Wait for them (at most about one fsync time) so
                        // that this fsync serves them all, without first sleeping on the
                        // flush signal (one wake-up less per round).
                        let _ = self.commitlog.watch.gather(last_waiters, last_fsync.min(MAX_GATHER));
                    } else {
                        self.flush_signal.wait(Duration::from_millis(10));
                    }
                    self.commitlog.watch.expire_callbacks(std::time::Instant::now());
                    // Threads whose turn in the wake-up tree was lost (rare): wake them now.
                    self.commitlog.watch.wake_stragglers();
                    if self.commitlog.unflushed_bytes() == 0 {
                        last_waiters = 0;
                        continue;
                    }
                }
                FlushDiskType::AsyncFlush => {
                    self.flush_signal.wait(Duration::from_millis(cfg.flush_interval_commit_log_ms));
                    let now = self.clock.now_ms();
                    let thorough = now - last_thorough >= cfg.flush_commit_log_thorough_interval_ms as i64;
                    let least = cfg.flush_commit_log_least_pages * 4096;
                    let dirty = self.commitlog.unflushed_bytes();
                    if dirty == 0 || (!thorough && dirty < least) {
                        continue;
                    }
                    last_thorough = now;
                }
            }
            let started = std::time::Instant::now();
            match self.commitlog.flush_counted() {
                Ok((_, waiters)) => {
                    last_waiters = waiters;
                    last_fsync = started.elapsed();
                    self.reput_signal.notify();
                }
                Err(e) => {
                    tracing::error!(error = %e, "CommitLog flush failed");
                    self.stop_signal.wait(Duration::from_millis(100));
                }
            }
        }
    }

    pub(super) fn flush_logics_loop(&self) {
        while !self.stopping.load(Ordering::Acquire) {
            self.stop_signal.wait(Duration::from_millis(self.config.flush_interval_consume_queue_ms));
            if self.stopping.load(Ordering::Acquire) {
                break;
            }
            if let Err(e) = self.flush_logics() {
                tracing::error!(error = %e, "ConsumeQueue/index flush failed");
            }
        }
    }

    /// fsync ConsumeQueues and index, then record in the checkpoint what is durable.
    pub(super) fn flush_logics(&self) -> Result<()> {
        let dispatched = self.dispatched.load(Ordering::Acquire);
        if let Some(entries) = &self.entries {
            // A Raft log's checkpoint claims only entries that are durable (the CommitLog
            // first, then the index, as `flush_entries`): start-up then knows that an index
            // ending before the checkpoint lost committed entries (`open_entry_index`).
            // Once the CommitLog is poisoned nothing more becomes durable, and no
            // checkpoint is written (the next start recovers from the log itself).
            if self.commitlog.is_poisoned() {
                return Ok(());
            }
            self.commitlog.flush()?;
            entries.lock().flush()?;
        }
        for cq in self.all_cqs() {
            cq.flush()?;
        }
        if let Some(index) = &self.index {
            index.flush()?;
        }
        let ts = self.commitlog.last_store_ts();
        let data = CheckpointData {
            physic_msg_timestamp: ts,
            logics_msg_timestamp: ts,
            index_msg_timestamp: ts,
            commit_log_flushed: self.commitlog.flushed(),
            consume_queue_dispatched: dispatched,
            index_dispatched: dispatched,
        };
        self.checkpoint.lock().store(&data)?;
        self.write_manifest(false)
    }

    pub(super) fn write_manifest(&self, force: bool) -> Result<()> {
        let mut m = Manifest::default();
        for cq in self.all_cqs() {
            m.queues
                .entry(cq.topic().to_string())
                .or_default()
                .insert(cq.queue_id(), (cq.min_offset(), cq.max_offset()));
        }
        let mut last = self.manifest_written.lock();
        if !force && last.as_ref() == Some(&m) {
            return Ok(());
        }
        let path = self.config.cq_manifest_path();
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let tmp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec(&m).map_err(|e| StoreError::io(&path, std::io::Error::other(e)))?;
        std::fs::write(&tmp, bytes)
            .and_then(|_| File::open(&tmp)?.sync_all())
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| StoreError::io(&path, e))?;
        *last = Some(m);
        Ok(())
    }
}
