//! Hot paths: append + commit of a 500-byte message (ASYNC_FLUSH), and a 32-message pull.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferromq_store::{MessageStore, MessageStoreConfig, PutMessage};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = MessageStoreConfig::with_root(dir.path());
    cfg.mapped_file_size_commit_log = 256 << 20;
    let store = MessageStore::open(cfg).unwrap();
    store.start().unwrap();
    let m = PutMessage::new("B", 0, vec![b'x'; 400]).with_properties([("TAGS", "t")]);
    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Elements(1));
    g.bench_function("put_message_500B_async", |b| {
        b.iter(|| store.put_message(m.clone()).unwrap().wait().unwrap())
    });
    store.wait_dispatched(store.max_phy_offset(), std::time::Duration::from_secs(60));
    g.throughput(Throughput::Elements(32));
    g.bench_function("get_message_32", |b| {
        let max = store.get_max_offset_in_queue("B", 0).max(33);
        let mut off = 0;
        b.iter(|| {
            let r = store.get_message("g", "B", 0, off, 32, None).unwrap();
            off = if r.next_begin_offset + 32 >= max { 0 } else { r.next_begin_offset };
            r
        })
    });
    g.finish();
    store.shutdown().unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
