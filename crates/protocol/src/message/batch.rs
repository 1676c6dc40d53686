//! The body of SEND_BATCH_MESSAGE (`MessageDecoder.encodeMessages` / `decodeMessages`):
//! messages back to back, each
//!
//! ```text
//! int32 totalSize | int32 magic (0) | int32 bodyCRC (0) | int32 flag
//! int32 bodyLength | body | int16 propertiesLength | properties
//! ```
//!
//! The topic is not in the body (it comes from the request header). Like Java, the
//! decoder reads the entries field by field and does not trust `totalSize`, `magic` or
//! `bodyCRC` (they are exposed in [`BatchEntryRef`]); lengths are checked against the
//! input, and a negative length is an error.

use bytes::Bytes;

use super::properties::Properties;
use super::reader::Reader;
use super::send::Message;
use crate::error::{ProtocolError, Result};

/// Size of an entry's fixed fields (everything but body and properties).
pub const BATCH_ENTRY_OVERHEAD: usize = 4 + 4 + 4 + 4 + 4 + 2;
/// The largest properties string of an entry (int16 length).
pub const MAX_BATCH_PROPERTIES_LEN: usize = i16::MAX as usize;

/// One entry of a batch body, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchEntryRef<'a> {
    /// As written by the sender (Java: the entry's size); not checked.
    pub total_size: i32,
    /// As written by the sender (Java: 0); not checked.
    pub magic: i32,
    /// As written by the sender (Java: 0); not checked.
    pub body_crc: i32,
    pub flag: i32,
    pub body: &'a [u8],
    /// The raw properties string; see [`super::properties::pairs`].
    pub properties: &'a [u8],
}

impl BatchEntryRef<'_> {
    /// An owned message with an empty topic (body copied).
    pub fn to_message(self) -> Message {
        self.to_message_with_body(Bytes::copy_from_slice(self.body))
    }

    fn to_message_with_body(self, body: Bytes) -> Message {
        Message {
            topic: String::new(),
            flag: self.flag,
            properties: Properties::decode_bytes(self.properties),
            body,
            transaction_id: None,
        }
    }
}

/// Size of the entry [`encode_batch_entry_raw`] writes for these lengths.
pub fn batch_entry_len(body_len: usize, properties_len: usize) -> usize {
    BATCH_ENTRY_OVERHEAD.saturating_add(body_len).saturating_add(properties_len)
}

/// Appends one entry from its parts; `properties` is written as given. Errors (leaving
/// `out` unchanged) on properties over 32767 bytes or an entry over 2 GiB.
pub fn encode_batch_entry_raw(flag: i32, body: &[u8], properties: &[u8], out: &mut Vec<u8>) -> Result<usize> {
    let total = check_lengths(body.len(), properties.len())?;
    out.reserve(total);
    put_head(out, total, flag, body);
    out.extend_from_slice(properties);
    Ok(total)
}

/// Appends one message as a batch entry (its topic is not written).
pub fn encode_batch_entry(msg: &Message, out: &mut Vec<u8>) -> Result<usize> {
    let props_len = msg.properties.encoded_len();
    let total = check_lengths(msg.body.len(), props_len)?;
    out.reserve(total);
    put_head(out, total, msg.flag, &msg.body);
    msg.properties.encode_into(out);
    Ok(total)
}

fn check_lengths(body_len: usize, props_len: usize) -> Result<usize> {
    if props_len > MAX_BATCH_PROPERTIES_LEN {
        return Err(ProtocolError::Message(format!(
            "properties of {props_len} bytes exceed {MAX_BATCH_PROPERTIES_LEN} bytes"
        )));
    }
    let total = batch_entry_len(body_len, props_len);
    if total > i32::MAX as usize {
        return Err(ProtocolError::Message(format!("batch entry of {total} bytes exceeds 2 GiB")));
    }
    Ok(total)
}

/// Writes everything up to the properties length (lengths already checked).
fn put_head(out: &mut Vec<u8>, total: usize, flag: i32, body: &[u8]) {
    let props_len = total - BATCH_ENTRY_OVERHEAD - body.len();
    out.extend_from_slice(&(total as i32).to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&flag.to_be_bytes());
    out.extend_from_slice(&(body.len() as i32).to_be_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&(props_len as i16).to_be_bytes());
}

/// Appends the batch body of `messages` (topics are not written) and returns its size.
/// On error `out` is left as it was.
pub fn encode_batch(messages: &[Message], out: &mut Vec<u8>) -> Result<usize> {
    let start = out.len();
    for msg in messages {
        if let Err(e) = encode_batch_entry(msg, out) {
            out.truncate(start);
            return Err(e);
        }
    }
    Ok(out.len() - start)
}

