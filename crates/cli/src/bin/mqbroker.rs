//! `mqbroker`: the broker. `mqbroker -c broker.conf [-n ns1:9876;ns2:9876] [-p] [--key value ...]`.

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
    if let Some((path, text)) = ferromq::read_config_file(args)? {
        settings.apply_properties(&text, &path)?;
    }
    for (key, value) in &args.overrides {
        settings.set(key, value, " on the command line")?;
    }
    settings.validate()?;
    Ok(settings)
}

fn main() -> anyhow::Result<()> {
    ferromq::run_server(
        "mqbroker",
        USAGE,
        load_settings,
        BrokerSettings::to_properties,
        |settings| async move {
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
            Ok(())
        },
    )
}
