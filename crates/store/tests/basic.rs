//! Put, get, queries, listener, replication hooks on a running store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use ferromq_protocol::message::stored::{decode_stored_ref, peek_record, RecordKind};
use ferromq_store::{
    BrokerRole, FlushDiskType, GetMessageStatus, MessageFilter, MessageStore, PutMessageStatus, StoreError,
};

struct TagFilter(i64);
impl MessageFilter for TagFilter {
    fn is_matched_by_consume_queue(&self, tags_code: i64) -> bool {
        tags_code == self.0
    }
}

fn java_hash(s: &str) -> i64 {
    ferromq_protocol::message::stored::tags_code(s)
}

#[test]
fn put_get_across_segments_and_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let cfg = small_config(dir.path(), FlushDiskType::AsyncFlush);
    let store = env.open(&cfg);
    let mut expect: Vec<Vec<String>> = vec![Vec::new(); 4];
    for i in 0..400 {
        let q = i % 4;
        let topic = if q < 2 { "TopicA" } else { "TopicB" };
        let body = format!("m{i:04}-{}", "x".repeat(i * 7 % 900));
        let tag = if i % 3 == 0 { "TagA" } else { "TagB" };
        let r = put(&store, msg(topic, q as i32 % 2, &body, tag, &format!("key{i} common")));
        assert_eq!(r.logics_offset as usize, expect[q].len());
        expect[q].push(body);
        env.clock.advance(10);
    }
    wait_dispatched(&store);
    assert!(store.max_phy_offset() > 10 * 16 * 1024, "rolled many segments");
    for (q, want) in expect.iter().enumerate() {
        let topic = if q < 2 { "TopicA" } else { "TopicB" };
        let got: Vec<String> = read_queue(&store, topic, q as i32 % 2).into_iter().map(|(_, b)| b).collect();
        assert_eq!(&got, want);
    }
    check_invariants(&store);

    // Statuses.
    let max = store.get_max_offset_in_queue("TopicA", 0);
    assert_eq!(max, 100);
    let r = store.get_message("g", "TopicA", 0, max, 32, None).unwrap();
    assert_eq!((r.status, r.next_begin_offset), (GetMessageStatus::OffsetOverflowOne, max));
    let r = store.get_message("g", "TopicA", 0, max + 5, 32, None).unwrap();
    assert_eq!((r.status, r.next_begin_offset), (GetMessageStatus::OffsetOverflowBadly, 0));
    let r = store.get_message("g", "Nope", 0, 0, 32, None).unwrap();
    assert_eq!(r.status, GetMessageStatus::NoMatchedLogicQueue);
    let r = store.get_message("g", "TopicA", 0, 0, 5, None).unwrap();
    assert_eq!((r.status, r.messages.len(), r.next_begin_offset), (GetMessageStatus::Found, 5, 5));
    assert_eq!((r.min_offset, r.max_offset), (0, 100));
    // Tag filter: TopicA q0 holds i = 0, 4, 8, ...; TagA when i % 3 == 0.
    let f = TagFilter(java_hash("TagA"));
    let r = store.get_message("g", "TopicA", 0, 0, 32, Some(&f)).unwrap();
    assert!(r.messages.iter().all(|m| m.tags_code == java_hash("TagA")));
    assert_eq!(body_of(&r.messages[1].data), expect[0][3]);
    let none = TagFilter(12345);
    let r = store.get_message("g", "TopicA", 0, 0, 32, Some(&none)).unwrap();
    assert_eq!(r.status, GetMessageStatus::NoMatchedMessage);
    assert_eq!(r.next_begin_offset, 100);

    // The first segment ends with a blank record right after its last message.
    let seg0 = std::fs::read(dir.path().join("commitlog").join(format!("{:020}", 0))).unwrap();
    let mut pos = 0;
    loop {
        match peek_record(&seg0[pos..]).unwrap() {
            RecordKind::Message { total_size, .. } => pos += total_size,
            RecordKind::Blank { total_size } => {
                assert_eq!(pos + total_size, seg0.len());
                break;
            }
        }
    }
    store.shutdown().unwrap();
}

