//! One TCP connection carrying RocketMQ frames in both directions.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferromq_protocol::frame::{decode_frame, encode_frame, peek_frame_len, DEFAULT_MAX_FRAME_BYTES};
use ferromq_protocol::{RemotingCommand, SerializeType};
use parking_lot::Mutex;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::RemotingError;

/// Limits of one connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Largest frame accepted from the peer (Java: `com.rocketmq.remoting.frameMaxLength`).
    pub max_frame_bytes: usize,
    /// Bytes queued for a peer that is not reading before the connection is cut.
    pub max_pending_write_bytes: usize,
    /// Bytes the writer gathers into one `write` call at most.
    pub write_batch_bytes: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            max_pending_write_bytes: 64 * 1024 * 1024,
            write_batch_bytes: 256 * 1024,
        }
    }
}

/// Serves the requests a peer sends on a connection.
///
/// `handle` is synchronous and called on the connection's reader task, in arrival order:
/// it answers at once (`Some`), or keeps the request's opaque and serialize type and
/// answers later through [`Connection::send_response`] from a task it spawned (a held
/// long-poll pull, a send waiting for fsync, a call back to the peer). Because it cannot
/// await, a handler can never stall the reader, and so can never deadlock waiting for a
/// response the reader would have to read; and the hot path costs no task spawn.
pub trait RequestHandler: Send + Sync + 'static {
    /// Handles one request; `None` for oneway requests or answers sent later.
    fn handle(&self, conn: &Connection, request: RemotingCommand) -> Option<RemotingCommand>;

    /// Called after the requests of one read burst were handled, before their immediate
    /// answers are sent: the place to make their effects durable as one batch (the broker
    /// writes the burst's messages to the page cache with one `pwrite`). Returning `false`
    /// discards the burst's answers and closes the connection: what they acknowledge did
    /// not happen.
    fn on_burst_end(&self, _conn: &Connection) -> bool {
        true
    }

    /// Called once when the connection is established.
    fn on_connected(&self, _conn: &Connection) {}

    /// Called once when the connection is gone (EOF, error, or closed by us).
    fn on_closed(&self, _conn: &Connection) {}
}

/// A handler for connections that serve nothing (a plain client): every request is
/// answered REQUEST_CODE_NOT_SUPPORTED.
pub struct RejectRequests;

impl RequestHandler for RejectRequests {
    fn handle(&self, _conn: &Connection, request: RemotingCommand) -> Option<RemotingCommand> {
        Some(RemotingCommand::not_supported(request.code))
    }
}

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

struct Shared {
    id: u64,
    peer: SocketAddr,
    local: SocketAddr,
    config: ConnectionConfig,
    outbound: mpsc::UnboundedSender<Bytes>,
    /// Bytes handed to the writer task and not yet written; 0 means the socket may be
    /// written directly (nothing queued that must go first).
    queued_bytes: AtomicUsize,
    /// The socket's write side, shared by direct writers and the writer task. Holding the
    /// lock is what makes one write's bytes contiguous on the wire; `None` once closed.
    writer: Mutex<Option<Arc<OwnedWriteHalf>>>,
    pending: Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>,
    next_opaque: AtomicI32,
    closed: AtomicBool,
    close_tx: watch::Sender<bool>,
}

/// A handle on a live connection; cheap to clone. All clones refer to the same socket.
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("id", &self.shared.id).field("peer", &self.shared.peer).finish()
    }
}

impl PartialEq for Connection {
    fn eq(&self, other: &Self) -> bool {
        self.shared.id == other.shared.id
    }
}
impl Eq for Connection {}

