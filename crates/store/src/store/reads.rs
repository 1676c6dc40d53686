//! Reads for consumers and queries: `get_message` through the ConsumeQueue, lookups by
//! key and offset.

use super::*;

impl Inner {
    pub(super) fn correction(&self, old: i64, new: i64) -> i64 {
        if self.config.broker_role != BrokerRole::Slave || self.config.offset_check_in_slave {
            new
        } else {
            old
        }
    }

    pub(super) fn get_message(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_msgs: usize,
        filter: Option<&dyn MessageFilter>,
    ) -> Result<GetMessageResult> {
        let mut r = GetMessageResult {
            status: GetMessageStatus::NoMatchedLogicQueue,
            next_begin_offset: offset,
            min_offset: 0,
            max_offset: 0,
            messages: Vec::new(),
            buffer_total_size: 0,
            suggest_pull_from_slave: false,
            corrupt_skipped: 0,
        };
        if self.shut_down.load(Ordering::Acquire) {
            return Err(StoreError::Shutdown);
        }
        let Some(cq) = self.find_cq(topic, queue_id) else {
            r.next_begin_offset = self.correction(offset, 0);
            return Ok(r);
        };
        let (min, max) = (cq.min_offset(), cq.max_offset());
        r.min_offset = min;
        r.max_offset = max;
        if max == 0 {
            r.status = GetMessageStatus::NoMessageInQueue;
            r.next_begin_offset = self.correction(offset, 0);
            return Ok(r);
        }
        if offset < min {
            r.status = GetMessageStatus::OffsetTooSmall;
            r.next_begin_offset = self.correction(offset, min);
            return Ok(r);
        }
        if offset == max {
            r.status = GetMessageStatus::OffsetOverflowOne;
            r.next_begin_offset = self.correction(offset, offset);
            return Ok(r);
        }
        if offset > max {
            r.status = GetMessageStatus::OffsetOverflowBadly;
            r.next_begin_offset = self.correction(offset, if min == 0 { min } else { max });
            return Ok(r);
        }
        let cfg = &self.config;
        let max_msgs = max_msgs.max(1);
        let scan_entries = (cfg.max_filter_message_count.max(max_msgs as u64 * 20) / 20) as usize;
        // ConsumeQueue entries are read in chunks as the picking needs them: a pull of 32
        // should not read and decode the 800 entries `maxFilterMessageCount` allows.
        let mut chunk_len = max_msgs.min(scan_entries).max(1);
        let mut base = 0usize;
        let mut entries = cq.entries(offset, chunk_len)?;
        let cl_max = self.commitlog.written();
        let cl_min = self.commitlog.min_offset();
        let memory = self.memory_bytes / 100 * u64::from(cfg.access_message_in_memory_max_ratio);
        r.status = GetMessageStatus::NoMatchedMessage;
        if entries.is_empty() {
            r.status = GetMessageStatus::OffsetFoundNull;
            r.next_begin_offset = self.correction(offset, offset + 1);
            return Ok(r);
        }
        // Pick entries by the ConsumeQueue alone, then read them in contiguous runs.
        let mut picked: Vec<(i64, CqEntry)> = Vec::new();
        let mut total: u64 = 0;
        let mut scanned = 0usize;
        let mut max_phy_pulling = 0;
        let mut next_phy_file_start: Option<u64> = None;
        'pick: loop {
            for (j, slot) in entries.iter().enumerate() {
                let i = base + j;
                scanned = i;
                let Some(e) = slot else {
                    if picked.is_empty() {
                        r.status = GetMessageStatus::OffsetFoundNull;
                    }
                    scanned = i + 1;
                    continue;
                };
                max_phy_pulling = e.phy_offset;
                if next_phy_file_start.is_some_and(|s| e.phy_offset < s) {
                    scanned = i + 1;
                    continue;
                }
                if e.phy_offset < cl_min || e.phy_end() > cl_max {
                    if picked.is_empty() {
                        r.status = GetMessageStatus::MessageWasRemoving;
                    }
                    next_phy_file_start = Some(self.commitlog.roll_next_file(e.phy_offset));
                    scanned = i + 1;
                    continue;
                }
                let in_disk = cl_max - e.phy_offset > memory;
                if let Batch::Full =
                    batch_full(cfg, u64::from(e.size), max_msgs, total, picked.len(), in_disk)
                {
                    break 'pick;
                }
                scanned = i + 1;
                if let Some(f) = filter {
                    if !f.is_matched_by_consume_queue(e.tags_code) {
                        continue;
                    }
                }
                total += u64::from(e.size);
                picked.push((offset + i as i64, *e));
            }
            base += entries.len();
            if entries.len() < chunk_len || base >= scan_entries || picked.len() >= max_msgs {
                break;
            }
            chunk_len = (chunk_len * 2).min(scan_entries - base);
            entries = cq.entries(offset + base as i64, chunk_len)?;
            if entries.is_empty() {
                break;
            }
        }
        // Read the picked records, several per read when they lie close together in the
        // CommitLog (a queue's messages interleaved with a few other queues'): one
        // `pread` of up to READ_SPAN_MAX bytes, gaps of other records included, costs less
        // than a system call per record.
        let mut k = 0;
        while k < picked.len() {
            let (_, first) = picked[k];
            let mut run_end = first.phy_end();
            let mut j = k + 1;
            let seg_end = self.commitlog.roll_next_file(first.phy_offset);
            while let Some((_, e)) = picked.get(j) {
                let close = e.phy_offset >= run_end
                    && e.phy_offset - run_end <= READ_GAP_MAX
                    && e.phy_end() - first.phy_offset <= READ_SPAN_MAX
                    && e.phy_end() <= seg_end;
                if !close {
                    break;
                }
                run_end = e.phy_end();
                j += 1;
            }
            let data = self.commitlog.read(first.phy_offset, (run_end - first.phy_offset) as usize)?;
            for (qo, e) in picked.get(k..j).unwrap_or_default() {
                let lo = (e.phy_offset - first.phy_offset) as usize;
                let rec = data.slice(lo..lo + e.size as usize);
                let ok = match record::peek(&rec, e.phy_offset, true) {
                    Peeked::Message { msg, crc_ok, size } => {
                        crc_ok
                            && size == rec.len()
                            && msg.topic == topic
                            && msg.queue_id == queue_id
                            && msg.queue_offset == *qo
                    }
                    _ => false,
                };
                if !ok {
                    tracing::error!(
                        topic,
                        queue_id,
                        queue_offset = qo,
                        phy = e.phy_offset,
                        "stored record fails validation; not served"
                    );
                    r.corrupt_skipped += 1;
                    self.corrupt_skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if let Some(f) = filter {
                    if !f.is_matched_by_commit_log(&rec) {
                        continue;
                    }
                }
                r.buffer_total_size += rec.len();
                r.messages.push(SelectedMessage {
                    phy_offset: e.phy_offset,
                    queue_offset: *qo,
                    tags_code: e.tags_code,
                    data: rec,
                });
            }
            k = j;
        }
        if !r.messages.is_empty() {
            r.status = GetMessageStatus::Found;
        }
        r.next_begin_offset = offset + scanned as i64;
        r.suggest_pull_from_slave = cl_max.saturating_sub(max_phy_pulling) > memory;
        Ok(r)
    }

