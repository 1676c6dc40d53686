//! The Prometheus endpoint: `GET /metrics` over plain HTTP/1.1 on `metricsPromExporterPort`.
//!
//! Deliberately tiny (one request per connection, bounded request size) so the broker does
//! not carry an HTTP framework for one text page; the dashboard, when it comes, can serve
//! the same text.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use ferromq_store::{FlushStatsSnapshot, FSYNC_BUCKETS_SECONDS};

use crate::context::BrokerContext;

const MAX_REQUEST_BYTES: usize = 8 * 1024;

pub async fn serve(listener: TcpListener, ctx: std::sync::Weak<BrokerContext>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Some(ctx) = ctx.upgrade() else { return };
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(1024);
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST_BYTES {
                    let n = stream.read(&mut chunk).await?;
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                std::io::Result::Ok(())
            })
            .await;
            if !matches!(read, Ok(Ok(()))) {
                return;
            }
            let response = if buf.starts_with(b"GET /metrics ") || buf.starts_with(b"GET /metrics?") {
                let body = render(&ctx);
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            };
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

pub fn render(ctx: &Arc<BrokerContext>) -> String {
    let broker_name = ctx.settings.read().broker.broker_name.clone();
    let store = &ctx.store;
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let mut page = ctx.stats.prometheus(
        &broker_name,
        &[
            ("ferromq_commitlog_max_offset_bytes", "End of the CommitLog.", store.max_phy_offset() as f64),
            (
                "ferromq_commitlog_min_offset_bytes",
                "Start of the retained CommitLog.",
                store.min_phy_offset() as f64,
            ),
            (
                "ferromq_commitlog_flush_behind_bytes",
                "CommitLog bytes appended but not yet fsynced.",
                store.flush_behind_bytes() as f64,
            ),
            (
                "ferromq_dispatch_behind_bytes",
                "CommitLog bytes not yet in ConsumeQueues.",
                store.dispatch_behind_bytes() as f64,
            ),
            ("ferromq_disk_used_percent", "Disk use of the store.", store.disk_used_percent() as f64),
            (
                "ferromq_store_disk_full",
                "1 while writes are refused for disk use above diskSpaceWarningLevelRatio.",
                flag(store.is_disk_full()),
            ),
            (
                "ferromq_store_poisoned",
                "1 after a failed write or fsync: the store refuses writes until restarted.",
                flag(store.is_poisoned()),
            ),
            ("ferromq_held_pulls", "Pull requests parked by long polling.", ctx.hold.held_count() as f64),
        ],
    );
    render_store_counters(&mut page, &broker_name, &store.flush_stats(), store.corrupt_records_skipped());
    page
}

/// The CommitLog's fsync histogram and the store's counters.
fn render_store_counters(out: &mut String, broker_name: &str, s: &FlushStatsSnapshot, corrupt_skipped: u64) {
    use std::fmt::Write;
    let b = crate::stats::escape(broker_name);
    let name = "ferromq_commitlog_fsync_seconds";
    let _ =
        writeln!(out, "# HELP {name} CommitLog fsync (fdatasync) time per flush.\n# TYPE {name} histogram");
    let bounds =
        FSYNC_BUCKETS_SECONDS.iter().map(|le| le.to_string()).chain(std::iter::once("+Inf".to_string()));
    for (le, count) in bounds.zip(&s.fsync_buckets) {
        let _ = writeln!(out, "{name}_bucket{{broker=\"{b}\",le=\"{le}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_sum{{broker=\"{b}\"}} {}", s.fsync_seconds);
    let _ = writeln!(out, "{name}_count{{broker=\"{b}\"}} {}", s.fsyncs);
    for (name, help, value) in [
        ("ferromq_commitlog_flushed_bytes_total", "CommitLog bytes made durable by fsync.", s.flushed_bytes),
        (
            "ferromq_commitlog_fsync_waiters_total",
            "SYNC_FLUSH writers released by fsyncs (per fsync: the group commit's group size).",
            s.waiters_released,
        ),
        (
            "ferromq_store_corrupt_records_skipped_total",
            "Reads that skipped a CommitLog record failing validation (CRC, size, topic, queue, \
             queue offset); a record read again is counted again.",
            corrupt_skipped,
        ),
    ] {
        crate::stats::write_single(out, "counter", name, help, &b, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsync_histogram_is_prometheus_text() {
        let mut buckets: Vec<u64> = (0..FSYNC_BUCKETS_SECONDS.len() as u64).collect();
        buckets.push(20);
        let s = FlushStatsSnapshot {
            fsync_buckets: buckets,
            fsyncs: 20,
            fsync_seconds: 0.5,
            flushed_bytes: 1000,
            waiters_released: 640,
        };
        let mut page = String::new();
        render_store_counters(&mut page, "b\"1", &s, 3);
        assert!(page.contains("# TYPE ferromq_commitlog_fsync_seconds histogram\n"), "{page}");
        assert!(
            page.contains("ferromq_commitlog_fsync_seconds_bucket{broker=\"b\\\"1\",le=\"0.00005\"} 0\n"),
            "{page}"
        );
        assert!(
            page.contains("ferromq_commitlog_fsync_seconds_bucket{broker=\"b\\\"1\",le=\"1\"} 11\n"),
            "{page}"
        );
        assert!(
            page.contains("ferromq_commitlog_fsync_seconds_bucket{broker=\"b\\\"1\",le=\"+Inf\"} 20\n"),
            "{page}"
        );
        assert!(page.contains("ferromq_commitlog_fsync_seconds_count{broker=\"b\\\"1\"} 20\n"), "{page}");
        assert!(page.contains("ferromq_commitlog_fsync_waiters_total{broker=\"b\\\"1\"} 640\n"), "{page}");
        assert!(page.contains("# TYPE ferromq_store_corrupt_records_skipped_total counter\n"), "{page}");
    }
}
