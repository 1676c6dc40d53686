//! The length-prefixed frame: `int32 length | int32 (serializeType << 24 | headerLength) |
//! header | body`, all big-endian; `length` counts everything after itself.

use bytes::{Buf, BufMut, BytesMut};

use crate::command::{RemotingCommand, SerializeType};
use crate::error::{ProtocolError, Result};

/// Java's `com.rocketmq.remoting.frameMaxLength` default: 16 MiB.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Largest header length the 24-bit field can carry.
const MAX_HEADER_BYTES: usize = 0x00FF_FFFF;

/// Appends `cmd` as one frame to `out`.
pub fn encode_frame(cmd: &RemotingCommand, out: &mut BytesMut) {
    let start = out.len();
    out.reserve(8 + 256 + cmd.body.len());
    out.put_u64(0); // length and header mark, patched below
    cmd.encode_header(out);
    let header_len = (out.len() - start - 8).min(MAX_HEADER_BYTES) as u32;
    out.extend_from_slice(&cmd.body);
    let length = (out.len() - start - 4) as u32;
    let mark = ((cmd.serialize_type as u32) << 24) | header_len;
    out[start..start + 4].copy_from_slice(&length.to_be_bytes());
    out[start + 4..start + 8].copy_from_slice(&mark.to_be_bytes());
}

/// Encodes `cmd` as a standalone frame.
pub fn encode_to_vec(cmd: &RemotingCommand) -> Vec<u8> {
    let mut out = BytesMut::with_capacity(256 + cmd.body.len());
    encode_frame(cmd, &mut out);
    out.to_vec()
}

/// Length of the next frame in `buf` if its length prefix is there, after checking it
/// against `max_frame_bytes`. Lets a reader reserve exactly what the frame needs.
pub fn peek_frame_len(buf: &[u8], max_frame_bytes: usize) -> Result<Option<usize>> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let length = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if length > max_frame_bytes {
        return Err(ProtocolError::FrameTooLarge { size: length, limit: max_frame_bytes });
    }
    if length < 4 {
        return Err(ProtocolError::FrameTooSmall(length));
    }
    Ok(Some(4 + length))
}

/// Takes one complete frame off the front of `buf`, or returns `Ok(None)` when more bytes
/// are needed. On `Err` the stream is unusable and the connection must be closed. The body
/// shares `buf`'s allocation (no copy).
pub fn decode_frame(buf: &mut BytesMut, max_frame_bytes: usize) -> Result<Option<RemotingCommand>> {
    let Some(total) = peek_frame_len(buf, max_frame_bytes)? else {
        return Ok(None);
    };
    if buf.len() < total {
        return Ok(None);
    }
    let mut frame = buf.split_to(total);
    frame.advance(4);
    let mark = frame.get_u32();
    let serialize_type = SerializeType::from_byte((mark >> 24) as u8)?;
    let header_len = (mark & 0x00FF_FFFF) as usize;
    if header_len > frame.len() {
        return Err(ProtocolError::HeaderLengthInvalid { header: header_len, frame: total - 4 });
    }
    let header = frame.split_to(header_len);
    let mut cmd = RemotingCommand::decode_header_bytes(serialize_type, &header)?;
    cmd.body = frame.freeze();
    Ok(Some(cmd))
}

/// Decodes exactly one frame from a byte slice (tests, fuzzing, captures).
pub fn decode_one(bytes: &[u8], max_frame_bytes: usize) -> Result<Option<RemotingCommand>> {
    let mut buf = BytesMut::from(bytes);
    decode_frame(&mut buf, max_frame_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::RequestCode;

    #[test]
    fn rejects_oversized_length_without_allocating() {
        let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0][..]);
        let err = decode_frame(&mut buf, DEFAULT_MAX_FRAME_BYTES).unwrap_err();
        assert!(matches!(err, ProtocolError::FrameTooLarge { .. }));
    }

    #[test]
    fn waits_for_the_rest_of_a_frame() {
        let cmd = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC);
        let bytes = encode_to_vec(&cmd);
        for cut in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..cut]);
            assert_eq!(decode_frame(&mut buf, DEFAULT_MAX_FRAME_BYTES).unwrap(), None);
        }
        let mut buf = BytesMut::from(&bytes[..]);
        assert_eq!(decode_frame(&mut buf, DEFAULT_MAX_FRAME_BYTES).unwrap(), Some(cmd));
        assert!(buf.is_empty());
    }

    #[test]
    fn header_length_beyond_frame_is_an_error() {
        let mut raw = Vec::new();
        raw.put_u32(8);
        raw.put_u32(100); // header claims 100 bytes, frame has 4
        raw.put_u32(0);
        assert!(matches!(
            decode_one(&raw, DEFAULT_MAX_FRAME_BYTES),
            Err(ProtocolError::HeaderLengthInvalid { .. })
        ));
    }

    #[test]
    fn unknown_serialize_type_is_an_error() {
        let mut raw = Vec::new();
        raw.put_u32(4);
        raw.put_u32(7 << 24);
        assert_eq!(decode_one(&raw, DEFAULT_MAX_FRAME_BYTES), Err(ProtocolError::UnknownSerializeType(7)));
    }
}
