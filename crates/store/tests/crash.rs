//! Real crashes: a child process appends in SYNC_FLUSH mode (rounds take turns: plain, a
//! pre-written CommitLog, and retention recycling segments as fast as it can) and prints
//! what was acknowledged; it is SIGKILLed at a random moment; the store is reopened and
//! every acknowledged message retention has not removed must be there, byte-identical, at
//! its offsets, with ConsumeQueue and index agreeing. 50 rounds by default;
//! `FERROMQ_CRASH_ROUNDS=n` for more.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use ferromq_protocol::message::stored::{
    encode_stored_ref, MessageVersion, StoredMessageRef, BLANK_MAGIC_CODE, MAGIC_CODE_POSITION,
    PHYSICAL_OFFSET_POSITION,
};
use ferromq_store::{MessageStore, PutMessage};

#[path = "../src/bin/crash_writer.rs"]
#[allow(dead_code)]
mod writer;

struct Ack {
    seq: u64,
    phy: u64,
    topic: String,
    qid: i32,
    queue_offset: i64,
    store_ts: i64,
}

fn expected_record(a: &Ack) -> Vec<u8> {
    let m: PutMessage = writer::message_for(a.seq);
    assert_eq!((m.topic.as_str(), m.queue_id), (a.topic.as_str(), a.qid));
    let unspecified = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
    let r = StoredMessageRef {
        version: MessageVersion::V1,
        store_size: 0,
        body_crc: 0,
        queue_id: m.queue_id,
        flag: 0,
        queue_offset: a.queue_offset,
        commit_log_offset: a.phy as i64,
        sys_flag: 0,
        born_timestamp: 0,
        born_host: unspecified,
        store_timestamp: a.store_ts,
        store_host: unspecified,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: &m.body,
        topic: &m.topic,
        properties: &m.properties,
    };
    let mut out = Vec::new();
    encode_stored_ref(&r, &mut out).unwrap();
    out
}

/// Starts the crash writer with `args`, waits for its "ready", and SIGKILLs it `run_for`
/// later; returns its output lines and the killer thread (joined: the exit status).
fn start_and_kill(
    args: &[&str],
    run_for: Duration,
) -> (std::io::Lines<BufReader<std::process::ChildStdout>>, std::thread::JoinHandle<std::process::ExitStatus>)
{
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferromq-store-crash-writer"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready", "{args:?}");
    let killer = std::thread::spawn(move || {
        std::thread::sleep(run_for);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap()
    });
    (lines, killer)
}

/// Opens the store the writer left (see `writer::open_retrying` for why it may still be
/// locked for a moment).
fn reopen(dir: &std::path::Path, raft: bool) -> MessageStore {
    writer::open_retrying(writer::config(dir, raft)).unwrap()
}