#[test]
fn lookups_queries_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let cfg = small_config(dir.path(), FlushDiskType::AsyncFlush);
    let store = env.open(&cfg);
    let mut phys = Vec::new();
    for i in 0..300 {
        let r = put(&store, msg("T", 0, &format!("b{i}"), "t", &format!("k{} shared", i % 10)));
        phys.push(r.wrote_offset);
        env.clock.advance(1000);
    }
    wait_dispatched(&store);
    let rec = store.look_message_by_offset(phys[42]).unwrap().unwrap();
    assert_eq!(body_of(&rec), "b42");
    assert!(store.look_message_by_offset(store.max_phy_offset() + 10).unwrap().is_none());
    // By key, newest first, capped.
    let q = store.query_message("T", "k3", 10, 0, i64::MAX).unwrap();
    let bodies: Vec<String> = q.messages.iter().map(|m| body_of(&m.data)).collect();
    assert_eq!(bodies, (0..10).map(|j| format!("b{}", 293 - j * 10)).collect::<Vec<_>>());
    // By unique key.
    let q = store.query_message("T", "U-b7", 10, 0, i64::MAX).unwrap();
    assert_eq!(q.messages.len(), 1);
    assert_eq!(body_of(&q.messages[0].data), "b7");
    // Time range: message i was stored at T0 + i s.
    let q = store.query_message("T", "shared", 64, T0 + 100_000, T0 + 104_000).unwrap();
    let mut bodies: Vec<String> = q.messages.iter().map(|m| body_of(&m.data)).collect();
    bodies.sort();
    assert_eq!(bodies, ["b100", "b101", "b102", "b103", "b104"]);
    assert!(store.query_message("Other", "k3", 10, 0, i64::MAX).unwrap().messages.is_empty());
    // Offset by time.
    assert_eq!(store.get_offset_in_queue_by_time("T", 0, T0 + 150_000).unwrap(), 150);
    assert_eq!(store.get_offset_in_queue_by_time("T", 0, T0 + 150_500).unwrap(), 151);
    assert_eq!(store.get_offset_in_queue_by_time("T", 0, 0).unwrap(), 0);
    assert_eq!(store.get_offset_in_queue_by_time("T", 0, i64::MAX).unwrap(), 300);
    assert_eq!(store.get_earliest_message_time().unwrap(), Some(T0));
    assert_eq!(store.get_message_store_timestamp("T", 0, 5).unwrap(), Some(T0 + 5000));
    store.shutdown().unwrap();
}

#[test]
fn listener_hears_every_arrival() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let store = env.open(&small_config(dir.path(), FlushDiskType::AsyncFlush));
    let heard = Arc::new(Mutex::new(Vec::new()));
    let h = heard.clone();
    store.set_message_arriving_listener(Arc::new(
        move |topic: &str, qid: i32, max: i64, _tags: i64, _ts: i64| {
            h.lock().unwrap().push((topic.to_string(), qid, max));
        },
    ));
    for i in 0..20 {
        put(&store, msg("L", i % 2, &format!("{i}"), "t", "k"));
    }
    wait_dispatched(&store);
    let heard = heard.lock().unwrap().clone();
    assert_eq!(heard.len(), 20);
    assert_eq!(heard.last().unwrap().2, 10);
    store.shutdown().unwrap();
}

#[test]
fn sync_flush_concurrent_writers_are_durable_when_acked() {
    for warm in [false, true] {
        sync_flush_concurrent_writers(warm);
    }
}

