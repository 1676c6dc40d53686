//! Restart scenarios: clean stop, crash, torn tail, garbage tail, bad CRC in the middle,
//! missing ConsumeQueue files, missing checkpoint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;

use common::*;
use ferromq_store::{FlushDiskType, MessageStoreConfig};

/// ASYNC_FLUSH that never flushes on its own: everything after open stays beyond the
/// checkpoint's flushed offset, so a crash leaves it to be scanned.
fn lazy_config(root: &Path) -> MessageStoreConfig {
    let mut c = small_config(root, FlushDiskType::AsyncFlush);
    c.flush_interval_commit_log_ms = 3_600_000;
    c.flush_commit_log_thorough_interval_ms = 3_600_000;
    c
}

fn fill(env: &Env, store: &ferromq_store::MessageStore, n: usize) -> Vec<ferromq_store::AppendResult> {
    let out = (0..n)
        .map(|i| {
            env.clock.advance(1);
            put(
                store,
                msg(
                    if i % 2 == 0 { "A" } else { "B" },
                    (i % 3) as i32,
                    &format!("body-{i}-{}", "z".repeat(i * 31 % 400)),
                    "t",
                    &format!("key{i}"),
                ),
            )
        })
        .collect::<Vec<_>>();
    wait_dispatched(store);
    out
}

fn segment_path(root: &Path, phy: u64, seg: u64) -> (std::path::PathBuf, u64) {
    let start = phy - phy % seg;
    (root.join("commitlog").join(format!("{start:020}")), phy - start)
}

fn write_at(root: &Path, phy: u64, seg: u64, data: &[u8]) {
    let (p, pos) = segment_path(root, phy, seg);
    OpenOptions::new().write(true).open(p).unwrap().write_all_at(data, pos).unwrap();
}

#[test]
fn clean_restart_keeps_everything_and_scans_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let cfg = small_config(dir.path(), FlushDiskType::AsyncFlush);
    let store = env.open(&cfg);
    fill(&env, &store, 300);
    let before: Vec<_> = (0..3).map(|q| read_queue(&store, "A", q)).collect();
    let end = store.max_phy_offset();
    store.shutdown().unwrap();
    assert!(!dir.path().join("abort").exists());
    let store = env.open(&cfg);
    let rep = store.recovery_report().clone();
    assert!(!rep.abnormal && rep.checkpoint_found && !rep.full_rebuild);
    assert_eq!((rep.commit_log.scanned_from, rep.commit_log.end, rep.dispatched_from), (end, end, end));
    let after: Vec<_> = (0..3).map(|q| read_queue(&store, "A", q)).collect();
    assert_eq!(before, after);
    // Appends continue the queues.
    let r = put(&store, msg("A", 0, "next", "t", "k"));
    assert_eq!(r.logics_offset, before[0].len() as i64);
    assert_eq!(r.wrote_offset, end);
    check_invariants(&store);
    store.shutdown().unwrap();
}

#[test]
fn crash_recovers_page_cache_contents() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let cfg = lazy_config(dir.path());
    let store = env.open(&cfg);
    let results = fill(&env, &store, 250);
    let before: Vec<_> = (0..3).map(|q| read_queue(&store, "B", q)).collect();
    store.simulate_crash();
    let store = env.open(&cfg);
    let rep = store.recovery_report().clone();
    assert!(rep.abnormal);
    assert_eq!(rep.commit_log.messages_scanned, 250);
    assert_eq!(store.max_phy_offset(), results.last().unwrap().end_offset());
    let after: Vec<_> = (0..3).map(|q| read_queue(&store, "B", q)).collect();
    assert_eq!(before, after);
    assert_eq!(store.query_message("A", "key100", 4, 0, i64::MAX).unwrap().messages.len(), 1);
    check_invariants(&store);
    store.shutdown().unwrap();
}

#[test]
fn torn_tail_is_truncated_and_queues_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let cfg = lazy_config(dir.path());
    let store = env.open(&cfg);
    let results = fill(&env, &store, 100);
    store.simulate_crash();
    // Tear the last record: its second half never reached the disk.
    let last = results.last().unwrap();
    let half = last.wrote_offset + last.wrote_bytes / 2;
    write_at(
        dir.path(),
        half,
        cfg.mapped_file_size_commit_log,
        &vec![0u8; (last.end_offset() - half) as usize],
    );
    let store = env.open(&cfg);
    assert_eq!(store.max_phy_offset(), last.wrote_offset);
    // Message 99 went to B/0 at queue offset 16 (B gets odd i; queue i % 3).
    assert_eq!(store.get_max_offset_in_queue("B", 0), 16);
    assert!(store.look_message_by_offset(last.wrote_offset).unwrap().is_none());
    let r = put(&store, msg("B", 0, "replacement", "t", "k"));
    assert_eq!((r.wrote_offset, r.logics_offset), (last.wrote_offset, 16));
    check_invariants(&store);
    store.shutdown().unwrap();
}

