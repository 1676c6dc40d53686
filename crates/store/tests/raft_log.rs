//! The CommitLog as a Raft log (`enableDLegerCommitLog`): entries with index and term,
//! visibility up to the committed entry, truncation of an uncommitted suffix, a follower
//! copying the leader's entries byte for byte, recovery after a crash.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use ferromq_store::{FlushDiskType, MessageStore, MessageStoreConfig, RaftEntry, StoreError};

fn raft_config(root: &Path, flush: FlushDiskType) -> MessageStoreConfig {
    let mut c = small_config(root, flush);
    c.enable_dleger_commit_log = true;
    c.raft_entries_per_file = 16;
    c
}

/// Appends entries `from..to` of `term` (one message each, queue `i % 2`).
fn append(store: &MessageStore, term: u64, from: u64, to: u64) -> Vec<RaftEntry> {
    (from..to)
        .map(|i| {
            let body = format!("entry {i} {}", "x".repeat((i as usize * 37) % 700));
            let (e, h) = store.append_entry(term, i, &[msg("Raft", (i % 2) as i32, &body, "T", "")]).unwrap();
            h.wait().unwrap();
            e
        })
        .collect()
}

/// Bodies visible to consumers, both queues, in entry order.
fn visible(store: &MessageStore) -> Vec<String> {
    let mut all: Vec<(u64, String)> = Vec::new();
    for q in 0..2 {
        for (_, body) in read_queue(store, "Raft", q) {
            let i: u64 = body.split(' ').nth(1).unwrap().parse().unwrap();
            all.push((i, body));
        }
    }
    all.sort();
    all.into_iter().map(|(_, b)| b).collect()
}

/// Whether an entry at `pos` comes right after one ending at `prev_end`: directly, or at
/// the next segment's start after a roll.
fn follows(pos: u64, prev_end: u64) -> bool {
    pos == prev_end || pos == prev_end.next_multiple_of(SMALL_SEGMENT)
}

fn wait_for(store: &MessageStore, offset: u64) {
    assert!(store.wait_dispatched(offset, Duration::from_secs(10)), "dispatch to {offset}");
}

#[test]
fn consumers_see_committed_entries_only_and_a_suffix_can_be_cut() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let store = env.open(&raft_config(dir.path(), FlushDiskType::SyncFlush));
    let entries = append(&store, 1, 1, 41);
    assert!(store.max_phy_offset() > SMALL_SEGMENT, "entries span segments");
    assert_eq!(store.last_entry().unwrap(), entries.last().copied());
    assert_eq!(store.first_entry_index().unwrap(), Some(1));
    for pair in entries.windows(2) {
        // Right after the previous one, or at the start of the next segment after a roll.
        assert!(follows(pair[1].pos, pair[0].end()), "{pair:?}");
    }
    // Nothing committed: nothing visible.
    std::thread::sleep(Duration::from_millis(50));
    assert!(visible(&store).is_empty());
    store.commit_entries_to(25).unwrap();
    wait_for(&store, entries[24].end());
    assert_eq!(visible(&store).len(), 25);
    // Plain writes are refused on a Raft log; so are entries out of order.
    assert!(matches!(store.put_message(msg("Raft", 0, "plain", "T", "")), Err(StoreError::InvalidEntry(_))));
    assert!(store.append_entry(1, 50, &[msg("Raft", 0, "gap", "T", "")]).is_err());
    // A committed entry cannot be cut; an uncommitted suffix can.
    assert!(store.truncate_entries_after(Some(20)).is_err());
    store.truncate_entries_after(Some(30)).unwrap();
    assert_eq!(store.last_entry().unwrap().map(|e| e.index), Some(30));
    assert_eq!(store.max_phy_offset(), entries[29].end());
    assert!(store.entry(31).unwrap().is_none());
    // The log goes on from there with a new term, and commits it.
    let more = append(&store, 2, 31, 36);
    assert!(follows(more[0].pos, entries[29].end()), "the log goes on right after the kept entry");
    assert_eq!(store.entry(31).unwrap(), Some(more[0]));
    store.commit_entries_to(35).unwrap();
    wait_for(&store, more[4].end());
    let seen = visible(&store);
    assert_eq!(seen.len(), 35);
    assert!(seen[30].starts_with("entry 31 "));
    assert_eq!(store.entry(33).unwrap().map(|e| e.term), Some(2));
    check_invariants(&store);
    store.shutdown().unwrap();
}

