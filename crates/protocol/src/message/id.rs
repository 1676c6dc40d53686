//! Message ids.
//!
//! * The offset message id (`msgId` of a stored message, `offsetMsgId` on the client):
//!   store host address (4 bytes IPv4 / 16 IPv6) + port (int32) + CommitLog offset
//!   (int64), as upper-case hex: 32 or 56 characters (`MessageDecoder.createMessageId`).
//! * The client unique id (property `UNIQ_KEY`, the `msgId` a producer sees): Java's
//!   `MessageClientIDSetter`: client IP (4 / 16) + pid (int16) + class-loader hash
//!   (int32) + milliseconds since the start of the current month (int32) + counter
//!   (int16), upper-case hex: 32 or 56 characters. [`UniqIdGenerator`] produces it
//!   from explicit inputs (no clock, no pid lookup).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::error::{ProtocolError, Result};

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Length of an IPv4 offset message id / unique id, in hex characters.
pub const MSG_ID_LEN_V4: usize = 32;
/// Length of an IPv6 offset message id / unique id, in hex characters.
pub const MSG_ID_LEN_V6: usize = 56;

fn push_hex(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0F)]));
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decodes hex (either case) into `out`; `hex` must be exactly twice `out`'s length.
fn decode_hex(hex: &str, out: &mut [u8]) -> Result<()> {
    let bytes = hex.as_bytes();
    if bytes.len() != out.len() * 2 {
        return Err(bad_id(hex, "wrong length"));
    }
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let (Some(&h), Some(&l)) = (pair.first(), pair.get(1)) else {
            return Err(bad_id(hex, "wrong length"));
        };
        match (hex_value(h), hex_value(l)) {
            (Some(h), Some(l)) => *slot = (h << 4) | l,
            _ => return Err(bad_id(hex, "not hexadecimal")),
        }
    }
    Ok(())
}

fn bad_id(id: &str, why: &str) -> ProtocolError {
    let shown: String = id.chars().take(64).collect();
    ProtocolError::Message(format!("invalid message id {shown:?}: {why}"))
}

fn ip_octets(ip: IpAddr, buf: &mut [u8; 16]) -> &[u8] {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            buf[..4].copy_from_slice(&o);
            &buf[..4]
        }
        IpAddr::V6(v6) => {
            *buf = v6.octets();
            &buf[..]
        }
    }
}

/// Appends the offset message id of (`store_host`, `commit_log_offset`) to `out`.
pub fn write_offset_msg_id(out: &mut String, store_host: SocketAddr, commit_log_offset: i64) {
    let mut ip = [0u8; 16];
    push_hex(out, ip_octets(store_host.ip(), &mut ip));
    push_hex(out, &i32::from(store_host.port()).to_be_bytes());
    push_hex(out, &commit_log_offset.to_be_bytes());
}

/// The offset message id of (`store_host`, `commit_log_offset`): 32 hex characters for an
/// IPv4 host, 56 for IPv6.
pub fn encode_offset_msg_id(store_host: SocketAddr, commit_log_offset: i64) -> String {
    let mut out = String::with_capacity(MSG_ID_LEN_V6);
    write_offset_msg_id(&mut out, store_host, commit_log_offset);
    out
}

/// Parses an offset message id (either hex case) into the store host and CommitLog
/// offset. Errors unless it is 32 or 56 hex characters with a port in `0..=65535`.
pub fn decode_offset_msg_id(id: &str) -> Result<(SocketAddr, i64)> {
    let mut raw = [0u8; 28];
    let (addr_len, bytes) = match id.len() {
        MSG_ID_LEN_V4 => (4, raw.get_mut(..16).unwrap_or_default()),
        MSG_ID_LEN_V6 => (16, &mut raw[..]),
        _ => return Err(bad_id(id, "expected 32 or 56 hex characters")),
    };
    decode_hex(id, bytes)?;
    let (addr, rest) = bytes.split_at(addr_len);
    let (port, offset) = rest.split_at(4);
    let port = i32::from_be_bytes(port.try_into().map_err(|_| bad_id(id, "port"))?);
    let port = u16::try_from(port).map_err(|_| bad_id(id, "port out of range"))?;
    let offset = i64::from_be_bytes(offset.try_into().map_err(|_| bad_id(id, "offset"))?);
    let host = if addr_len == 4 {
        let ip: [u8; 4] = addr.try_into().map_err(|_| bad_id(id, "address"))?;
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port))
    } else {
        let ip: [u8; 16] = addr.try_into().map_err(|_| bad_id(id, "address"))?;
        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, 0))
    };
    Ok((host, offset))
}

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month 1..=12) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m)
}