    /// Store timestamp of the record at `phy`.
    pub(super) fn store_timestamp_at(&self, phy: u64) -> Result<Option<i64>> {
        let head_len = stored::body_length_position(0x30) + 4;
        let seg_end = self.commitlog.roll_next_file(phy);
        let avail = self.commitlog.written().min(seg_end).saturating_sub(phy) as usize;
        if avail < head_len.min(record::MIN_RECORD_LEN) {
            return Ok(None);
        }
        let head = self.commitlog.read(phy, head_len.min(avail))?;
        let sys_flag = i32::from_be_bytes([head[36], head[37], head[38], head[39]]);
        let p = stored::store_timestamp_position(sys_flag);
        let Some(b) = head.get(p..p + 8) else {
            return Ok(None);
        };
        let mut x = [0u8; 8];
        x.copy_from_slice(b);
        Ok(Some(i64::from_be_bytes(x)))
    }

    pub(super) fn offset_by_time(&self, topic: &str, queue_id: i32, ts: i64) -> Result<i64> {
        let Some(cq) = self.find_cq(topic, queue_id) else {
            return Ok(0);
        };
        let cl_min = self.commitlog.min_offset();
        let (mut lo, mut hi) = (cq.min_offset(), cq.max_offset());
        // First offset in [lo, hi) whose store time >= ts; empty or removed slots count
        // as older.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let t = match cq.get(mid)? {
                Some(e) if e.phy_offset >= cl_min => {
                    self.store_timestamp_at(e.phy_offset)?.unwrap_or(i64::MIN)
                }
                _ => i64::MIN,
            };
            if t < ts {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }
}

pub(super) fn batch_full(
    cfg: &MessageStoreConfig,
    size: u64,
    max_msgs: usize,
    total: u64,
    count: usize,
    in_disk: bool,
) -> Batch {
    if count == 0 {
        return Batch::Ok;
    }
    if count >= max_msgs {
        return Batch::Full;
    }
    let (max_bytes, max_count) = if in_disk {
        (cfg.max_transfer_bytes_on_message_in_disk, cfg.max_transfer_count_on_message_in_disk)
    } else {
        (cfg.max_transfer_bytes_on_message_in_memory, cfg.max_transfer_count_on_message_in_memory)
    };
    if total + size > max_bytes || count as u64 + 1 > max_count {
        return Batch::Full;
    }
    Batch::Ok
}
