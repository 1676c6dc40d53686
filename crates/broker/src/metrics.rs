//! The Prometheus endpoint: `GET /metrics` over plain HTTP/1.1 on `metricsPromExporterPort`.
//!
//! Deliberately tiny (one request per connection, bounded request size) so the broker does
//! not carry an HTTP framework for one text page; the dashboard, when it comes, can serve
//! the same text.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

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
    ctx.stats.prometheus(
        &broker_name,
        &[
            ("ferromq_commitlog_max_offset_bytes", "End of the CommitLog.", store.max_phy_offset() as f64),
            (
                "ferromq_commitlog_min_offset_bytes",
                "Start of the retained CommitLog.",
                store.min_phy_offset() as f64,
            ),
            (
                "ferromq_dispatch_behind_bytes",
                "CommitLog bytes not yet in ConsumeQueues.",
                store.dispatch_behind_bytes() as f64,
            ),
            ("ferromq_disk_used_percent", "Disk use of the store.", store.disk_used_percent() as f64),
            ("ferromq_held_pulls", "Pull requests parked by long polling.", ctx.hold.held_count() as f64),
        ],
    )
}
