//! The stored-message record: what the CommitLog holds, what PULL_MESSAGE and
//! QUERY_MESSAGE return back to back, and the body of VIEW_MESSAGE_BY_ID.
//!
//! ```text
//! pos  size
//!   0   4  totalSize            (the whole record, this field included)
//!   4   4  magic                0xDAA320A7 (v1: 1-byte topic length) / 0xDAA320AB (v2: 2-byte)
//!   8   4  bodyCRC              crc32(body) & 0x7FFFFFFF
//!  12   4  queueId
//!  16   4  flag
//!  20   8  queueOffset          (patched by the store on append)
//!  28   8  physicalOffset       (patched by the store on append)
//!  36   4  sysFlag
//!  40   8  bornTimestamp
//!  48   8  bornHost             IPv4 (4) + port (int32); 16 + 4 with BORNHOST_V6_FLAG
//!  56   8  storeTimestamp       (68 with an IPv6 born host)
//!  64   8  storeHost            IPv4 (4) + port; 16 + 4 with STOREHOSTADDRESS_V6_FLAG
//!  72   4  reconsumeTimes
//!  76   8  preparedTransactionOffset
//!  84   4  bodyLength, then the body
//!       1  topicLength (v1, 0..=127) or 2 (v2, int16), then the topic (UTF-8)
//!       2  propertiesLength (int16), then the properties string
//! ```
//! (positions after 48 shift by 12 for each IPv6 host.) A segment ends with a blank
//! record: `int32 remaining | int32 0xCBD43194`.
//!
//! The decoders take untrusted bytes: every length is checked against the input and the
//! record's own `totalSize`, nothing is allocated beyond what the input holds, and errors
//! are returned, never panics. A compressed body ([`COMPRESSED_FLAG`]) is returned as
//! stored; decompressing is the caller's business.
//!
//! [`COMPRESSED_FLAG`]: super::sysflag::COMPRESSED_FLAG

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use bytes::Bytes;

use super::properties::{self, Properties};
use super::reader::{i32_at, put_at, Reader};
use super::sysflag::{self, BORNHOST_V6_FLAG, COMPRESSED_FLAG, STOREHOSTADDRESS_V6_FLAG};
use crate::error::{ProtocolError, Result};

/// Magic of a v1 record (1-byte topic length): Java's `MESSAGE_MAGIC_CODE` (-626843481).
pub const MESSAGE_MAGIC_CODE: u32 = 0xDAA3_20A7;
/// Magic of a v2 record (2-byte topic length): Java's `MESSAGE_MAGIC_CODE_V2`.
pub const MESSAGE_MAGIC_CODE_V2: u32 = 0xDAA3_20AB;
/// Magic of the blank record that ends a CommitLog segment: Java's `BLANK_MAGIC_CODE`.
pub const BLANK_MAGIC_CODE: u32 = 0xCBD4_3194;
/// A segment always keeps room for a blank record (`totalSize` + magic).
pub const END_FILE_MIN_BLANK_LENGTH: usize = 8;

pub const TOTAL_SIZE_POSITION: usize = 0;
pub const MAGIC_CODE_POSITION: usize = 4;
pub const BODY_CRC_POSITION: usize = 8;
pub const QUEUE_ID_POSITION: usize = 12;
pub const FLAG_POSITION: usize = 16;
/// Where the store patches the ConsumeQueue offset on append.
pub const QUEUE_OFFSET_POSITION: usize = 20;
/// Where the store patches the CommitLog offset on append.
pub const PHYSICAL_OFFSET_POSITION: usize = 28;
pub const SYS_FLAG_POSITION: usize = 36;
pub const BORN_TIMESTAMP_POSITION: usize = 40;
pub const BORN_HOST_POSITION: usize = 48;
/// `storeTimestamp`'s position when the born host is IPv4 (Java's
/// `MESSAGE_STORE_TIMESTAMP_POSITION`); see [`store_timestamp_position`] in general.
pub const STORE_TIMESTAMP_POSITION_V4: usize = 56;
/// Size of a record with IPv4 hosts, an empty body, topic and properties (v1).
pub const MIN_RECORD_LEN: usize = 91;

/// The largest topic a record can carry (v2's int16 length).
pub const MAX_TOPIC_LEN: usize = i16::MAX as usize;
/// The largest properties string a record can carry (int16 length).
pub const MAX_PROPERTIES_LEN: usize = i16::MAX as usize;
/// Topics longer than this (in bytes) need a v2 record.
pub const MAX_V1_TOPIC_LEN: usize = i8::MAX as usize;

/// Bytes taken by a host field (address + int32 port).
pub const fn host_field_len(v6: bool) -> usize {
    if v6 {
        20
    } else {
        8
    }
}

