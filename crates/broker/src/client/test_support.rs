//! Real loopback connections for the client managers' tests.

use std::sync::Arc;

use ferromq_protocol::RemotingCommand;
use ferromq_remoting::{Connection, ConnectionConfig, RejectRequests, RequestHandler};
use parking_lot::Mutex;

/// A client that records the requests the broker sends it.
#[derive(Default)]
pub(crate) struct Recorder {
    pub seen: Mutex<Vec<RemotingCommand>>,
}

impl RequestHandler for Recorder {
    fn handle(&self, _conn: &Connection, req: RemotingCommand) -> Option<RemotingCommand> {
        self.seen.lock().push(req);
        None
    }
}

/// One connection: the broker's end, the client's end, and what the client received.
pub(crate) async fn connect() -> (Connection, Connection, Arc<Recorder>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
    let recorder = Arc::new(Recorder::default());
    let broker_end =
        Connection::start(accepted.unwrap().0, Arc::new(RejectRequests), ConnectionConfig::default())
            .unwrap();
    let client_end =
        Connection::start(client.unwrap(), recorder.clone(), ConnectionConfig::default()).unwrap();
    (broker_end, client_end, recorder)
}

/// Waits until `recorder` has seen `n` requests (or 5 s pass).
pub(crate) async fn wait_for(recorder: &Recorder, n: usize) -> Vec<RemotingCommand> {
    for _ in 0..500 {
        if recorder.seen.lock().len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    recorder.seen.lock().clone()
}