#[test]
fn garbage_tail_is_cut_and_never_resurfaces() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let cfg = lazy_config(dir.path());
    let store = env.open(&cfg);
    let results = fill(&env, &store, 60);
    store.simulate_crash();
    let end = results.last().unwrap().end_offset();
    let garbage: Vec<u8> = (0..3000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let room = cfg.mapped_file_size_commit_log - end % cfg.mapped_file_size_commit_log;
    write_at(dir.path(), end, cfg.mapped_file_size_commit_log, &garbage[..garbage.len().min(room as usize)]);
    let store = env.open(&cfg);
    assert_eq!(store.max_phy_offset(), end);
    let r = put(&store, msg("A", 0, "after-garbage", "t", "k"));
    assert_eq!(r.wrote_offset, end);
    store.simulate_crash();
    let store = env.open(&cfg);
    assert_eq!(store.max_phy_offset(), r.end_offset());
    check_invariants(&store);
    store.shutdown().unwrap();
}

#[test]
fn bad_crc_in_the_middle_is_reported_and_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let cfg = lazy_config(dir.path());
    let store = env.open(&cfg);
    let results = fill(&env, &store, 90);
    store.simulate_crash();
    // Flip the last body byte of message 30 (A, queue 0, queue offset 5).
    let victim = &results[30];
    let body_len = format!("body-30-{}", "z".repeat(30 * 31 % 400)).len() as u64;
    let props = "TAGS\u{1}t\u{2}KEYS\u{1}key30\u{2}UNIQ_KEY\u{1}U-body-30-".len() as u64
        + "z".repeat(30 * 31 % 400).len() as u64;
    let body_last = victim.end_offset() - props - 2 - 1 - 1 - 1; // props, propsLen, topic "A", topicLen
    let _ = body_len;
    write_at(dir.path(), body_last, cfg.mapped_file_size_commit_log, b"\xEE");
    let store = env.open(&cfg);
    let rep = store.recovery_report().clone();
    assert_eq!(rep.commit_log.corrupt_records, vec![victim.wrote_offset]);
    assert_eq!(store.max_phy_offset(), results.last().unwrap().end_offset(), "the log after it is kept");
    let r = store.get_message("g", "A", 0, 0, 32, None).unwrap();
    assert_eq!(r.corrupt_skipped, 1);
    let offsets: Vec<i64> = r.messages.iter().map(|m| m.queue_offset).collect();
    assert!(!offsets.contains(&victim.logics_offset));
    assert!(offsets.contains(&(victim.logics_offset + 1)));
    assert!(store.look_message_by_offset(victim.wrote_offset).is_err());
    store.shutdown().unwrap();
}

#[test]
fn missing_consume_queues_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let cfg = small_config(dir.path(), FlushDiskType::AsyncFlush);
    let store = env.open(&cfg);
    fill(&env, &store, 200);
    let before: Vec<_> =
        (0..3).flat_map(|q| [read_queue(&store, "A", q), read_queue(&store, "B", q)]).collect();
    store.shutdown().unwrap();

    // One topic's directory.
    std::fs::remove_dir_all(dir.path().join("consumequeue").join("B")).unwrap();
    let store = env.open(&cfg);
    assert!(store.recovery_report().full_rebuild);
    let after: Vec<_> =
        (0..3).flat_map(|q| [read_queue(&store, "A", q), read_queue(&store, "B", q)]).collect();
    assert_eq!(before, after);
    store.shutdown().unwrap();

    // Everything derived, and the checkpoint.
    std::fs::remove_dir_all(dir.path().join("consumequeue")).unwrap();
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    std::fs::remove_file(dir.path().join("checkpoint")).unwrap();
    let store = env.open(&cfg);
    let after: Vec<_> =
        (0..3).flat_map(|q| [read_queue(&store, "A", q), read_queue(&store, "B", q)]).collect();
    assert_eq!(before, after);
    assert_eq!(store.query_message("B", "key101", 4, 0, i64::MAX).unwrap().messages.len(), 1);
    let r = put(&store, msg("A", 0, "more", "t", "k"));
    assert_eq!(r.logics_offset, before[0].len() as i64);
    check_invariants(&store);
    store.shutdown().unwrap();
}

#[test]
fn crash_recovery_rebuilds_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let cfg = small_config(dir.path(), FlushDiskType::SyncFlush);
    let store = env.open(&cfg);
    fill(&env, &store, 300); // 600 keys: several index files of 199 entries
    store.simulate_crash();
    let store = env.open(&cfg);
    for i in [0usize, 150, 299] {
        let topic = if i % 2 == 0 { "A" } else { "B" };
        let q = store.query_message(topic, &format!("key{i}"), 4, 0, i64::MAX).unwrap();
        assert_eq!(q.messages.len(), 1, "key{i}");
        let q = store
            .query_message(topic, &format!("U-body-{i}-{}", "z".repeat(i * 31 % 400)), 4, 0, i64::MAX)
            .unwrap();
        assert_eq!(q.messages.len(), 1, "uniq {i}");
    }
    store.shutdown().unwrap();
}
