//! Route lookups: GET_ROUTEINFO_BY_TOPIC against a table of 2,000 topics on 8 broker
//! groups (master + slave each), with and without encoding the JSON body, and through the
//! whole request handler (decode header, look up, encode).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ferromq_namesrv::route::{BrokerRegistration, RouteTable};
use ferromq_protocol::body::{TopicConfig, TopicConfigSerializeWrapper};
use ferromq_protocol::json;

fn table() -> RouteTable {
    let mut t = RouteTable::default();
    for b in 0..8 {
        let mut w = TopicConfigSerializeWrapper::default();
        w.data_version.counter = 1;
        for i in 0..2000 {
            let name = format!("Topic{i}");
            w.topic_config_table.insert(name.clone(), TopicConfig::new(name));
        }
        for id in 0..2 {
            t.register_broker(
                BrokerRegistration {
                    cluster_name: "DefaultCluster".into(),
                    broker_addr: format!("10.0.0.{b}:{}", 10911 + id * 10),
                    broker_name: format!("broker-{b}"),
                    broker_id: id,
                    topic_config_wrapper: Some(w.clone()),
                    heartbeat_timeout_ms: 120_000,
                    ..Default::default()
                },
                0,
            );
        }
    }
    t
}

fn bench(c: &mut Criterion) {
    let t = table();
    let mut g = c.benchmark_group("route_lookup");
    g.throughput(Throughput::Elements(1));
    g.bench_function("pick_topic_route_data", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = (i + 7) % 2000;
            black_box(t.pick_topic_route_data(&format!("Topic{i}")))
        })
    });
    g.bench_function("pick_and_encode_json", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = (i + 7) % 2000;
            black_box(t.pick_topic_route_data(&format!("Topic{i}")).map(|r| json::to_vec(&r)))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
