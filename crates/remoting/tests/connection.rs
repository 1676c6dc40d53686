//! The transport over real loopback sockets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferromq_protocol::{RemotingCommand, SerializeType};
use ferromq_remoting::{
    Connection, ConnectionConfig, RejectRequests, RemotingError, RemotingServer, RequestHandler,
};

const T: Duration = Duration::from_secs(5);

/// Echoes the request's body; code 1 answers after a delay in a spawned task (a handler
/// that answers later), code 2 never answers, code 3 calls the client back.
struct Echo {
    oneway_seen: AtomicUsize,
}

impl RequestHandler for Echo {
    fn handle(&self, conn: &Connection, req: RemotingCommand) -> Option<RemotingCommand> {
        if req.is_oneway() {
            self.oneway_seen.fetch_add(1, Ordering::SeqCst);
            return None;
        }
        match req.code {
            1 => {
                let conn = conn.clone();
                let (opaque, st, body) = (req.opaque, req.serialize_type, req.body.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let _ = conn.send_response(opaque, st, RemotingCommand::success().with_body(body));
                });
                None
            }
            2 => None,
            3 => {
                let conn = conn.clone();
                let (opaque, st) = (req.opaque, req.serialize_type);
                tokio::spawn(async move {
                    let answer = conn.invoke(RemotingCommand::request(77), T).await.unwrap();
                    let reply =
                        RemotingCommand::success().with_remark(format!("client said {}", answer.code));
                    let _ = conn.send_response(opaque, st, reply);
                });
                None
            }
            _ => Some(RemotingCommand::success().with_body(req.body)),
        }
    }
}

async fn server() -> (ferromq_remoting::ServerHandle, Arc<Echo>) {
    let echo = Arc::new(Echo { oneway_seen: AtomicUsize::new(0) });
    let s = RemotingServer::bind("127.0.0.1:0", echo.clone(), ConnectionConfig::default()).await.unwrap();
    (s, echo)
}