/// Start of the month containing `millis` shifted by `month_delta` months, in the time
/// zone `utc_offset_millis` east of UTC, as UTC epoch millis. Saturates on absurd inputs.
fn month_start(millis: i64, utc_offset_millis: i64, month_delta: i64) -> i64 {
    let local = millis.saturating_add(utc_offset_millis);
    let (y, m) = civil_from_days(local.div_euclid(MILLIS_PER_DAY));
    let months = y * 12 + (m - 1) + month_delta;
    let days = days_from_civil(months.div_euclid(12), months.rem_euclid(12) + 1, 1);
    days.saturating_mul(MILLIS_PER_DAY).saturating_sub(utc_offset_millis)
}

/// Generates client unique ids (`UNIQ_KEY`) exactly as Java's `MessageClientIDSetter`,
/// from explicit inputs. Not synchronized: share it behind a lock, or keep one per task.
#[derive(Debug, Clone)]
pub struct UniqIdGenerator {
    prefix: String,
    utc_offset_millis: i64,
    start: i64,
    next_start: i64,
    initialized: bool,
    counter: u16,
}

impl UniqIdGenerator {
    /// `ip`: the client address (4 or 16 bytes in the id); `pid`: the process id, of which
    /// the low 16 bits are used (Java's `(short) pid`); `seed`: Java's class-loader hash
    /// code, any per-process random value. Months are counted in UTC unless
    /// [`UniqIdGenerator::with_utc_offset`] says otherwise.
    pub fn new(ip: IpAddr, pid: u32, seed: i32) -> Self {
        let mut prefix = String::with_capacity(MSG_ID_LEN_V6);
        let mut buf = [0u8; 16];
        push_hex(&mut prefix, ip_octets(ip, &mut buf));
        push_hex(&mut prefix, &(pid as u16).to_be_bytes());
        push_hex(&mut prefix, &seed.to_be_bytes());
        UniqIdGenerator {
            prefix,
            utc_offset_millis: 0,
            start: 0,
            next_start: 0,
            initialized: false,
            counter: 0,
        }
    }

    /// Counts months in a time zone `offset_millis` east of UTC (Java uses the JVM's
    /// default zone).
    pub fn with_utc_offset(mut self, offset_millis: i64) -> Self {
        self.utc_offset_millis = offset_millis;
        self.initialized = false;
        self
    }

    /// Starts the counter at `counter` (tests; Java starts at 0).
    pub fn with_counter(mut self, counter: u16) -> Self {
        self.counter = counter;
        self
    }

    /// The next id at wall-clock time `now_millis` (epoch milliseconds).
    pub fn next(&mut self, now_millis: i64) -> String {
        if !self.initialized || now_millis >= self.next_start {
            self.start = month_start(now_millis, self.utc_offset_millis, 0);
            self.next_start = month_start(now_millis, self.utc_offset_millis, 1);
            self.initialized = true;
        }
        let mut diff = now_millis.wrapping_sub(self.start) as i32;
        if diff < 0 && diff > -1_000_000 {
            diff = 0; // a small step back of the clock (NTP)
        }
        let mut id = String::with_capacity(self.prefix.len() + 12);
        id.push_str(&self.prefix);
        push_hex(&mut id, &diff.to_be_bytes());
        push_hex(&mut id, &self.counter.to_be_bytes());
        self.counter = self.counter.wrapping_add(1);
        id
    }
}

fn decode_uniq_id(id: &str) -> Result<([u8; 28], usize)> {
    let mut raw = [0u8; 28];
    let ip_len = match id.len() {
        MSG_ID_LEN_V4 => 4,
        MSG_ID_LEN_V6 => 16,
        _ => return Err(bad_id(id, "expected 32 or 56 hex characters")),
    };
    let bytes = raw.get_mut(..ip_len + 12).unwrap_or_default();
    decode_hex(id, bytes)?;
    Ok((raw, ip_len))
}

fn array_at<const N: usize>(raw: &[u8], pos: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = raw.get(pos..pos + N) {
        out.copy_from_slice(src);
    }
    out
}

/// The client IP of a unique id.
pub fn uniq_id_ip(id: &str) -> Result<IpAddr> {
    let (raw, ip_len) = decode_uniq_id(id)?;
    Ok(if ip_len == 4 {
        IpAddr::V4(Ipv4Addr::from(array_at::<4>(&raw, 0)))
    } else {
        IpAddr::V6(Ipv6Addr::from(array_at::<16>(&raw, 0)))
    })
}

/// The (16-bit) pid of a unique id.
pub fn uniq_id_pid(id: &str) -> Result<u16> {
    let (raw, ip_len) = decode_uniq_id(id)?;
    Ok(u16::from_be_bytes(array_at::<2>(&raw, ip_len)))
}

