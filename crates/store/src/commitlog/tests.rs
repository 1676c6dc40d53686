//! Unit tests of the CommitLog: segment preparation (pre-writing zeros) and record reads.

use super::*;
use crate::segment::segment_name;

const SEGMENT: u64 = 1 << 20;

fn open(dir: &Path, warm: bool) -> CommitLog {
    let prep = SegmentPrep { space: Space::Reserved, warm };
    CommitLog::open(dir, SEGMENT, None, true, 1 << 20, prep).unwrap().0
}

fn append(log: &CommitLog, i: usize) -> AppendResult {
    let body = format!("message {i} ").repeat(20);
    log.append(&[PutMessage::new("T", 0, body.into_bytes())], 1_700_000_000_000, 1 << 20).unwrap()
}

fn assert_readable(log: &CommitLog, appended: &[AppendResult]) {
    for (i, a) in appended.iter().enumerate() {
        let rec = log.read_record(a.wrote_offset).unwrap().unwrap();
        assert_eq!(rec.len() as u64, a.wrote_bytes, "record {i}");
        let body = format!("message {i} ").repeat(20);
        assert!(rec.windows(body.len()).any(|w| w == body.as_bytes()), "record {i} lost its body");
    }
}

#[test]
fn a_warm_log_prewrites_its_tail_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), true);
    assert_eq!(log.warm_until.load(Ordering::Acquire), (SEGMENT / 4).min(WARM_AT_OPEN));
    assert_eq!(log.state.lock().tail_warmed, SEGMENT / 4);
    // There is no next segment yet: nothing to do there.
    assert!(!log.warm_ahead(&vec![0u8; WARM_CHUNK as usize]).unwrap());
    let cold = tempfile::tempdir().unwrap();
    assert_eq!(open(cold.path(), false).warm_until.load(Ordering::Acquire), 0);
}

/// Once a roll has taken the pre-created segment, the zeroer must not write into it, even
/// with a batch planned before the roll.
#[test]
fn prewriting_stops_when_a_roll_takes_the_segment() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), true);
    let zeros = vec![0u8; WARM_CHUNK as usize];
    let next = Arc::new(Segment::create(dir.path(), SEGMENT, SEGMENT, Space::Reserved).unwrap());
    log.prealloc.lock().ready = Some(next.clone());
    // Planned while `next` was waiting; then a roll takes it and data arrives.
    let taken = log.obtain_segment(SEGMENT).unwrap();
    assert!(Arc::ptr_eq(&taken, &next));
    taken.write_at(0, b"a message").unwrap();
    assert_eq!(log.prewrite_next(&next, SEGMENT, SEGMENT + WARM_CHUNK, &zeros).unwrap(), SEGMENT);
    let mut b = [0u8; 9];
    taken.read_at(0, &mut b).unwrap();
    assert_eq!(&b, b"a message");
    // While it is still waiting, the same call writes.
    let other = Arc::new(Segment::create(dir.path(), 2 * SEGMENT, SEGMENT, Space::Reserved).unwrap());
    log.prealloc.lock().ready = Some(other.clone());
    let to = 2 * SEGMENT + WARM_CHUNK;
    assert_eq!(log.prewrite_next(&other, 2 * SEGMENT, to, &zeros).unwrap(), to);
}

/// The next segment is pre-written at the pace of the appends: one segment size past them
/// (in whole blocks).
#[test]
fn the_next_segment_is_prewritten_at_the_pace_of_the_appends() {
    let dir = tempfile::tempdir().unwrap();
    let prep = SegmentPrep { space: Space::Reserved, warm: true };
    let size = 2 * WARM_AHEAD;
    let log = CommitLog::open(dir.path(), size, None, true, 1 << 20, prep).unwrap().0;
    let zeros = vec![0u8; WARM_CHUNK as usize];
    // No next segment yet: nothing to do.
    assert!(!log.warm_ahead(&zeros).unwrap());
    let next = Arc::new(Segment::create(dir.path(), size, size, Space::Reserved).unwrap());
    next.write_at(0, b"junk left by someone").unwrap();
    log.prealloc.lock().ready = Some(next.clone());
    // Nothing appended: the next segment starts exactly one segment size ahead.
    assert!(!log.warm_ahead(&zeros).unwrap());
    let appended: Vec<AppendResult> = (0..3000).map(|i| append(&log, i)).collect();
    log.commit_all().unwrap();
    while log.warm_ahead(&zeros).unwrap() {}
    // Up to the last whole block before that point (direct I/O writes whole blocks).
    let (until, target) = (log.warm_until.load(Ordering::Acquire), log.appended() + size);
    assert!(until <= target && target - until < BLOCK, "{until} vs {target}");
    assert_eq!((until - size) % BLOCK, 0);
    let mut b = [1u8; 4];
    next.read_at(0, &mut b).unwrap();
    assert_eq!(b, [0u8; 4]);
    assert_readable(&log, &appended);
}

