//! Segment preparation: the next segment created ahead of time (a roll never waits on
//! file creation) and, with `warmMapedFileEnable`, the tail and the next segment
//! pre-written with zeros ahead of the appends.

use super::*;

impl CommitLog {
    /// The segment starting at `start`: the pre-created one if ready, else a new file.
    pub(super) fn obtain_segment(&self, start: u64) -> Result<Arc<Segment>> {
        let ready = {
            let mut p = self.prealloc.lock();
            let r = match p.ready.take() {
                Some(s) if s.start() == start => Some(s),
                _ => None,
            };
            p.want = Some(start + self.segment_size);
            r
        };
        self.prealloc_cond.notify_all();
        match ready {
            Some(s) => Ok(s),
            None => Ok(Arc::new(self.create_segment(start)?)),
        }
    }

    /// Creates the segment file for `start` — from the spare when there is one (then it
    /// is written through) — and makes its directory entry durable: an fdatasync of the
    /// file's data alone does not promise that the file survives a power loss (POSIX; ext4
    /// without a journal and other filesystems rely on it), and acknowledged SYNC_FLUSH
    /// messages will live in it.
    pub(super) fn create_segment(&self, start: u64) -> Result<Segment> {
        let seg = match self.segment_from_spare(start) {
            Some(s) => s,
            None => Segment::create(&self.dir, start, self.segment_size, self.prep.space)?,
        };
        sync_dir(&self.dir)?;
        Ok(seg)
    }

    /// Disk the log holds for records it has not written yet: the rest of the tail
    /// segment and the prepared next one when segments are reserved (a sparse segment
    /// holds no blocks before they are written) or the next one is recycled.
    pub(crate) fn reserved_unwritten(&self) -> u64 {
        let reserved = self.prep.space == Space::Reserved;
        let tail = if reserved {
            let written = self.written();
            self.segments.read().last().map_or(0, |s| s.end().saturating_sub(written.max(s.start())))
        } else {
            0
        };
        let p = self.prealloc.lock();
        let next = p.ready.as_ref().filter(|s| reserved || s.written_through()).map_or(0, |s| s.size());
        // Not the spare: it counts as used, so that disk pressure deletes it first.
        tail + next
    }

    /// Background loop pre-creating the next segment so that a roll never waits on file
    /// creation, and (with `warm`) pre-writing zeros ahead of the appends. Runs until
    /// [`CommitLog::stop_prealloc`].
    pub(crate) fn prealloc_loop(&self) {
        let zeros = AlignedZeros::new(if self.prep.warm { WARM_CHUNK as usize } else { 0 });
        if self.prep.warm {
            if let Err(e) = crate::sys::set_idle_io_priority() {
                tracing::debug!(error = %e, "could not lower the preparing thread's I/O priority");
            }
        }
        let warm = self.prep.warm;
        // After a failed pre-write (a full disk, say), none until then.
        let mut paused_until: Option<std::time::Instant> = None;
        let mut p = self.prealloc.lock();
        loop {
            if p.stop {
                return;
            }
            if let Some(start) = p.want.take() {
                if p.ready.as_ref().is_some_and(|s| s.start() == start) {
                    continue;
                }
                drop(p);
                let seg = self.create_segment(start);
                p = self.prealloc.lock();
                match seg {
                    Ok(s) => {
                        if s.written_through() {
                            // Recycled: nothing for the zeroes to do.
                            self.warm_until.fetch_max(s.end(), Ordering::AcqRel);
                        }
                        p.ready = Some(Arc::new(s));
                    }
                    Err(e) => tracing::warn!(error = %e, start, "pre-creating a CommitLog segment failed"),
                }
                continue;
            }
            if warm {
                let now = std::time::Instant::now();
                if let Some(until) = paused_until.filter(|&u| u > now) {
                    self.prealloc_cond.wait_for(&mut p, until - now);
                    continue;
                }
                paused_until = None;
                drop(p);
                // The tail first: it is what the next fsyncs write into.
                let step = match self.warm_tail(zeros.get()) {
                    Ok(false) => self.warm_ahead(zeros.get()),
                    other => other,
                };
                p = self.prealloc.lock();
                match step {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(e) => {
                        // Only a speed-up: the appends report real write errors themselves.
                        tracing::warn!(
                            error = %e,
                            retry_in_s = WARM_RETRY.as_secs(),
                            "pre-writing the CommitLog failed"
                        );
                        paused_until = Some(std::time::Instant::now() + WARM_RETRY);
                    }
                }
                self.prealloc_cond.wait_for(&mut p, WARM_POLL);
                continue;
            }
            self.prealloc_cond.wait(&mut p);
        }
    }

