//! Golden tests on frames captured from real clients and servers
//! (`tests/fixtures/captures/`, copied from the shared protocol captures).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferromq_protocol::frame::{decode_one, encode_to_vec, DEFAULT_MAX_FRAME_BYTES};
use ferromq_protocol::{LanguageCode, RemotingCommand, RequestCode, SerializeType};

const CPP: &str = include_str!("fixtures/captures/cpp_rustns.txt");
const NODE: &str = include_str!("fixtures/captures/node_rustns.txt");
const JAVA_BIN: &str = include_str!("fixtures/captures/javabin_rustns.txt");
const RUST_JAVA: &str = include_str!("fixtures/captures/rust_javans.txt");

/// One captured frame: rebuilt from the logged serialize type and header.
struct Captured {
    client_to_server: bool,
    frame: Vec<u8>,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn frames(capture: &str) -> Vec<Captured> {
    let mut out = Vec::new();
    for line in capture.lines() {
        let Some(ser_at) = line.find("serType=") else { continue };
        let ser: u8 = line[ser_at + 8..ser_at + 9].parse().unwrap();
        let header_at = line.find("header=").unwrap() + 7;
        let header_end = line.find(" bodyLen=").unwrap_or(line.len());
        let header_text = &line[header_at..header_end];
        let header = if ser == 1 { unhex(header_text) } else { header_text.as_bytes().to_vec() };
        let mut frame = Vec::new();
        frame.extend_from_slice(&((4 + header.len()) as u32).to_be_bytes());
        frame.extend_from_slice(&(((ser as u32) << 24) | header.len() as u32).to_be_bytes());
        frame.extend_from_slice(&header);
        out.push(Captured { client_to_server: line.contains("C->S"), frame });
    }
    out
}

fn decode(c: &Captured) -> RemotingCommand {
    decode_one(&c.frame, DEFAULT_MAX_FRAME_BYTES).unwrap().unwrap()
}

#[test]
fn cpp_client_route_request() {
    let f = frames(CPP);
    assert_eq!(f.len(), 3);
    let cmd = decode(&f[0]);
    assert_eq!(cmd.code, RequestCode::GET_ROUTEINFO_BY_TOPIC);
    assert_eq!(cmd.language, LanguageCode::Cpp);
    assert_eq!(cmd.version, 333);
    assert_eq!((cmd.opaque, cmd.flag), (0, 0));
    assert_eq!(cmd.remark.as_deref(), Some(""));
    assert_eq!(cmd.serialize_type, SerializeType::Json);
    assert_eq!(cmd.ext_fields.get("topic"), Some("PyCvsOnRust"));
    assert_eq!(cmd.ext_fields.get("AccessKey"), Some(""));
    assert_eq!(cmd.ext_fields.get("OnsChannel"), Some("ALIYUN"));
    assert_eq!(decode(&f[2]).opaque, 2);
    assert_eq!(decode(&f[2]).ext_fields.get("topic"), Some("TBW102"));
}

#[test]
fn node_client_route_request() {
    let f = frames(NODE);
    let cmd = decode(&f[0]);
    assert_eq!(cmd.code, 105);
    assert_eq!(cmd.language, LanguageCode::Java);
    assert_eq!((cmd.version, cmd.opaque), (121, 1));
    assert_eq!(cmd.remark, None);
    assert_eq!(cmd.ext_fields.get("topic"), Some("NodeOnRust"));
}

#[test]
fn java_client_binary_route_request_and_reencoding() {
    let f = frames(JAVA_BIN);
    let req = decode(&f[0]);
    assert!(f[0].client_to_server);
    assert_eq!(req.serialize_type, SerializeType::RocketMq);
    assert_eq!(
        (req.code, req.language, req.version, req.opaque, req.flag),
        (105, LanguageCode::Java, 409, 0, 0)
    );
    assert_eq!(req.ext_fields.get("topic"), Some("TBW102"));
    // Our encoder writes the very bytes the Java client wrote.
    assert_eq!(encode_to_vec(&req), f[0].frame);
    let second = decode(&f[2]);
    assert_eq!((second.opaque, second.ext_fields.get("topic")), (2, Some("JBinOnRust")));
    let resp = decode(&f[1]);
    assert!(resp.is_response() && !f[1].client_to_server);
    assert_eq!(resp.language, LanguageCode::Rust);
    assert_eq!(resp.ext_fields.len(), 0, "extFields:null decodes as empty");
}

#[test]
fn rust_client_and_java_nameserver() {
    let f = frames(RUST_JAVA);
    let req = decode(&f[0]);
    assert_eq!((req.language, req.version), (LanguageCode::Rust, 474));
    assert_eq!(req.ext_fields.get("topic"), Some("RustOnJava"));
    let resp = decode(&f[1]);
    assert!(resp.is_response());
    assert_eq!((resp.code, resp.language, resp.version), (0, LanguageCode::Java, 409));
}