/// Position of `storeTimestamp` in a record with this `sysFlag`.
pub const fn store_timestamp_position(sys_flag: i32) -> usize {
    BORN_HOST_POSITION + host_field_len(sysflag::is_born_host_v6(sys_flag))
}

/// Position of `storeHost`.
pub const fn store_host_position(sys_flag: i32) -> usize {
    store_timestamp_position(sys_flag) + 8
}

/// Position of `reconsumeTimes`.
pub const fn reconsume_times_position(sys_flag: i32) -> usize {
    store_host_position(sys_flag) + host_field_len(sysflag::is_store_host_v6(sys_flag))
}

/// Position of `preparedTransactionOffset`.
pub const fn prepared_transaction_offset_position(sys_flag: i32) -> usize {
    reconsume_times_position(sys_flag) + 4
}

/// Position of `bodyLength` (the body follows it).
pub const fn body_length_position(sys_flag: i32) -> usize {
    prepared_transaction_offset_position(sys_flag) + 8
}

/// Java's `calMsgLength`: the `totalSize` of a record (saturating; never overflows).
pub const fn record_len(
    version: MessageVersion,
    sys_flag: i32,
    body_len: usize,
    topic_len: usize,
    properties_len: usize,
) -> usize {
    (body_length_position(sys_flag) + 4 + version.topic_length_size() + 2)
        .saturating_add(body_len)
        .saturating_add(topic_len)
        .saturating_add(properties_len)
}

/// Java's `UtilAll.crc32` (4.9.x and 5.x): CRC-32 of the body, top bit cleared.
pub fn body_crc(body: &[u8]) -> u32 {
    crc32fast::hash(body) & 0x7FFF_FFFF
}

/// Java's `String.hashCode` of the tag, widened to `i64`: the `tagsCode` of a
/// ConsumeQueue entry (`MessageExtBrokerInner.tagsString2tagsCode`; 0 for no tag).
pub fn tags_code(tags: &str) -> i64 {
    let mut h: i32 = 0;
    for unit in tags.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    i64::from(h)
}

/// Record format version, named by the magic: the width of the topic length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MessageVersion {
    #[default]
    V1,
    V2,
}

impl MessageVersion {
    pub const fn magic_code(self) -> u32 {
        match self {
            MessageVersion::V1 => MESSAGE_MAGIC_CODE,
            MessageVersion::V2 => MESSAGE_MAGIC_CODE_V2,
        }
    }

    pub const fn from_magic_code(magic: u32) -> Option<MessageVersion> {
        match magic {
            MESSAGE_MAGIC_CODE => Some(MessageVersion::V1),
            MESSAGE_MAGIC_CODE_V2 => Some(MessageVersion::V2),
            _ => None,
        }
    }

    pub const fn topic_length_size(self) -> usize {
        match self {
            MessageVersion::V1 => 1,
            MessageVersion::V2 => 2,
        }
    }
}

/// A stored message, owned. Decoding fills every field from the record; encoding
/// computes `store_size` and `body_crc` itself (ignoring the fields) and derives the
/// IPv6 bits of `sys_flag` from the hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageExt {
    pub topic: String,
    pub flag: i32,
    pub properties: Properties,
    pub body: Bytes,
    pub queue_id: i32,
    pub store_size: i32,
    pub queue_offset: i64,
    pub commit_log_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub body_crc: u32,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    /// V2 is also chosen on encode when the topic is longer than 127 bytes.
    pub version: MessageVersion,
}

const UNSPECIFIED_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));

impl Default for MessageExt {
    fn default() -> Self {
        MessageExt {
            topic: String::new(),
            flag: 0,
            properties: Properties::new(),
            body: Bytes::new(),
            queue_id: 0,
            store_size: 0,
            queue_offset: 0,
            commit_log_offset: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: UNSPECIFIED_ADDR,
            store_timestamp: 0,
            store_host: UNSPECIFIED_ADDR,
            body_crc: 0,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            version: MessageVersion::V1,
        }
    }
}