async fn client(addr: std::net::SocketAddr) -> Connection {
    Connection::connect(&addr.to_string(), Arc::new(RejectRequests), ConnectionConfig::default(), T)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_requests_in_flight_on_one_connection() {
    let (s, _) = server().await;
    let conn = client(s.local_addr()).await;
    let mut tasks = Vec::new();
    for i in 0..2000u32 {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            let mut req =
                RemotingCommand::request(if i % 3 == 0 { 1 } else { 10 }).with_body(i.to_be_bytes().to_vec());
            req.serialize_type = if i % 2 == 0 { SerializeType::Json } else { SerializeType::RocketMq };
            let resp = conn.invoke(req, T).await.unwrap();
            assert!(resp.is_response());
            assert_eq!(&resp.body[..], &i.to_be_bytes(), "response matched to its request");
            assert_eq!(
                resp.serialize_type,
                if i % 2 == 0 { SerializeType::Json } else { SerializeType::RocketMq }
            );
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn a_request_without_answer_times_out_and_others_proceed() {
    let (s, _) = server().await;
    let conn = client(s.local_addr()).await;
    let err = conn.invoke(RemotingCommand::request(2), Duration::from_millis(100)).await.unwrap_err();
    assert!(matches!(err, RemotingError::Timeout { code: 2, .. }), "{err}");
    let ok = conn.invoke(RemotingCommand::request(10).with_body(&b"x"[..]), T).await.unwrap();
    assert_eq!(&ok.body[..], b"x");
}

#[tokio::test]
async fn oneway_requests_get_no_response() {
    let (s, echo) = server().await;
    let conn = client(s.local_addr()).await;
    for _ in 0..10 {
        conn.invoke_oneway(RemotingCommand::request(10)).unwrap();
    }
    // A regular request after them proves they were read, in order.
    conn.invoke(RemotingCommand::request(10), T).await.unwrap();
    assert_eq!(echo.oneway_seen.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn the_server_can_call_the_client_back() {
    struct Answer77;
    impl RequestHandler for Answer77 {
        fn handle(&self, _c: &Connection, req: RemotingCommand) -> Option<RemotingCommand> {
            Some(RemotingCommand::response(req.code + 1, None))
        }
    }
    let (s, _) = server().await;
    let conn =
        Connection::connect(&s.local_addr().to_string(), Arc::new(Answer77), ConnectionConfig::default(), T)
            .await
            .unwrap();
    let resp = conn.invoke(RemotingCommand::request(3), T).await.unwrap();
    assert_eq!(resp.remark.as_deref(), Some("client said 78"));
}

#[tokio::test]
async fn closing_fails_pending_requests_and_later_ones() {
    let (s, _) = server().await;
    let conn = client(s.local_addr()).await;
    let pending = {
        let conn = conn.clone();
        tokio::spawn(async move { conn.invoke(RemotingCommand::request(2), T).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    conn.close();
    assert!(matches!(pending.await.unwrap(), Err(RemotingError::Closed(_))));
    assert!(matches!(conn.invoke(RemotingCommand::request(10), T).await, Err(RemotingError::Closed(_))));
    tokio::time::timeout(T, conn.closed()).await.unwrap();
}

#[tokio::test]
async fn peer_going_away_is_noticed() {
    let (s, _) = server().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = tokio::spawn(async move { listener.accept().await.unwrap().0 });
    let conn = client(addr).await;
    drop(accept.await.unwrap());
    tokio::time::timeout(T, conn.closed()).await.expect("EOF closes the connection");
    drop(s);
}

#[tokio::test]
async fn connect_errors_are_reported() {
    let err = Connection::connect("127.0.0.1:1", Arc::new(RejectRequests), ConnectionConfig::default(), T)
        .await
        .unwrap_err();
    assert!(matches!(err, RemotingError::Connect { .. }), "{err}");
}

/// Thousands of concurrent connections to one server, each with a request in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_connections_each_served() {
    let (s, _) = server().await;
    let addr = s.local_addr();
    let mut conns = Vec::new();
    for _ in 0..2000 {
        conns.push(client(addr).await);
    }
    let mut tasks = Vec::new();
    for (i, conn) in conns.iter().enumerate() {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            let resp = conn
                .invoke(RemotingCommand::request(10).with_body((i as u32).to_be_bytes().to_vec()), T)
                .await
                .unwrap();
            assert_eq!(&resp.body[..], &(i as u32).to_be_bytes());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for c in &conns {
        c.close();
    }
}

/// Answers written by the reader itself (a burst's immediate answers) and answers queued for
/// the writer task (late answers, and whatever a full socket did not take) share one socket:
/// with a client that stops reading until hundreds of large answers are pending, every frame
/// still arrives whole, and the immediate answers in request order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_and_queued_answers_never_interleave() {
    use bytes::BytesMut;
    use ferromq_protocol::frame::{decode_frame, encode_frame};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (s, _) = server().await;
    let mut stream = tokio::net::TcpStream::connect(s.local_addr()).await.unwrap();
    let n = 300u32;
    let (mut immediate, mut late) = (Vec::new(), Vec::new());
    let mut buf = BytesMut::new();
    let take = |buf: &mut BytesMut, immediate: &mut Vec<u32>, late: &mut Vec<u32>| {
        while let Some(resp) = decode_frame(buf, 16 * 1024 * 1024).unwrap() {
            let i = resp.opaque as u32;
            assert!(resp.is_response());
            assert_eq!(resp.body.len(), 64 * 1024, "answer {i} whole");
            assert_eq!(&resp.body[..4], &i.to_be_bytes(), "answer {i} carries its own body");
            assert!(resp.body[4..].iter().all(|&b| b == (i % 251) as u8), "answer {i} intact");
            if i.is_multiple_of(7) {
                late.push(i);
            } else {
                immediate.push(i);
            }
        }
    };
    // Batches of requests while reading slowly: the writer task is draining a backlog
    // when the next burst's answers are ready.
    for batch in 0..n / 10 {
        let mut out = BytesMut::new();
        for i in batch * 10..batch * 10 + 10 {
            let mut body = vec![(i % 251) as u8; 64 * 1024];
            body[..4].copy_from_slice(&i.to_be_bytes());
            let mut req = RemotingCommand::request(if i.is_multiple_of(7) { 1 } else { 10 }).with_body(body);
            req.opaque = i as i32;
            encode_frame(&req, &mut out);
        }
        stream.write_all(&out).await.unwrap();
        if batch < 5 {
            // Let the server's socket buffer fill first.
            tokio::time::sleep(Duration::from_millis(50)).await;
        } else {
            let mut chunk = vec![0u8; 200 * 1024];
            let read = tokio::time::timeout(T, stream.read(&mut chunk)).await.unwrap().unwrap();
            buf.extend_from_slice(&chunk[..read]);
            take(&mut buf, &mut immediate, &mut late);
        }
    }
    while immediate.len() + late.len() < n as usize {
        let read = tokio::time::timeout(T, stream.read_buf(&mut buf)).await.unwrap().unwrap();
        assert!(read > 0, "server closed early");
        take(&mut buf, &mut immediate, &mut late);
    }
    let expected: Vec<u32> = (0..n).filter(|i| i % 7 != 0).collect();
    assert_eq!(immediate, expected, "immediate answers in request order");
    late.sort_unstable();
    assert_eq!(late, (0..n).filter(|i| i % 7 == 0).collect::<Vec<_>>());
}