    /// Pre-writes up to one batch of zeros into the tail segment ahead of the appends;
    /// returns whether it wrote anything. The tail of a new log, or of one just opened, is
    /// pre-written only [`WARM_AT_OPEN`] past its end at open; this does the rest in the
    /// background, [`Self::tail_warm_ahead`] ahead of the appends.
    ///
    /// Why this cannot overwrite a message: the range is chosen, and marked as being
    /// zeroed (`AppendState::zeroing`), under the append lock, starting at least
    /// [`Self::tail_margin`] past the append position; an append that would reach it
    /// waits until the zeros are written (`blocked_by_zeroing`), and so does a truncation.
    /// Appends only ever write at the append position and after it (commits write what
    /// was appended, padded to the block end, which the range starts on). The zeroing
    /// does not start while an append is waiting, so appends are never held up for long.
    pub(super) fn warm_tail(&self, zeros: &[u8]) -> Result<bool> {
        let (tail, from, end) = {
            let mut st = self.state.lock();
            if st.zeroing.is_some() || st.fence_waiters > 0 || self.is_poisoned() || zeros.is_empty() {
                return Ok(false);
            }
            let tail = st.tail.clone();
            let from = st.tail_warmed.max(page_up(st.append_pos + self.tail_margin()));
            let target = (st.append_pos + self.tail_warm_ahead()).min(tail.end());
            // Whole batches only (but the segment's last one): each zeroing of the tail
            // converts extents of the file the group commit fsyncs, which makes its next
            // fsync commit the journal; once per batch, not every few milliseconds.
            let batch = self.tail_warm_batch();
            if target < tail.end() && target.saturating_sub(from) < batch {
                return Ok(false);
            }
            let Some(end) = batch_end(&tail, from, (from + batch).min(target)) else {
                return Ok(false);
            };
            st.zeroing = Some((from, end));
            (tail, from, end)
        };
        let (file_from, file_end) = (from - tail.start(), end - tail.start());
        let written = tail.fill_zeros(file_from, file_end, zeros).and_then(|buffered| {
            if buffered {
                tail.write_back(file_from, file_end - file_from)?;
            }
            Ok(())
        });
        {
            let mut st = self.state.lock();
            st.zeroing = None;
            // Still the same tail: a roll may have come (appends into the next segment do
            // not wait for this), and then the new tail's extent stands.
            if written.is_ok() && Arc::ptr_eq(&st.tail, &tail) {
                st.tail_warmed = st.tail_warmed.max(end);
            }
        }
        self.fence_cond.notify_all();
        written.map(|()| true)
    }

    /// How far ahead of the appends the tail is pre-written (a quarter segment at most).
    pub(super) fn tail_warm_ahead(&self) -> u64 {
        WARM_AHEAD.min(self.segment_size / 4)
    }

    /// The gap between the append position and zeros being written into the tail.
    pub(super) fn tail_margin(&self) -> u64 {
        (self.segment_size / 16).clamp(BLOCK, 8 << 20)
    }