impl MessageExt {
    /// The offset message id (`msgId` of a pulled message): store host + CommitLog offset.
    pub fn msg_id(&self) -> String {
        super::id::encode_offset_msg_id(self.store_host, self.commit_log_offset)
    }

    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name)
    }

    pub fn tags(&self) -> Option<&str> {
        self.properties.tags()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.properties.keys()
    }

    /// `UNIQ_KEY`, the client message id.
    pub fn uniq_key(&self) -> Option<&str> {
        self.properties.uniq_key()
    }

    /// The ConsumeQueue `tagsCode` of this message's tag (0 without one).
    pub fn tags_code(&self) -> i64 {
        self.tags().map_or(0, tags_code)
    }

    pub fn is_compressed(&self) -> bool {
        self.sys_flag & COMPRESSED_FLAG != 0
    }

    /// The size [`encode_stored`] will write.
    pub fn encoded_len(&self) -> Result<usize> {
        let layout = Layout::of(&self.as_fields(), self.properties.encoded_len())?;
        Ok(layout.total)
    }

    fn as_fields(&self) -> StoredMessageRef<'_> {
        StoredMessageRef {
            version: self.version,
            store_size: self.store_size,
            body_crc: self.body_crc,
            queue_id: self.queue_id,
            flag: self.flag,
            queue_offset: self.queue_offset,
            commit_log_offset: self.commit_log_offset,
            sys_flag: self.sys_flag,
            born_timestamp: self.born_timestamp,
            born_host: self.born_host,
            store_timestamp: self.store_timestamp,
            store_host: self.store_host,
            reconsume_times: self.reconsume_times,
            prepared_transaction_offset: self.prepared_transaction_offset,
            body: &self.body,
            topic: &self.topic,
            properties: &[],
        }
    }

    fn from_ref(r: &StoredMessageRef<'_>, body: Bytes) -> MessageExt {
        MessageExt {
            topic: r.topic.to_owned(),
            flag: r.flag,
            properties: Properties::decode_bytes(r.properties),
            body,
            queue_id: r.queue_id,
            store_size: r.store_size,
            queue_offset: r.queue_offset,
            commit_log_offset: r.commit_log_offset,
            sys_flag: r.sys_flag,
            born_timestamp: r.born_timestamp,
            born_host: r.born_host,
            store_timestamp: r.store_timestamp,
            store_host: r.store_host,
            body_crc: r.body_crc,
            reconsume_times: r.reconsume_times,
            prepared_transaction_offset: r.prepared_transaction_offset,
            version: r.version,
        }
    }
}

/// A stored message borrowed from a buffer (zero-copy decode), or assembled by the
/// broker from a request (zero-copy encode: raw properties string, body slice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredMessageRef<'a> {
    pub version: MessageVersion,
    pub store_size: i32,
    pub body_crc: u32,
    pub queue_id: i32,
    pub flag: i32,
    pub queue_offset: i64,
    pub commit_log_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub body: &'a [u8],
    pub topic: &'a str,
    /// The raw properties string; see [`properties::pairs`] / [`properties::find`].
    pub properties: &'a [u8],
}

impl<'a> StoredMessageRef<'a> {
    /// The value of a property, without allocating (`None` if absent or not UTF-8).
    pub fn property(&self, name: &str) -> Option<&'a str> {
        properties::find_str(self.properties, name)
    }

    pub fn tags(&self) -> Option<&'a str> {
        self.property(properties::PROPERTY_TAGS)
    }

    pub fn keys(&self) -> Option<&'a str> {
        self.property(properties::PROPERTY_KEYS)
    }

    pub fn uniq_key(&self) -> Option<&'a str> {
        self.property(properties::PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
    }

    pub fn tags_code(&self) -> i64 {
        self.tags().map_or(0, tags_code)
    }

    pub fn msg_id(&self) -> String {
        super::id::encode_offset_msg_id(self.store_host, self.commit_log_offset)
    }

    /// Owned copy (body copied).
    pub fn to_owned_message(&self) -> MessageExt {
        MessageExt::from_ref(self, Bytes::copy_from_slice(self.body))
    }

    /// The size [`encode_stored_ref`] will write.
    pub fn encoded_len(&self) -> Result<usize> {
        Ok(Layout::of(self, self.properties.len())?.total)
    }
}

/// The sizes of a record to be written, validated.
struct Layout {
    version: MessageVersion,
    sys_flag: i32,
    total: usize,
}

impl Layout {
    fn of(r: &StoredMessageRef<'_>, properties_len: usize) -> Result<Layout> {
        let mut sys_flag = r.sys_flag & !(BORNHOST_V6_FLAG | STOREHOSTADDRESS_V6_FLAG);
        if r.born_host.is_ipv6() {
            sys_flag |= BORNHOST_V6_FLAG;
        }
        if r.store_host.is_ipv6() {
            sys_flag |= STOREHOSTADDRESS_V6_FLAG;
        }
        let topic_len = r.topic.len();
        let version = if topic_len > MAX_V1_TOPIC_LEN { MessageVersion::V2 } else { r.version };
        if topic_len > MAX_TOPIC_LEN {
            return Err(too_long("topic", topic_len, MAX_TOPIC_LEN));
        }
        if properties_len > MAX_PROPERTIES_LEN {
            return Err(too_long("properties", properties_len, MAX_PROPERTIES_LEN));
        }
        let total = record_len(version, sys_flag, r.body.len(), topic_len, properties_len);
        if total > i32::MAX as usize {
            return Err(too_long("record", total, i32::MAX as usize));
        }
        Ok(Layout { version, sys_flag, total })
    }
}

