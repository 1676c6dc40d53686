//! Retention by age at `deleteWhen`, forced cleanup under disk pressure, and the hard
//! disk-full refusal, with a hand-driven clock and disk probe.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ferromq_store::{FlushDiskType, GetMessageStatus, StoreError};

const HOUR: i64 = 3_600_000;

fn fill(env: &Env, store: &ferromq_store::MessageStore, n: usize) {
    for i in 0..n {
        put(store, msg("R", (i % 2) as i32, &format!("{i}-{}", "p".repeat(600)), "t", &format!("key{i}")));
        env.clock.advance(1000);
    }
    wait_dispatched(store);
}

/// The next instant after `from` whose UTC hour is `hour`.
fn next_hour(from: i64, hour: i64) -> i64 {
    let day = 24 * HOUR;
    let base = from - from.rem_euclid(day) + hour * HOUR;
    if base > from {
        base
    } else {
        base + day
    }
}

#[test]
fn expired_segments_go_at_delete_when_and_min_offsets_follow() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let mut cfg = small_config(dir.path(), FlushDiskType::SyncFlush);
    cfg.delete_file_batch_max = 100;
    let store = env.open(&cfg);
    fill(&env, &store, 200); // ~130 KB: 8+ segments
    let segs_before = store.min_phy_offset();
    assert_eq!(segs_before, 0);
    env.clock.advance(71 * HOUR);
    // Not expired (under 72 h), whatever the hour.
    assert_eq!(store.clean_expired_files(false).unwrap(), 0);
    // Expired, but not the hour: nothing.
    let t = next_hour(T0 + 73 * HOUR, 10);
    env.clock.set(t);
    assert_eq!(store.clean_expired_files(false).unwrap(), 0);
    // deleteWhen=04: everything but the newest segment goes.
    env.clock.set(next_hour(t, 4));
    let deleted = store.clean_expired_files(false).unwrap();
    assert!(deleted >= 7, "deleted {deleted}");
    let min_phy = store.min_phy_offset();
    assert!(min_phy > 0);
    for q in 0..2 {
        let min = store.get_min_offset_in_queue("R", q);
        assert!(min > 0);
        let r = store.get_message("g", "R", q, 0, 32, None).unwrap();
        assert_eq!((r.status, r.next_begin_offset), (GetMessageStatus::OffsetTooSmall, min));
        let r = store.get_message("g", "R", q, min, 32, None).unwrap();
        assert_eq!(r.status, GetMessageStatus::Found);
        assert!(r.messages[0].phy_offset >= min_phy);
    }
    check_invariants(&store);
    assert!(store.query_message("R", "key0", 4, 0, i64::MAX).unwrap().messages.is_empty());
    assert_eq!(store.query_message("R", "key199", 4, 0, i64::MAX).unwrap().messages.len(), 1);
    // Restart keeps the moved minimums.
    store.shutdown().unwrap();
    let store = env.open(&cfg);
    assert_eq!(store.min_phy_offset(), min_phy);
    check_invariants(&store);
    store.shutdown().unwrap();
}

#[test]
fn disk_pressure_forces_cleanup_and_full_disk_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let mut cfg = small_config(dir.path(), FlushDiskType::AsyncFlush);
    cfg.delete_file_batch_max = 3;
    let store = env.open(&cfg);
    fill(&env, &store, 200);
    store.flush().unwrap();
    env.disk.set(50);
    assert_eq!(store.clean_expired_files(false).unwrap(), 0);
    // Above diskMaxUsedSpaceRatio (75): oldest segments go although not expired.
    env.disk.set(80);
    assert_eq!(store.clean_expired_files(false).unwrap(), 3);
    assert!(!store.is_disk_full());
    check_invariants(&store);
    // Above 90 %: writes are refused with a clear error until space comes back.
    env.disk.set(92);
    store.clean_expired_files(false).unwrap();
    assert!(store.is_disk_full());
    match store.put_message(msg("R", 0, "x", "t", "k")) {
        Err(StoreError::DiskFull { used_percent: 92, limit_percent: 90 }) => {}
        other => panic!("{other:?}"),
    }
    env.disk.set(40);
    store.clean_expired_files(false).unwrap();
    assert!(!store.is_disk_full());
    put(&store, msg("R", 0, "x", "t", "k"));
    store.shutdown().unwrap();
}
