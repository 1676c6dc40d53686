//! The real third-party RocketMQ clients (../shared/clients/README.md), driven as child processes
//! that print one JSON object per line: `rmq-driver` (crate `rocketmq-client-rust` 1.0.0, built in
//! its own workspace under tests/clients/rust), `tests/clients/python/cpp_driver.py` (Apache
//! rocketmq-client-cpp 2.1.0 through the `.venv` Python) and `tests/clients/node/driver.js`
//! (ali-ons 3.12.0). `scripts/setup-test-deps.sh` installs and builds all three.
//!
//! The three drivers share one CLI (`produce`, `consume`; the Rust one also has `pull`,
//! `create-topic`, `route`) and one output format; every line has an `"event"` field:
//! `sent` / `send_error` / `batch_sent` (produce), `started` / `rebalance` / `msg` (consume),
//! `client_error` (a client's asynchronous error, not fatal), `error`, and exactly one final
//! `summary` whose `"ok"` is `true` or `false` (produce: `count`, `succeeded`, `failed`,
//! `timed_out`; consume: `received`, `unique`, `expected`, `reason` = expected | idle | timeout |
//! signal; a run that failed early: `reason` = error | usage | timeout | watchdog). Bodies are
//! the same in every driver ([`body`]), so a consumer's `body_crc32` can be checked against
//! [`body_crc32`]. The full CLI is in the header of each driver (tests/clients/rust/src/main.rs,
//! tests/clients/python/cpp_driver.py, tests/clients/node/driver.js).
//!
//! ```ignore
//! let out = run_driver(Client::Rust, &["produce", "--namesrv", &ns, "--topic", "T", "--count", "10",
//!     "--tag", "TagA", "--keys-prefix", "k", "--prop", "color=red"], Duration::from_secs(30));
//! expect_ok(&out);
//! let mut c = DriverProcess::spawn(Client::Node, &["consume", "--namesrv", &ns, "--topic", "T",
//!     "--group", "G", "--from", "first", "--expect", "10", "--timeout-secs", "30"]);
//! c.wait_event("started", Duration::from_secs(30));
//! let lines = c.wait_exit(Duration::from_secs(40));
//! for m in events(&lines, "msg") { assert_eq!(m["props"]["color"], "red"); }
//! ```
//!
//! Driver processes run with `--timeout-secs` from the caller's arguments (default 60 s in each
//! driver) and each has a hard watchdog; the helpers here also kill a driver that outlives the
//! `timeout` given to them.
#![allow(dead_code)]
// Test helpers: a missing client or a driver that misbehaves fails the calling test.
#![allow(clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

const SETUP_HINT: &str = "run `bash scripts/setup-test-deps.sh` from the repository root";

/// The repository root (two levels above this crate's manifest).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().nth(2).unwrap_or(manifest).to_path_buf()
}

/// `tests/clients/rust/target/{debug,release}/rmq-driver` (whichever is newer), or the path in
/// `FERROMQ_RMQ_DRIVER`. Panics, telling to run the set-up script, when it is missing.
pub fn rust_driver_path() -> PathBuf {
    if let Some(p) = std::env::var_os("FERROMQ_RMQ_DRIVER") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "FERROMQ_RMQ_DRIVER={} does not exist", p.display());
        return p;
    }
    let target = repo_root().join("tests/clients/rust/target");
    let newest = ["debug", "release"]
        .iter()
        .map(|profile| target.join(profile).join("rmq-driver"))
        .filter_map(|p| std::fs::metadata(&p).and_then(|m| m.modified()).ok().map(|t| (t, p)))
        .max()
        .map(|(_, p)| p);
    newest.unwrap_or_else(|| {
        panic!(
            "the rocketmq-client-rust driver is not built ({}/debug/rmq-driver missing): {SETUP_HINT}",
            target.display()
        )
    })
}

/// `.venv/bin/python`, the interpreter with `rocketmq-python-cvs` (the C++ client). Panics,
/// telling to run the set-up script, when it is missing.
pub fn python_path() -> PathBuf {
    let p = repo_root().join(".venv/bin/python");
    assert!(p.exists(), "{} is missing (the venv with the C++ client): {SETUP_HINT}", p.display());
    p
}

/// `tests/clients/python/cpp_driver.py`.
pub fn cpp_driver_path() -> PathBuf {
    let p = repo_root().join("tests/clients/python/cpp_driver.py");
    assert!(p.is_file(), "{} is missing", p.display());
    p
}

