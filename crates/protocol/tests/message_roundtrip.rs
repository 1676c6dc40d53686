//! Property tests of the message encodings: byte-identical round trips, and decoders
//! that never panic on arbitrary, truncated or mutated input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use bytes::Bytes;
use ferromq_protocol::message::id::{
    decode_offset_msg_id, encode_offset_msg_id, uniq_id_ip, uniq_id_pid, uniq_id_time, UniqIdGenerator,
};
use ferromq_protocol::message::properties::{self, Properties};
use ferromq_protocol::message::stored::{
    body_length_position, decode_all, decode_all_bytes, decode_stored, decode_stored_bytes,
    decode_stored_ref, encode_stored, encode_stored_ref, iter_stored, patch_commit_log_offset,
    patch_queue_offset, patch_store_timestamp, peek_record, MessageExt, MessageVersion, RecordKind,
    MAX_V1_TOPIC_LEN,
};
use ferromq_protocol::message::sysflag::{BORNHOST_V6_FLAG, STOREHOSTADDRESS_V6_FLAG};
use ferromq_protocol::message::{decode_batch, decode_batch_bytes, encode_batch, iter_batch, Message};
use proptest::prelude::*;

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::from(ip),
            port,
            0,
            0
        ))),
    ]
}

/// Properties that round-trip: non-empty names without \u0001 / \u0002, non-empty values
/// without \u0002 (a value may hold \u0001).
fn props() -> impl Strategy<Value = Properties> {
    prop::collection::vec(("[^\u{1}\u{2}]{1,12}", "[^\u{2}]{1,24}"), 0..8)
        .prop_map(|pairs| pairs.into_iter().collect())
}

fn body() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..600).prop_map(Bytes::from)
}

fn topic() -> impl Strategy<Value = String> {
    prop_oneof![
        "[%|a-zA-Z0-9_-]{0,40}",
        ".{0,60}",
        // Long enough to need a v2 record.
        "[a-z]{120,300}",
    ]
}

prop_compose! {
    fn message_ext()(
        topic in topic(),
        flag in any::<i32>(),
        properties in props(),
        body in body(),
        queue_id in any::<i32>(),
        queue_offset in any::<i64>(),
        commit_log_offset in any::<i64>(),
        sys_flag in any::<i32>(),
        born_timestamp in any::<i64>(),
        born_host in socket_addr(),
        store_timestamp in any::<i64>(),
        store_host in socket_addr(),
        reconsume_times in any::<i32>(),
        prepared_transaction_offset in any::<i64>(),
        v2 in any::<bool>(),
    ) -> MessageExt {
        MessageExt {
            topic,
            flag,
            properties,
            body,
            queue_id,
            store_size: 0,
            queue_offset,
            commit_log_offset,
            sys_flag,
            born_timestamp,
            born_host,
            store_timestamp,
            store_host,
            body_crc: 0,
            reconsume_times,
            prepared_transaction_offset,
            version: if v2 { MessageVersion::V2 } else { MessageVersion::V1 },
        }
    }
}

fn message() -> impl Strategy<Value = Message> {
    (any::<i32>(), props(), body()).prop_map(|(flag, properties, body)| Message {
        topic: String::new(),
        flag,
        properties,
        body,
        transaction_id: None,
    })
}

fn encode(m: &MessageExt) -> Vec<u8> {
    let mut out = Vec::new();
    let n = encode_stored(m, &mut out).unwrap();
    assert_eq!(n, out.len());
    out
}

/// What decoding an encoded `m` must give back: the computed fields filled in.
fn normalized(m: &MessageExt, encoded: &[u8]) -> MessageExt {
    let mut want = m.clone();
    want.store_size = encoded.len() as i32;
    want.body_crc = crc32fast::hash(&m.body) & 0x7FFF_FFFF;
    want.sys_flag &= !(BORNHOST_V6_FLAG | STOREHOSTADDRESS_V6_FLAG);
    if m.born_host.is_ipv6() {
        want.sys_flag |= BORNHOST_V6_FLAG;
    }
    if m.store_host.is_ipv6() {
        want.sys_flag |= STOREHOSTADDRESS_V6_FLAG;
    }
    if m.topic.len() > MAX_V1_TOPIC_LEN {
        want.version = MessageVersion::V2;
    }
    want
}

