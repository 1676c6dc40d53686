//! The only module allowed to call `unsafe` libc functions: `statvfs` for disk usage,
//! `fallocate` to reserve a segment's blocks, `sync_file_range` to write pre-written
//! zeros back early, `ioprio_set` to give that work the idle I/O priority and
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

/// Bytes used on the filesystem holding `path` and its capacity, computed like `df`:
/// used = total - free, capacity = used + available to unprivileged users.
pub fn disk_usage(path: &Path) -> io::Result<(u64, u64)> {
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
    // The field types are the platform's (u32 on some 32-bit targets).
    #[allow(clippy::unnecessary_cast)]
    let (block, blocks, bfree, bavail) =
        (st.f_frsize as u64, st.f_blocks as u64, st.f_bfree as u64, st.f_bavail as u64);
    let used = blocks.saturating_sub(bfree).saturating_mul(block);
    let avail = bavail.saturating_mul(block);
    Ok((used, used.saturating_add(avail)))
}

/// Reserves `len` bytes of disk for `file` (extending it to `len` if shorter) with
/// `fallocate`, so that writes into the range need no block allocation and cannot fail for
/// lack of space. Returns `Ok(false)` where the filesystem cannot do it (the caller then
/// falls back to a sparse file).
pub fn allocate(file: &std::fs::File, len: u64) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let len = libc::off_t::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "length does not fit off_t"))?;
    // SAFETY: the descriptor is open for the duration of the call (borrowed from `file`);
    // fallocate with mode 0 only allocates blocks and extends the size, never unmaps memory.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => Ok(false),
        _ => Err(err),
    }
}

/// Writes back the dirty pages of `file` in `[offset, offset + len)` and waits for them
/// (`sync_file_range` WAIT_BEFORE | WRITE | WAIT_AFTER): data only, no metadata and no
/// device cache flush, so not a durability guarantee — used to get pre-written zeros out
/// of the page cache before the group commit's fsyncs would have to write them.
pub fn write_back_range(file: &std::fs::File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (libc::off64_t::try_from(offset), libc::off64_t::try_from(len)) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "range does not fit off64_t"));
    };
    let flags =
        libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: the descriptor is open for the duration of the call (borrowed from `file`);
    // sync_file_range reads no user memory.
    let rc = unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, flags) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Gives the calling thread the idle I/O scheduling class (`ioprio_set`): its reads and
/// write-backs are served when nobody else's are waiting (on schedulers that honour
/// priorities, e.g. mq-deadline and BFQ).
pub fn set_idle_io_priority() -> io::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    const IOPRIO_CLASS_IDLE: libc::c_long = 3;
    const IOPRIO_CLASS_SHIFT: libc::c_long = 13;
    // SAFETY: ioprio_set takes three integers (who = this thread, id 0 = the caller) and
    // touches no user memory.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0 as libc::c_long,
            IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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
    fn disk_usage_is_within_capacity() {
        let (used, capacity) = super::disk_usage(std::path::Path::new("/")).unwrap();
        assert!(capacity > 0 && used <= capacity);
        assert!(super::disk_usage(std::path::Path::new("/definitely/not/here")).is_err());
    }

    #[test]
    fn allocate_extends_and_reads_zeros() {
        use std::os::unix::fs::FileExt;
        let dir = tempfile::tempdir().unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("a"))
            .unwrap();
        if super::allocate(&f, 1 << 20).unwrap() {
            assert_eq!(f.metadata().unwrap().len(), 1 << 20);
            let mut b = [1u8; 16];
            f.read_exact_at(&mut b, 4096).unwrap();
            assert_eq!(b, [0u8; 16]);
        } else {
            // Not supported here: the file must be left as it was, for the sparse fallback.
            assert_eq!(f.metadata().unwrap().len(), 0);
        }
    }
}