/// 16 writers through many small segments; with `warm`, the preparing thread pre-writes
/// every next segment while rolls take them: no message may meet a zero.
fn sync_flush_concurrent_writers(warm: bool) {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let mut cfg = small_config(dir.path(), FlushDiskType::SyncFlush);
    cfg.warm_maped_file_enable = Some(warm);
    let store = Arc::new(env.open(&cfg));
    let mut threads = Vec::new();
    for t in 0..16 {
        let s = store.clone();
        threads.push(std::thread::spawn(move || {
            for i in 0..50 {
                let h = s.put_message(msg("S", t % 4, &format!("{t}-{i}"), "t", "k")).unwrap();
                let end = h.append_result().end_offset();
                let r = h.wait().unwrap();
                assert_eq!(r.status, PutMessageStatus::PutOk);
                assert!(s.flushed_phy_offset() >= end);
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    wait_dispatched(&store);
    let total: usize = (0..4).map(|q| read_queue(&store, "S", q).len()).sum();
    assert_eq!(total, 800, "warm {warm}");
    assert!(store.max_phy_offset() > 4 * 16 * 1024, "rolled several segments");
    check_invariants(&store);
    store.shutdown().unwrap();
    drop(store);
    // And after a restart.
    let store = env.open(&cfg);
    let total: usize = (0..4).map(|q| read_queue(&store, "S", q).len()).sum();
    assert_eq!(total, 800, "warm {warm}, reopened");
    check_invariants(&store);
}

#[test]
fn rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let store = env.open(&small_config(dir.path(), FlushDiskType::AsyncFlush));
    assert!(matches!(store.put_message(msg("../etc", 0, "x", "t", "k")), Err(StoreError::InvalidTopic(_))));
    let big = ferromq_store::PutMessage::new("T", 0, vec![0u8; 9000]);
    assert!(matches!(store.put_message(big), Err(StoreError::MessageTooLarge { .. })));
    assert!(matches!(store.put_message(msg("T", -1, "x", "t", "k")), Err(StoreError::InvalidMessage(_))));
    // A second open of the same directory is refused.
    let cfg = small_config(dir.path(), FlushDiskType::AsyncFlush);
    assert!(matches!(MessageStore::open_with(cfg, env.options()), Err(StoreError::Locked(_))));
    store.shutdown().unwrap();
    assert!(matches!(store.put_message(msg("T", 0, "x", "t", "k")), Err(StoreError::Shutdown)));
}

#[test]
fn replication_hooks_copy_a_master_to_a_slave() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let master = env.open(&small_config(&dir.path().join("m"), FlushDiskType::AsyncFlush));
    let mut scfg = small_config(&dir.path().join("s"), FlushDiskType::SyncFlush);
    scfg.broker_role = BrokerRole::Slave;
    let slave = env.open(&scfg);
    assert!(matches!(slave.put_message(msg("T", 0, "x", "t", "k")), Err(StoreError::NotWritable(_))));
    for i in 0..200 {
        put(
            &master,
            msg("R", i % 3, &format!("r{i}-{}", "y".repeat(i as usize * 13 % 700)), "t", &format!("k{i}")),
        );
    }
    // Ship in odd-sized pieces that cut records in half.
    let mut off = slave.max_phy_offset();
    while let Some(data) = master.get_commit_log_data(off, 3001).unwrap() {
        off = slave.append_to_commit_log(off, &data).unwrap();
    }
    assert_eq!(slave.max_phy_offset(), master.max_phy_offset());
    // Both sides: the master's dispatcher may lag its appends too.
    wait_dispatched(&master);
    wait_dispatched(&slave);
    for q in 0..3 {
        assert_eq!(read_queue(&slave, "R", q), read_queue(&master, "R", q));
    }
    assert_eq!(slave.query_message("R", "k17", 4, 0, i64::MAX).unwrap().messages.len(), 1);
    assert!(matches!(
        slave.append_to_commit_log(off + 1, b"x"),
        Err(StoreError::AppendOffsetMismatch { .. })
    ));
    // Truncate the slave back to message 100's offset: queues shrink to match.
    let cut = master.get_commit_log_offset_in_queue("R", 1, 33).unwrap().unwrap();
    slave.truncate_files(cut).unwrap();
    assert_eq!(slave.max_phy_offset(), cut);
    assert_eq!(slave.get_max_offset_in_queue("R", 1), 33);
    check_invariants(&slave);
    // ...and catches up again.
    let mut off = cut;
    while let Some(data) = master.get_commit_log_data(off, 5000).unwrap() {
        off = slave.append_to_commit_log(off, &data).unwrap();
    }
    wait_dispatched(&slave);
    assert_eq!(read_queue(&slave, "R", 1), read_queue(&master, "R", 1));
    master.shutdown().unwrap();
    slave.shutdown().unwrap();
}

#[test]
fn confirm_offset_limits_visibility() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let store = env.open(&small_config(dir.path(), FlushDiskType::AsyncFlush));
    let first = put(&store, msg("C", 0, "one", "t", "k"));
    store.set_confirm_offset(first.end_offset());
    put(&store, msg("C", 0, "two", "t", "k"));
    assert!(store.wait_dispatched(first.end_offset(), Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(store.get_max_offset_in_queue("C", 0), 1);
    store.set_confirm_offset(u64::MAX);
    wait_dispatched(&store);
    assert_eq!(store.get_max_offset_in_queue("C", 0), 2);
    store.shutdown().unwrap();
}

#[test]
fn write_buffer_mode_serves_reads_before_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let mut cfg = small_config(dir.path(), FlushDiskType::AsyncFlush);
    cfg.transient_store_pool_enable = true;
    let store = env.open(&cfg);
    let mut results = Vec::new();
    for i in 0..300 {
        let h = store.put_message(msg("W", i % 2, &format!("w{i}"), "t", &format!("k{i}"))).unwrap();
        assert!(h.is_ready());
        let r = h.append_result().clone();
        // Readable at once, whether or not the dispatcher has written it out yet.
        assert!(store.look_message_by_offset(r.wrote_offset).unwrap().is_some());
        results.push(r);
    }
    assert_eq!(store.max_phy_offset(), results.last().unwrap().end_offset());
    wait_dispatched(&store);
    assert_eq!(read_queue(&store, "W", 0).len() + read_queue(&store, "W", 1).len(), 300);
    check_invariants(&store);
    store.shutdown().unwrap();
    let store = env.open(&cfg);
    assert_eq!(store.max_phy_offset(), results.last().unwrap().end_offset());
    check_invariants(&store);
    store.shutdown().unwrap();
}

#[test]
fn sync_flush_many_concurrent_writers_all_acknowledged_after_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let mut cfg = small_config(dir.path(), FlushDiskType::SyncFlush);
    cfg.mapped_file_size_commit_log = 1 << 20;
    let store = Arc::new(env.open(&cfg));
    let threads: Vec<_> = (0..48)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut ends = Vec::new();
                for i in 0..20 {
                    let h = store.put_message(msg("S", t % 4, &format!("s{t}-{i}"), "t", "k")).unwrap();
                    assert!(!h.is_ready());
                    let r = h.wait().unwrap();
                    assert_eq!(r.status, PutMessageStatus::PutOk);
                    assert!(store.flushed_phy_offset() >= r.append.end_offset());
                    ends.push(r.append.end_offset());
                }
                ends
            })
        })
        .collect();
    let n: usize = threads.into_iter().map(|t| t.join().unwrap().len()).sum();
    assert_eq!(n, 48 * 20);
    wait_dispatched(&store);
    let got: usize = (0..4).map(|q| read_queue(&store, "S", q).len()).sum();
    assert_eq!(got, n);
    check_invariants(&store);
    store.shutdown().unwrap();
}