fn too_long(what: &str, len: usize, max: usize) -> ProtocolError {
    ProtocolError::Message(format!("{what} of {len} bytes exceeds {max} bytes"))
}

fn malformed(msg: impl Into<String>) -> ProtocolError {
    ProtocolError::Message(msg.into())
}

enum PropertiesSource<'a> {
    Raw(&'a [u8]),
    Map(&'a Properties),
}

fn put_host(out: &mut Vec<u8>, addr: SocketAddr) {
    match addr {
        SocketAddr::V4(a) => out.extend_from_slice(&a.ip().octets()),
        SocketAddr::V6(a) => out.extend_from_slice(&a.ip().octets()),
    }
    out.extend_from_slice(&i32::from(addr.port()).to_be_bytes());
}

fn encode_core(r: &StoredMessageRef<'_>, props: PropertiesSource<'_>, out: &mut Vec<u8>) -> Result<usize> {
    let props_len = match props {
        PropertiesSource::Raw(raw) => raw.len(),
        PropertiesSource::Map(map) => map.encoded_len(),
    };
    let layout = Layout::of(r, props_len)?;
    let start = out.len();
    out.reserve(layout.total);
    // Lengths are validated by Layout::of: the casts below cannot truncate.
    out.extend_from_slice(&(layout.total as i32).to_be_bytes());
    out.extend_from_slice(&layout.version.magic_code().to_be_bytes());
    out.extend_from_slice(&body_crc(r.body).to_be_bytes());
    out.extend_from_slice(&r.queue_id.to_be_bytes());
    out.extend_from_slice(&r.flag.to_be_bytes());
    out.extend_from_slice(&r.queue_offset.to_be_bytes());
    out.extend_from_slice(&r.commit_log_offset.to_be_bytes());
    out.extend_from_slice(&layout.sys_flag.to_be_bytes());
    out.extend_from_slice(&r.born_timestamp.to_be_bytes());
    put_host(out, r.born_host);
    out.extend_from_slice(&r.store_timestamp.to_be_bytes());
    put_host(out, r.store_host);
    out.extend_from_slice(&r.reconsume_times.to_be_bytes());
    out.extend_from_slice(&r.prepared_transaction_offset.to_be_bytes());
    out.extend_from_slice(&(r.body.len() as i32).to_be_bytes());
    out.extend_from_slice(r.body);
    match layout.version {
        MessageVersion::V1 => out.push(r.topic.len() as u8),
        MessageVersion::V2 => out.extend_from_slice(&(r.topic.len() as i16).to_be_bytes()),
    }
    out.extend_from_slice(r.topic.as_bytes());
    out.extend_from_slice(&(props_len as i16).to_be_bytes());
    match props {
        PropertiesSource::Raw(raw) => out.extend_from_slice(raw),
        PropertiesSource::Map(map) => map.encode_into(out),
    }
    debug_assert_eq!(out.len() - start, layout.total);
    Ok(out.len() - start)
}

/// Appends `msg` as one record to `out` and returns its size. `totalSize` and `bodyCRC`
/// are computed (the `store_size` / `body_crc` fields are ignored), the IPv6 bits of
/// `sysFlag` follow the hosts, and a topic over 127 bytes forces v2. On error (topic over
/// 32767 bytes, properties over 32767 bytes, record over 2 GiB) `out` is unchanged.
pub fn encode_stored(msg: &MessageExt, out: &mut Vec<u8>) -> Result<usize> {
    encode_core(&msg.as_fields(), PropertiesSource::Map(&msg.properties), out)
}

/// [`encode_stored`] from borrowed parts; the properties are written as given.
pub fn encode_stored_ref(msg: &StoredMessageRef<'_>, out: &mut Vec<u8>) -> Result<usize> {
    encode_core(msg, PropertiesSource::Raw(msg.properties), out)
}

fn read_port(r: &mut Reader<'_>, what: &'static str) -> Result<u16> {
    let port = r.i32(what)?;
    u16::try_from(port).map_err(|_| malformed(format!("{what} {port} out of range")))
}

fn read_host(r: &mut Reader<'_>, v6: bool, what: &'static str) -> Result<SocketAddr> {
    if v6 {
        let ip = Ipv6Addr::from(r.ipv6(what)?);
        let port = read_port(r, what)?;
        Ok(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0)))
    } else {
        let ip = Ipv4Addr::from(r.ipv4(what)?);
        let port = read_port(r, what)?;
        Ok(SocketAddr::V4(SocketAddrV4::new(ip, port)))
    }
}

