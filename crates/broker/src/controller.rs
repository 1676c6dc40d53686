//! `Broker`: the composition root. Opens the store and metadata files, binds the port,
//! starts the periodic tasks (NameServer registration, offset persistence, client
//! housekeeping, stats sampling, the metrics endpoint) and stops them in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferromq_remoting::{ConnectionConfig, RemotingServer, ServerHandle};
use ferromq_store::MessageStore;
use tokio::task::JoinHandle;

use crate::config::BrokerSettings;
use crate::context::{now_ms, BrokerContext, ContextParts};
use crate::error::BrokerError;
use crate::metadata::{
    consumer_offset_path, subscription_group_path, topic_config_path, ConsumerOffsetManager,
    SubscriptionGroupManager, TopicConfigManager, TopicConfigOptions,
};
use crate::outer::NamesrvRegistrar;
use crate::processor::hold::{HeldPull, PullHoldService};
use crate::processor::BrokerHandler;

pub struct Broker {
    ctx: Arc<BrokerContext>,
    server: ServerHandle,
    registrar: Arc<NamesrvRegistrar>,
    tasks: Vec<JoinHandle<()>>,
    metrics_addr: Option<SocketAddr>,
}

impl Broker {
    /// Starts a broker. `listenPort` 0 binds an ephemeral port (tests); the broker then
    /// registers the port it got.
    pub async fn start(mut settings: BrokerSettings) -> Result<Broker, BrokerError> {
        settings.validate().map_err(BrokerError::Config)?;
        let bind = format!("{}:{}", settings.broker.bind_address, settings.broker.listen_port);
        let listener = tokio::net::TcpListener::bind(&bind)
            .await
            .map_err(|e| BrokerError::Io(format!("cannot listen on {bind}: {e}")))?;
        let port = listener.local_addr().map_err(|e| BrokerError::Io(e.to_string()))?.port();
        settings.broker.listen_port = port;
        let store_host: SocketAddr = settings.broker.broker_addr().parse().map_err(|_| {
            BrokerError::Io(format!("brokerIP1 must be an IP address, got {:?}", settings.broker.broker_ip1))
        })?;

        // ASYNC_FLUSH sends are committed to the page cache once per request burst (see the
        // handler's on_burst_end); the store says where that applies (not with RocketMQ's
        // transientStorePoolEnable, which acknowledges from the buffer, nor in SYNC_FLUSH,
        // whose sends the flusher writes).
        settings.store.deferred_commit = true;
        let store_config = settings.store.clone();
        let store = tokio::task::spawn_blocking(move || MessageStore::open(store_config))
            .await
            .map_err(|e| BrokerError::Io(e.to_string()))?
            .map_err(BrokerError::Store)?;
        let store = Arc::new(store);
        let report = store.recovery_report();
        tracing::info!(?report, "store opened");

        let root = settings.store.store_path_root_dir.clone();
        let now = now_ms();
        let b = &settings.broker;
        let topics = TopicConfigManager::new(
            topic_config_path(&root),
            &TopicConfigOptions {
                broker_cluster_name: b.broker_cluster_name.clone(),
                broker_name: b.broker_name.clone(),
                auto_create_topic_enable: b.auto_create_topic_enable,
                default_topic_queue_nums: b.default_topic_queue_nums,
                cluster_topic_enable: b.cluster_topic_enable,
                broker_topic_enable: b.broker_topic_enable,
                trace_topic_enable: b.trace_topic_enable,
                msg_trace_topic_name: b.msg_trace_topic_name.clone(),
            },
            now,
        );
        topics.load()?;
        let groups = SubscriptionGroupManager::new(
            subscription_group_path(&root),
            b.auto_create_subscription_group,
            now,
        );
        groups.load()?;
        let offsets = ConsumerOffsetManager::new(consumer_offset_path(&root));
        offsets.load()?;
        topics.persist()?;
        groups.persist()?;

        // The hold service re-runs woken pulls through the same processor; it reaches the
        // context through a weak reference set once the context exists.
        let ctx_cell: Arc<std::sync::OnceLock<std::sync::Weak<BrokerContext>>> =
            Arc::new(std::sync::OnceLock::new());
        let cell = ctx_cell.clone();
        let hold = PullHoldService::start(Arc::new(move |p: HeldPull| {
            let Some(ctx) = cell.get().and_then(std::sync::Weak::upgrade) else { return };
            let (opaque, st) = (p.request.opaque, p.request.serialize_type);
            if let Some(resp) = crate::processor::pull::process(&ctx, &p.conn, p.request, false) {
                let _ = p.conn.send_response(opaque, st, resp);
            }
        }));
        let frame_max_length = settings.broker.frame_max_length;
        let metrics_port = settings.broker.metrics_prom_exporter_port;
        let ctx = Arc::new(BrokerContext::new(ContextParts {
            settings,
            store: store.clone(),
            store_host,
            topics,
            groups,
            offsets,
            hold: hold.clone(),
        }));
        let _ = ctx_cell.set(Arc::downgrade(&ctx));
        let listener_hold = hold.clone();
        store.set_message_arriving_listener(Arc::new(
            move |topic: &str, queue_id: i32, max_offset: i64, tags_code: i64, _ts: i64| {
                listener_hold.arriving(topic, queue_id, max_offset, tags_code)
            },
        ));
        store.start().map_err(BrokerError::Store)?;

        let handler = Arc::new(BrokerHandler { ctx: ctx.clone() });
        let server = RemotingServer::serve(
            listener,
            handler,
            ConnectionConfig { max_frame_bytes: frame_max_length, ..Default::default() },
        )
        .map_err(|e| BrokerError::Io(e.to_string()))?;

        let registrar = Arc::new(NamesrvRegistrar::default());
        let mut tasks = Vec::new();
        // Register once before serving is announced, so routes exist when start returns.
        register_once(&ctx, &registrar).await;
        tasks.push(tokio::spawn(registration_loop(Arc::downgrade(&ctx), registrar.clone())));
        tasks.push(tokio::spawn(housekeeping_loop(Arc::downgrade(&ctx))));

        let mut metrics_addr = None;
        if metrics_port != 0 {
            let bind = format!("{}:{metrics_port}", ctx.settings.read().broker.bind_address);
            match tokio::net::TcpListener::bind(&bind).await {
                Ok(l) => {
                    metrics_addr = l.local_addr().ok();
                    tasks.push(tokio::spawn(crate::metrics::serve(l, Arc::downgrade(&ctx))));
                }
                Err(e) => tracing::warn!(%bind, error = %e, "Prometheus endpoint not started"),
            }
        }
        tracing::info!(addr = %server.local_addr(), broker = %ctx.settings.read().broker.broker_name, "broker started");
        Ok(Broker { ctx, server, registrar, tasks, metrics_addr })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    pub fn context(&self) -> &Arc<BrokerContext> {
        &self.ctx
    }

    /// Graceful stop: no new connections, unregister from the NameServers, persist
    /// metadata, flush the store and write its checkpoint.
    pub async fn shutdown(self) -> Result<(), BrokerError> {
        self.server.shutdown();
        for t in &self.tasks {
            t.abort();
        }
        let config = self.ctx.settings.read().broker.clone();
        self.registrar.unregister_all(&config).await;
        persist_all(&self.ctx);
        let store = self.ctx.store.clone();
        tokio::task::spawn_blocking(move || store.shutdown())
            .await
            .map_err(|e| BrokerError::Io(e.to_string()))?
            .map_err(BrokerError::Store)?;
        tracing::info!("broker stopped");
        Ok(())
    }
}

fn persist_all(ctx: &BrokerContext) {
    for (what, result) in [
        ("topics", ctx.topics.persist()),
        ("groups", ctx.groups.persist()),
        ("offsets", ctx.offsets.persist()),
    ] {
        if let Err(e) = result {
            tracing::error!(what, error = %e, "persisting metadata failed");
        }
    }
}

async fn register_once(ctx: &BrokerContext, registrar: &NamesrvRegistrar) {
    let (config, wrapper) = {
        let s = ctx.settings.read();
        let mut wrapper = ctx.topics.build_serialize_wrapper();
        // A broker without write permission registers its topics read-only (Java does the same).
        if !ferromq_protocol::body::perm::is_writeable(s.broker.broker_permission) {
            for t in wrapper.topic_config_table.values_mut() {
                t.perm &= s.broker.broker_permission;
            }
        }
        (s.broker.clone(), wrapper)
    };
    for result in registrar.register_all(&config, &wrapper).await {
        match result {
            Ok(r) => {
                if !r.order_topic_config.table.is_empty() {
                    ctx.topics.update_order_topic_config(&r.order_topic_config, now_ms());
                }
            }
            Err(e) => tracing::warn!(error = %e, "register broker to name server failed"),
        }
    }
}

async fn registration_loop(ctx: std::sync::Weak<BrokerContext>, registrar: Arc<NamesrvRegistrar>) {
    loop {
        // Holding the context across the wait is fine: shutdown aborts this task.
        let Some(c) = ctx.upgrade() else { return };
        let period = Duration::from_millis(c.settings.read().broker.register_name_server_period_ms.max(100));
        let _ = tokio::time::timeout(period, c.register_now.notified()).await;
        register_once(&c, &registrar).await;
    }
}

async fn housekeeping_loop(ctx: std::sync::Weak<BrokerContext>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_offset_flush = 0u64;
    let mut last_client_scan = 0u64;
    loop {
        tick.tick().await;
        let Some(c) = ctx.upgrade() else { return };
        let now = now_ms();
        c.stats.sample(now);
        let (offset_interval, scan_interval) = {
            let s = c.settings.read();
            (s.broker.flush_consumer_offset_interval_ms, s.broker.client_housekeeping_interval_ms)
        };
        if now.saturating_sub(last_offset_flush) >= offset_interval {
            last_offset_flush = now;
            if let Err(e) = c.offsets.persist() {
                tracing::error!(error = %e, "persisting consumer offsets failed");
            }
        }
        if now.saturating_sub(last_client_scan) >= scan_interval {
            last_client_scan = now;
            for (group, channel) in c.consumers.scan_not_active_channel(now) {
                tracing::info!(%group, client = %channel.client_id, "consumer channel expired");
            }
            for (group, channel) in c.producers.scan_not_active_channel(now) {
                tracing::info!(%group, client = %channel.client_id, "producer channel expired");
            }
        }
    }
}
