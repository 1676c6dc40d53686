//! The recovery scan: the CommitLog tail validated record by record (size, magic,
//! offset, CRC) to find where the valid log ends.

use super::*;

/// Reads `len` bytes at `pos` from the segment list (one segment).
fn read_from(segs: &[Arc<Segment>], pos: u64, len: usize) -> Result<Option<Vec<u8>>> {
    let Some(seg) = segs.iter().find(|s| s.contains(pos)) else {
        return Ok(None);
    };
    let len = len.min((seg.end() - pos) as usize);
    let mut buf = vec![0u8; len];
    seg.read_at(pos - seg.start(), &mut buf)?;
    Ok(Some(buf))
}

/// Is there a valid record (or a proper blank) at `pos`? Used to tell a corrupt record in
/// the middle (valid data follows) from a torn tail.
fn valid_record_at(segs: &[Arc<Segment>], pos: u64) -> Result<bool> {
    let Some(seg) = segs.iter().find(|s| s.contains(pos)) else {
        return Ok(false);
    };
    let Some(head) = read_from(segs, pos, 8)? else {
        return Ok(false);
    };
    match record::peek(&head, pos, true) {
        Peeked::Blank { size } => Ok(pos + size as u64 == seg.end()),
        Peeked::Incomplete { size } if pos + size as u64 <= seg.end() => {
            let Some(buf) = read_from(segs, pos, size)? else {
                return Ok(false);
            };
            Ok(matches!(record::peek(&buf, pos, true), Peeked::Message { crc_ok: true, .. }))
        }
        _ => Ok(false),
    }
}

/// Scans records from `from`; returns the end of the valid prefix and the last store
/// timestamp seen.
pub(super) fn scan(
    segs: &[Arc<Segment>],
    from: u64,
    check_crc: bool,
    max_record: usize,
    report: &mut CommitLogRecovery,
) -> Result<(u64, i64)> {
    let mut pos = from;
    let mut last_ts = 0;
    'segments: loop {
        let Some(seg) = segs.iter().find(|s| s.contains(pos)).cloned() else {
            return Ok((pos, last_ts));
        };
        let mut window = SCAN_WINDOW;
        loop {
            let Some(buf) = read_from(segs, pos, window)? else {
                return Ok((pos, last_ts));
            };
            let mut off = 0usize;
            loop {
                let rest = buf.get(off..).unwrap_or_default();
                if rest.is_empty() {
                    break;
                }
                if rest.len() < END_FILE_MIN_BLANK_LENGTH && off > 0 {
                    // A header cut by the window (a segment always ends with >= 8 bytes of
                    // record or blank): read on from here.
                    break;
                }
                match record::peek(rest, pos, check_crc) {
                    Peeked::Message { msg, size, crc_ok } => {
                        if !crc_ok {
                            if valid_record_at(segs, pos + size as u64)? {
                                tracing::error!(
                                    offset = pos,
                                    "CommitLog record fails its body CRC; keeping the log after it"
                                );
                                report.corrupt_records.push(pos);
                            } else {
                                tracing::warn!(offset = pos, "torn or corrupt CommitLog tail");
                                return Ok((pos, last_ts));
                            }
                        }
                        last_ts = msg.store_timestamp;
                        report.messages_scanned += 1;
                        off += size;
                        pos += size as u64;
                    }
                    Peeked::Blank { size } => {
                        if pos + size as u64 == seg.end() {
                            pos = seg.end();
                            continue 'segments;
                        }
                        tracing::warn!(offset = pos, size, "blank record does not end its segment");
                        return Ok((pos, last_ts));
                    }
                    Peeked::Incomplete { size } => {
                        if pos + size as u64 > seg.end() || size > max_record {
                            tracing::warn!(offset = pos, size, "record would cross its segment end");
                            return Ok((pos, last_ts));
                        }
                        if off == 0 {
                            // The window itself was too small for this record.
                            window = size;
                        }
                        break;
                    }
                    Peeked::Invalid(why) => {
                        if pos != seg.start() || rest.iter().take(8).any(|b| *b != 0) {
                            tracing::info!(offset = pos, %why, "end of the valid CommitLog");
                        }
                        return Ok((pos, last_ts));
                    }
                }
            }
            if pos >= seg.end() {
                continue 'segments;
            }
        }
    }
}
