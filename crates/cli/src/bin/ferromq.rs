//! `ferromq`: a NameServer and a broker in one process, zero configuration.
//!
//! `ferromq [--dir ./ferromq-data] [--namesrvPort 9876] [--<broker property> <value> ...]`
//! starts a NameServer on 9876 and a broker on 10911 storing under `--dir`; RocketMQ clients
//! connect with `namesrvAddr=127.0.0.1:9876`. Any broker property may be overridden.

use ferromq_broker::{Broker, BrokerSettings};
use ferromq_namesrv::{NameServer, NamesrvConfig};

const USAGE: &str =
    "usage: ferromq [--dir <data dir>] [--namesrvPort <port>] [--<broker property> <value> ...]
Starts a NameServer (default port 9876) and a broker (default port 10911) in one process.
Data goes to --dir (default ./ferromq-data). Clients use namesrvAddr=127.0.0.1:<namesrvPort>.";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let mut dir = std::path::PathBuf::from("ferromq-data");
    let mut namesrv_port: u16 = 9876;
    let mut overrides = Vec::new();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let Some(key) = arg.strip_prefix("--") else {
            eprintln!("ferromq: unexpected argument '{arg}'\n{USAGE}");
            std::process::exit(2);
        };
        let (key, value) = match key.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => match it.next() {
                Some(v) => (key.to_owned(), v),
                None => {
                    eprintln!("ferromq: --{key} needs a value");
                    std::process::exit(2);
                }
            },
        };
        match key.as_str() {
            "dir" => dir = value.into(),
            "namesrvPort" => match value.parse() {
                Ok(p) => namesrv_port = p,
                Err(_) => {
                    eprintln!("ferromq: bad value '{value}' for 'namesrvPort'");
                    std::process::exit(2);
                }
            },
            _ => overrides.push((key, value)),
        }
    }
    let mut settings = BrokerSettings::default();
    settings.store.store_path_root_dir = dir.join("store");
    settings.broker.namesrv_addr = vec![format!("127.0.0.1:{namesrv_port}")];
    for (k, v) in &overrides {
        if let Err(e) = settings.set(k, v, " on the command line") {
            eprintln!("ferromq: {e}");
            std::process::exit(2);
        }
    }
    if let Err(e) = settings.validate() {
        eprintln!("ferromq: {e}");
        std::process::exit(2);
    }
    let namesrv_config = NamesrvConfig {
        listen_port: namesrv_port,
        kv_config_path: dir.join("namesrv").join("kvConfig.json"),
        config_store_path: dir.join("namesrv").join("namesrv.properties"),
        ..Default::default()
    };
    ferromq::init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let namesrv = NameServer::start(namesrv_config).await?;
        let broker = Broker::start(settings).await?;
        println!(
            "ferromq is up: NameServer {} (namesrvAddr=127.0.0.1:{namesrv_port}), broker {}, data in {}",
            namesrv.local_addr(),
            broker.local_addr(),
            dir.display()
        );
        if let Some(m) = broker.metrics_addr() {
            println!("Prometheus metrics: http://{m}/metrics");
        }
        ferromq::shutdown_signal().await;
        tracing::info!("shutting down");
        broker.shutdown().await?;
        namesrv.shutdown();
        anyhow::Ok(())
    })
}
