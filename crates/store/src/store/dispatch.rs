//! The dispatcher (RocketMQ's reput service): reads the CommitLog in order and builds the
//! ConsumeQueues and the IndexFile from it, then tells the arrival listener.

use super::*;

impl Inner {
    /// Raises `table` (topic → queue → next queue offset) to cover the records in
    /// `[from, to)` that the dispatcher has not indexed yet: a dispatch limited by a
    /// confirmed offset (HA, a Raft log's committed entry) leaves records in the CommitLog
    /// whose queue offsets the ConsumeQueues do not show, and the next append must not
    /// reuse them.
    pub(super) fn cover_undispatched(&self, from: u64, to: u64, table: &mut QueueTable) -> Result<()> {
        let mut pos = from.max(self.commitlog.min_offset());
        while pos < to {
            // The 8-byte head says how much to read (a blank record: skip to the next
            // segment without reading its padding).
            let head = self.commitlog.read(pos, 8)?;
            let size = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            let magic = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
            if magic == record::BLANK_MAGIC_CODE {
                pos = self.commitlog.segment_for(pos).map_or(to, |s| s.end());
                continue;
            }
            let rec = match usize::try_from(size) {
                Ok(n) if n >= record::MIN_RECORD_LEN => self.commitlog.read(pos, n)?,
                _ => Bytes::new(),
            };
            match record::peek(&rec, pos, false) {
                Peeked::Message { msg, size, .. } => {
                    if record::takes_queue_offset(msg.sys_flag) {
                        let next =
                            table.entry(msg.topic.to_string()).or_default().entry(msg.queue_id).or_insert(0);
                        *next = (*next).max(msg.queue_offset + 1);
                    }
                    pos += size as u64;
                }
                other => {
                    return Err(StoreError::Corrupt {
                        what: "CommitLog".into(),
                        offset: pos,
                        detail: format!("undispatched record not readable: {other:?}"),
                    })
                }
            }
        }
        Ok(())
    }

    pub(super) fn reput_loop(&self) {
        // In write-buffer mode (transientStorePoolEnable) the dispatcher is also the
        // committer: it writes the pending buffer to the page cache in large chunks, then
        // dispatches from there. With `deferred_commit` the caller commits (the broker, once
        // per read burst, before acknowledging): a dispatcher committing too only makes
        // the two contend for the commit lock (measured: ~10 % less broker throughput).
        let commits = self.config.transient_store_pool_enable;
        while !self.stopping.load(Ordering::Acquire) {
            // Also here, so that SYNC_FLUSH callbacks time out while an fsync hangs.
            self.commitlog.watch.expire_callbacks(std::time::Instant::now());
            let limit = self.dispatch_limit.load(Ordering::Acquire);
            if commits && self.commitlog.uncommitted_bytes() > 0 {
                if let Err(e) = self.commitlog.commit_all() {
                    tracing::error!(error = %e, "CommitLog commit failed");
                    self.stop_signal.wait(Duration::from_millis(100));
                    continue;
                }
            }
            let target = self.commitlog.written().min(limit);
            if let Err(e) = self.reput_until(target) {
                tracing::error!(error = %e, "dispatch failed; retrying");
                self.stop_signal.wait(Duration::from_millis(100));
            }
            let idle = self.dispatched.load(Ordering::Acquire) >= self.commitlog.written().min(limit)
                && (!commits || self.commitlog.uncommitted_bytes() == 0);
            if idle && self.reput_signal.wait(Duration::from_millis(50)) {
                // Woken from idle by a put: let a few more arrive before dispatching, so a
                // steady stream costs one wake-up per batch rather than one futex round trip
                // per message (RocketMQ's dispatcher simply polls every millisecond). Puts
                // during this window find the signal pending and make no system call.
                std::thread::sleep(REPUT_COALESCE);
            }
        }
    }