/// Decodes the entry at the start of `buf`; returns it with the bytes it took.
pub fn decode_batch_entry(buf: &[u8]) -> Result<(BatchEntryRef<'_>, usize)> {
    let mut r = Reader::new(buf);
    let total_size = r.i32("totalSize")?;
    let magic = r.i32("magic")?;
    let body_crc = r.i32("bodyCRC")?;
    let flag = r.i32("flag")?;
    let body_len = r.i32("bodyLength")?;
    let body_len = usize::try_from(body_len)
        .map_err(|_| ProtocolError::Message(format!("negative bodyLength {body_len}")))?;
    let body = r.take(body_len, "body")?;
    let props_len = r.i16("propertiesLength")?;
    let props_len = usize::try_from(props_len)
        .map_err(|_| ProtocolError::Message(format!("negative propertiesLength {props_len}")))?;
    let properties = r.take(props_len, "properties")?;
    let entry = BatchEntryRef { total_size, magic, body_crc, flag, body, properties };
    Ok((entry, r.pos()))
}

/// Iterates over the entries of a batch body. Yields an error once, then stops.
pub fn iter_batch(buf: &[u8]) -> BatchIter<'_> {
    BatchIter { buf, pos: 0, done: false }
}

/// Iterator returned by [`iter_batch`].
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl BatchIter<'_> {
    /// Offset of the next entry.
    pub fn offset(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<BatchEntryRef<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        match decode_batch_entry(rest) {
            Ok((entry, n)) => {
                self.pos += n;
                Some(Ok(entry))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Decodes a whole batch body into messages with empty topics (bodies copied).
pub fn decode_batch(buf: &[u8]) -> Result<Vec<Message>> {
    iter_batch(buf).map(|e| e.map(|e| e.to_message())).collect()
}

/// [`decode_batch`] with bodies sharing `buf`'s allocation.
pub fn decode_batch_bytes(buf: &Bytes) -> Result<Vec<Message>> {
    iter_batch(buf).map(|e| e.map(|e| e.to_message_with_body(buf.slice_ref(e.body)))).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn java_layout() {
        let mut m = Message::new("ignored", &b"hi"[..]);
        m.flag = 5;
        m.properties.insert("A", "1");
        let mut out = Vec::new();
        let n = encode_batch(&[m.clone(), Message::default()], &mut out).unwrap();
        let mut want = Vec::new();
        want.extend_from_slice(&27i32.to_be_bytes()); // 22 + 2 + 3
        want.extend_from_slice(&[0; 8]);
        want.extend_from_slice(&5i32.to_be_bytes());
        want.extend_from_slice(&2i32.to_be_bytes());
        want.extend_from_slice(b"hi");
        want.extend_from_slice(&3i16.to_be_bytes());
        want.extend_from_slice(b"A\x011");
        want.extend_from_slice(&22i32.to_be_bytes());
        want.extend_from_slice(&[0; 16]);
        want.extend_from_slice(&[0; 2]);
        assert_eq!(out, want);
        assert_eq!(n, want.len());
        let back = decode_batch(&out).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].flag, 5);
        assert_eq!(&back[0].body[..], b"hi");
        assert_eq!(back[0].properties.get("A"), Some("1"));
        assert_eq!(back[0].topic, "");
        assert_eq!(decode_batch_bytes(&Bytes::from(out.clone())).unwrap(), back);
        let entries: Vec<_> = iter_batch(&out).collect::<Result<_>>().unwrap();
        assert_eq!(entries[0].total_size, 27);
        assert_eq!(entries[1].properties, b"");
        let mut raw = Vec::new();
        encode_batch_entry_raw(5, b"hi", b"A\x011", &mut raw).unwrap();
        assert_eq!(raw, want[..27]);
    }

    #[test]
    fn errors() {
        assert!(decode_batch(&[]).unwrap().is_empty());
        let mut out = Vec::new();
        encode_batch(&[Message::new("t", &b"abc"[..])], &mut out).unwrap();
        for cut in 1..out.len() {
            assert!(decode_batch(&out[..cut]).is_err());
        }
        let mut neg = out.clone();
        neg[16..20].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(decode_batch(&neg).is_err());
        let mut big = Message::default();
        big.properties.insert("k", "v".repeat(MAX_BATCH_PROPERTIES_LEN));
        let mut out = vec![9];
        assert!(encode_batch(&[Message::default(), big], &mut out).is_err());
        assert_eq!(out, [9]);
    }
}
