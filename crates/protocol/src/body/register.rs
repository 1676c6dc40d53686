//! REGISTER_BROKER body and result.

use std::io::Read;

use serde::{Deserialize, Serialize};

use super::topic::{DataVersion, TopicConfig, TopicConfigSerializeWrapper};
use super::KVTable;
use crate::error::{ProtocolError, Result};
use crate::json;

/// Upper bound on an inflated compressed registration body: a broker with a million
/// topics fits; a deflate bomb does not get unbounded memory.
pub const MAX_INFLATED_REGISTER_BODY: u64 = 256 * 1024 * 1024;

/// `RegisterBrokerBody`: the topics a broker hosts, their version, its filter servers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RegisterBrokerBody {
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
    pub filter_server_list: Vec<String>,
}

impl RegisterBrokerBody {
    /// Decodes a body in either form: JSON (`compressed=false`, the default) or Java's
    /// compressed form (zlib of length-prefixed data version, compact topic configs and
    /// filter server list).
    pub fn decode(body: &[u8], compressed: bool) -> Result<Self> {
        if body.is_empty() {
            return Ok(RegisterBrokerBody::default());
        }
        if !compressed {
            return json::from_slice(body);
        }
        let mut inflated = Vec::new();
        flate2::read::ZlibDecoder::new(body)
            .take(MAX_INFLATED_REGISTER_BODY)
            .read_to_end(&mut inflated)
            .map_err(|e| ProtocolError::Body(format!("compressed register body: {e}")))?;
        let mut rest = inflated.as_slice();
        let data_version: DataVersion = json::from_slice(take_chunk(&mut rest)?)?;
        let topic_count = take_i32(&mut rest)?;
        let mut wrapper = TopicConfigSerializeWrapper { data_version, ..Default::default() };
        for _ in 0..topic_count.max(0) {
            let chunk = take_chunk(&mut rest)?;
            let text = std::str::from_utf8(chunk)
                .map_err(|_| ProtocolError::Body("topic config is not UTF-8".into()))?;
            let config = TopicConfig::decode_compact(text)
                .ok_or_else(|| ProtocolError::Body(format!("bad topic config {text:?}")))?;
            wrapper.topic_config_table.insert(config.topic_name.clone(), config);
        }
        let filter_server_list =
            if rest.is_empty() { Vec::new() } else { json::from_slice(take_chunk(&mut rest)?)? };
        Ok(RegisterBrokerBody { topic_config_serialize_wrapper: wrapper, filter_server_list })
    }

    /// Encodes in Java's compressed form (what a broker with `compressedRegister=true` sends).
    pub fn encode_compressed(&self) -> Vec<u8> {
        use std::io::Write;
        let mut raw = Vec::new();
        let put_chunk = |raw: &mut Vec<u8>, bytes: &[u8]| {
            raw.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
            raw.extend_from_slice(bytes);
        };
        put_chunk(&mut raw, &json::to_vec(&self.topic_config_serialize_wrapper.data_version));
        let table = &self.topic_config_serialize_wrapper.topic_config_table;
        raw.extend_from_slice(&(table.len() as i32).to_be_bytes());
        for config in table.values() {
            put_chunk(&mut raw, config.encode_compact().as_bytes());
        }
        put_chunk(&mut raw, &json::to_vec(&self.filter_server_list));
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing into a Vec cannot fail.
        let _ = enc.write_all(&raw);
        enc.finish().unwrap_or_default()
    }
}

fn take_i32(rest: &mut &[u8]) -> Result<i32> {
    if rest.len() < 4 {
        return Err(ProtocolError::Body("compressed register body truncated".into()));
    }
    let (n, tail) = rest.split_at(4);
    *rest = tail;
    Ok(i32::from_be_bytes([n[0], n[1], n[2], n[3]]))
}

fn take_chunk<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8]> {
    let len = take_i32(rest)?;
    if len < 0 || len as usize > rest.len() {
        return Err(ProtocolError::Body("compressed register body chunk exceeds the body".into()));
    }
    let (chunk, tail) = rest.split_at(len as usize);
    *rest = tail;
    Ok(chunk)
}

/// What a broker learns from registering: the master's HA and broker addresses (for a
/// slave) and the order-topic KV table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterBrokerResult {
    pub ha_server_addr: Option<String>,
    pub master_addr: Option<String>,
    pub kv_table: KVTable,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RegisterBrokerBody {
        let mut body = RegisterBrokerBody::default();
        let w = &mut body.topic_config_serialize_wrapper;
        w.data_version = DataVersion { state_version: 0, timestamp: 1_700_000_000_000, counter: 3 };
        w.topic_config_table.insert("TopicTest".into(), TopicConfig::new("TopicTest"));
        w.topic_config_table.insert("TBW102".into(), TopicConfig { perm: 7, ..TopicConfig::new("TBW102") });
        body
    }

    #[test]
    fn json_and_compressed_forms_agree() {
        let body = sample();
        let json_form = RegisterBrokerBody::decode(&json::to_vec(&body), false).unwrap();
        let zip_form = RegisterBrokerBody::decode(&body.encode_compressed(), true).unwrap();
        assert_eq!(json_form, body);
        assert_eq!(zip_form, body);
    }

    #[test]
    fn parses_java_register_body() {
        let text = br#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":2,"stateVersion":0,"timestamp":1795240000000},"topicConfigTable":{"SELF_TEST_TOPIC":{"order":false,"perm":6,"readQueueNums":1,"topicFilterType":"SINGLE_TAG","topicName":"SELF_TEST_TOPIC","topicSysFlag":0,"writeQueueNums":1}}}}"#;
        let body = RegisterBrokerBody::decode(text, false).unwrap();
        let t = &body.topic_config_serialize_wrapper.topic_config_table["SELF_TEST_TOPIC"];
        assert_eq!((t.read_queue_nums, t.perm), (1, 6));
        assert_eq!(body.topic_config_serialize_wrapper.data_version.counter, 2);
    }

    #[test]
    fn garbage_compressed_body_is_an_error() {
        assert!(RegisterBrokerBody::decode(b"not zlib", true).is_err());
    }
}
