//! Byte-level round trips of every typed header: arbitrary header -> ext fields ->
//! `RemotingCommand` -> frame bytes (JSON and ROCKETMQ binary) -> decode -> ext fields ->
//! header, equal to the original, and re-encoding gives identical bytes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::fmt::Debug;

use ferromq_protocol::command::{ExtFields, RemotingCommand, SerializeType};
use ferromq_protocol::frame::{decode_one, encode_to_vec, DEFAULT_MAX_FRAME_BYTES};
use ferromq_protocol::header::*;
use proptest::prelude::*;

/// Calls `$callback! { every header type }`.
macro_rules! for_all_headers {
    ($callback:ident) => {
        $callback! {
            // admin
            GetBrokerConfigResponseHeader,
            GetConsumeStatsRequestHeader,
            GetConsumeStatsInBrokerHeader,
            QueryConsumeTimeSpanRequestHeader,
            ViewBrokerStatsDataRequestHeader,
            AddBrokerRequestHeader,
            RemoveBrokerRequestHeader,
            NotifyMinBrokerIdChangeRequestHeader,
            ExchangeHAInfoRequestHeader,
            ExchangeHAInfoResponseHeader,
            ResetMasterFlushOffsetHeader,
            NotifyBrokerRoleChangedRequestHeader,
            // client
            HeartbeatRequestHeader,
            UnregisterClientRequestHeader,
            GetConsumerListByGroupRequestHeader,
            NotifyConsumerIdsChangedRequestHeader,
            LockBatchMqRequestHeader,
            UnlockBatchMqRequestHeader,
            GetConsumerConnectionListRequestHeader,
            GetProducerConnectionListRequestHeader,
            GetConsumerRunningInfoRequestHeader,
            ConsumeMessageDirectlyResultRequestHeader,
            // namesrv
            GetRouteInfoRequestHeader,
            RegisterBrokerRequestHeader,
            RegisterBrokerResponseHeader,
            UnRegisterBrokerRequestHeader,
            BrokerHeartbeatRequestHeader,
            QueryDataVersionRequestHeader,
            QueryDataVersionResponseHeader,
            PutKVConfigRequestHeader,
            GetKVConfigRequestHeader,
            GetKVConfigResponseHeader,
            DeleteKVConfigRequestHeader,
            GetKVListByNamespaceRequestHeader,
            WipeWritePermOfBrokerRequestHeader,
            WipeWritePermOfBrokerResponseHeader,
            AddWritePermOfBrokerRequestHeader,
            AddWritePermOfBrokerResponseHeader,
            DeleteTopicFromNamesrvRequestHeader,
            GetTopicsByClusterRequestHeader,
            RegisterTopicRequestHeader,
            GetBrokerMemberGroupRequestHeader,
            // offset
            QueryConsumerOffsetRequestHeader,
            QueryConsumerOffsetResponseHeader,
            UpdateConsumerOffsetRequestHeader,
            GetMaxOffsetRequestHeader,
            GetMaxOffsetResponseHeader,
            GetMinOffsetRequestHeader,
            GetMinOffsetResponseHeader,
            SearchOffsetRequestHeader,
            SearchOffsetResponseHeader,
            GetEarliestMsgStoretimeRequestHeader,
            GetEarliestMsgStoretimeResponseHeader,
            ResetOffsetRequestHeader,
            GetConsumerStatusRequestHeader,
            QueryCorrectionOffsetHeader,
            CloneGroupOffsetRequestHeader,
            // pop
            PopMessageRequestHeader,
            PopMessageResponseHeader,
            AckMessageRequestHeader,
            ChangeInvisibleTimeRequestHeader,
            ChangeInvisibleTimeResponseHeader,
            PeekMessageRequestHeader,
            NotificationRequestHeader,
            NotificationResponseHeader,
            PollingInfoRequestHeader,
            PollingInfoResponseHeader,
            // pull
            PullMessageRequestHeader,
            PullMessageResponseHeader,
            QueryMessageRequestHeader,
            QueryMessageResponseHeader,
            ViewMessageRequestHeader,
            QueryConsumeQueueRequestHeader,
            // send
            SendMessageRequestHeader,
            SendMessageRequestHeaderV2,
            SendMessageResponseHeader,
            ReplyMessageRequestHeader,
            ConsumerSendMsgBackRequestHeader,
            RecallMessageRequestHeader,
            RecallMessageResponseHeader,
            // topic
            CreateTopicRequestHeader,
            CreateTopicListRequestHeader,
            DeleteTopicRequestHeader,
            GetTopicConfigRequestHeader,
            GetAllTopicConfigRequestHeader,
            GetAllTopicConfigResponseHeader,
            GetTopicStatsInfoRequestHeader,
            QueryTopicConsumeByWhoRequestHeader,
            QueryTopicsByConsumerRequestHeader,
            QuerySubscriptionByConsumerRequestHeader,
            GetSubscriptionGroupConfigRequestHeader,
            GetAllSubscriptionGroupRequestHeader,
            GetAllSubscriptionGroupResponseHeader,
            DeleteSubscriptionGroupRequestHeader,
            UpdateGroupForbiddenRequestHeader,
            // transaction
            EndTransactionRequestHeader,
            CheckTransactionStateRequestHeader,
            ResumeCheckHalfMessageRequestHeader,
        }
    };
}

