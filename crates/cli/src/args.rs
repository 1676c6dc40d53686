//! RocketMQ-style server arguments: `-c <file>` (properties file), `-p` (print the
//! configuration and exit), `-n <addr;addr>` (name servers), `-h` (help), and `--<property> <value>` or
//! `--<property>=<value>` to override any property of the file.

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ServerArgs {
    pub config_file: Option<String>,
    pub print_config: bool,
    pub help: bool,
    /// Property overrides in command-line order.
    pub overrides: Vec<(String, String)>,
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<ServerArgs, String> {
    let mut out = ServerArgs::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-c" | "--configFile" => {
                out.config_file = Some(it.next().ok_or_else(|| format!("{arg} needs a file name"))?);
            }
            "-p" | "--printConfigItem" => out.print_config = true,
            "-n" | "--namesrvAddr" => {
                let addr = it.next().ok_or_else(|| format!("{arg} needs an address list"))?;
                out.overrides.push(("namesrvAddr".into(), addr));
            }
            "-h" | "--help" => out.help = true,
            other if other.starts_with("--") && other.len() > 2 => {
                let body = &other[2..];
                let (key, value) = match body.split_once('=') {
                    Some((k, v)) => (k.to_owned(), v.to_owned()),
                    None => (body.to_owned(), it.next().ok_or_else(|| format!("{other} needs a value"))?),
                };
                out.overrides.push((key, value));
            }
            other => return Err(format!("unexpected argument '{other}' (see -h)")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[&str]) -> Result<ServerArgs, String> {
        parse(s.iter().map(|x| x.to_string()))
    }

    #[test]
    fn parses_rocketmq_flags_and_overrides() {
        let a = p(&["-c", "ns.conf", "--listenPort", "19876", "--orderMessageEnable=true", "-p"]).unwrap();
        assert_eq!(a.config_file.as_deref(), Some("ns.conf"));
        assert!(a.print_config);
        assert_eq!(
            a.overrides,
            vec![("listenPort".into(), "19876".into()), ("orderMessageEnable".into(), "true".into())]
        );
        assert!(p(&["-c"]).is_err());
        assert!(p(&["--listenPort"]).is_err());
        assert!(p(&["stray"]).unwrap_err().contains("stray"));
    }
}