#[test]
fn a_follower_copying_entries_has_the_leaders_log() {
    let (ldir, fdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let env = Env::new();
    let leader = env.open(&raft_config(ldir.path(), FlushDiskType::AsyncFlush));
    let follower = env.open(&raft_config(fdir.path(), FlushDiskType::AsyncFlush));
    let entries = append(&leader, 3, 7, 67);
    for i in 7..67 {
        let (e, bytes) = leader.entry_bytes(i).unwrap().unwrap();
        follower.append_entry_raw(e, &bytes).unwrap();
    }
    // A repeated or mismatched entry is refused.
    let (e, bytes) = leader.entry_bytes(66).unwrap().unwrap();
    assert!(follower.append_entry_raw(e, &bytes).is_err());
    // Bytes that are not whole, valid records at the entry's own offsets are refused and
    // leave the log as it was (they would stop the dispatcher for good).
    let end = follower.max_phy_offset();
    let next = RaftEntry { index: 67, term: 3, pos: end, size: bytes.len() as u32 };
    assert!(follower.append_entry_raw(next, &bytes).is_err(), "records claiming other offsets");
    assert!(follower.append_entry_raw(RaftEntry { size: 64, ..next }, &[0xAB; 64]).is_err());
    assert!(follower.append_entry_raw(RaftEntry { size: 0, ..next }, &[]).is_err());
    assert_eq!(follower.max_phy_offset(), end);
    assert_eq!(follower.max_phy_offset(), leader.max_phy_offset());
    let mut offset = 0;
    while offset < leader.max_phy_offset() {
        let l = leader.get_commit_log_data(offset, 64 * 1024).unwrap().unwrap();
        let f = follower.get_commit_log_data(offset, 64 * 1024).unwrap().unwrap();
        assert_eq!(l, f, "CommitLogs differ at {offset}");
        offset += l.len() as u64;
    }
    assert_eq!(follower.last_entry().unwrap(), entries.last().copied());
    leader.commit_entries_to(66).unwrap();
    follower.commit_entries_to(66).unwrap();
    wait_dispatched(&leader);
    wait_dispatched(&follower);
    assert_eq!(visible(&leader), visible(&follower));
    assert_eq!(visible(&follower).len(), 60);
}

#[test]
fn recovery_keeps_entries_and_records_together() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let cfg = raft_config(dir.path(), FlushDiskType::SyncFlush);
    let store = env.open(&cfg);
    let entries = append(&store, 1, 1, 31);
    store.commit_entries_to(10).unwrap();
    wait_for(&store, entries[9].end());
    store.flush_entries().unwrap();
    store.simulate_crash();

    // The entry index lost its last five entries (written, not yet flushed, when the
    // power went): their records are cut from the CommitLog at start-up.
    let last_file = std::fs::read_dir(cfg.raft_log_dir()).unwrap().map(|e| e.unwrap().path()).max().unwrap();
    let mut bytes = std::fs::read(&last_file).unwrap();
    let file_start: u64 = last_file.file_name().unwrap().to_str().unwrap().parse().unwrap();
    let keep_upto = 25 * 32 - file_start as usize; // entries 25.. gone
    bytes[keep_upto..].fill(0);
    std::fs::write(&last_file, &bytes).unwrap();

    let store = env.open(&cfg);
    let report = store.recovery_report().clone();
    assert_eq!(report.raft_log.as_ref().and_then(|r| r.last).map(|e| e.index), Some(24));
    assert_eq!(report.raft_log_cut_bytes, entries[29].end() - entries[23].end());
    assert_eq!(store.max_phy_offset(), entries[23].end());
    // Only what was committed before is visible until the Raft layer commits again.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(visible(&store).len(), 10);
    store.commit_entries_to(24).unwrap();
    wait_for(&store, entries[23].end());
    assert_eq!(visible(&store).len(), 24);
    append(&store, 2, 25, 28);
    store.commit_entries_to(27).unwrap();
    wait_dispatched(&store);
    assert_eq!(visible(&store).len(), 27);
    check_invariants(&store);
}

#[test]
fn a_raft_log_starts_from_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let plain = small_config(dir.path(), FlushDiskType::AsyncFlush);
    let store = env.open(&plain);
    put(&store, msg("Plain", 0, "before", "T", ""));
    store.shutdown().unwrap();
    drop(store);
    let mut cfg = plain.clone();
    cfg.enable_dleger_commit_log = true;
    let err = MessageStore::open_with(cfg, env.options()).err().expect("refused");
    assert!(err.to_string().contains("enableDLegerCommitLog"), "{err}");
    // And a plain store refuses the Raft calls.
    let store = env.open(&plain);
    assert!(matches!(store.last_entry(), Err(StoreError::InvalidEntry(_))));
}

#[test]
fn an_entry_index_that_lost_committed_entries_is_refused_not_cut_to() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let cfg = raft_config(dir.path(), FlushDiskType::SyncFlush);
    let store = env.open(&cfg);
    let entries = append(&store, 1, 1, 31);
    store.commit_entries_to(20).unwrap();
    wait_for(&store, entries[19].end());
    store.shutdown().unwrap();
    drop(store);
    let cl_bytes = |dir: &Path| -> Vec<Vec<u8>> {
        let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        files.iter().filter(|p| p.is_file()).map(|p| std::fs::read(p).unwrap()).collect()
    };
    let before = cl_bytes(&cfg.commit_log_dir());

    // The entry index's files are gone (deleted by hand, a disk that dropped them), while
    // the checkpoint says entries up to 20 were committed and dispatched.
    let backup = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(cfg.raft_log_dir()).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, backup.path().join(f.file_name().unwrap())).unwrap();
        std::fs::remove_file(&f).unwrap();
    }
    let err = MessageStore::open_with(cfg.clone(), env.options()).err().expect("refused");
    assert!(err.to_string().contains("lost durable entries"), "{err}");
    assert_eq!(cl_bytes(&cfg.commit_log_dir()), before, "the CommitLog is left as it was");

    // Restored from the backup, the log opens whole.
    for f in std::fs::read_dir(backup.path()).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, cfg.raft_log_dir().join(f.file_name().unwrap())).unwrap();
    }
    let store = env.open(&cfg);
    assert_eq!(store.recovery_report().raft_log_cut_bytes, 0);
    assert_eq!(store.last_entry().unwrap(), entries.last().copied());
    store.commit_entries_to(30).unwrap();
    wait_dispatched(&store);
    assert_eq!(visible(&store).len(), 30);
}