macro_rules! header_names {
    ($($h:ident),* $(,)?) => {
        const ALL_HEADER_NAMES: &[&str] = &[$(stringify!($h)),*];
    };
}
for_all_headers!(header_names);

macro_rules! round_trip_fn {
    ($($h:ident),* $(,)?) => {
        /// Round-trips one arbitrary value of every header type.
        fn round_trip_all(g: &mut HeaderGen) -> Result<(), TestCaseError> {
            $(round_trip::<$h>(g, stringify!($h))?;)*
            Ok(())
        }
    };
}
for_all_headers!(round_trip_fn);

fn fail(name: &str, what: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(format!("{name}: {what}"))
}

fn round_trip<H>(g: &mut HeaderGen, name: &str) -> Result<(), TestCaseError>
where
    H: CommandHeader + ArbitraryHeader + PartialEq + Debug,
{
    let header = H::arbitrary(g);
    let mut ext = ExtFields::new();
    header.write_ext_fields(&mut ext);
    let direct = H::read_ext_fields(&ext).map_err(|e| fail(name, e))?;
    prop_assert_eq!(&direct, &header, "{}: straight from ext fields {:?}", name, ext);

    for serialize_type in [SerializeType::Json, SerializeType::RocketMq] {
        // The binary header carries the code as int16.
        let mut cmd = RemotingCommand::request(g.next_u64() as i16 as i32);
        cmd.serialize_type = serialize_type;
        cmd.opaque = g.next_u64() as i32;
        if g.bool() {
            cmd.mark_response();
        }
        if g.bool() {
            cmd.remark = Some(g.string());
        }
        cmd.body = g.string().into_bytes().into();
        cmd.ext_fields = ext.clone();

        let bytes = encode_to_vec(&cmd);
        let decoded = decode_one(&bytes, DEFAULT_MAX_FRAME_BYTES)
            .map_err(|e| fail(name, e))?
            .ok_or_else(|| fail(name, "frame incomplete"))?;
        prop_assert_eq!(decoded.serialize_type, serialize_type);
        prop_assert_eq!(&decoded.ext_fields, &ext, "{}: ext fields over {:?}", name, serialize_type);
        prop_assert_eq!(&decoded.body, &cmd.body);
        let back: H = decoded.decode_header().map_err(|e| fail(name, e))?;
        prop_assert_eq!(&back, &header, "{}: header over {:?}", name, serialize_type);

        // Re-encoding the decoded command, with its ext fields rewritten from the
        // decoded header, gives the same bytes.
        let mut again = decoded.clone();
        again.ext_fields = ExtFields::new();
        back.write_ext_fields(&mut again.ext_fields);
        prop_assert_eq!(encode_to_vec(&again), bytes, "{}: re-encoding over {:?}", name, serialize_type);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_header_round_trips_through_both_encodings(seed in any::<u64>()) {
        let mut g = HeaderGen::new(seed);
        round_trip_all(&mut g)?;
    }

    #[test]
    fn send_header_v1_v2_conversions_are_lossless(seed in any::<u64>()) {
        let mut g = HeaderGen::new(seed);
        let v1 = SendMessageRequestHeader::arbitrary(&mut g);
        let v2 = SendMessageRequestHeaderV2::from_v1(v1.clone());
        prop_assert_eq!(&v2.clone().to_v1(), &v1);

        // Every v1 ext field shows up under its v2 name with the same text.
        let mut ext1 = ExtFields::new();
        v1.write_ext_fields(&mut ext1);
        let mut ext2 = ExtFields::new();
        v2.write_ext_fields(&mut ext2);
        prop_assert_eq!(ext1.len(), ext2.len());
        for (k1, k2) in V1_TO_V2 {
            prop_assert_eq!(ext1.get(k1), ext2.get(k2), "{} vs {}", k1, k2);
        }

        let v2 = SendMessageRequestHeaderV2::arbitrary(&mut g);
        prop_assert_eq!(SendMessageRequestHeaderV2::from_v1(v2.clone().to_v1()), v2);
    }
}

/// v1 ext-field name -> v2 ext-field name.
const V1_TO_V2: [(&str, &str); 18] = [
    ("producerGroup", "a"),
    ("topic", "b"),
    ("defaultTopic", "c"),
    ("defaultTopicQueueNums", "d"),
    ("queueId", "e"),
    ("sysFlag", "f"),
    ("bornTimestamp", "g"),
    ("flag", "h"),
    ("properties", "i"),
    ("reconsumeTimes", "j"),
    ("unitMode", "k"),
    ("maxReconsumeTimes", "l"),
    ("batch", "m"),
    ("bname", "n"),
    ("lo", "lo"),
    ("ns", "ns"),
    ("nsd", "nsd"),
    ("oway", "oway"),
];

/// Guards the list above: every `pub struct` declared in `src/header/*.rs` (other than
/// mod.rs's helpers) must be round-tripped.
#[test]
fn every_declared_header_is_listed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/header");
    let mut declared = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") || path.file_name().is_some_and(|n| n == "mod.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("pub struct ") {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                declared.insert(name);
            }
        }
    }
    let listed: BTreeSet<String> = ALL_HEADER_NAMES.iter().map(|s| s.to_string()).collect();
    assert_eq!(listed.len(), ALL_HEADER_NAMES.len(), "a header is listed twice");
    assert_eq!(declared, listed);
}

