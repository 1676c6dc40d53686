//! Time enters the store only through [`Clock`], so tests can drive store timestamps,
//! retention ages and the `deleteWhen` hour deterministically.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch (the store timestamp of new messages).
    fn now_ms(&self) -> i64;

    /// Hour of the local day, 0..=23, used by `deleteWhen`.
    fn local_hour(&self) -> u32 {
        utc_hour(self.now_ms())
    }
}

fn utc_hour(ms: i64) -> u32 {
    // rem_euclid keeps the result in 0..24 even before 1970.
    (ms.div_euclid(3_600_000).rem_euclid(24)) as u32
}

/// The wall clock; the hour of day follows the local time zone like RocketMQ's `Calendar`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i64,
            Err(_) => 0,
        }
    }

    fn local_hour(&self) -> u32 {
        let now = self.now_ms();
        let offset_ms = crate::sys::local_utc_offset_secs(now.div_euclid(1000)) * 1000;
        utc_hour(now + offset_ms)
    }
}

/// A clock the test moves by hand; its hour of day is UTC.
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    pub fn new(now_ms: i64) -> Self {
        ManualClock { now_ms: AtomicI64::new(now_ms) }
    }

    pub fn set(&self, now_ms: i64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }

    pub fn advance(&self, delta_ms: i64) {
        self.now_ms.fetch_add(delta_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

/// `yyyyMMddHHmmssSSS` in UTC, the shape of RocketMQ's IndexFile names.
pub(crate) fn format_timestamp_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss, sss) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}{m:02}{d:02}{hh:02}{mm:02}{ss:02}{sss:03}")
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_index_file_names() {
        assert_eq!(format_timestamp_ms(0), "19700101000000000");
        // 2024-02-29T13:45:06.789Z
        assert_eq!(format_timestamp_ms(1_709_214_306_789), "20240229134506789");
    }

    #[test]
    fn manual_clock_hour_is_utc() {
        let c = ManualClock::new(4 * 3_600_000 + 5);
        assert_eq!(c.local_hour(), 4);
        c.advance(21 * 3_600_000);
        assert_eq!(c.local_hour(), 1);
    }
}