/// `tests/clients/node/driver.js`; panics, telling to run the set-up script, when ali-ons is not
/// installed beside it.
pub fn node_driver_path() -> PathBuf {
    let dir = repo_root().join("tests/clients/node");
    assert!(
        dir.join("node_modules/ali-ons/package.json").is_file(),
        "ali-ons is not installed in {}/node_modules: {SETUP_HINT}",
        dir.display()
    );
    dir.join("driver.js")
}

/// Which real client a driver process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// `rocketmq-client-rust` 1.0.0: sync, async, oneway, batch, orderly (selector) sends; push
    /// consumer (concurrent or `--orderly`, clustering or broadcasting, first/last/timestamp),
    /// lite pull consumer (`pull`), admin `create-topic` and `route`.
    Rust,
    /// Apache rocketmq-client-cpp 2.1.0 via Python: sync, async, oneway, batch, orderly sends;
    /// push consumer (concurrent or `--orderly`, clustering or broadcasting; from last only).
    Cpp,
    /// ali-ons 3.12.0: sync, async (in flight) and orderly (sharding key) sends; concurrent push
    /// consumer, clustering or broadcasting. Does not auto-create topics.
    Node,
}

impl Client {
    pub const ALL: [Client; 3] = [Client::Rust, Client::Cpp, Client::Node];

    pub fn name(self) -> &'static str {
        match self {
            Client::Rust => "rocketmq-client-rust",
            Client::Cpp => "rocketmq-client-cpp",
            Client::Node => "ali-ons",
        }
    }

    /// A command that runs this client's driver; append the subcommand and its flags.
    pub fn command(self) -> Command {
        let mut cmd = match self {
            Client::Rust => Command::new(rust_driver_path()),
            Client::Cpp => {
                let mut c = Command::new(python_path());
                c.arg("-u").arg(cpp_driver_path());
                c
            }
            Client::Node => {
                let mut c = Command::new("node");
                c.arg(node_driver_path());
                c
            }
        };
        cmd.current_dir(repo_root());
        cmd
    }
}

/// Starts a driver with `args`, stdout piped (JSON lines), stderr inherited (the client's logs
/// show in the test output), stdin closed.
pub fn spawn_driver(client: Client, args: &[&str]) -> Child {
    client
        .command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the {} driver: {e} ({SETUP_HINT})", client.name()))
}

/// Runs a driver to completion and returns its JSON lines, whatever its exit status (check the
/// `summary` line's `"ok"`, or use [`run_driver_status`]). Kills it and panics when it runs
/// longer than `timeout`.
pub fn run_driver(client: Client, args: &[&str], timeout: Duration) -> Vec<Value> {
    run_driver_status(client, args, timeout).1
}

/// [`run_driver`] with the exit status.
pub fn run_driver_status(client: Client, args: &[&str], timeout: Duration) -> (ExitStatus, Vec<Value>) {
    let mut p = DriverProcess::spawn(client, args);
    let lines = p.wait_exit(timeout);
    let status = p.status.unwrap_or_else(|| panic!("{} driver: no exit status", client.name()));
    (status, lines)
}

/// Parses one stdout line; a line that is not JSON becomes `{"event":"raw","line":...}`.
pub fn parse_line(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|_| serde_json::json!({"event": "raw", "line": line}))
}

/// Reads a child's JSON lines on a thread, so a test can wait for one event (e.g. `started`)
/// while the driver keeps running.
pub struct JsonLines {
    rx: mpsc::Receiver<Value>,
    reader: Option<JoinHandle<()>>,
    /// Every line received so far, in order.
    pub seen: Vec<Value>,
}

impl JsonLines {
    pub fn new(stdout: ChildStdout) -> JsonLines {
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                if tx.send(parse_line(&line)).is_err() {
                    break;
                }
            }
        });
        JsonLines { rx, reader: Some(reader), seen: Vec::new() }
    }

    /// The next line, or `None` at end of output or after `timeout`.
    pub fn next_line(&mut self, timeout: Duration) -> Option<Value> {
        let v = self.rx.recv_timeout(timeout).ok()?;
        self.seen.push(v.clone());
        Some(v)
    }

    /// Waits for the next line with `"event": event`; `None` at end of output or timeout.
    pub fn wait_event(&mut self, event: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self.next_line(left)?;
            if v["event"] == event {
                return Some(v);
            }
        }
    }

    /// Reads until the end of output (the child exited) or `timeout`; returns every line seen.
    pub fn read_to_end(&mut self, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(v) => self.seen.push(v),
                Err(_) => break,
            }
        }
        if let Some(r) = self.reader.take() {
            if r.is_finished() {
                let _ = r.join();
            } else {
                self.reader = Some(r);
            }
        }
        self.seen.clone()
    }
}