fn non_negative(value: i64, what: &str) -> Result<usize> {
    usize::try_from(value).map_err(|_| malformed(format!("negative {what} {value}")))
}

/// Decodes the record at the start of `buf`, borrowing from it, and returns it with its
/// size. The record must be complete and self-consistent (`totalSize` equal to what its
/// fields add up to); with `check_crc`, a non-empty body must match `bodyCRC` (as Java's
/// `checkMessageAndReturnSize`). A blank record is an error (use [`peek_record`]).
pub fn decode_stored_ref(buf: &[u8], check_crc: bool) -> Result<(StoredMessageRef<'_>, usize)> {
    let mut head = Reader::new(buf);
    let total_size = head.i32("totalSize")?;
    let total = non_negative(i64::from(total_size), "totalSize")?;
    if total > buf.len() {
        return Err(malformed(format!("record of {total} bytes but only {} available", buf.len())));
    }
    let record = buf.get(..total).unwrap_or_default();
    let mut r = Reader::new(record);
    r.i32("totalSize")?;
    let magic = r.u32("magic")?;
    let version = match MessageVersion::from_magic_code(magic) {
        Some(v) => v,
        None if magic == BLANK_MAGIC_CODE => return Err(malformed("blank (end of file) record")),
        None => return Err(malformed(format!("illegal magic code 0x{magic:08X}"))),
    };
    let body_crc_field = r.u32("bodyCRC")?;
    let queue_id = r.i32("queueId")?;
    let flag = r.i32("flag")?;
    let queue_offset = r.i64("queueOffset")?;
    let commit_log_offset = r.i64("physicalOffset")?;
    let sys_flag = r.i32("sysFlag")?;
    let born_timestamp = r.i64("bornTimestamp")?;
    let born_host = read_host(&mut r, sysflag::is_born_host_v6(sys_flag), "bornHost")?;
    let store_timestamp = r.i64("storeTimestamp")?;
    let store_host = read_host(&mut r, sysflag::is_store_host_v6(sys_flag), "storeHost")?;
    let reconsume_times = r.i32("reconsumeTimes")?;
    let prepared_transaction_offset = r.i64("preparedTransactionOffset")?;
    let body_len = non_negative(i64::from(r.i32("bodyLength")?), "bodyLength")?;
    let body = r.take(body_len, "body")?;
    let topic_len = match version {
        MessageVersion::V1 => i64::from(r.i8("topicLength")?),
        MessageVersion::V2 => i64::from(r.i16("topicLength")?),
    };
    let topic_len = non_negative(topic_len, "topicLength")?;
    let topic =
        std::str::from_utf8(r.take(topic_len, "topic")?).map_err(|_| malformed("topic is not UTF-8"))?;
    let props_len = non_negative(i64::from(r.i16("propertiesLength")?), "propertiesLength")?;
    let properties = r.take(props_len, "properties")?;
    if r.remaining() != 0 {
        return Err(malformed(format!("totalSize {total} but the fields take {} bytes", r.pos())));
    }
    if check_crc && !body.is_empty() {
        let crc = body_crc(body);
        if crc != body_crc_field {
            return Err(malformed(format!(
                "body CRC mismatch: stored 0x{body_crc_field:08X}, computed 0x{crc:08X}"
            )));
        }
    }
    let msg = StoredMessageRef {
        version,
        store_size: total_size,
        body_crc: body_crc_field,
        queue_id,
        flag,
        queue_offset,
        commit_log_offset,
        sys_flag,
        born_timestamp,
        born_host,
        store_timestamp,
        store_host,
        reconsume_times,
        prepared_transaction_offset,
        body,
        topic,
        properties,
    };
    Ok((msg, total))
}

/// Decodes the record at the start of `buf` into an owned message (body copied).
pub fn decode_stored(buf: &[u8], check_crc: bool) -> Result<(MessageExt, usize)> {
    let (r, n) = decode_stored_ref(buf, check_crc)?;
    Ok((r.to_owned_message(), n))
}

/// [`decode_stored`] whose body shares `buf`'s allocation (no copy).
pub fn decode_stored_bytes(buf: &Bytes, check_crc: bool) -> Result<(MessageExt, usize)> {
    let (r, n) = decode_stored_ref(buf, check_crc)?;
    Ok((MessageExt::from_ref(&r, buf.slice_ref(r.body)), n))
}

/// Iterates over records back to back (a pull body, a CommitLog range). Yields an error
/// once, then stops.
pub fn iter_stored(buf: &[u8], check_crc: bool) -> StoredIter<'_> {
    StoredIter { buf, pos: 0, check_crc, done: false }
}

/// Iterator returned by [`iter_stored`].
#[derive(Debug, Clone)]
pub struct StoredIter<'a> {
    buf: &'a [u8],
    pos: usize,
    check_crc: bool,
    done: bool,
}