/// The disk check counts the log's reserved room as free: the tail segment's unwritten
/// rest and the prepared next segment; a sparse log holds no such room.
#[test]
fn reserved_room_is_the_unwritten_tail_and_the_next_segment() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), false);
    assert_eq!(log.reserved_unwritten(), SEGMENT);
    let appended: Vec<AppendResult> = (0..10).map(|i| append(&log, i)).collect();
    // Appended but not yet written to the file: still room.
    assert_eq!(log.reserved_unwritten(), SEGMENT);
    log.commit_all().unwrap();
    let end = appended.last().map(AppendResult::end_offset).unwrap();
    assert_eq!(log.reserved_unwritten(), SEGMENT - end);
    log.prealloc.lock().ready =
        Some(Arc::new(Segment::create(dir.path(), SEGMENT, SEGMENT, Space::Reserved).unwrap()));
    assert_eq!(log.reserved_unwritten(), 2 * SEGMENT - end);

    let sparse = tempfile::tempdir().unwrap();
    let prep = SegmentPrep { space: Space::Sparse, warm: false };
    let log = CommitLog::open(sparse.path(), SEGMENT, None, true, 1 << 20, prep).unwrap().0;
    assert_eq!(log.reserved_unwritten(), 0);
}

/// A retired segment becomes the spare; the next segment is made from it, unless a reader
/// still holds it; disk pressure deletes it; a restart adopts it.
#[test]
fn retired_segments_become_the_spare_and_then_the_next_segment() {
    let dir = tempfile::tempdir().unwrap();
    let prep = SegmentPrep { space: Space::Sparse, warm: false };
    let log = CommitLog::open(dir.path(), SEGMENT, None, true, 1 << 20, prep).unwrap().0;
    let spare_path = dir.path().join(SPARE_FILE);
    let old = Arc::new(Segment::create(dir.path(), 7 * SEGMENT, SEGMENT, Space::Sparse).unwrap());
    old.write_at(0, b"old bytes").unwrap();
    let reader = old.clone();
    log.retire(old, true).unwrap();
    assert!(spare_path.exists());
    assert!(!dir.path().join(segment_name(7 * SEGMENT)).exists());
    assert_eq!(log.reserved_unwritten(), 0, "the spare counts as used: disk pressure deletes it");
    // A reader still holds it: not reused (it must go on reading the old bytes).
    assert!(log.segment_from_spare(SEGMENT).is_none());
    let mut b = [0u8; 9];
    reader.read_at(0, &mut b).unwrap();
    assert_eq!(&b, b"old bytes");
    drop(reader);
    let next = log.create_segment(SEGMENT).unwrap();
    assert!(next.written_through());
    assert_eq!((next.start(), next.size()), (SEGMENT, SEGMENT));
    assert!(!spare_path.exists());
    assert!(dir.path().join(segment_name(SEGMENT)).exists());
    // Without a spare: a new file. A second retirement while a spare exists deletes.
    assert!(!log.create_segment(2 * SEGMENT).unwrap().written_through());
    for start in [8, 9] {
        let s = Arc::new(Segment::create(dir.path(), start * SEGMENT, SEGMENT, Space::Sparse).unwrap());
        log.retire(s, true).unwrap();
        assert!(!dir.path().join(segment_name(start * SEGMENT)).exists());
    }
    assert!(spare_path.exists());
    // The spare is the first one retired; the second was deleted.
    assert_eq!(log.prealloc.lock().spare.as_ref().map(|s| s.start()), Some(8 * SEGMENT));
    // Kept across a restart.
    drop(log);
    let log = CommitLog::open(dir.path(), SEGMENT, None, true, 1 << 20, prep).unwrap().0;
    assert!(log.prealloc.lock().spare.is_some());
    log.drop_spare().unwrap();
    assert!(!spare_path.exists());
    // Not kept when told not to.
    let s = Arc::new(Segment::create(dir.path(), 10 * SEGMENT, SEGMENT, Space::Sparse).unwrap());
    log.retire(s, false).unwrap();
    assert!(!spare_path.exists());
    // A segment the last run had prepared beyond the end becomes the spare at open.
    drop(log);
    drop(Segment::create(dir.path(), SEGMENT, SEGMENT, Space::Sparse).unwrap());
    let beyond = dir.path().join(segment_name(SEGMENT));
    let log = CommitLog::open(dir.path(), SEGMENT, None, true, 1 << 20, prep).unwrap().0;
    assert!(!beyond.exists() && spare_path.exists());
    assert!(log.prealloc.lock().spare.is_some());
}

