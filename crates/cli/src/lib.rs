//! Shared start-up code of the ferromq binaries (`mqnamesrv`, and later `mqbroker`,
//! `mqadmin` and the one-command local cluster): command-line parsing in RocketMQ's style
//! (`-c file`, `-p`, plus `--key value` overrides of any property), logging set-up, and
//! signal handling. The servers themselves live in their library crates.

pub mod args;

/// Logs to stderr; `RUST_LOG` filters (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The start-up every server binary shares: parse RocketMQ-style arguments, print `usage`
/// for `-h`, build the settings with `load` (a bad key or value exits with status 2 and a
/// message naming it), print them for `-p` (`to_properties`), otherwise set up logging and a
/// tokio runtime and run `serve` until it returns.
pub fn run_server<S, Fut>(
    name: &str,
    usage: &str,
    load: impl FnOnce(&args::ServerArgs) -> anyhow::Result<S>,
    to_properties: impl FnOnce(&S) -> String,
    serve: impl FnOnce(S) -> Fut,
) -> anyhow::Result<()>
where
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{name}: {e}\n{usage}");
            std::process::exit(2);
        }
    };
    if args.help {
        println!("{usage}");
        return Ok(());
    }
    let settings = match load(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            std::process::exit(2);
        }
    };
    if args.print_config {
        print!("{}", to_properties(&settings));
        return Ok(());
    }
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(settings))
}

/// The `-c` file's path and text, if one was given.
pub fn read_config_file(args: &args::ServerArgs) -> anyhow::Result<Option<(String, String)>> {
    match &args.config_file {
        None => Ok(None),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read config file {path}: {e}"))?;
            Ok(Some((path.clone(), text)))
        }
    }
}