/// Java's `MessageClientIDSetter.getNearlyTimeFromID`: the creation time (epoch millis)
/// of a unique id, given the current time. The id only stores the offset in its month,
/// so the month is taken as the current one, or the previous one when that would put the
/// id in the future. `utc_offset_millis` is the generator's time zone (0 for UTC).
pub fn uniq_id_time(id: &str, now_millis: i64, utc_offset_millis: i64) -> Result<i64> {
    let (raw, ip_len) = decode_uniq_id(id)?;
    let span = i64::from(u32::from_be_bytes(array_at::<4>(&raw, ip_len + 6)));
    let mut start = month_start(now_millis, utc_offset_millis, 0);
    if start.saturating_add(span) >= now_millis {
        start = month_start(now_millis, utc_offset_millis, -1);
    }
    Ok(start.saturating_add(span))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn offset_msg_id_vectors() {
        let host: SocketAddr = "10.0.0.2:10911".parse().unwrap();
        let id = encode_offset_msg_id(host, 4096);
        assert_eq!(id, "0A00000200002A9F0000000000001000");
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (host, 4096));
        assert_eq!(decode_offset_msg_id(&id.to_lowercase()).unwrap(), (host, 4096));
        let v6: SocketAddr = "[fe80::1]:10911".parse().unwrap();
        let id = encode_offset_msg_id(v6, -1);
        assert_eq!(id.len(), 56);
        assert_eq!(id, "FE80000000000000000000000000000100002A9FFFFFFFFFFFFFFFFF");
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (v6, -1));
    }

    #[test]
    fn offset_msg_id_errors() {
        assert!(decode_offset_msg_id("").is_err());
        assert!(decode_offset_msg_id("0A00000200002A9F000000000000100").is_err());
        assert!(decode_offset_msg_id("0A00000200002A9F000000000000100G").is_err());
        // Port 0x00010000 is out of range.
        assert!(decode_offset_msg_id("0A000002000100000000000000001000").is_err());
        // Multi-byte characters of a valid total length are rejected, not sliced.
        assert!(decode_offset_msg_id("ééééééééééééééee").is_err());
        assert!(decode_offset_msg_id(&"é".repeat(16)).is_err());
    }

    #[test]
    fn month_arithmetic() {
        // 2024-02-29T12:00:00Z
        let t = 1_709_208_000_000;
        assert_eq!(month_start(t, 0, 0), 1_706_745_600_000); // 2024-02-01
        assert_eq!(month_start(t, 0, 1), 1_709_251_200_000); // 2024-03-01
        assert_eq!(month_start(t, 0, -1), 1_704_067_200_000); // 2024-01-01
        assert_eq!(month_start(1_704_067_200_000, 0, -1), 1_701_388_800_000); // 2023-12-01
                                                                              // 2024-02-01T00:30+01:00 is still January in UTC, February at UTC+1.
        let t = 1_706_745_600_000 - 30 * 60_000;
        assert_eq!(month_start(t, 3_600_000, 0), 1_706_745_600_000 - 3_600_000);
        assert_eq!(month_start(t, 0, 0), 1_704_067_200_000);
        let _ = month_start(i64::MIN, i64::MIN, -1);
        let _ = month_start(i64::MAX, i64::MAX, 1);
    }

    #[test]
    fn uniq_id_layout() {
        let ip = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10));
        let mut g = UniqIdGenerator::new(ip, 0x1_2345, 0x0BAD_F00Du32 as i32);
        // 2024-02-01T00:00:01.234Z: 1234 ms into the month.
        let t = 1_706_745_600_000 + 1_234;
        let id = g.next(t);
        assert_eq!(id, "C0A8010A23450BADF00D000004D20000");
        assert_eq!(g.next(t), "C0A8010A23450BADF00D000004D20001");
        assert_eq!(uniq_id_ip(&id).unwrap(), ip);
        assert_eq!(uniq_id_pid(&id).unwrap(), 0x2345);
        assert_eq!(uniq_id_time(&id, t + 10, 0).unwrap(), t);
        // Seen a month later, the id's time falls in the previous month.
        assert_eq!(uniq_id_time(&id, t + 29 * 86_400_000, 0).unwrap(), t);
        // Crossing into March resets the month start.
        let march = 1_709_251_200_000 + 5;
        assert!(g.next(march).ends_with("000000050002"));
        // A small step back of the clock gives 0, not a negative offset.
        assert!(g.next(march - 10).ends_with("000000000003"));
        let mut g6 = UniqIdGenerator::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 7, -1).with_counter(0xFFFF);
        let id = g6.next(t);
        assert_eq!(id.len(), 56);
        assert!(id.ends_with("000004D2FFFF"));
        assert!(g6.next(t).ends_with("0000"));
        assert_eq!(uniq_id_ip(&id).unwrap(), IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(uniq_id_pid(&id).unwrap(), 7);
        assert!(uniq_id_time("xyz", t, 0).is_err());
        // Extreme clocks do not panic.
        let _ = g.next(i64::MIN);
        let _ = g.next(i64::MAX);
    }
}
