//! Property: any sequence of appends, reads, clean or crash restarts and retention keeps
//! the invariants (queue offsets contiguous from min to max, every entry pointing at a
//! valid record of its topic and queue, min <= max) and loses no acknowledged message
//! that retention did not remove.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use common::*;
use ferromq_store::FlushDiskType;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Put { topic: u8, qid: u8, len: usize },
    Restart { crash: bool },
    Expire,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..3, 0u8..2, 0usize..1800).prop_map(|(topic, qid, len)| Op::Put { topic, qid, len }),
        1 => any::<bool>().prop_map(|crash| Op::Restart { crash }),
        1 => Just(Op::Expire),
    ]
}

proptest! {
    // 16 cases in the suite; `PROPTEST_CASES=300` for a longer run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(16),
        ..ProptestConfig::default()
    })]

    #[test]
    fn invariants_hold(ops in proptest::collection::vec(op(), 1..60), sync in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::new();
        let flush = if sync { FlushDiskType::SyncFlush } else { FlushDiskType::AsyncFlush };
        let mut cfg = small_config(dir.path(), flush);
        cfg.delete_file_batch_max = 100;
        let mut store = Some(env.open(&cfg));
        let mut model: HashMap<(String, i32), Vec<String>> = HashMap::new();
        let mut n = 0;
        for op in ops {
            let s = store.as_ref().unwrap();
            match op {
                Op::Put { topic, qid, len } => {
                    let topic = format!("P{topic}");
                    let body = format!("{n}:{}", "b".repeat(len));
                    n += 1;
                    let r = put(s, msg(&topic, i32::from(qid), &body, "t", &format!("k{n}")));
                    let q = model.entry((topic, i32::from(qid))).or_default();
                    prop_assert_eq!(r.logics_offset, q.len() as i64);
                    q.push(body);
                    env.clock.advance(1000);
                }
                Op::Restart { crash } => {
                    let s = store.take().unwrap();
                    if crash { s.simulate_crash() } else { s.shutdown().unwrap() }
                    store = Some(env.open(&cfg));
                }
                Op::Expire => {
                    env.clock.advance(100 * 3_600_000);
                    let now = { use ferromq_store::Clock; env.clock.now_ms() };
                    let day = 24 * 3_600_000;
                    env.clock.set(now - now.rem_euclid(day) + day + 4 * 3_600_000);
                    s.flush().unwrap();
                    wait_dispatched(s);
                    s.clean_expired_files(false).unwrap();
                }
            }
            let s = store.as_ref().unwrap();
            check_invariants(s);
            for ((topic, qid), bodies) in &model {
                let min = s.get_min_offset_in_queue(topic, *qid);
                prop_assert_eq!(s.get_max_offset_in_queue(topic, *qid), bodies.len() as i64);
                let got = read_queue(s, topic, *qid);
                let want: Vec<(i64, String)> = bodies.iter().cloned().enumerate().skip(min as usize).map(|(i, b)| (i as i64, b)).collect();
                prop_assert_eq!(got, want);
            }
        }
        store.take().unwrap().shutdown().unwrap();
    }
}