impl Connection {
    /// Connects to `addr` ("host:port") and starts serving the connection with `handler`.
    pub async fn connect<H: RequestHandler>(
        addr: &str,
        handler: Arc<H>,
        config: ConnectionConfig,
        timeout: Duration,
    ) -> Result<Connection, RemotingError> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Err(_) => return Err(RemotingError::ConnectTimeout { addr: addr.to_owned(), timeout }),
            Ok(Err(source)) => return Err(RemotingError::Connect { addr: addr.to_owned(), source }),
            Ok(Ok(s)) => s,
        };
        Self::start(stream, handler, config)
            .map_err(|source| RemotingError::Connect { addr: addr.to_owned(), source })
    }

    /// Starts the reader and writer tasks of an established stream.
    pub fn start<H: RequestHandler>(
        stream: TcpStream,
        handler: Arc<H>,
        config: ConnectionConfig,
    ) -> std::io::Result<Connection> {
        stream.set_nodelay(true)?;
        let peer = stream.peer_addr()?;
        let local = stream.local_addr()?;
        let (read_half, write_half) = stream.into_split();
        let write_half = Arc::new(write_half);
        let (outbound, outbound_rx) = mpsc::unbounded_channel();
        let (close_tx, close_rx) = watch::channel(false);
        let conn = Connection {
            shared: Arc::new(Shared {
                id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
                peer,
                local,
                config,
                outbound,
                queued_bytes: AtomicUsize::new(0),
                writer: Mutex::new(Some(write_half.clone())),
                pending: Mutex::new(HashMap::new()),
                next_opaque: AtomicI32::new(1),
                closed: AtomicBool::new(false),
                close_tx,
            }),
        };
        tokio::spawn(write_loop(conn.clone(), write_half, outbound_rx, close_rx));
        handler.on_connected(&conn);
        tokio::spawn(read_loop(conn.clone(), read_half, handler));
        Ok(conn)
    }

    /// A process-unique id for this connection.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    pub fn peer_addr(&self) -> SocketAddr {
        self.shared.peer
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Closes the connection: pending requests fail with `Closed`, queued writes are dropped.
    pub fn close(&self) {
        if !self.shared.closed.swap(true, Ordering::AcqRel) {
            // The writer task holds the other reference; when it ends, the write side is
            // shut down (OwnedWriteHalf's drop).
            self.shared.writer.lock().take();
            let _ = self.shared.close_tx.send(true);
            // Dropping the senders wakes every waiter with an error.
            self.shared.pending.lock().clear();
        }
    }

    /// Resolves once the connection is closed.
    pub async fn closed(&self) {
        wait_closed(&mut self.shared.close_tx.subscribe()).await;
    }

    /// Sends a request and waits for its response.
    pub async fn invoke(
        &self,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let opaque = self.shared.next_opaque.fetch_add(1, Ordering::Relaxed);
        request.opaque = opaque;
        request.flag &= !ferromq_protocol::command::FLAG_RESPONSE;
        let code = request.code;
        let (tx, rx) = oneshot::channel();
        self.shared.pending.lock().insert(opaque, tx);
        if self.is_closed() {
            self.shared.pending.lock().remove(&opaque);
            return Err(RemotingError::Closed(self.shared.peer));
        }
        if let Err(e) = self.enqueue(&request) {
            self.shared.pending.lock().remove(&opaque);
            return Err(e);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(_)) => Err(RemotingError::Closed(self.shared.peer)),
            Err(_) => {
                self.shared.pending.lock().remove(&opaque);
                Err(RemotingError::Timeout { peer: self.shared.peer, code, timeout })
            }
        }
    }

    /// Sends a request that expects no response.
    pub fn invoke_oneway(&self, mut request: RemotingCommand) -> Result<(), RemotingError> {
        request.opaque = self.shared.next_opaque.fetch_add(1, Ordering::Relaxed);
        request.mark_oneway();
        self.enqueue(&request)
    }

    /// Sends `response` as the answer to the request with `opaque`, in the request's encoding.
    pub fn send_response(
        &self,
        opaque: i32,
        serialize_type: SerializeType,
        mut response: RemotingCommand,
    ) -> Result<(), RemotingError> {
        response.opaque = opaque;
        response.serialize_type = serialize_type;
        response.mark_response();
        self.enqueue(&response)
    }

    fn enqueue(&self, cmd: &RemotingCommand) -> Result<(), RemotingError> {
        if self.is_closed() {
            return Err(RemotingError::Closed(self.shared.peer));
        }
        let mut buf = BytesMut::with_capacity(128 + cmd.body.len());
        encode_frame(cmd, &mut buf);
        self.enqueue_encoded(buf.freeze())
    }

    /// Sends the answers of one read burst: written to the socket at once when nothing is
    /// queued before them and the socket takes them, otherwise (or for the rest) queued
    /// for the writer task.
    ///
    /// Writing on the caller's task matters for pipelines: a frame queued for the writer
    /// task waits until that task runs, and a writer task woken by a busy reader task sits
    /// in the worker's LIFO slot until the reader yields — which, with a peer that keeps
    /// sending, is after the next burst. Answers then leave in lock step with requests.
    /// Single frames sent from many tasks (requests, late answers) still go through the
    /// writer task, which gathers them into one write.
    fn send_burst(&self, mut frames: Bytes) -> Result<(), RemotingError> {
        if self.is_closed() {
            return Err(RemotingError::Closed(self.shared.peer));
        }
        if self.shared.queued_bytes.load(Ordering::Acquire) == 0 {
            let guard = self.shared.writer.lock();
            let Some(half) = guard.as_ref() else {
                return Err(RemotingError::Closed(self.shared.peer));
            };
            // Checked again under the lock: the writer task only writes while holding it,
            // and queued bytes are counted before they are sent to it.
            if self.shared.queued_bytes.load(Ordering::Acquire) == 0 {
                let written = match half.try_write(&frames) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
                    Err(e) => {
                        drop(guard);
                        tracing::debug!(peer = %self.shared.peer, error = %e, "write failed");
                        self.close();
                        return Err(RemotingError::Closed(self.shared.peer));
                    }
                };
                if written == frames.len() {
                    return Ok(());
                }
                // The rest goes to the writer task before the lock is released, so that
                // nothing (a direct write, or a frame another thread queues) can come
                // between the part written and the rest.
                let _ = frames.split_to(written);
                let queued = self.queue_locked(frames);
                drop(guard);
                return queued.map_err(|full| self.give_up(full));
            }
        }
        self.enqueue_encoded(frames)
    }

    /// Queues already encoded frames for the writer task.
    fn enqueue_encoded(&self, frames: Bytes) -> Result<(), RemotingError> {
        if self.is_closed() {
            return Err(RemotingError::Closed(self.shared.peer));
        }
        // Under the writer lock: see `send_burst`.
        let guard = self.shared.writer.lock();
        if guard.is_none() {
            return Err(RemotingError::Closed(self.shared.peer));
        }
        let queued = self.queue_locked(frames);
        drop(guard);
        queued.map_err(|full| self.give_up(full))
    }

    /// Counts `frames` as queued and hands them to the writer task; the caller holds the
    /// writer lock, which orders this against direct writes and other queued frames.
    /// `Err(true)`: the peer has stopped reading (too much queued); `Err(false)`: the
    /// writer task is gone.
    fn queue_locked(&self, frames: Bytes) -> Result<(), bool> {
        let queued = self.shared.queued_bytes.fetch_add(frames.len(), Ordering::AcqRel) + frames.len();
        if queued > self.shared.config.max_pending_write_bytes {
            return Err(true);
        }
        self.shared.outbound.send(frames).map_err(|_| false)
    }

    /// Closes the connection after a failed `queue_locked` (called without the lock).
    fn give_up(&self, peer_not_reading: bool) -> RemotingError {
        if peer_not_reading {
            tracing::warn!(peer = %self.shared.peer, "peer is not reading; closing the connection");
        }
        self.close();
        RemotingError::Closed(self.shared.peer)
    }

    fn complete(&self, response: RemotingCommand) {
        let waiter = self.shared.pending.lock().remove(&response.opaque);
        match waiter {
            Some(tx) => {
                let _ = tx.send(response);
            }
            None => {
                tracing::debug!(peer = %self.shared.peer, opaque = response.opaque, "response to an unknown or expired request")
            }
        }
    }
}