/// In a segment whose blocks hold old data (here a recycled one), a commit writes whole
/// blocks (zeros after the records), so the kernel never has to read a block in before
/// writing part of it; the next commit writes over the zeros.
#[test]
fn commits_into_written_through_segments_end_on_a_block_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let prep = SegmentPrep { space: Space::Sparse, warm: false };
    let log = CommitLog::open(dir.path(), SEGMENT, None, true, 1 << 20, prep).unwrap().0;
    let old = Arc::new(Segment::create(dir.path(), 9 * SEGMENT, SEGMENT, Space::Sparse).unwrap());
    old.write_at(0, &vec![0xFFu8; SEGMENT as usize]).unwrap();
    log.retire(old, true).unwrap();
    // Fill the first segment; the roll makes the second from the spare.
    let mut appended = Vec::new();
    while log.appended() < SEGMENT {
        appended.push(append(&log, appended.len()));
        log.commit_all().unwrap();
    }
    let first_in_recycled = appended.last().unwrap().clone();
    assert_eq!(first_in_recycled.wrote_offset, SEGMENT);
    assert_eq!(log.written(), first_in_recycled.end_offset());
    let file = std::fs::read(dir.path().join(segment_name(SEGMENT))).unwrap();
    let end = (first_in_recycled.end_offset() - SEGMENT) as usize;
    let block_end = end.div_ceil(BLOCK as usize) * BLOCK as usize;
    assert!(file[end..block_end].iter().all(|&b| b == 0), "zeros to the block's end");
    assert!(file[block_end..block_end + 16].iter().all(|&b| b == 0xFF), "nothing written past it");
    appended.push(append(&log, appended.len()));
    log.commit_all().unwrap();
    assert_eq!(log.written(), appended.last().unwrap().end_offset());
    assert_readable(&log, &appended);
}