/// A running driver: its process (killed on drop) and its JSON lines.
pub struct DriverProcess {
    pub client: Client,
    pub child: Child,
    pub lines: JsonLines,
    pub status: Option<ExitStatus>,
}

impl DriverProcess {
    pub fn spawn(client: Client, args: &[&str]) -> DriverProcess {
        let mut child = spawn_driver(client, args);
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("{} driver: no stdout", client.name()));
        DriverProcess { client, child, lines: JsonLines::new(stdout), status: None }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for an event line; panics with everything seen so far when it does not come.
    pub fn wait_event(&mut self, event: &str, timeout: Duration) -> Value {
        match self.lines.wait_event(event, timeout) {
            Some(v) => v,
            None => panic!(
                "{} driver: no {event:?} line within {timeout:?}; lines so far: {}",
                self.client.name(),
                lines_text(&self.lines.seen)
            ),
        }
    }

    /// Waits for the process to exit by itself (kills it and panics after `timeout`) and returns
    /// every line it printed.
    pub fn wait_exit(&mut self, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.status = Some(status);
                    // The pipe drains right after exit.
                    return self.lines.read_to_end(Duration::from_secs(5));
                }
                Ok(None) if Instant::now() < deadline => {
                    // Keep the pipe moving while waiting.
                    while Instant::now() < deadline
                        && self.lines.next_line(Duration::from_millis(50)).is_some()
                    {}
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    let seen = self.lines.read_to_end(Duration::from_secs(2));
                    panic!(
                        "{} driver did not exit within {timeout:?} (killed); lines: {}",
                        self.client.name(),
                        lines_text(&seen)
                    );
                }
            }
        }
    }

    /// SIGTERM: a consumer shuts down cleanly (offsets persisted, unregistered) and prints its
    /// summary with `"reason": "signal"`; returns all lines.
    pub fn terminate(&mut self, timeout: Duration) -> Vec<Value> {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.wait_exit(timeout)
    }

    /// SIGKILL: the client vanishes without unregistering (the broker sees the connection close).
    pub fn kill(&mut self) -> Vec<Value> {
        let _ = self.child.kill();
        self.status = self.child.wait().ok();
        self.lines.read_to_end(Duration::from_secs(2))
    }
}

impl Drop for DriverProcess {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The lines with `"event": event`.
pub fn events<'a>(lines: &'a [Value], event: &str) -> Vec<&'a Value> {
    lines.iter().filter(|v| v["event"] == event).collect()
}

/// The final `summary` line; panics (showing all lines) when there is none.
pub fn summary(lines: &[Value]) -> &Value {
    lines
        .iter()
        .rev()
        .find(|v| v["event"] == "summary")
        .unwrap_or_else(|| panic!("no summary line; lines: {}", lines_text(lines)))
}

/// The summary, after checking that its `"ok"` is `true` (panics showing all lines otherwise).
pub fn expect_ok(lines: &[Value]) -> &Value {
    let s = summary(lines);
    assert_eq!(s["ok"], true, "the driver failed; lines: {}", lines_text(lines));
    s
}

/// Lines joined for a panic message (at most 40, then a count).
pub fn lines_text(lines: &[Value]) -> String {
    let mut s: Vec<String> = lines.iter().take(40).map(Value::to_string).collect();
    if lines.len() > 40 {
        s.push(format!("... ({} more)", lines.len() - 40));
    }
    format!("[\n  {}\n]", s.join("\n  "))
}

/// The body every driver sends for message `i` with `--body-size size`: `msg-<i>-` then the letter
/// `'a' + i % 26` up to `size` bytes (the prefix is cut when `size` is smaller).
pub fn body(i: usize, size: usize) -> Vec<u8> {
    let mut b = format!("msg-{i}-").into_bytes();
    b.resize(size.max(b.len()), b'a' + (i % 26) as u8);
    b.truncate(size);
    b
}

/// CRC-32 (IEEE, as zlib and java.util.zip.CRC32) of [`body`], as the drivers print it.
pub fn body_crc32(i: usize, size: usize) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in body(i, size) {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