async fn read_loop<H: RequestHandler>(conn: Connection, mut read_half: OwnedReadHalf, handler: Arc<H>) {
    let max_frame = conn.shared.config.max_frame_bytes;
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut close_rx = conn.shared.close_tx.subscribe();
    // Immediate answers to every request of one read are encoded here and handed to the
    // writer as one buffer: one queue operation and one write for a whole pipeline burst.
    let mut answers = BytesMut::new();
    let mut handled = false;
    'outer: loop {
        // Decode every complete frame already buffered.
        loop {
            match decode_frame(&mut buf, max_frame) {
                Ok(Some(cmd)) => {
                    if cmd.is_response() {
                        conn.complete(cmd);
                        continue;
                    }
                    let opaque = cmd.opaque;
                    let oneway = cmd.is_oneway();
                    let serialize_type = cmd.serialize_type;
                    handled = true;
                    if let Some(mut response) = handler.handle(&conn, cmd) {
                        if !oneway {
                            response.opaque = opaque;
                            response.serialize_type = serialize_type;
                            response.mark_response();
                            encode_frame(&response, &mut answers);
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(peer = %conn.peer_addr(), error = %e, "malformed frame; closing the connection");
                    break 'outer;
                }
            }
        }
        if handled {
            handled = false;
            if !handler.on_burst_end(&conn) {
                tracing::error!(peer = %conn.peer_addr(), "a burst could not be made durable; closing without answering");
                break;
            }
        }
        if !answers.is_empty() && conn.send_burst(answers.split().freeze()).is_err() {
            break;
        }
        // Reserve what the next frame needs (bounded by the frame limit), at least 64 KiB.
        let want = match peek_frame_len(&buf, max_frame) {
            Ok(Some(total)) => total.saturating_sub(buf.len()).max(64 * 1024),
            _ => 64 * 1024,
        };
        buf.reserve(want);
        tokio::select! {
            read = read_half.read_buf(&mut buf) => match read {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(peer = %conn.peer_addr(), error = %e, "read failed");
                    break;
                }
            },
            _ = wait_closed(&mut close_rx) => break,
        }
    }
    conn.close();
    handler.on_closed(&conn);
}

