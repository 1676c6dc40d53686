//! Broker statistics: per-topic and per-group message and byte counters (lock-free on the
//! hot path: a shared read lock and atomic adds), totals with TPS over recent windows for
//! GET_BROKER_RUNTIME_INFO and the dashboard, and the Prometheus text exposition.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

#[derive(Debug, Default)]
pub struct Counters {
    pub msgs: AtomicU64,
    pub bytes: AtomicU64,
}

impl Counters {
    fn add(&self, msgs: u64, bytes: u64) {
        self.msgs.fetch_add(msgs, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn get(&self) -> (u64, u64) {
        (self.msgs.load(Ordering::Relaxed), self.bytes.load(Ordering::Relaxed))
    }
}

#[derive(Default)]
struct Keyed(RwLock<HashMap<String, Arc<Counters>>>);

impl Keyed {
    fn counters(&self, key: &str) -> Arc<Counters> {
        if let Some(c) = self.0.read().get(key) {
            return c.clone();
        }
        self.0.write().entry(key.to_owned()).or_default().clone()
    }

    fn snapshot(&self) -> Vec<(String, u64, u64)> {
        let mut v: Vec<_> = self
            .0
            .read()
            .iter()
            .map(|(k, c)| {
                let (m, b) = c.get();
                (k.clone(), m, b)
            })
            .collect();
        v.sort();
        v
    }
}

/// One sample of the totals, taken every second by the controller.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at_ms: u64,
    put: u64,
    get: u64,
}

#[derive(Default)]
pub struct BrokerStats {
    put_total: Counters,
    get_total: Counters,
    topic_put: Keyed,
    /// Keyed `topic@group`.
    group_get: Keyed,
    samples: Mutex<VecDeque<Sample>>,
}

/// Seconds of history kept for TPS.
const HISTORY_SECS: usize = 600;

impl BrokerStats {
    pub fn record_put(&self, topic: &str, msgs: u64, bytes: u64) {
        self.put_total.add(msgs, bytes);
        self.topic_put.counters(topic).add(msgs, bytes);
    }

    pub fn record_get(&self, topic: &str, group: &str, msgs: u64, bytes: u64) {
        self.get_total.add(msgs, bytes);
        self.group_get.counters(&format!("{topic}@{group}")).add(msgs, bytes);
    }

    pub fn put_total(&self) -> (u64, u64) {
        self.put_total.get()
    }

    pub fn get_total(&self) -> (u64, u64) {
        self.get_total.get()
    }

    pub fn topic_put(&self, topic: &str) -> (u64, u64) {
        self.topic_put.0.read().get(topic).map(|c| c.get()).unwrap_or((0, 0))
    }

    /// Takes a sample of the totals (called once a second).
    pub fn sample(&self, now_ms: u64) {
        let mut s = self.samples.lock();
        s.push_back(Sample { at_ms: now_ms, put: self.put_total.get().0, get: self.get_total.get().0 });
        while s.len() > HISTORY_SECS + 1 {
            s.pop_front();
        }
    }

    /// (put TPS, get TPS) over the last `window_secs` seconds of samples.
    pub fn tps(&self, window_secs: usize) -> (f64, f64) {
        let s = self.samples.lock();
        let (Some(last), Some(first)) = (s.back(), s.get(s.len().saturating_sub(window_secs + 1))) else {
            return (0.0, 0.0);
        };
        let secs = (last.at_ms.saturating_sub(first.at_ms)) as f64 / 1000.0;
        if secs <= 0.0 {
            return (0.0, 0.0);
        }
        ((last.put - first.put) as f64 / secs, (last.get - first.get) as f64 / secs)
    }

    /// Java's runtime-info TPS string: the 10 s, 60 s and 600 s rates, space separated.
    pub fn tps_triplet(&self, put: bool) -> String {
        let pick = |w| {
            let (p, g) = self.tps(w);
            if put {
                p
            } else {
                g
            }
        };
        format!("{:.2} {:.2} {:.2}", pick(10), pick(60), pick(600))
    }

    /// Prometheus text exposition (version 0.0.4).
    pub fn prometheus(&self, broker_name: &str, extra_gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        let b = escape(broker_name);
        let (pm, pb) = self.put_total.get();
        let (gm, gb) = self.get_total.get();
        let _ = writeln!(
            out,
            "# HELP ferromq_messages_in_total Messages stored.\n# TYPE ferromq_messages_in_total counter"
        );
        let _ = writeln!(out, "ferromq_messages_in_total{{broker=\"{b}\"}} {pm}");
        let _ = writeln!(
            out,
            "# HELP ferromq_bytes_in_total Message bytes stored.\n# TYPE ferromq_bytes_in_total counter"
        );
        let _ = writeln!(out, "ferromq_bytes_in_total{{broker=\"{b}\"}} {pb}");
        let _ = writeln!(out, "# HELP ferromq_messages_out_total Messages served to consumers.\n# TYPE ferromq_messages_out_total counter");
        let _ = writeln!(out, "ferromq_messages_out_total{{broker=\"{b}\"}} {gm}");
        let _ = writeln!(
            out,
            "# HELP ferromq_bytes_out_total Message bytes served.\n# TYPE ferromq_bytes_out_total counter"
        );
        let _ = writeln!(out, "ferromq_bytes_out_total{{broker=\"{b}\"}} {gb}");
        let _ = writeln!(out, "# HELP ferromq_topic_messages_in_total Messages stored per topic.\n# TYPE ferromq_topic_messages_in_total counter");
        for (topic, m, _) in self.topic_put.snapshot() {
            let _ = writeln!(
                out,
                "ferromq_topic_messages_in_total{{broker=\"{b}\",topic=\"{}\"}} {m}",
                escape(&topic)
            );
        }
        let _ = writeln!(out, "# HELP ferromq_group_messages_out_total Messages served per topic and consumer group.\n# TYPE ferromq_group_messages_out_total counter");
        for (key, m, _) in self.group_get.snapshot() {
            let (topic, group) = key.split_once('@').unwrap_or((&key, ""));
            let _ = writeln!(
                out,
                "ferromq_group_messages_out_total{{broker=\"{b}\",topic=\"{}\",group=\"{}\"}} {m}",
                escape(topic),
                escape(group)
            );
        }
        for (name, help, value) in extra_gauges {
            write_single(&mut out, "gauge", name, help, &b, value);
        }
        out
    }
}

/// One metric of one sample, labelled with the (escaped) broker name.
pub(crate) fn write_single(
    out: &mut String,
    kind: &str,
    name: &str,
    help: &str,
    broker: &str,
    value: impl std::fmt::Display,
) {
    let _ =
        writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{broker=\"{broker}\"}} {value}");
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_tps() {
        let s = BrokerStats::default();
        s.sample(0);
        s.record_put("T", 10, 5000);
        s.record_get("T", "G", 4, 2000);
        s.sample(2000);
        assert_eq!(s.put_total(), (10, 5000));
        assert_eq!(s.topic_put("T"), (10, 5000));
        let (p, g) = s.tps(10);
        assert!((p - 5.0).abs() < 1e-9 && (g - 2.0).abs() < 1e-9);
        let text = s.prometheus("broker-a", &[("ferromq_disk_used_ratio", "Disk use.", 0.5)]);
        assert!(text.contains("ferromq_topic_messages_in_total{broker=\"broker-a\",topic=\"T\"} 10"));
        assert!(
            text.contains("ferromq_group_messages_out_total{broker=\"broker-a\",topic=\"T\",group=\"G\"} 4")
        );
        assert!(text.contains("ferromq_disk_used_ratio{broker=\"broker-a\"} 0.5"));
    }
}
