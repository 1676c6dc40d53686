//! The only module allowed to call `unsafe` libc functions: `statvfs` for disk usage and
//! `localtime_r` for the local UTC offset. Everything else in the store uses safe std file
//! I/O (`pread`/`pwrite` via `FileExt`, `fdatasync` via `sync_data`).
//!
//! Why no mmap: mapping segments would need `unsafe` at every map, and a mapping turns a
//! truncated or deleted file (recovery trims a tail, retention deletes segments while a
//! reader holds one) into SIGBUS instead of an error. With positional I/O the page cache
//! still does the work (sequential writes, reads of recent data from memory) at the cost
//! of one memcpy per read, and every failure is an `io::Error` we can report.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Fraction of the filesystem holding `path` that is in use, 0.0..=1.0, computed like
/// `df`: used / (used + available to unprivileged users).
pub fn disk_used_ratio(path: &Path) -> io::Result<f64> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call, and `st`
    // points to writable memory of the exact type statvfs fills in.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it initialised the struct (and zeroed() already made
    // every field a valid integer).
    let st = unsafe { st.assume_init() };
    let total = st.f_blocks as f64;
    let free = st.f_bfree as f64;
    let avail = st.f_bavail as f64;
    let used = total - free;
    let denom = used + avail;
    if denom <= 0.0 {
        return Ok(0.0);
    }
    Ok((used / denom).clamp(0.0, 1.0))
}

/// Offset of local time from UTC at `epoch_secs`, in seconds (0 if unknown).
pub fn local_utc_offset_secs(epoch_secs: i64) -> i64 {
    let t: libc::time_t = epoch_secs as libc::time_t;
    let mut tm = std::mem::MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: both pointers are valid for the duration of the call; localtime_r is the
    // re-entrant variant and writes only into `tm`.
    let res = unsafe { libc::localtime_r(&t, tm.as_mut_ptr()) };
    if res.is_null() {
        return 0;
    }
    // SAFETY: localtime_r succeeded and initialised `tm` (which was zeroed anyway).
    let tm = unsafe { tm.assume_init() };
    tm.tm_gmtoff
}

#[cfg(test)]
mod tests {
    #[test]
    fn disk_ratio_is_a_fraction() {
        let r = super::disk_used_ratio(std::path::Path::new("/")).unwrap();
        assert!((0.0..=1.0).contains(&r));
        assert!(super::disk_used_ratio(std::path::Path::new("/definitely/not/here")).is_err());
    }
}