/// Writes what could not be written directly, in order. Dropping the last reference to
/// the write half at the end shuts the write side down.
async fn write_loop(
    conn: Connection,
    write_half: Arc<OwnedWriteHalf>,
    mut outbound: mpsc::UnboundedReceiver<Bytes>,
    mut close_rx: watch::Receiver<bool>,
) {
    let batch_limit = conn.shared.config.write_batch_bytes;
    let mut batch = BytesMut::with_capacity(batch_limit);
    'frames: loop {
        let first = tokio::select! {
            frame = outbound.recv() => frame,
            _ = wait_closed(&mut close_rx) => None,
        };
        let Some(first) = first else { break };
        let mut taken = first.len();
        let data = if outbound.is_empty() {
            // The common case: one frame, no copy.
            first
        } else {
            batch.clear();
            batch.extend_from_slice(&first);
            while batch.len() < batch_limit {
                match outbound.try_recv() {
                    Ok(frame) => {
                        taken += frame.len();
                        batch.extend_from_slice(&frame);
                    }
                    Err(_) => break,
                }
            }
            batch.split().freeze()
        };
        let mut written = 0;
        while written < data.len() {
            tokio::select! {
                ready = write_half.writable() => if let Err(e) = ready {
                    tracing::debug!(peer = %conn.peer_addr(), error = %e, "write failed");
                    break 'frames;
                },
                _ = wait_closed(&mut close_rx) => break 'frames,
            }
            let guard = conn.shared.writer.lock();
            if guard.is_none() {
                break 'frames;
            }
            match write_half.try_write(&data[written..]) {
                Ok(0) => {
                    tracing::debug!(peer = %conn.peer_addr(), "socket took no bytes; closing");
                    break 'frames;
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    tracing::debug!(peer = %conn.peer_addr(), error = %e, "write failed");
                    break 'frames;
                }
            }
            if written == data.len() {
                // Still under the lock: a direct writer that sees 0 finds nothing of
                // ours half-written.
                conn.shared.queued_bytes.fetch_sub(taken, Ordering::AcqRel);
            }
        }
    }
    conn.close();
}

/// Resolves when the flag turns true (or its sender is gone); holds no guard across awaits.
pub(crate) async fn wait_closed(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|closed| *closed).await;
}