    /// The most one zeroing of the tail writes (appends reaching it wait for it).
    pub(super) fn tail_warm_batch(&self) -> u64 {
        WARM_BATCH.min(self.segment_size / 8).max(BLOCK)
    }

    /// Pre-writes up to one batch of zeros into the pre-created next segment and makes
    /// sure they are on the device; returns whether it wrote anything. It goes at the pace
    /// of the appends (the zeroed space reaches one segment size past them), so that the
    /// next segment is done when the tail fills while the zeros never crowd the disk in
    /// one burst; the preparing thread's I/O has the idle priority, so the group commit's
    /// writes go first. A segment the appends reach before this thread finished it goes on
    /// as the tail, in [`Self::warm_tail`].
    pub(super) fn warm_ahead(&self, zeros: &[u8]) -> Result<bool> {
        let appended = self.appended();
        let Some(next) = self.prealloc.lock().ready.clone().filter(|s| s.start() > appended) else {
            return Ok(false);
        };
        let from = self.warm_until.load(Ordering::Acquire).max(next.start());
        let target = appended.saturating_add(self.segment_size.max(WARM_AHEAD)).min(next.end());
        if from >= target || self.is_poisoned() {
            return Ok(false);
        }
        let Some(end) = batch_end(&next, from, (from + WARM_BATCH).min(target)) else {
            return Ok(false);
        };
        Ok(self.prewrite_next(&next, from, end, zeros)? > from)
    }

    /// Writes zeros over `[from, end)` of `next` as long as it is still the pre-created
    /// segment, and makes sure they are on the device; returns where it stopped.
    ///
    /// With direct I/O where the filesystem takes it: the zeros go to the device without
    /// passing through the page cache, which costs the CPU almost nothing (a buffered
    /// write copies every byte, and the kernel's writeback handles every page) and leaves
    /// the page cache to the data. The appends then write into uncached blocks, which is
    /// why commits into pre-written space end on a block boundary (`commit_to`).
    ///
    /// Why this cannot overwrite a message: appends reach a segment only after a roll has
    /// taken it from `prealloc.ready`, under the `prealloc` lock; each write here holds that
    /// lock and first checks that `next` is still the one waiting there. A roll therefore
    /// waits for at most one write (~0.1 ms, once per segment), and no write starts after
    /// it. The commit lock is not involved, so commits never wait for zeros.
    pub(super) fn prewrite_next(
        &self,
        next: &Arc<Segment>,
        from: u64,
        end: u64,
        zeros: &[u8],
    ) -> Result<u64> {
        let direct = next.open_direct();
        let mut pos = from;
        let mut buffered = false;
        while pos < end {
            let p = self.prealloc.lock();
            if !p.ready.as_ref().is_some_and(|r| Arc::ptr_eq(r, next)) {
                break;
            }
            let len = (end - pos).min(zeros.len() as u64);
            buffered |=
                next.write_preferably_direct(direct.as_ref(), pos - next.start(), &zeros[..len as usize])?;
            pos += len;
            self.warm_until.store(pos, Ordering::Release);
        }
        if buffered && pos > from {
            next.write_back(from - next.start(), pos - from)?;
        }
        Ok(pos)
    }

    pub(crate) fn request_prealloc(&self) {
        let end = self.state.lock().tail.end();
        self.prealloc.lock().want = Some(end);
        self.prealloc_cond.notify_all();
    }

    pub(crate) fn stop_prealloc(&self) {
        self.prealloc.lock().stop = true;
        self.prealloc_cond.notify_all();
    }
}

/// The end of a zeroing of `seg` from `from` up to `limit`: cut back to a block boundary
/// (direct I/O writes whole blocks) unless it is the segment's end; `None` if nothing is
/// left.
fn batch_end(seg: &Segment, from: u64, limit: u64) -> Option<u64> {
    let mut end = limit;
    if end < seg.end() {
        end -= (end - seg.start()) % BLOCK;
    }
    (end > from).then_some(end)
}