/// Pulls read ConsumeQueue entries in growing chunks and several interleaved records per
/// `pread`: a sparse filter must still find its matches past the first chunk, with the
/// right next offset, and every pull of interleaved queues must return exactly the queue's
/// own records (across segment ends, 16 KiB here).
#[test]
fn pulls_of_interleaved_queues_and_sparse_filters() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let cfg = small_config(dir.path(), FlushDiskType::AsyncFlush);
    let store = env.open(&cfg);
    let mut expect: Vec<Vec<(String, &str)>> = vec![Vec::new(); 8];
    for i in 0..2400usize {
        let q = i % 8;
        let body = format!("m{i:05}-{}", "y".repeat(i * 13 % 300));
        let tag = if (i / 8) % 47 == 5 { "Rare" } else { "Common" };
        put(&store, msg("Mixed", q as i32, &body, tag, ""));
        expect[q].push((body, tag));
    }
    wait_dispatched(&store);
    for (q, want) in expect.iter().enumerate() {
        // Every served record is the one of its queue offset.
        let check = |m: &ferromq_store::SelectedMessage| {
            let (rec, _) = decode_stored_ref(&m.data, true).unwrap();
            assert_eq!((rec.topic, rec.queue_id, rec.queue_offset), ("Mixed", q as i32, m.queue_offset));
            assert_eq!(rec.body, want[m.queue_offset as usize].0.as_bytes());
        };
        // Unfiltered: batches of 32 in order.
        let mut off = 0i64;
        let mut got = Vec::new();
        while off < want.len() as i64 {
            let r = store.get_message("g", "Mixed", q as i32, off, 32, None).unwrap();
            assert_eq!(r.status, GetMessageStatus::Found);
            assert!(r.messages.len() <= 32);
            for m in &r.messages {
                check(m);
                got.push(m.queue_offset);
            }
            off = r.next_begin_offset;
        }
        assert_eq!(got, (0..want.len() as i64).collect::<Vec<_>>());
        // Sparse filter: one match in 47, found beyond the first chunk of entries.
        let filter = TagFilter(java_hash("Rare"));
        let rare: Vec<i64> =
            want.iter().enumerate().filter(|(_, (_, t))| *t == "Rare").map(|(i, _)| i as i64).collect();
        let mut off = 0i64;
        let mut found = Vec::new();
        while off < want.len() as i64 {
            let r = store.get_message("g", "Mixed", q as i32, off, 4, Some(&filter)).unwrap();
            for m in &r.messages {
                check(m);
                found.push(m.queue_offset);
            }
            assert!(r.next_begin_offset > off);
            off = r.next_begin_offset;
        }
        assert_eq!(found, rare);
    }
}

