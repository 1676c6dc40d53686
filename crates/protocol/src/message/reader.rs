//! A bounds-checked big-endian cursor over untrusted bytes (private to the message
//! codecs). Every read returns an error instead of panicking, and nothing is allocated
//! except the error message.

use crate::error::{ProtocolError, Result};

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len());
        match end.and_then(|end| self.buf.get(self.pos..end).map(|s| (s, end))) {
            Some((slice, end)) => {
                self.pos = end;
                Ok(slice)
            }
            None => Err(truncated(what, self.pos, n, self.remaining())),
        }
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let slice = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    pub(crate) fn i8(&mut self, what: &'static str) -> Result<i8> {
        Ok(i8::from_be_bytes(self.array::<1>(what)?))
    }

    pub(crate) fn i16(&mut self, what: &'static str) -> Result<i16> {
        Ok(i16::from_be_bytes(self.array::<2>(what)?))
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32> {
        Ok(i32::from_be_bytes(self.array::<4>(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array::<4>(what)?))
    }

    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64> {
        Ok(i64::from_be_bytes(self.array::<8>(what)?))
    }

    pub(crate) fn ipv4(&mut self, what: &'static str) -> Result<[u8; 4]> {
        self.array::<4>(what)
    }

    pub(crate) fn ipv6(&mut self, what: &'static str) -> Result<[u8; 16]> {
        self.array::<16>(what)
    }
}

fn truncated(what: &'static str, pos: usize, need: usize, have: usize) -> ProtocolError {
    ProtocolError::Message(format!("truncated {what} at byte {pos}: need {need} bytes, {have} left"))
}

/// Reads a big-endian `i32` at `pos` without a cursor (record peeking and patching).
pub(crate) fn i32_at(buf: &[u8], pos: usize) -> Option<i32> {
    let bytes = buf.get(pos..pos.checked_add(4)?)?;
    let mut out = [0u8; 4];
    out.copy_from_slice(bytes);
    Some(i32::from_be_bytes(out))
}

/// Writes `bytes` over `buf[pos..]`, or returns `None` when they do not fit.
pub(crate) fn put_at(buf: &mut [u8], pos: usize, bytes: &[u8]) -> Option<()> {
    let end = pos.checked_add(bytes.len())?;
    buf.get_mut(pos..end)?.copy_from_slice(bytes);
    Some(())
}
