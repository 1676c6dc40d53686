//! Java `.properties` text: configuration files (`broker.conf`, `namesrv.conf`) and the
//! bodies of GET/UPDATE_BROKER_CONFIG and GET/UPDATE_NAMESRV_CONFIG
//! (`MixAll.properties2String` / `string2Properties`).
//!
//! Supported: `key=value` and `key: value` and `key value`, `#`/`!` comments, blank lines,
//! surrounding white space trimmed. Line continuations and `\uXXXX` escapes are rare in
//! RocketMQ configuration and are not interpreted.

/// One `key=value` entry and the 1-based line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Parses properties text; a later duplicate key wins, as in Java.
pub fn parse(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let split = line.find(['=', ':']).or_else(|| line.find(char::is_whitespace));
        let (key, value) = match split {
            Some(at) => (line[..at].trim(), line[at + 1..].trim()),
            None => (line, ""),
        };
        if key.is_empty() {
            continue;
        }
        let entry = Entry { key: key.to_owned(), value: value.to_owned(), line: i + 1 };
        match entries.iter_mut().find(|e| e.key == entry.key) {
            Some(existing) => *existing = entry,
            None => entries.push(entry),
        }
    }
    entries
}

/// Parses properties text and hands each entry to `set` as (key, value, where), where is
/// " in {source} line {n}" for error messages; stops at the first error.
pub fn apply<E>(
    text: &str,
    source: &str,
    mut set: impl FnMut(&str, &str, &str) -> Result<(), E>,
) -> Result<(), E> {
    for e in parse(text) {
        set(&e.key, &e.value, &format!(" in {source} line {}", e.line))?;
    }
    Ok(())
}

/// Formats `key=value` lines, as `MixAll.properties2String` does.
pub fn format<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(k);
        out.push('=');
        out.push_str(&v);
        out.push('\n');
    }
    out
}

/// Keys of Java's Netty server settings (`NettyServerConfig`), which every Java RocketMQ
/// server accepts and which mean nothing to ferromq (tokio replaces the Netty pools):
/// accepted and ignored so that existing configuration files keep working.
pub const JAVA_NETTY_SERVER_KEYS: &[&str] = &[
    "serverWorkerThreads",
    "serverCallbackExecutorThreads",
    "serverSelectorThreads",
    "serverOnewaySemaphoreValue",
    "serverAsyncSemaphoreValue",
    "serverChannelMaxIdleTimeSeconds",
    "serverSocketSndBufSize",
    "serverSocketRcvBufSize",
    "serverPooledByteBufAllocatorEnable",
    "useEpollNativeSelector",
    "writeBufferHighWaterMark",
    "writeBufferLowWaterMark",
    "serverSocketBacklog",
];

/// A configuration key or value that was refused; `at` says where it came from
/// (`" in broker.conf line 3"`, `" on the command line"`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("unknown configuration key '{key}'{at}")]
    UnknownKey { key: String, at: String },
    #[error("bad value '{value}' for '{key}'{at}: {reason}")]
    BadValue { key: String, value: String, at: String, reason: String },
}

impl ConfigError {
    pub fn bad(key: &str, value: &str, at: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::BadValue { key: key.into(), value: value.into(), at: at.into(), reason: reason.into() }
    }
}

/// Parses a number (or anything `FromStr`) for `key`, naming the key in the error.
pub fn parse_value<T: std::str::FromStr>(key: &str, value: &str, at: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value.trim().parse::<T>().map_err(|e| ConfigError::bad(key, value, at, e.to_string()))
}

/// `true` or `false` (any case), as Java's configuration reads them; anything else is an error.
pub fn parse_bool(key: &str, value: &str, at: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConfigError::bad(key, value, at, "expected true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rocketmq_broker_conf() {
        let text = "# comment\nbrokerClusterName = DefaultCluster\n\nbrokerName=broker-a\nbrokerId: 0\n! other\nnamesrvAddr=127.0.0.1:9876;127.0.0.2:9876\nlistenPort 10911\nbrokerId=1\n";
        let e = parse(text);
        let get = |k: &str| e.iter().find(|x| x.key == k).map(|x| x.value.as_str());
        assert_eq!(get("brokerClusterName"), Some("DefaultCluster"));
        assert_eq!(get("brokerName"), Some("broker-a"));
        assert_eq!(get("brokerId"), Some("1"));
        assert_eq!(get("namesrvAddr"), Some("127.0.0.1:9876;127.0.0.2:9876"));
        assert_eq!(get("listenPort"), Some("10911"));
        assert_eq!(e.iter().find(|x| x.key == "brokerName").map(|x| x.line), Some(4));
    }

    #[test]
    fn apply_names_the_line_and_stops_at_the_first_error() {
        let mut seen = Vec::new();
        let r = apply("a=1\n\nbad=2\nc=3\n", "broker.conf", |k, v, at| {
            seen.push(format!("{k}={v}{at}"));
            if k == "bad" {
                Err(at.to_string())
            } else {
                Ok(())
            }
        });
        assert_eq!(r, Err(" in broker.conf line 3".to_string()));
        assert_eq!(seen, ["a=1 in broker.conf line 1", "bad=2 in broker.conf line 3"]);
    }

    #[test]
    fn format_then_parse_round_trips() {
        let text = format([("a", "1".to_string()), ("b", "x y".to_string())]);
        let e = parse(&text);
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].value, "x y");
    }
}
