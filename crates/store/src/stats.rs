//! What the store counts about its own durability work, for the broker's Prometheus page:
//! every CommitLog fsync (how long it took, how many bytes and waiting writers it made
//! durable). The histogram's buckets are fixed, so recording is a handful of relaxed atomic
//! adds on the flusher thread and a snapshot never blocks it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the fsync histogram's buckets, in seconds (`+Inf` is implied): from a
/// fast NVMe's tens of microseconds to a stalled disk's second.
pub const FSYNC_BUCKETS_SECONDS: [f64; 12] =
    [0.000_05, 0.000_1, 0.000_2, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0];

/// Counters of the CommitLog's fsyncs (`fdatasync` of every segment a flush covers).
#[derive(Debug, Default)]
pub(crate) struct FlushStats {
    /// Per bucket (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; FSYNC_BUCKETS_SECONDS.len() + 1],
    nanos: AtomicU64,
    bytes: AtomicU64,
    waiters: AtomicU64,
}

impl FlushStats {
    /// One fsync: its time and the bytes it made durable. Recorded before the waiters it
    /// releases are woken, so that a writer that saw its put durable sees it counted.
    pub(crate) fn record_fsync(&self, took: Duration, bytes: u64) {
        let secs = took.as_secs_f64();
        let bucket =
            FSYNC_BUCKETS_SECONDS.iter().position(|&le| secs <= le).unwrap_or(FSYNC_BUCKETS_SECONDS.len());
        if let Some(b) = self.buckets.get(bucket) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The waiters an fsync released (known once they are woken).
    pub(crate) fn record_released(&self, waiters: usize) {
        self.waiters.fetch_add(waiters as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> FlushStatsSnapshot {
        let mut cumulative = 0;
        let buckets = self
            .buckets
            .iter()
            .map(|b| {
                cumulative += b.load(Ordering::Relaxed);
                cumulative
            })
            .collect::<Vec<u64>>();
        FlushStatsSnapshot {
            // The `+Inf` bucket, so that the count always equals it in the exposition.
            fsyncs: buckets.last().copied().unwrap_or(0),
            fsync_buckets: buckets,
            fsync_seconds: self.nanos.load(Ordering::Relaxed) as f64 / 1e9,
            flushed_bytes: self.bytes.load(Ordering::Relaxed),
            waiters_released: self.waiters.load(Ordering::Relaxed),
        }
    }
}

/// A reading of the CommitLog's fsync counters since the store opened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlushStatsSnapshot {
    /// Cumulative counts per bucket of [`FSYNC_BUCKETS_SECONDS`], then `+Inf` (= `fsyncs`).
    pub fsync_buckets: Vec<u64>,
    pub fsyncs: u64,
    /// Total time spent in fsyncs.
    pub fsync_seconds: f64,
    /// CommitLog bytes the fsyncs made durable.
    pub flushed_bytes: u64,
    /// SYNC_FLUSH writers (threads, futures, callbacks) the fsyncs released: divided by
    /// `fsyncs`, the group commit's average group size.
    pub waiters_released: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_bounded_inclusively() {
        let s = FlushStats::default();
        s.record_fsync(Duration::from_micros(50), 4096);
        s.record_fsync(Duration::from_micros(150), 8192);
        s.record_fsync(Duration::from_secs(3), 10);
        s.record_released(1);
        s.record_released(64);
        let snap = s.snapshot();
        assert_eq!(snap.fsyncs, 3);
        assert_eq!(snap.fsync_buckets.len(), FSYNC_BUCKETS_SECONDS.len() + 1);
        // <= 50 µs: one; <= 100 µs: still one; <= 200 µs: two; the 3 s one only in +Inf.
        assert_eq!(&snap.fsync_buckets[..3], &[1, 1, 2]);
        assert_eq!(snap.fsync_buckets[FSYNC_BUCKETS_SECONDS.len() - 1], 2);
        assert_eq!(snap.fsync_buckets.last(), Some(&3));
        assert_eq!(snap.flushed_bytes, 4096 + 8192 + 10);
        assert_eq!(snap.waiters_released, 65);
        assert!((snap.fsync_seconds - 3.0002).abs() < 1e-9);
    }
}
