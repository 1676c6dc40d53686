//! Retention by age at `deleteWhen`, forced cleanup under disk pressure, and the hard
//! disk-full refusal, with a hand-driven clock and disk probe.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ferromq_protocol::message::stored::{
    record_len, MessageVersion, MAGIC_CODE_POSITION, MESSAGE_MAGIC_CODE,
};
use ferromq_store::{Clock, FlushDiskType, GetMessageStatus, PutMessage, StoreError};

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

/// Segments retention retires are recycled: one becomes the spare, the next segment is
/// made from it, and the old records left in it are never served — not before a crash,
/// not after one (recovery ends where the new data ends).
#[test]
fn retired_segments_are_recycled_and_their_old_records_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let mut cfg = small_config(dir.path(), FlushDiskType::SyncFlush);
    cfg.delete_file_batch_max = 100;
    cfg.file_reserved_time_hours = 1;
    let spare = dir.path().join("commitlog").join("spare");
    let mut store = env.open(&cfg);
    let mut written: Vec<(ferromq_store::AppendResult, String)> = Vec::new();
    let mut n = 0usize;
    let mut recycled_rolls = 0;
    // Records of 1 KiB throughout: the stale records of a recycled segment sit exactly
    // where new ones would, on block boundaries (where a commit adds no zeros), so only
    // their offsets give them away.
    let put_next = |store: &ferromq_store::MessageStore, round: usize, n: &mut usize| {
        let key = format!("k{:06}", *n);
        let props = [("TAGS", "t"), ("KEYS", key.as_str())];
        let head = PutMessage::new("Y", 0, Vec::new()).with_properties(props);
        let fixed = record_len(MessageVersion::V1, 0, 0, head.topic.len(), head.properties.len());
        let tag = format!("r{round}-{:06}-", *n);
        let body = format!("{tag}{}", "q".repeat(1024 - fixed - tag.len()));
        let m = PutMessage::new("Y", (*n % 2) as i32, body.clone().into_bytes()).with_properties(props);
        let a = put(store, m);
        assert_eq!(a.wrote_bytes, 1024);
        *n += 1;
        (a, body)
    };
    for round in 0..6 {
        // Fill a few segments, then let everything but the newest expire.
        for _ in 0..60 {
            written.push(put_next(&store, round, &mut n));
            env.clock.advance(1000);
        }
        wait_dispatched(&store);
        if round > 0 && !spare.exists() {
            // The spare kept by the last cleanup became one of the segments just filled.
            recycled_rolls += 1;
        }
        env.clock.advance(2 * HOUR);
        env.clock.set(next_hour(env.clock.now_ms(), 4));
        assert!(store.clean_expired_files(false).unwrap() > 0);
        assert!(spare.exists(), "a retired segment is kept as the spare");
        // Every message still in the log reads back as written, and nothing else.
        let min = store.min_phy_offset();
        for (a, body) in written.iter().filter(|(a, _)| a.wrote_offset >= min) {
            let data = store.look_message_by_offset(a.wrote_offset).unwrap().unwrap();
            assert_eq!(data.len() as u64, a.wrote_bytes);
            assert!(data.windows(body.len()).any(|w| w == body.as_bytes()));
        }
        check_invariants(&store);
        if round % 2 == 1 {
            // A crash in a recycled segment right before one of its old records: recovery
            // must stop at the last record written, not run on into the old ones.
            let mut tries = 0;
            while !stale_record_at(dir.path(), store.max_phy_offset()) {
                written.push(put_next(&store, round, &mut n));
                tries += 1;
                assert!(tries < 200, "no recycled segment reached");
            }
            let end = store.max_phy_offset();
            assert!(store.look_message_by_offset(end).unwrap().is_none(), "nothing readable past the end");
            store.simulate_crash();
            store = env.open(&cfg);
            assert_eq!(store.max_phy_offset(), end);
            check_invariants(&store);
        }
    }
    assert_eq!(recycled_rolls, 5, "segments were made from the spare");
    // Message n went to queue n % 2: each queue holds exactly its messages, in order.
    for q in 0..2usize {
        let ours: Vec<i64> = written.iter().skip(q).step_by(2).map(|(a, _)| a.logics_offset).collect();
        assert_eq!(ours, (0..ours.len() as i64).collect::<Vec<_>>());
        assert_eq!(store.get_max_offset_in_queue("Y", q as i32), ours.len() as i64);
    }
    // Disk pressure: the spare goes first.
    env.disk.set(80);
    store.clean_expired_files(false).unwrap();
    assert!(!spare.exists());
    store.shutdown().unwrap();
}

/// Whether the CommitLog bytes at `offset` (`small_config`'s segments) start an old
/// record: a record header with RocketMQ's message magic code.
fn stale_record_at(root: &std::path::Path, offset: u64) -> bool {
    use std::os::unix::fs::FileExt;
    let seg = offset - offset % SMALL_SEGMENT;
    let Ok(f) = std::fs::File::open(root.join("commitlog").join(format!("{seg:020}"))) else {
        return false;
    };
    let mut head = [0u8; 8];
    f.read_exact_at(&mut head, offset - seg).is_ok()
        && head[MAGIC_CODE_POSITION..MAGIC_CODE_POSITION + 4] == MESSAGE_MAGIC_CODE.to_be_bytes()
}