impl<'a> StoredIter<'a> {
    /// Offset in the buffer of the next record (after the last one yielded).
    pub fn offset(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for StoredIter<'a> {
    type Item = Result<StoredMessageRef<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        match decode_stored_ref(rest, self.check_crc) {
            Ok((msg, n)) => {
                self.pos += n;
                Some(Ok(msg))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Decodes every record of a pull / query body (no CRC check, as Java's client).
pub fn decode_all(buf: &[u8]) -> Result<Vec<MessageExt>> {
    iter_stored(buf, false).map(|r| r.map(|m| m.to_owned_message())).collect()
}

/// [`decode_all`] with bodies sharing `buf`'s allocation.
pub fn decode_all_bytes(buf: &Bytes) -> Result<Vec<MessageExt>> {
    iter_stored(buf, false).map(|r| r.map(|m| MessageExt::from_ref(&m, buf.slice_ref(m.body)))).collect()
}

/// What the first 8 bytes of a CommitLog position announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A message record of `total_size` bytes (not validated beyond its header).
    Message { total_size: usize, version: MessageVersion },
    /// The blank record ending a segment; `total_size` is the rest of the segment.
    Blank { total_size: usize },
}

/// Reads `totalSize` and the magic at the start of `buf` (store recovery / scanning).
/// Errors on fewer than 8 bytes, an unknown magic (e.g. zero-filled space) or a size that
/// cannot hold the record's own header.
pub fn peek_record(buf: &[u8]) -> Result<RecordKind> {
    let (Some(size), Some(magic)) = (i32_at(buf, 0), i32_at(buf, MAGIC_CODE_POSITION)) else {
        return Err(malformed(format!("{} bytes cannot hold a record header", buf.len())));
    };
    let total_size = non_negative(i64::from(size), "totalSize")?;
    let magic = magic as u32;
    if magic == BLANK_MAGIC_CODE {
        if total_size < END_FILE_MIN_BLANK_LENGTH {
            return Err(malformed(format!("blank record of {total_size} bytes")));
        }
        return Ok(RecordKind::Blank { total_size });
    }
    match MessageVersion::from_magic_code(magic) {
        Some(version) if total_size >= record_len(version, 0, 0, 0, 0) => {
            Ok(RecordKind::Message { total_size, version })
        }
        Some(_) => Err(malformed(format!("record of {total_size} bytes is too small"))),
        None => Err(malformed(format!("illegal magic code 0x{magic:08X}"))),
    }
}

/// Appends the blank record (`totalSize`, blank magic) ending a segment with
/// `remaining` bytes left; the rest of the segment is not written (as Java).
pub fn encode_blank(remaining: usize, out: &mut Vec<u8>) -> Result<usize> {
    if !(END_FILE_MIN_BLANK_LENGTH..=i32::MAX as usize).contains(&remaining) {
        return Err(malformed(format!("blank record of {remaining} bytes")));
    }
    out.extend_from_slice(&(remaining as i32).to_be_bytes());
    out.extend_from_slice(&BLANK_MAGIC_CODE.to_be_bytes());
    Ok(END_FILE_MIN_BLANK_LENGTH)
}

fn patch(record: &mut [u8], pos: usize, bytes: &[u8], what: &str) -> Result<()> {
    put_at(record, pos, bytes).ok_or_else(|| malformed(format!("record too short to patch {what} at {pos}")))
}

/// Writes `queueOffset` into an encoded record (at [`QUEUE_OFFSET_POSITION`]).
pub fn patch_queue_offset(record: &mut [u8], queue_offset: i64) -> Result<()> {
    patch(record, QUEUE_OFFSET_POSITION, &queue_offset.to_be_bytes(), "queueOffset")
}

/// Writes `physicalOffset` (the CommitLog offset) into an encoded record.
pub fn patch_commit_log_offset(record: &mut [u8], offset: i64) -> Result<()> {
    patch(record, PHYSICAL_OFFSET_POSITION, &offset.to_be_bytes(), "physicalOffset")
}

/// Writes `storeTimestamp` into an encoded record (position from its `sysFlag`).
pub fn patch_store_timestamp(record: &mut [u8], store_timestamp: i64) -> Result<()> {
    let sys_flag =
        i32_at(record, SYS_FLAG_POSITION).ok_or_else(|| malformed("record too short to read sysFlag"))?;
    let pos = store_timestamp_position(sys_flag);
    patch(record, pos, &store_timestamp.to_be_bytes(), "storeTimestamp")
}

/// Writes `queueId` into an encoded record.
pub fn patch_queue_id(record: &mut [u8], queue_id: i32) -> Result<()> {
    patch(record, QUEUE_ID_POSITION, &queue_id.to_be_bytes(), "queueId")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    /// A record written field by field, independently of the encoder.
    fn hand_built() -> Vec<u8> {
        let body = b"123456789";
        let topic = b"TopicTest";
        let props = b"TAGS\x01TagA\x02KEYS\x01k1";
        let total = 91 + body.len() + topic.len() + props.len();
        let mut v = Vec::new();
        v.extend_from_slice(&(total as i32).to_be_bytes());
        v.extend_from_slice(&[0xDA, 0xA3, 0x20, 0xA7]);
        // crc32("123456789") = 0xCBF43926, masked as Java's UtilAll.crc32.
        v.extend_from_slice(&0x4BF4_3926u32.to_be_bytes());
        v.extend_from_slice(&3i32.to_be_bytes()); // queueId
        v.extend_from_slice(&7i32.to_be_bytes()); // flag
        v.extend_from_slice(&42i64.to_be_bytes()); // queueOffset
        v.extend_from_slice(&4096i64.to_be_bytes()); // physicalOffset
        v.extend_from_slice(&(sysflag::TRANSACTION_PREPARED_TYPE).to_be_bytes());
        v.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
        v.extend_from_slice(&[192, 168, 0, 1]);
        v.extend_from_slice(&54321i32.to_be_bytes());
        v.extend_from_slice(&1_700_000_000_123i64.to_be_bytes());
        v.extend_from_slice(&[10, 0, 0, 2]);
        v.extend_from_slice(&10911i32.to_be_bytes());
        v.extend_from_slice(&2i32.to_be_bytes()); // reconsumeTimes
        v.extend_from_slice(&(-1i64).to_be_bytes()); // preparedTransactionOffset
        v.extend_from_slice(&(body.len() as i32).to_be_bytes());
        v.extend_from_slice(body);
        v.push(topic.len() as u8);
        v.extend_from_slice(topic);
        v.extend_from_slice(&(props.len() as i16).to_be_bytes());
        v.extend_from_slice(props);
        assert_eq!(v.len(), total);
        v
    }

    #[test]
    fn decodes_hand_built_record() {
        let buf = hand_built();
        let (m, n) = decode_stored(&buf, true).unwrap();
        assert_eq!(n, buf.len());
        assert_eq!(m.store_size as usize, buf.len());
        assert_eq!(m.version, MessageVersion::V1);
        assert_eq!(m.body_crc, 0x4BF4_3926);
        assert_eq!(m.queue_id, 3);
        assert_eq!(m.flag, 7);
        assert_eq!(m.queue_offset, 42);
        assert_eq!(m.commit_log_offset, 4096);
        assert_eq!(sysflag::transaction_value(m.sys_flag), sysflag::TRANSACTION_PREPARED_TYPE);
        assert_eq!(m.born_timestamp, 1_700_000_000_000);
        assert_eq!(m.born_host, "192.168.0.1:54321".parse().unwrap());
        assert_eq!(m.store_timestamp, 1_700_000_000_123);
        assert_eq!(m.store_host, "10.0.0.2:10911".parse().unwrap());
        assert_eq!(m.reconsume_times, 2);
        assert_eq!(m.prepared_transaction_offset, -1);
        assert_eq!(&m.body[..], b"123456789");
        assert_eq!(m.topic, "TopicTest");
        assert_eq!(m.tags(), Some("TagA"));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["k1"]);
        assert_eq!(m.tags_code(), 2_598_919);
        assert_eq!(m.msg_id(), "0A00000200002A9F0000000000001000");
        // The encoder reproduces the hand-built bytes exactly.
        let mut out = Vec::new();
        assert_eq!(encode_stored(&m, &mut out).unwrap(), buf.len());
        assert_eq!(out, buf);
        assert_eq!(m.encoded_len().unwrap(), buf.len());
        // Borrowed decode and re-encode from the raw properties.
        let (r, _) = decode_stored_ref(&buf, true).unwrap();
        assert_eq!(r.tags(), Some("TagA"));
        assert_eq!(r.tags_code(), 2_598_919);
        let mut out = Vec::new();
        encode_stored_ref(&r, &mut out).unwrap();
        assert_eq!(out, buf);
    }

    #[test]
    fn crc_and_size_checks() {
        let mut buf = hand_built();
        let body_pos = body_length_position(0) + 4;
        buf[body_pos] ^= 0x01;
        assert!(decode_stored(&buf, true).is_err());
        assert!(decode_stored(&buf, false).is_ok());
        let buf = hand_built();
        for cut in 0..buf.len() {
            assert!(decode_stored(&buf[..cut], false).is_err(), "cut at {cut}");
        }
        // totalSize larger than the fields: rejected even with trailing bytes present.
        let mut longer = hand_built();
        let total = longer.len() as i32 + 1;
        longer[..4].copy_from_slice(&total.to_be_bytes());
        longer.push(0);
        assert!(decode_stored(&longer, false).is_err());
    }

    #[test]
    fn tags_code_is_java_hash_code() {
        assert_eq!(tags_code("TagA"), 2_598_919);
        assert_eq!(tags_code(""), 0);
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE
        assert_eq!(tags_code("polygenelubricants"), i64::from(i32::MIN));
        // Non-BMP characters hash as two UTF-16 units: "😀" = 0xD83D 0xDE00.
        assert_eq!(tags_code("😀"), 0xD83D * 31 + 0xDE00);
    }

    #[test]
    fn ipv6_hosts_and_v2() {
        let mut m = MessageExt {
            topic: "T".repeat(200),
            body: Bytes::from_static(b"hello"),
            born_host: SocketAddr::new(IpAddr::V6("::1".parse().unwrap()), 1),
            store_host: SocketAddr::new(IpAddr::V6("fe80::2".parse().unwrap()), 10911),
            store_timestamp: 99,
            ..MessageExt::default()
        };
        m.properties.insert("A", "b");
        let mut out = Vec::new();
        let n = encode_stored(&m, &mut out).unwrap();
        assert_eq!(n, MIN_RECORD_LEN + 24 + 1 + 5 + 200 + 3);
        assert_eq!(
            peek_record(&out).unwrap(),
            RecordKind::Message { total_size: n, version: MessageVersion::V2 }
        );
        let (d, _) = decode_stored(&out, true).unwrap();
        assert_eq!(d.sys_flag, BORNHOST_V6_FLAG | STOREHOSTADDRESS_V6_FLAG);
        assert_eq!(d.version, MessageVersion::V2);
        assert_eq!(d.born_host, m.born_host);
        assert_eq!(d.store_host, m.store_host);
        assert_eq!(d.topic, m.topic);
        assert_eq!(d.msg_id().len(), 56);
        patch_store_timestamp(&mut out, 1234).unwrap();
        patch_queue_offset(&mut out, 5).unwrap();
        patch_commit_log_offset(&mut out, 6).unwrap();
        patch_queue_id(&mut out, 7).unwrap();
        let (d, _) = decode_stored(&out, true).unwrap();
        assert_eq!((d.store_timestamp, d.queue_offset, d.commit_log_offset, d.queue_id), (1234, 5, 6, 7));
    }

    #[test]
    fn limits_leave_out_unchanged() {
        let mut out = vec![1, 2, 3];
        let m = MessageExt { topic: "x".repeat(MAX_TOPIC_LEN + 1), ..MessageExt::default() };
        assert!(encode_stored(&m, &mut out).is_err());
        let mut m = MessageExt::default();
        m.properties.insert("k", "v".repeat(MAX_PROPERTIES_LEN));
        assert!(encode_stored(&m, &mut out).is_err());
        assert_eq!(out, [1, 2, 3]);
    }

    #[test]
    fn blank_record_and_iteration() {
        let mut buf = hand_built();
        let first = buf.len();
        buf.extend_from_slice(&hand_built());
        let all = decode_all(&buf).unwrap();
        assert_eq!(all.len(), 2);
        let all = decode_all_bytes(&Bytes::from(buf.clone())).unwrap();
        assert_eq!(all[1].body, Bytes::from_static(b"123456789"));
        let mut it = iter_stored(&buf, true);
        assert!(it.next().unwrap().is_ok());
        assert_eq!(it.offset(), first);
        encode_blank(100, &mut buf).unwrap();
        assert_eq!(peek_record(&buf[2 * first..]).unwrap(), RecordKind::Blank { total_size: 100 });
        assert!(decode_all(&buf).is_err());
        assert!(decode_stored(&buf[2 * first..], false).is_err());
        assert!(encode_blank(7, &mut buf).is_err());
        assert!(peek_record(&[0u8; 8]).is_err());
        assert!(peek_record(&[0u8; 7]).is_err());
        assert_eq!(
            peek_record(&buf).unwrap(),
            RecordKind::Message { total_size: first, version: MessageVersion::V1 }
        );
        assert_eq!(store_timestamp_position(0), STORE_TIMESTAMP_POSITION_V4);
        assert_eq!(body_length_position(0), 84);
        assert_eq!(record_len(MessageVersion::V1, 0, 0, 0, 0), MIN_RECORD_LEN);
        assert_eq!(MESSAGE_MAGIC_CODE as i32, -626_843_481);
        assert_eq!(MESSAGE_MAGIC_CODE_V2 as i32, -626_843_477);
        assert_eq!(BLANK_MAGIC_CODE as i32, -875_286_124);
    }
}