/// The tail is pre-written in the background while writers append to it: batches go out
/// meanwhile, and every record stays intact.
#[test]
fn the_tail_is_prewritten_ahead_of_the_appends_without_touching_them() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(open(dir.path(), true));
    let stop = Arc::new(AtomicBool::new(false));
    let zeroer = {
        let (log, stop) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            let zeros = AlignedZeros::new(WARM_CHUNK as usize);
            let mut batches = 0;
            while !stop.load(Ordering::Acquire) {
                if log.warm_tail(zeros.get()).unwrap() {
                    batches += 1;
                } else {
                    std::thread::yield_now();
                }
            }
            batches
        })
    };
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let log = log.clone();
            std::thread::spawn(move || {
                (0..1500)
                    .map(|i| {
                        let body = format!("writer {w} message {i} ").repeat(8);
                        let a = log
                            .append(&[PutMessage::new("T", w, body.clone().into_bytes())], 1, 1 << 20)
                            .unwrap();
                        if i % 50 == 0 {
                            log.commit_all().unwrap();
                        }
                        (a, body)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let appended: Vec<(AppendResult, String)> = writers.into_iter().flat_map(|t| t.join().unwrap()).collect();
    stop.store(true, Ordering::Release);
    let batches = zeroer.join().unwrap();
    log.commit_all().unwrap();
    assert!(log.appended() > SEGMENT, "the appends rolled into a second segment");
    assert!(batches > 0, "the tail was pre-written while the writers ran");
    for (a, body) in &appended {
        let rec = log.read_record(a.wrote_offset).unwrap().unwrap();
        assert_eq!(rec.len() as u64, a.wrote_bytes);
        assert!(
            rec.windows(body.len()).any(|w| w == body.as_bytes()),
            "record at {} damaged",
            a.wrote_offset
        );
    }
}

/// An append that would write into the range being zeroed waits until the zeros are
/// written; one that stays below it does not.
#[test]
fn an_append_reaching_the_range_being_zeroed_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(open(dir.path(), true));
    let at = log.appended();
    log.state.lock().zeroing = Some((at + 8192, at + 16384));
    append(&log, 0); // ~300 bytes: stays below
    let blocked = {
        let log = log.clone();
        std::thread::spawn(move || {
            let big = vec![b'x'; 12_000];
            log.append(&[PutMessage::new("T", 0, big)], 1, 1 << 20).unwrap()
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while log.state.lock().fence_waiters == 0 {
        assert!(std::time::Instant::now() < deadline, "the append never waited for the zeroing");
        std::thread::yield_now();
    }
    assert!(!blocked.is_finished(), "an append across the zeroed range must wait");
    log.state.lock().zeroing = None;
    log.fence_cond.notify_all();
    let a = blocked.join().unwrap();
    assert!(a.wrote_offset + a.wrote_bytes > at + 8192);
    assert_eq!(log.state.lock().fence_waiters, 0);

    // No zeroing starts while an append waits, even with a whole batch to do.
    for i in 1..400 {
        append(&log, i);
    }
    let zeros = AlignedZeros::new(WARM_CHUNK as usize);
    log.state.lock().fence_waiters = 1;
    assert!(!log.warm_tail(zeros.get()).unwrap());
    log.state.lock().fence_waiters = 0;
    assert!(log.warm_tail(zeros.get()).unwrap(), "with nobody waiting, the batch goes out");
}

/// Appends that got ahead of the pre-written part are never zeroed: the zeroing starts a
/// margin past the append position.
#[test]
fn tail_zeroing_starts_past_appends_that_got_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), true);
    let appended: Vec<AppendResult> = (0..1000).map(|i| append(&log, i)).collect();
    log.commit_all().unwrap();
    let end = log.appended();
    assert!(end > SEGMENT / 4 && end < SEGMENT / 2, "past the part pre-written at open: {end}");
    assert!(log.warm_tail(AlignedZeros::new(WARM_CHUNK as usize).get()).unwrap());
    let warmed = log.state.lock().tail_warmed;
    assert!(warmed >= end + log.tail_margin() && warmed <= end + log.tail_warm_ahead() + BLOCK, "{warmed}");
    assert_readable(&log, &appended);
    // And appends go on into the zeros.
    let more: Vec<AppendResult> = (1000..1400).map(|i| append(&log, i)).collect();
    log.commit_all().unwrap();
    assert_readable(&log, &[appended, more].concat());
}

/// The blank record closing a segment can be shorter than any message (here 17 bytes):
/// reading a record there finds no message, not corrupt data.
#[test]
fn a_short_blank_at_a_segment_end_is_no_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), false);
    let put = |body: usize| {
        log.append(&[PutMessage::new("T", 0, vec![b'x'; body])], 1_700_000_000_000, 1 << 20).unwrap()
    };
    let first = put(100);
    let overhead = first.wrote_bytes - 100;
    let blank = 17u64;
    assert!(blank < record::MIN_RECORD_LEN as u64 && blank >= END_FILE_MIN_BLANK_LENGTH as u64);
    let filler = put((SEGMENT - first.wrote_bytes - blank - overhead) as usize);
    assert_eq!(filler.end_offset(), SEGMENT - blank);
    let next = put(100);
    assert_eq!(next.wrote_offset, SEGMENT, "the third message rolled");
    log.commit_all().unwrap();
    assert_eq!(log.read_record(SEGMENT - blank).unwrap(), None);
    assert_eq!(log.read_record(next.wrote_offset).unwrap().map(|r| r.len() as u64), Some(next.wrote_bytes));
}
