//! The checkpoint file: how far each structure is known durable, so that a restart scans
//! only what may be missing. RocketMQ's `StoreCheckpoint` keeps three timestamps; we keep
//! offsets too (exact, and record boundaries by construction), in two alternating
//! CRC-protected slots so that a torn checkpoint write leaves the previous one readable.
//!
//! ```text
//! slot (at 0 and at 512), big-endian:
//!   magic "FMQCKPT1" 8 | sequence 8 | physicMsgTimestamp 8 | logicsMsgTimestamp 8
//!   | indexMsgTimestamp 8 | commitLogFlushed 8 | consumeQueueDispatched 8
//!   | indexDispatched 8 | crc32 of the preceding 64 bytes 4
//! ```

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};

const MAGIC: &[u8; 8] = b"FMQCKPT1";
const SLOT_LEN: usize = 68;
const SLOT_STRIDE: u64 = 512;
const FILE_LEN: u64 = 4096;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckpointData {
    pub physic_msg_timestamp: i64,
    pub logics_msg_timestamp: i64,
    pub index_msg_timestamp: i64,
    /// CommitLog bytes below this offset are fsynced (a record boundary).
    pub commit_log_flushed: u64,
    /// ConsumeQueue entries for every record below this offset are fsynced.
    pub consume_queue_dispatched: u64,
    /// Index entries for every record below this offset are fsynced.
    pub index_dispatched: u64,
}

impl CheckpointData {
    fn encode(&self, seq: u64) -> [u8; SLOT_LEN] {
        let mut b = [0u8; SLOT_LEN];
        b[0..8].copy_from_slice(MAGIC);
        let fields = [
            seq,
            self.physic_msg_timestamp as u64,
            self.logics_msg_timestamp as u64,
            self.index_msg_timestamp as u64,
            self.commit_log_flushed,
            self.consume_queue_dispatched,
            self.index_dispatched,
        ];
        for (i, f) in fields.iter().enumerate() {
            b[8 + i * 8..16 + i * 8].copy_from_slice(&f.to_be_bytes());
        }
        let crc = crc32fast::hash(&b[..64]);
        b[64..68].copy_from_slice(&crc.to_be_bytes());
        b
    }

    fn decode(b: &[u8; SLOT_LEN]) -> Option<(u64, CheckpointData)> {
        if &b[0..8] != MAGIC {
            return None;
        }
        let crc = u32::from_be_bytes([b[64], b[65], b[66], b[67]]);
        if crc32fast::hash(&b[..64]) != crc {
            return None;
        }
        let f = |i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[8 + i * 8..16 + i * 8]);
            u64::from_be_bytes(x)
        };
        Some((
            f(0),
            CheckpointData {
                physic_msg_timestamp: f(1) as i64,
                logics_msg_timestamp: f(2) as i64,
                index_msg_timestamp: f(3) as i64,
                commit_log_flushed: f(4),
                consume_queue_dispatched: f(5),
                index_dispatched: f(6),
            },
        ))
    }
}

pub(crate) struct Checkpoint {
    path: PathBuf,
    file: File,
    seq: u64,
}

impl Checkpoint {
    /// Opens (creating) the checkpoint file; returns the newest valid data, if any.
    pub(crate) fn open(path: &Path) -> Result<(Checkpoint, Option<CheckpointData>)> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| StoreError::io(path, e))?;
        let len = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
        if len < FILE_LEN {
            file.set_len(FILE_LEN).map_err(|e| StoreError::io(path, e))?;
        }
        let mut best: Option<(u64, CheckpointData)> = None;
        for slot in 0..2u64 {
            let mut b = [0u8; SLOT_LEN];
            if file.read_exact_at(&mut b, slot * SLOT_STRIDE).is_err() {
                continue;
            }
            if let Some((seq, d)) = CheckpointData::decode(&b) {
                if best.is_none_or(|(s, _)| seq > s) {
                    best = Some((seq, d));
                }
            }
        }
        let seq = best.map_or(0, |(s, _)| s);
        Ok((Checkpoint { path: path.to_path_buf(), file, seq }, best.map(|(_, d)| d)))
    }

    /// Writes `data` into the older slot and fsyncs.
    pub(crate) fn store(&mut self, data: &CheckpointData) -> Result<()> {
        let seq = self.seq + 1;
        let slot = seq % 2;
        self.file
            .write_all_at(&data.encode(seq), slot * SLOT_STRIDE)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| StoreError::io(&self.path, e))?;
        self.seq = seq;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternating_slots_survive_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("checkpoint");
        let (mut cp, none) = Checkpoint::open(&p).unwrap();
        assert!(none.is_none());
        let d1 = CheckpointData { commit_log_flushed: 100, ..Default::default() };
        let d2 = CheckpointData { commit_log_flushed: 200, ..Default::default() };
        cp.store(&d1).unwrap();
        cp.store(&d2).unwrap();
        drop(cp);
        assert_eq!(Checkpoint::open(&p).unwrap().1, Some(d2));
        // Tear the newest slot (seq 2 lives in slot 0).
        let f = OpenOptions::new().write(true).open(&p).unwrap();
        f.write_all_at(&[0xFF; 10], 20).unwrap();
        drop(f);
        let (mut cp, got) = Checkpoint::open(&p).unwrap();
        assert_eq!(got, Some(d1));
        cp.store(&d2).unwrap();
        assert_eq!(Checkpoint::open(&p).unwrap().1, Some(d2));
    }
}
