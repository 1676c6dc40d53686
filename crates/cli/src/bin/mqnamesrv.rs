//! `mqnamesrv`: the NameServer. `mqnamesrv [-c namesrv.conf] [-p] [--key value ...]`.

use ferromq::args;
use ferromq_namesrv::{NameServer, NamesrvConfig};

const USAGE: &str = "usage: mqnamesrv [-c <config file>] [-p] [--<property> <value> ...]
  -c <file>             properties file (RocketMQ namesrv.conf format)
  -p                    print all configuration items and exit
  --<property> <value>  override one property, e.g. --listenPort 19876
properties: listenPort (9876), bindAddress, kvConfigPath, orderMessageEnable,
  scanNotActiveBrokerInterval (ms, 10000), brokerChannelExpiredTime (ms, 120000),
  deleteTopicWithBrokerRegistration, returnOrderTopicConfigToBroker, frameMaxLength (16 MiB)";

fn load_config(args: &args::ServerArgs) -> anyhow::Result<NamesrvConfig> {
    let mut config = NamesrvConfig::default();
    if let Some((path, text)) = ferromq::read_config_file(args)? {
        config.apply_properties(&text, &path)?;
    }
    for (key, value) in &args.overrides {
        config.set(key, value, " on the command line")?;
    }
    Ok(config)
}

fn main() -> anyhow::Result<()> {
    ferromq::run_server("mqnamesrv", USAGE, load_config, NamesrvConfig::to_properties, |config| async move {
        let server = NameServer::start(config).await?;
        println!("The Name Server boot success. listening on {}", server.local_addr());
        ferromq::shutdown_signal().await;
        tracing::info!("shutting down");
        server.shutdown();
        Ok(())
    })
}