    /// Dispatches records up to `target`; returns how many ConsumeQueue gaps it met.
    pub(super) fn reput_until(&self, target: u64) -> Result<u64> {
        let _r = self.reput_lock.lock();
        // `target` may have been read before a truncation (which holds the reput lock):
        // never read past what is written now.
        let target = target.min(self.commitlog.written());
        let mut gaps = 0;
        let mut from = self.dispatched.load(Ordering::Acquire);
        let mut window = REPUT_CHUNK;
        let mut buf: Vec<u8> = Vec::new();
        while from < target {
            let cl_min = self.commitlog.min_offset();
            if from < cl_min {
                from = cl_min;
                continue;
            }
            let Some(seg) = self.commitlog.segment_for(from) else {
                break;
            };
            let end = target.min(seg.end());
            let len = ((end - from) as usize).min(window);
            // One buffer per call, reused chunk after chunk (zeroed only where it grows).
            buf.resize(len, 0);
            seg.read_at(from - seg.start(), &mut buf)?;
            // The index's "now", once per chunk rather than a clock read per message.
            let now_ms = self.clock.now_ms();
            let mut off = 0usize;
            let mut notes: Vec<(Arc<ConsumeQueue>, i64, i64, i64)> = Vec::new();
            let mut touched: Vec<Arc<ConsumeQueue>> = Vec::new();
            let mut next_from;
            let mut bigger_window = None;
            loop {
                let rest = buf.get(off..).unwrap_or_default();
                let pos = from + off as u64;
                next_from = pos;
                if rest.len() < record::END_FILE_MIN_BLANK_LENGTH {
                    break;
                }
                match record::peek(rest, pos, false) {
                    Peeked::Message { msg, size, .. } => {
                        if record::takes_queue_offset(msg.sys_flag) {
                            let cq = self.find_or_create_cq(msg.topic, msg.queue_id)?;
                            let tags_code = record::tags_code(&msg);
                            let entry = CqEntry { phy_offset: pos, size: size as u32, tags_code };
                            if let PutOutcome::Gap { expected } = cq.put(msg.queue_offset, entry)? {
                                tracing::warn!(
                                    topic = msg.topic,
                                    queue_id = msg.queue_id,
                                    expected,
                                    got = msg.queue_offset,
                                    "ConsumeQueue gap"
                                );
                                gaps += 1;
                            }
                            if !touched.last().is_some_and(|c| Arc::ptr_eq(c, &cq)) {
                                touched.push(cq.clone());
                            }
                            notes.push((cq, msg.queue_offset + 1, tags_code, msg.store_timestamp));
                        }
                        if let Some(index) = &self.index {
                            if !record::is_rollback(msg.sys_flag) {
                                index.build_index(
                                    msg.topic,
                                    record::index_keys(&msg),
                                    pos,
                                    msg.store_timestamp,
                                    now_ms,
                                )?;
                            }
                        }
                        off += size;
                    }
                    Peeked::Blank { size } => {
                        if pos + size as u64 != seg.end() {
                            tracing::error!(
                                offset = pos,
                                "misplaced blank record; skipping to the next segment"
                            );
                        }
                        next_from = seg.end();
                        break;
                    }
                    Peeked::Incomplete { size } => {
                        if off == 0 && pos + size as u64 <= end {
                            bigger_window = Some(size);
                        }
                        break;
                    }
                    Peeked::Invalid(why) => {
                        if target > seg.end() {
                            tracing::error!(offset = pos, %why, "invalid CommitLog record; skipping to the next segment");
                            next_from = seg.end();
                        }
                        break;
                    }
                }
            }
            touched.sort_by_key(|c| Arc::as_ptr(c) as usize);
            touched.dedup_by(|a, b| Arc::ptr_eq(a, b));
            for cq in &touched {
                cq.commit()?;
            }
            self.dispatched.store(next_from, Ordering::Release);
            if let Some(l) = self.listener.read().clone() {
                for (cq, max, tags, ts) in &notes {
                    l.arriving(cq.topic(), cq.queue_id(), *max, *tags, *ts);
                }
            }
            if next_from == from {
                match bigger_window {
                    Some(size) => {
                        window = size;
                        continue;
                    }
                    // The rest of a record has not arrived yet (raw replication).
                    None => break,
                }
            }
            from = next_from;
            window = REPUT_CHUNK;
        }
        Ok(gaps)
    }
}