/// The random kill timings: from `FERROMQ_CRASH_SEED` to replay a run, else a new seed
/// (printed).
fn kill_timings(test: &str) -> Rng {
    let seed = std::env::var("FERROMQ_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    eprintln!("{test} seed {seed} (FERROMQ_CRASH_SEED to replay the kill timings)");
    Rng(seed)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn sigkill_never_loses_an_acknowledged_message() {
    let rounds: usize = std::env::var("FERROMQ_CRASH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let mut rng = kill_timings("crash test");
    let dir = tempfile::tempdir().unwrap();
    let mut acked: Vec<Ack> = Vec::new();
    let mut next_seq = 0u64;
    let (mut min_before, mut checked) = (0u64, 0usize);
    for round in 0..rounds {
        let seq = next_seq.to_string();
        let mode = ["plain", "warm", "recycle"][round % 3];
        let args = [dir.path().to_str().unwrap(), &seq, ["1", "4", "16"][round % 4 % 3], mode];
        let (lines, killer) = start_and_kill(&args, Duration::from_millis(rng.next() % 40));
        let mut max_seq = next_seq;
        for line in lines {
            let line = line.unwrap();
            let f: Vec<&str> = line.split(' ').collect();
            if f.first() != Some(&"ack") || f.len() != 7 {
                // A line cut by the kill: not an acknowledgement.
                continue;
            }
            let a = Ack {
                seq: f[1].parse().unwrap(),
                phy: f[2].parse().unwrap(),
                topic: f[3].to_string(),
                qid: f[4].parse().unwrap(),
                queue_offset: f[5].parse().unwrap(),
                store_ts: f[6].parse().unwrap(),
            };
            max_seq = max_seq.max(a.seq + 1);
            acked.push(a);
        }
        let status = killer.join().unwrap();
        assert!(!status.success());
        // Sequence numbers handed out but not acknowledged are skipped by the next writer.
        next_seq = max_seq + 64;

        let store = reopen(dir.path(), false);
        assert!(store.recovery_report().abnormal, "round {round}");
        // Only retention (the recycling rounds) may remove the oldest segments: acknowledged
        // messages before `min` are gone by design, nowhere else.
        let min = store.min_phy_offset();
        if mode == "recycle" {
            assert!(min >= min_before, "round {round}: the log's start went back");
        } else {
            assert_eq!(min, min_before, "round {round}: segments vanished without retention");
        }
        min_before = min;
        for a in acked.iter().filter(|a| a.phy >= min) {
            checked += 1;
            let rec = store
                .look_message_by_offset(a.phy)
                .unwrap_or_else(|e| panic!("round {round} seq {}: {e}", a.seq))
                .unwrap_or_else(|| panic!("round {round}: acknowledged seq {} at {} lost", a.seq, a.phy));
            assert_eq!(&rec[..], &expected_record(a)[..], "round {round} seq {}", a.seq);
            let in_cq = store.get_commit_log_offset_in_queue(&a.topic, a.qid, a.queue_offset).unwrap();
            assert_eq!(in_cq, Some(a.phy), "round {round} seq {} ConsumeQueue", a.seq);
        }
        for a in acked.iter().rev().filter(|a| a.phy >= min).take(5) {
            let q = store.query_message(&a.topic, &format!("UNIQ{}", a.seq), 4, 0, i64::MAX).unwrap();
            assert_eq!(
                q.messages.iter().map(|m| m.phy_offset).collect::<Vec<_>>(),
                vec![a.phy],
                "index, seq {}",
                a.seq
            );
        }
        // Past the last acknowledged message, only records written at their own offsets: an
        // old record left in a recycled segment must not come back as part of the log.
        if let Some(last) = acked.iter().filter(|a| a.phy >= min).max_by_key(|a| a.phy) {
            let segment = writer::config(dir.path(), false).mapped_file_size_commit_log;
            let (mut pos, end) = (last.phy, store.max_phy_offset());
            while pos < end {
                match store.look_message_by_offset(pos).unwrap() {
                    Some(rec) => {
                        let at = &rec[PHYSICAL_OFFSET_POSITION..PHYSICAL_OFFSET_POSITION + 8];
                        assert_eq!(u64::from_be_bytes(at.try_into().unwrap()), pos, "round {round}");
                        pos += rec.len() as u64;
                    }
                    // Only the blank record closing a segment may be no message.
                    None => {
                        let seg_end = pos - pos % segment + segment;
                        let raw = store.get_commit_log_data(pos, 8).unwrap().unwrap();
                        let (size, magic) = (&raw[..4], &raw[MAGIC_CODE_POSITION..MAGIC_CODE_POSITION + 4]);
                        assert_eq!(
                            magic,
                            BLANK_MAGIC_CODE.to_be_bytes(),
                            "round {round}: no record at {pos}"
                        );
                        assert_eq!(u64::from(u32::from_be_bytes(size.try_into().unwrap())), seg_end - pos);
                        pos = seg_end;
                    }
                }
            }
        }
        check_invariants(&store);
        store.simulate_crash();
    }
    eprintln!(
        "{checked} checks of acknowledged messages ({} acknowledged) over {rounds} rounds",
        acked.len()
    );
    assert!(acked.len() > rounds, "the writer should get some messages through");
}

/// The same with the store as a Raft log: a writer appends entries, makes each batch
/// durable with `flush_entries` and commits it, and is SIGKILLed at random moments. Every
/// entry it reported durable must come back with its index, term, position and exact
/// record bytes; no record may stay beyond the last entry; dispatch (what consumers see)
/// must stay within the log; the log must go on at the next index in the next round.
#[test]
fn sigkill_never_loses_a_flushed_raft_entry() {
    let rounds: usize = std::env::var("FERROMQ_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(20, |n: usize| (n / 2).max(1));
    let mut rng = kill_timings("raft crash test");
    let dir = tempfile::tempdir().unwrap();
    // (index, term, pos, size, expected record)
    let mut durable: Vec<(u64, u64, u64, u32, Vec<u8>)> = Vec::new();
    for round in 0..rounds {
        let term = 1_000_000 * (round as u64 + 1);
        let term_arg = term.to_string();
        let args = [dir.path().to_str().unwrap(), &term_arg, "1", "raft"];
        let (lines, killer) = start_and_kill(&args, Duration::from_millis(rng.next() % 40));
        for line in lines {
            let line = line.unwrap();
            let f: Vec<&str> = line.split(' ').collect();
            if f.first() != Some(&"entry") || f.len() != 8 {
                continue;
            }
            let n = |i: usize| f[i].parse::<u64>().unwrap();
            let seq = n(5);
            let m = writer::message_for(seq);
            let ack = Ack {
                seq,
                phy: n(3),
                topic: m.topic.clone(),
                qid: m.queue_id,
                queue_offset: f[6].parse().unwrap(),
                store_ts: f[7].parse().unwrap(),
            };
            durable.push((n(1), n(2), n(3), n(4) as u32, expected_record(&ack)));
        }
        assert!(!killer.join().unwrap().success());

        let store = reopen(dir.path(), true);
        for (index, term, pos, size, record) in &durable {
            let (e, bytes) = store
                .entry_bytes(*index)
                .unwrap()
                .unwrap_or_else(|| panic!("round {round}: durable entry {index} lost"));
            assert_eq!((e.term, e.pos, e.size), (*term, *pos, *size), "round {round} entry {index}");
            assert_eq!(&bytes[..], &record[..], "round {round} entry {index} bytes");
        }
        // Entries are contiguous from the first, and consumers see no more than the log.
        let last = store.last_entry().unwrap();
        if let Some((index, ..)) = durable.last() {
            assert!(last.is_some_and(|l| l.index >= *index), "round {round}");
        }
        assert!(
            store.confirm_offset() <= last.map_or(0, |l| l.end()),
            "round {round}: dispatch beyond the log"
        );
        // No record without its entry: the log ends where the last entry does.
        assert_eq!(
            store.max_phy_offset(),
            last.map_or(0, |l| l.end()),
            "round {round}: records beyond the last entry"
        );
        store.simulate_crash();
    }
    eprintln!("{} durable entries checked over {rounds} rounds", durable.len());
    assert!(durable.len() > rounds, "the writer should get some entries through");
}