#[test]
fn messages_appended_after_a_truncation_are_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let config = small_config(dir.path(), FlushDiskType::AsyncFlush);
    let store = env.open(&config);
    let mut ends = Vec::new();
    for i in 0..10 {
        ends.push(put(&store, msg("X", 0, &format!("old{i}"), "t", &format!("old{i}"))).end_offset());
    }
    wait_dispatched(&store);
    // A follower cut back to its leader's log (HA or Raft truncation) then gets other
    // messages at the same offsets: they must be found by key, and the cut ones not.
    store.truncate_files(ends[4]).unwrap();
    for i in 0..5 {
        put(&store, msg("X", 0, &format!("new{i}"), "t", &format!("new{i}")));
    }
    wait_dispatched(&store);
    for i in 0..5 {
        let found = store.query_message("X", &format!("new{i}"), 4, 0, i64::MAX).unwrap();
        assert_eq!(found.messages.len(), 1, "new{i}");
        assert!(store
            .query_message("X", &format!("old{}", i + 5), 4, 0, i64::MAX)
            .unwrap()
            .messages
            .is_empty());
    }
    assert_eq!(store.query_message("X", "old4", 4, 0, i64::MAX).unwrap().messages.len(), 1);
    check_invariants(&store);
    // Cut again and restart before appending: the index files still end after the cut.
    store.truncate_files(ends[1]).unwrap();
    store.shutdown().unwrap();
    let store = env.open(&config);
    put(&store, msg("X", 0, "late", "t", "late"));
    wait_dispatched(&store);
    assert_eq!(store.query_message("X", "late", 4, 0, i64::MAX).unwrap().messages.len(), 1);
    assert_eq!(store.query_message("X", "old1", 4, 0, i64::MAX).unwrap().messages.len(), 1);
    assert!(store.query_message("X", "new0", 4, 0, i64::MAX).unwrap().messages.is_empty());
    check_invariants(&store);
    store.shutdown().unwrap();
}

#[test]
fn flush_stats_count_each_fsync_and_the_writers_it_released() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new();
    let store = env.open(&small_config(dir.path(), FlushDiskType::SyncFlush));
    let before = store.flush_stats();
    let mut end = 0;
    for i in 0..5 {
        end = put(&store, msg("F", 0, &format!("m{i}"), "t", "k")).end_offset();
    }
    let s = store.flush_stats();
    // Each put waited for its own fsync (one writer): at least five more fsyncs, covering
    // every byte appended, and each releasing its writer (the last release may be counted
    // just after that writer woke).
    assert!(s.fsyncs >= before.fsyncs + 5, "{s:?}");
    assert!(s.waiters_released >= before.waiters_released + 4, "{s:?}");
    assert!(s.flushed_bytes >= end, "{s:?}");
    assert_eq!(s.fsync_buckets.len(), ferromq_store::FSYNC_BUCKETS_SECONDS.len() + 1);
    assert_eq!(s.fsync_buckets.last(), Some(&s.fsyncs));
    assert!(s.fsync_buckets.windows(2).all(|w| w[0] <= w[1]));
    assert!(s.fsync_seconds > 0.0);
    store.shutdown().unwrap();
}
