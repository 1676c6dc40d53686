//! `mqnamesrv`: the NameServer. `mqnamesrv [-c namesrv.conf] [-p] [--key value ...]`.

use anyhow::Context;
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
    if let Some(path) = &args.config_file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read config file {path}"))?;
        config.apply_properties(&text, path)?;
    }
    for (key, value) in &args.overrides {
        config.set(key, value, " on the command line")?;
    }
    Ok(config)
}

fn main() -> anyhow::Result<()> {
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mqnamesrv: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if args.help {
        println!("{USAGE}");
        return Ok(());
    }
    let config = match load_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mqnamesrv: {e:#}");
            std::process::exit(2);
        }
    };
    if args.print_config {
        print!("{}", config.to_properties());
        return Ok(());
    }
    ferromq::init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let server = NameServer::start(config).await?;
        println!("The Name Server boot success. listening on {}", server.local_addr());
        ferromq::shutdown_signal().await;
        tracing::info!("shutting down");
        server.shutdown();
        anyhow::Ok(())
    })
}
