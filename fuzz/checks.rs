//! The properties the fuzz targets check, one function per target.
//!
//! Shared, through `#[path]`, by the fuzz targets in `fuzz_targets/` and by the replay test
//! `crates/protocol/tests/fuzz_corpus.rs`, which runs every file of `fuzz/corpus/` and
//! `fuzz/regressions/` through them under plain `cargo test` (no nightly, no libFuzzer).
//!
//! Every decoder takes untrusted bytes: it must return an error, never panic, and whatever
//! it accepts must come back unchanged through encode -> decode.

use bytes::BytesMut;
use ferromq_protocol::body::register::RegisterBrokerBody;
use ferromq_protocol::json::quote_bare_keys;
use ferromq_protocol::message::batch::{decode_batch, decode_batch_entry, encode_batch_entry_raw};
use ferromq_protocol::message::id::{decode_offset_msg_id, encode_offset_msg_id};
use ferromq_protocol::message::properties::Properties;
use ferromq_protocol::message::stored::{decode_all, decode_stored_ref, encode_stored_ref, peek_record};
use ferromq_protocol::{decode_frame, encode_frame, RemotingCommand, SerializeType};

/// Frame limit while fuzzing: small, so inputs that claim huge frames hit the limit check.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// `frame_decode`: `data` is a byte stream as read from a socket (any number of frames,
/// maybe a partial one at the end). Decodes frames until more bytes are needed or an error,
/// and round-trips each decoded command.
pub fn frame_decode(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    // A decoded frame consumes at least 8 bytes, so the loop ends.
    while let Ok(Some(cmd)) = decode_frame(&mut buf, MAX_FRAME_BYTES) {
        frame_round_trip(&cmd);
    }
}

/// `json_header`: `data` is the header part of a frame with serialize type JSON.
pub fn json_header(data: &[u8]) {
    header(SerializeType::Json, data);
}

/// `binary_header`: `data` is the header part of a frame with serialize type ROCKETMQ.
pub fn binary_header(data: &[u8]) {
    header(SerializeType::RocketMq, data);
}

/// `json_body`: `data` is a body as any RocketMQ peer writes it (standard JSON, or
/// fastjson's dialect with bare numeric keys). Fixing the keys must not panic, and must not
/// change the meaning of input that already was standard JSON.
pub fn json_body(data: &[u8]) {
    let fixed = quote_bare_keys(data);
    let parsed = serde_json::from_slice::<serde_json::Value>(&fixed).ok();
    if let Ok(original) = serde_json::from_slice::<serde_json::Value>(data) {
        assert_eq!(parsed, Some(original), "quote_bare_keys changed standard JSON");
    }
    let via_helper = ferromq_protocol::json::from_slice::<serde_json::Value>(data).ok();
    assert_eq!(via_helper, parsed, "json::from_slice disagrees with quote_bare_keys + serde_json");
}

fn header(serialize_type: SerializeType, data: &[u8]) {
    let Ok(cmd) = RemotingCommand::decode_header_bytes(serialize_type, data) else {
        return;
    };
    assert_eq!(cmd.serialize_type, serialize_type);
    let mut out = Vec::new();
    cmd.encode_header(&mut out);
    let again = RemotingCommand::decode_header_bytes(serialize_type, &out);
    assert_eq!(again.as_ref(), Ok(&cmd), "header round trip changed the command");
    frame_round_trip(&cmd);
}

fn frame_round_trip(cmd: &RemotingCommand) {
    let mut out = BytesMut::new();
    encode_frame(cmd, &mut out);
    let encoded = out.len();
    // Re-encoding may be longer than the input (JSON escapes): no limit here.
    let again = decode_frame(&mut out, usize::MAX);
    assert_eq!(again.as_ref().map(Option::as_ref), Ok(Some(cmd)), "frame round trip changed the command");
    assert!(out.is_empty(), "{} of {encoded} re-encoded bytes left after decoding", out.len());
}

/// `stored_record`: `data` is CommitLog bytes as read from disk (a record, a batch of
/// records, a blank record, a torn or garbage tail). Peeking and decoding must not panic; a
/// record decoded with its CRC checked must encode back to exactly its bytes.
pub fn stored_record(data: &[u8]) {
    let _ = peek_record(data);
    let _ = decode_all(data);
    if let Ok((msg, size)) = decode_stored_ref(data, true) {
        let mut out = Vec::new();
        let n = encode_stored_ref(&msg, &mut out);
        assert_eq!(n.ok(), Some(size), "a decoded record must encode to its own size");
        let mut want = data[..size].to_vec();
        if msg.body.is_empty() {
            // Like Java's broker, the decoder checks no CRC for an empty body (whose CRC
            // is 0 when a real writer wrote it); the encoder writes that 0.
            want[8..12].copy_from_slice(&out[8..12]);
        }
        assert_eq!(out, want, "a decoded record must encode to its own bytes");
    }
}

/// `message_batch`: `data` is a SEND_BATCH_MESSAGE body from a producer. Decoding must not
/// panic; every entry it accepts re-encodes to its own bytes (but for the three fields
/// the sender fills and nobody checks: size, magic, CRC); its properties, parsed and written
/// back, parse to the same pairs.
pub fn message_batch(data: &[u8]) {
    let _ = decode_batch(data);
    let mut rest = data;
    while let Ok((entry, used)) = decode_batch_entry(rest) {
        let mut out = Vec::new();
        let n = encode_batch_entry_raw(entry.flag, entry.body, entry.properties, &mut out);
        assert_eq!(n.ok(), Some(used), "an accepted entry must encode to its own length");
        let mut want = rest.get(..used).expect("the decoder consumed no more than it had").to_vec();
        want[..12].copy_from_slice(&out[..12]);
        assert_eq!(out, want, "a decoded batch entry must encode to its own bytes");
        let props = Properties::decode_bytes(entry.properties);
        assert_eq!(Properties::decode(&props.encode()), props, "properties must survive a round trip");
        rest = &rest[used..];
        if rest.is_empty() {
            break;
        }
    }
}

/// `register_body`: `data` is a REGISTER_BROKER body, JSON or Java's compressed form (zlib,
/// inflated up to a limit). Neither decoder may panic; a compressed body it accepts
/// re-encodes to an equal body.
pub fn register_body(data: &[u8]) {
    let _ = RegisterBrokerBody::decode(data, false);
    if let Ok(body) = RegisterBrokerBody::decode(data, true) {
        let again = RegisterBrokerBody::decode(&body.encode_compressed(), true);
        assert_eq!(again.as_ref(), Ok(&body), "compressed register body round trip changed it");
    }
}

/// `offset_msg_id`: `data` is a message id from a VIEW_MESSAGE_BY_ID header or an admin
/// tool. Parsing must not panic; an id it accepts is the id of what it parsed (hex case
/// aside).
pub fn offset_msg_id(data: &[u8]) {
    let Ok(id) = std::str::from_utf8(data) else { return };
    if let Ok((host, offset)) = decode_offset_msg_id(id) {
        assert!(
            encode_offset_msg_id(host, offset).eq_ignore_ascii_case(id),
            "message id round trip changed it"
        );
    }
}
