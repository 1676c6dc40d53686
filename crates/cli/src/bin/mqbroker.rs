//! `mqbroker`: the broker. `mqbroker -c broker.conf [-n ns1:9876;ns2:9876] [-p] [--key value ...]`.

use anyhow::Context;
use ferromq::args;
use ferromq_broker::{Broker, BrokerSettings};

const USAGE: &str = "usage: mqbroker [-c <config file>] [-n <namesrvAddr>] [-p] [--<property> <value> ...]
  -c <file>             properties file (RocketMQ broker.conf format)
  -n <addr;addr>        name server addresses (or $NAMESRV_ADDR, or namesrvAddr in the file)
  -p                    print all configuration items and exit
  --<property> <value>  override one property, e.g. --listenPort 10911 --flushDiskType SYNC_FLUSH
common properties: brokerClusterName, brokerName, brokerId, listenPort (10911), brokerIP1,
  namesrvAddr, storePathRootDir (~/store), brokerRole (ASYNC_MASTER), flushDiskType
  (ASYNC_FLUSH), defaultTopicQueueNums (8), autoCreateTopicEnable (true),
  autoCreateSubscriptionGroup (true), fileReservedTime (72), deleteWhen (04),
  maxMessageSize (4 MiB), metricsPromExporterPort (5557, 0 = off)";

fn load_settings(args: &args::ServerArgs) -> anyhow::Result<BrokerSettings> {
    let mut settings = BrokerSettings::default();
    if let Some(path) = &args.config_file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read config file {path}"))?;
        settings.apply_properties(&text, path)?;
    }
    for (key, value) in &args.overrides {
        settings.set(key, value, " on the command line")?;
    }
    settings.validate()?;
    Ok(settings)
}

fn main() -> anyhow::Result<()> {
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mqbroker: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if args.help {
        println!("{USAGE}");
        return Ok(());
    }
    let settings = match load_settings(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mqbroker: {e:#}");
            std::process::exit(2);
        }
    };
    if args.print_config {
        print!("{}", settings.to_properties());
        return Ok(());
    }
    ferromq::init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let namesrv = settings.broker.namesrv_addr.join(";");
        let name = settings.broker.broker_name.clone();
        let broker = match Broker::start(settings).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("mqbroker: cannot start: {e}");
                std::process::exit(1);
            }
        };
        println!(
            "The broker[{name}, {}] boot success. serializeType=JSON and name server is {namesrv}",
            broker.local_addr()
        );
        ferromq::shutdown_signal().await;
        tracing::info!("shutting down");
        broker.shutdown().await?;
        anyhow::Ok(())
    })
}