#[test]
fn missing_required_fields_name_the_field() {
    let ext = ExtFields::new();
    let err = SendMessageRequestHeader::read_ext_fields(&ext).unwrap_err();
    assert_eq!(err.to_string(), "the custom field <producerGroup> is null");

    let ext: ExtFields = [("consumerGroup", "G"), ("queueId", "0")].into_iter().collect();
    let err = QueryConsumerOffsetRequestHeader::read_ext_fields(&ext).unwrap_err();
    assert_eq!(err.to_string(), "the custom field <topic> is null");

    let ext: ExtFields = [("topic", "T")].into_iter().collect();
    let err = GetMaxOffsetRequestHeader::read_ext_fields(&ext).unwrap_err();
    assert_eq!(err.to_string(), "the custom field <queueId> is null");

    // Optional-only headers read from nothing.
    assert_eq!(
        HeartbeatRequestHeader::read_ext_fields(&ExtFields::new()),
        Ok(HeartbeatRequestHeader::default())
    );
    assert_eq!(
        GetAllTopicConfigRequestHeader::read_ext_fields(&ExtFields::new()),
        Ok(GetAllTopicConfigRequestHeader::default())
    );
}

#[test]
fn rpc_base_fields_use_java_names() {
    let header = PullMessageRequestHeader {
        consumer_group: "G".into(),
        topic: "T".into(),
        ns: Some("N".into()),
        nsd: Some(true),
        bname: Some("broker-a".into()),
        oway: Some(false),
        lo: Some(true),
        ..Default::default()
    };
    let mut ext = ExtFields::new();
    header.write_ext_fields(&mut ext);
    assert_eq!(ext.get("ns"), Some("N"));
    assert_eq!(ext.get("nsd"), Some("true"));
    assert_eq!(ext.get("bname"), Some("broker-a"));
    assert_eq!(ext.get("oway"), Some("false"));
    assert_eq!(ext.get("lo"), Some("true"));
    assert_eq!(ext.get("queueOffset"), Some("0"));
    assert_eq!(ext.get("subscription"), None);
}

#[test]
fn boundary_type_reads_like_java() {
    let read = |text: &str| {
        let ext: ExtFields = [("topic", "T"), ("queueId", "0"), ("timestamp", "1"), ("boundaryType", text)]
            .into_iter()
            .collect();
        SearchOffsetRequestHeader::read_ext_fields(&ext).unwrap().boundary_type
    };
    assert_eq!(read("UPPER"), Some(BoundaryType::Upper));
    assert_eq!(read("upper"), Some(BoundaryType::Upper));
    assert_eq!(read("LOWER"), Some(BoundaryType::Lower));
    assert_eq!(read("whatever"), Some(BoundaryType::Lower));
    let mut ext = ExtFields::new();
    SearchOffsetRequestHeader { boundary_type: Some(BoundaryType::Upper), ..Default::default() }
        .write_ext_fields(&mut ext);
    assert_eq!(ext.get("boundaryType"), Some("UPPER"));
}

#[test]
fn header_gen_is_deterministic_and_varied() {
    let a: Vec<PullMessageRequestHeader> = {
        let mut g = HeaderGen::new(7);
        (0..64).map(|_| PullMessageRequestHeader::arbitrary(&mut g)).collect()
    };
    let b: Vec<PullMessageRequestHeader> = {
        let mut g = HeaderGen::new(7);
        (0..64).map(|_| PullMessageRequestHeader::arbitrary(&mut g)).collect()
    };
    assert_eq!(a, b);
    assert!(a.iter().any(|h| h.topic.is_empty()));
    assert!(a.iter().any(|h| !h.topic.is_ascii()));
    assert!(a.iter().any(|h| h.topic.contains(['"', '\\', '\u{1}'])));
    assert!(a.iter().any(|h| h.subscription.is_none()));
    assert!(a.iter().any(|h| h.subscription.is_some()));
    assert!(a.iter().any(|h| h.queue_offset == i64::MIN));
    assert!(a.iter().any(|h| h.queue_offset == i64::MAX));
}
