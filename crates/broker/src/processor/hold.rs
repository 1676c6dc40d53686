//! Long polling (`PullRequestHoldService`): a pull that finds nothing is parked until a
//! message arrives in its queue or its suspend time runs out, then re-executed once.
//!
//! One task owns every parked pull. The store's dispatcher reports arrivals through an
//! unbounded channel (cheap, no lock on the dispatcher thread when nobody waits); the task
//! sleeps until the earliest deadline otherwise, so an idle consumer costs no CPU.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ferromq_protocol::RemotingCommand;
use ferromq_remoting::Connection;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A parked PULL_MESSAGE.
pub struct HeldPull {
    pub conn: Connection,
    pub request: RemotingCommand,
    pub topic: String,
    pub queue_id: i32,
    /// Wake when the queue's max offset passes this.
    pub pull_from_offset: i64,
    pub deadline: Instant,
    /// Tag codes the consumer wants (`None` = all); arrivals of other tags don't wake it.
    pub tag_codes: Option<Vec<i64>>,
}

enum Event {
    Arrived { topic: String, queue_id: i32, max_offset: i64, tags_code: i64 },
    Held { deadline: Instant, key: (String, i32) },
}

/// Re-executes a woken pull (without suspending again) and answers it.
pub type Rerun = Arc<dyn Fn(HeldPull) + Send + Sync>;

pub struct PullHoldService {
    held: Mutex<HashMap<(String, i32), Vec<HeldPull>>>,
    count: AtomicUsize,
    events: mpsc::UnboundedSender<Event>,
}

impl PullHoldService {
    /// Creates the service and its task; `rerun` answers woken and expired pulls.
    pub fn start(rerun: Rerun) -> Arc<PullHoldService> {
        let (events, rx) = mpsc::unbounded_channel();
        let svc = Arc::new(PullHoldService {
            held: Mutex::new(HashMap::new()),
            count: AtomicUsize::new(0),
            events,
        });
        tokio::spawn(run(Arc::downgrade(&svc), rx, rerun));
        svc
    }

    /// Parks a pull.
    pub fn hold(&self, pull: HeldPull) {
        let deadline = pull.deadline;
        let key = (pull.topic.clone(), pull.queue_id);
        self.held.lock().entry(key.clone()).or_default().push(pull);
        self.count.fetch_add(1, Ordering::AcqRel);
        let _ = self.events.send(Event::Held { deadline, key });
    }

    /// Called by the store's dispatcher for every new message (must be quick).
    pub fn arriving(&self, topic: &str, queue_id: i32, max_offset: i64, tags_code: i64) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let _ = self.events.send(Event::Arrived { topic: topic.to_owned(), queue_id, max_offset, tags_code });
    }

    /// Pulls parked right now.
    pub fn held_count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    fn take(&self, key: &(String, i32), mut wake: impl FnMut(&HeldPull) -> bool) -> Vec<HeldPull> {
        let mut map = self.held.lock();
        let Some(list) = map.get_mut(key) else { return Vec::new() };
        let mut woken = Vec::new();
        let mut i = 0;
        while i < list.len() {
            if wake(&list[i]) {
                woken.push(list.swap_remove(i));
            } else {
                i += 1;
            }
        }
        if list.is_empty() {
            map.remove(key);
        }
        self.count.fetch_sub(woken.len(), Ordering::AcqRel);
        woken
    }
}

enum Step {
    Event(Option<Event>),
    Timer,
}

async fn run(svc: std::sync::Weak<PullHoldService>, mut rx: mpsc::UnboundedReceiver<Event>, rerun: Rerun) {
    // Earliest deadline first, with the queue it belongs to: an expiry looks at one queue.
    let mut deadlines: BinaryHeap<Reverse<(Instant, (String, i32))>> = BinaryHeap::new();
    loop {
        let step = match deadlines.peek().map(|Reverse((d, _))| *d) {
            Some(at) => tokio::select! {
                e = rx.recv() => Step::Event(e),
                _ = tokio::time::sleep_until(at) => Step::Timer,
            },
            None => Step::Event(rx.recv().await),
        };
        // The service owns the sender: once it is gone, so is this task.
        let Some(svc) = svc.upgrade() else { return };
        match step {
            Step::Event(None) => return,
            Step::Event(Some(Event::Held { deadline, key })) => deadlines.push(Reverse((deadline, key))),
            Step::Event(Some(Event::Arrived { topic, queue_id, max_offset, tags_code })) => {
                let woken = svc.take(&(topic, queue_id), |p| {
                    p.conn.is_closed()
                        || (max_offset > p.pull_from_offset
                            && p.tag_codes.as_ref().is_none_or(|codes| codes.contains(&tags_code)))
                });
                woken.into_iter().filter(|p| !p.conn.is_closed()).for_each(|p| rerun(p));
            }
            Step::Timer => {}
        }
        let now = Instant::now();
        while let Some(Reverse((d, _))) = deadlines.peek() {
            if *d > now {
                break;
            }
            let Some(Reverse((_, key))) = deadlines.pop() else { break };
            let expired = svc.take(&key, |p| p.deadline <= now || p.conn.is_closed());
            expired.into_iter().filter(|p| !p.conn.is_closed()).for_each(|p| rerun(p));
        }
    }
}