/// Every decoder, on the same bytes: must return, never panic.
fn decode_everything(bytes: &[u8]) {
    let _ = decode_stored(bytes, true);
    let _ = decode_stored(bytes, false);
    let _ = decode_stored_bytes(&Bytes::copy_from_slice(bytes), true);
    let _ = decode_all(bytes);
    let _ = decode_all_bytes(&Bytes::copy_from_slice(bytes));
    let _ = iter_stored(bytes, true).count();
    let _ = peek_record(bytes);
    let _ = decode_batch(bytes);
    let _ = decode_batch_bytes(&Bytes::copy_from_slice(bytes));
    let _ = iter_batch(bytes).count();
    let _ = Properties::decode_bytes(bytes);
    let _ = properties::pairs(bytes).count();
    let _ = properties::find(bytes, "TAGS");
    let mut copy = bytes.to_vec();
    let _ = patch_store_timestamp(&mut copy, 1);
    let _ = patch_queue_offset(&mut copy, 1);
    let _ = patch_commit_log_offset(&mut copy, 1);
}

proptest! {
    // No regression files: the workspace is shared and the tests are deterministic enough.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn properties_roundtrip(p in props()) {
        let s = p.encode();
        let mut raw = Vec::new();
        p.encode_into(&mut raw);
        prop_assert_eq!(raw.as_slice(), s.as_bytes());
        prop_assert_eq!(raw.len(), p.encoded_len());
        let back = Properties::decode(&s);
        prop_assert_eq!(&back, &p);
        prop_assert_eq!(back.encode(), s.clone());
        // A trailing separator (older / newer Java) decodes the same.
        let trailing = format!("{s}\u{2}");
        prop_assert_eq!(Properties::decode(&trailing), p.clone());
        for (k, v) in p.iter() {
            prop_assert_eq!(properties::find_str(&raw, k), Some(v));
        }
    }

    #[test]
    fn properties_decode_is_idempotent(s in ".{0,80}", raw in prop::collection::vec(any::<u8>(), 0..80)) {
        // Whatever Java-lenient decoding keeps, re-encoding and decoding keeps unchanged.
        for p in [Properties::decode(&s), Properties::decode_bytes(&raw)] {
            let again = Properties::decode(&p.encode());
            prop_assert_eq!(again, p);
        }
    }

    #[test]
    fn stored_roundtrip(m in message_ext()) {
        let bytes = encode(&m);
        prop_assert_eq!(m.encoded_len().unwrap(), bytes.len());
        let (d, n) = decode_stored(&bytes, true).unwrap();
        prop_assert_eq!(n, bytes.len());
        prop_assert_eq!(&d, &normalized(&m, &bytes));
        prop_assert_eq!(encode(&d), bytes.clone());
        // Zero-copy paths agree.
        let shared = Bytes::from(bytes.clone());
        let (d2, _) = decode_stored_bytes(&shared, true).unwrap();
        prop_assert_eq!(&d2, &d);
        let (r, _) = decode_stored_ref(&bytes, true).unwrap();
        let mut again = Vec::new();
        encode_stored_ref(&r, &mut again).unwrap();
        prop_assert_eq!(&again, &bytes);
        prop_assert_eq!(r.tags_code(), d.tags_code());
        match peek_record(&bytes).unwrap() {
            RecordKind::Message { total_size, version } => {
                prop_assert_eq!(total_size, bytes.len());
                prop_assert_eq!(version, d.version);
            }
            RecordKind::Blank { .. } => prop_assert!(false, "not a blank record"),
        }
    }

    #[test]
    fn stored_patching(m in message_ext(), qo in any::<i64>(), po in any::<i64>(), ts in any::<i64>()) {
        let mut bytes = encode(&m);
        patch_queue_offset(&mut bytes, qo).unwrap();
        patch_commit_log_offset(&mut bytes, po).unwrap();
        patch_store_timestamp(&mut bytes, ts).unwrap();
        let (d, _) = decode_stored(&bytes, true).unwrap();
        prop_assert_eq!((d.queue_offset, d.commit_log_offset, d.store_timestamp), (qo, po, ts));
        let mut want = normalized(&m, &bytes);
        want.queue_offset = qo;
        want.commit_log_offset = po;
        want.store_timestamp = ts;
        prop_assert_eq!(d, want);
    }

    #[test]
    fn pull_body_roundtrip(ms in prop::collection::vec(message_ext(), 0..5)) {
        let mut body = Vec::new();
        for m in &ms {
            encode_stored(m, &mut body).unwrap();
        }
        let all = decode_all(&body).unwrap();
        prop_assert_eq!(all.len(), ms.len());
        let mut again = Vec::new();
        for d in &all {
            encode_stored(d, &mut again).unwrap();
        }
        prop_assert_eq!(&again, &body);
        prop_assert_eq!(decode_all_bytes(&Bytes::from(body)).unwrap(), all);
    }

    #[test]
    fn stored_truncated_fails(m in message_ext(), cut in any::<prop::sample::Index>()) {
        let bytes = encode(&m);
        let cut = cut.index(bytes.len());
        prop_assert!(decode_stored(&bytes[..cut], false).is_err());
        prop_assert!(decode_all(&bytes[..cut]).is_err() || cut == 0);
    }

    #[test]
    fn flipped_body_byte_fails_crc(
        m in message_ext(),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        prop_assume!(!m.body.is_empty());
        let mut bytes = encode(&m);
        let pos = body_length_position(normalized(&m, &bytes).sys_flag) + 4 + at.index(m.body.len());
        bytes[pos] ^= mask;
        prop_assert!(decode_stored(&bytes, true).is_err());
        // Without the check the record still decodes, with the changed body.
        let (d, _) = decode_stored(&bytes, false).unwrap();
        prop_assert_ne!(d.body, m.body);
    }

    #[test]
    fn stored_mutated_never_panics(
        m in message_ext(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = encode(&m);
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        decode_everything(&bytes);
        // If a mutated record still decodes, it re-encodes to a record that decodes the same.
        if let Ok((d, _)) = decode_stored(&bytes, false) {
            let again = encode(&d);
            let (d2, _) = decode_stored(&again, true).unwrap();
            prop_assert_eq!(d2.topic, d.topic);
            prop_assert_eq!(d2.body, d.body);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_everything(&bytes);
    }

    #[test]
    fn plausible_headers_never_panic(
        total in 0i32..400,
        magic in prop_oneof![Just(0xDAA3_20A7u32), Just(0xDAA3_20ABu32), Just(0xCBD4_3194u32), any::<u32>()],
        tail in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&total.to_be_bytes());
        bytes.extend_from_slice(&magic.to_be_bytes());
        bytes.extend_from_slice(&tail);
        decode_everything(&bytes);
    }

    #[test]
    fn batch_roundtrip(ms in prop::collection::vec(message(), 0..6)) {
        let mut body = Vec::new();
        let n = encode_batch(&ms, &mut body).unwrap();
        prop_assert_eq!(n, body.len());
        let back = decode_batch(&body).unwrap();
        prop_assert_eq!(&back, &ms);
        let mut again = Vec::new();
        encode_batch(&back, &mut again).unwrap();
        prop_assert_eq!(&again, &body);
        prop_assert_eq!(decode_batch_bytes(&Bytes::from(body.clone())).unwrap(), back);
        for e in iter_batch(&body) {
            let e = e.unwrap();
            prop_assert_eq!(e.magic, 0);
            prop_assert_eq!(e.body_crc, 0);
            prop_assert_eq!(e.total_size as usize, 22 + e.body.len() + e.properties.len());
        }
    }

    #[test]
    fn batch_truncated_or_mutated(
        ms in prop::collection::vec(message(), 1..4),
        cut in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    ) {
        let mut body = Vec::new();
        encode_batch(&ms, &mut body).unwrap();
        // A cut at an entry boundary is a shorter valid batch; anywhere else it fails.
        let cut = cut.index(body.len());
        match decode_batch(&body[..cut]) {
            Ok(prefix) => prop_assert_eq!(&prefix[..], &ms[..prefix.len()]),
            Err(_) => prop_assert!(cut > 0),
        }
        let mut boundaries = vec![0];
        for m in &ms {
            let mut one = Vec::new();
            encode_batch(std::slice::from_ref(m), &mut one).unwrap();
            boundaries.push(boundaries[boundaries.len() - 1] + one.len());
        }
        prop_assert_eq!(decode_batch(&body[..cut]).is_ok(), boundaries.contains(&cut));
        for (at, b) in edits {
            let i = at.index(body.len());
            body[i] = b;
        }
        decode_everything(&body);
    }

    #[test]
    fn offset_msg_id_roundtrip(addr in socket_addr(), offset in any::<i64>()) {
        let id = encode_offset_msg_id(addr, offset);
        prop_assert_eq!(id.len(), if addr.is_ipv4() { 32 } else { 56 });
        prop_assert!(id.bytes().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c)));
        prop_assert_eq!(decode_offset_msg_id(&id).unwrap(), (addr, offset));
        prop_assert_eq!(decode_offset_msg_id(&id.to_lowercase()).unwrap(), (addr, offset));
    }

    #[test]
    fn ids_never_panic_on_garbage(s in ".{0,70}", hex in "[0-9A-Fa-fG]{0,60}") {
        for id in [s.as_str(), hex.as_str()] {
            let _ = decode_offset_msg_id(id);
            let _ = uniq_id_ip(id);
            let _ = uniq_id_pid(id);
            let _ = uniq_id_time(id, 0, 0);
        }
    }

    #[test]
    fn uniq_id_fields(
        v6 in any::<bool>(),
        ip4 in any::<[u8; 4]>(),
        ip6 in any::<[u8; 16]>(),
        pid in any::<u32>(),
        seed in any::<i32>(),
        now in 0i64..4_102_444_800_000,
        offset_min in -14 * 60i64..=14 * 60,
        later in 1i64..28 * 86_400_000,
    ) {
        let ip = if v6 { IpAddr::V6(Ipv6Addr::from(ip6)) } else { IpAddr::V4(Ipv4Addr::from(ip4)) };
        let tz = offset_min * 60_000;
        let mut g = UniqIdGenerator::new(ip, pid, seed).with_utc_offset(tz);
        let a = g.next(now);
        let b = g.next(now);
        prop_assert_eq!(a.len(), if v6 { 56 } else { 32 });
        prop_assert_ne!(&a, &b);
        prop_assert_eq!(&a[..a.len() - 4], &b[..b.len() - 4]);
        prop_assert_eq!(uniq_id_ip(&a).unwrap(), ip);
        prop_assert_eq!(uniq_id_pid(&a).unwrap(), pid as u16);
        prop_assert_eq!(uniq_id_time(&a, now + later, tz).unwrap(), now);
    }

    #[test]
    fn uniq_id_extreme_clocks(now in any::<i64>(), tz in any::<i64>()) {
        let mut g = UniqIdGenerator::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1, 2).with_utc_offset(tz);
        let id = g.next(now);
        prop_assert_eq!(id.len(), 32);
        let _ = uniq_id_time(&id, now, tz);
    }
}
