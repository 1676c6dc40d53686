//! Encode/decode of a typical send request (SEND_MESSAGE_V2, 500-byte body) in both header
//! encodings, and of its typed header.

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferromq_protocol::frame::{decode_frame, encode_frame, DEFAULT_MAX_FRAME_BYTES};
use ferromq_protocol::header::SendMessageRequestHeaderV2;
use ferromq_protocol::{RemotingCommand, RequestCode, SerializeType};

fn send_request(serialize_type: SerializeType) -> RemotingCommand {
    let header = SendMessageRequestHeaderV2 {
        producer_group: "please_rename_unique_group_name".into(),
        topic: "TopicTest".into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 3,
        sys_flag: 0,
        born_timestamp: 1_795_240_622_392,
        flag: 0,
        properties: Some("KEYS\u{1}order-1234\u{2}UNIQ_KEY\u{1}7F0000010B2C18B4AAC27A6E52B40000\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA".into()),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        batch: Some(false),
        max_reconsume_times: None,
        ..Default::default()
    };
    let mut cmd = RemotingCommand::request_with_header(RequestCode::SEND_MESSAGE_V2, &header)
        .with_body(vec![b'x'; 500]);
    cmd.opaque = 12345;
    cmd.serialize_type = serialize_type;
    cmd
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("send_request_500B");
    g.throughput(Throughput::Elements(1));
    for (name, st) in [("json", SerializeType::Json), ("rocketmq", SerializeType::RocketMq)] {
        let cmd = send_request(st);
        let mut wire = BytesMut::new();
        encode_frame(&cmd, &mut wire);
        let wire = wire.freeze();
        g.bench_function(BenchmarkId::new("encode", name), |b| {
            let mut out = BytesMut::with_capacity(4096);
            b.iter(|| {
                out.clear();
                encode_frame(black_box(&cmd), &mut out);
            })
        });
        g.bench_function(BenchmarkId::new("decode", name), |b| {
            b.iter(|| {
                let mut buf = BytesMut::from(&wire[..]);
                black_box(decode_frame(&mut buf, DEFAULT_MAX_FRAME_BYTES).ok().flatten())
            })
        });
        g.bench_function(BenchmarkId::new("decode+typed_header", name), |b| {
            b.iter(|| {
                let mut buf = BytesMut::from(&wire[..]);
                let cmd = decode_frame(&mut buf, DEFAULT_MAX_FRAME_BYTES).ok().flatten();
                black_box(cmd.and_then(|c| c.decode_header::<SendMessageRequestHeaderV2>().ok()))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
