//! Durability tracking: [`FlushWatch`] publishes how far the CommitLog is fsynced and
//! wakes the writers waiting for it, whether they block a thread ([`PutHandle::wait`]) or
//! await a future (the broker's tokio tasks; no runtime dependency here, only `Waker`s).
//!
//! Group commit: a SYNC_FLUSH put does not fsync itself. It asks the flusher thread for a
//! flush and waits until the flushed position passes its record's end. While one fsync
//! runs, every put that arrives queues behind it, and the next fsync covers them all, so
//! N concurrent writers pay about one fsync per round instead of N. Two refinements keep
//! the rounds full: before an fsync the flusher briefly *gathers* (waits, at most about
//! one fsync time, until as many writers are waiting as the last fsync released), and
//! released threads are woken through a wake-up tree rather than all by the flusher.
//!
//! A third way to wait is a callback ([`PutHandle::on_durable`]): run by whoever advances
//! the flushed position (the flusher thread), with no thread, task or timer per put — the
//! broker answers a SYNC_FLUSH send from it. Callbacks not satisfied within their timeout
//! are answered `FlushDiskTimeout` by [`FlushWatch::expire_callbacks`], which the store's
//! threads call as they go round.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{Result, StoreError};

/// What a [`PutHandle::on_durable`] callback receives.
pub type DurableCallback = Box<dyn FnOnce(Result<PutMessageResult>) + Send>;

struct PendingCallback {
    append: AppendResult,
    deadline: Instant,
    callback: DurableCallback,
}

impl std::fmt::Debug for PendingCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingCallback").field("end", &self.append.end_offset()).finish()
    }
}

impl PendingCallback {
    fn run(self, outcome: Result<PutMessageStatus>) {
        let append = self.append;
        (self.callback)(outcome.map(|status| PutMessageResult { status, append }));
    }
}

#[derive(Debug, Default)]
struct WatchState {
    poisoned: Option<String>,
    shutdown: bool,
    /// Futures waiting for `flushed >= .0`.
    wakers: Vec<(u64, Waker)>,
    /// Callbacks waiting for their append's end, in registration order (so by deadline:
    /// one timeout for all).
    callbacks: Vec<PendingCallback>,
    /// Threads blocked in [`FlushWatch::wait`] for `flushed >= .0`.
    threads: Vec<(u64, Thread)>,
    /// Satisfied threads not yet unparked. Waking a thousand threads one by one from the
    /// flusher costs milliseconds (each unpark is a system call, and the woken threads
    /// preempt the waker), so the flusher wakes a few and every woken thread wakes
    /// [`FAN_OUT`] more: a wake-up tree spread over all cores, while the flusher goes on
    /// to the next fsync.
    to_wake: Vec<Thread>,
    /// The flusher waits in [`FlushWatch::gather`] until this many waiters are registered.
    gather_target: usize,
    gathering: bool,
}

impl WatchState {
    fn waiting(&self) -> usize {
        self.wakers.len() + self.threads.len() + self.callbacks.len()
    }
}

/// Threads each woken waiter wakes in turn (and the flusher, to start the tree).
const FAN_OUT: usize = 2;
const FLUSHER_FAN_OUT: usize = 4;

#[derive(Debug, Default)]
pub(crate) struct FlushWatch {
    /// Published under `state`'s lock (so that a waiter registering after its check
    /// cannot miss the advance that satisfies it); read lock-free.
    flushed: AtomicU64,
    state: Mutex<WatchState>,
    gather_cond: Condvar,
    /// Callbacks registered; lets `expire_callbacks` skip the lock when there are none.
    callback_count: AtomicUsize,
}

/// What one [`FlushWatch::advance`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Advanced {
    /// Waiters registered when it came: the flusher's estimate of the writers it serves
    /// (those it released come back, the others are still waiting).
    pub(crate) registered: usize,
    /// Those it satisfied.
    pub(crate) released: usize,
}

/// Outcome of waiting for durability.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum WaitOutcome {
    Durable,
    TimedOut,
}

impl FlushWatch {
    pub(crate) fn new(flushed: u64) -> Self {
        FlushWatch { flushed: AtomicU64::new(flushed), ..FlushWatch::default() }
    }

    pub(crate) fn flushed(&self) -> u64 {
        self.flushed.load(Ordering::Acquire)
    }

    /// Publishes a new flushed position and wakes everyone it satisfies (blocked threads
    /// through the wake-up tree).
    pub(crate) fn advance(&self, flushed: u64) -> Advanced {
        let (advanced, wake, done) = {
            let mut st = self.state.lock();
            let f = self.flushed.load(Ordering::Acquire).max(flushed);
            self.flushed.store(f, Ordering::Release);
            let before = st.waiting();
            let mut done = Vec::new();
            if !st.callbacks.is_empty() {
                let (ready, waiting): (Vec<_>, Vec<_>) =
                    st.callbacks.drain(..).partition(|c| c.append.end_offset() <= f);
                st.callbacks = waiting;
                self.callback_count.store(st.callbacks.len(), Ordering::Release);
                done = ready;
            }
            let mut ready = Vec::new();
            st.wakers.retain(|(end, w)| {
                if *end <= f {
                    ready.push(w.clone());
                    false
                } else {
                    true
                }
            });
            let WatchState { threads, to_wake, .. } = &mut *st;
            threads.retain(|(end, t)| {
                if *end <= f {
                    to_wake.push(t.clone());
                    false
                } else {
                    true
                }
            });
            let advanced = Advanced { registered: before, released: before - st.waiting() };
            (advanced, ready, done)
        };
        wake.into_iter().for_each(Waker::wake);
        self.wake_threads(FLUSHER_FAN_OUT);
        done.into_iter().for_each(|c| c.run(Ok(PutMessageStatus::PutOk)));
        advanced
    }

    /// Registers `callback` for when `end` is durable; runs it at once when it already is
    /// (or the store is poisoned or shut down).
    fn on_durable(&self, append: AppendResult, timeout: Duration, callback: DurableCallback) {
        let end = append.end_offset();
        let pending = PendingCallback { append, deadline: Instant::now() + timeout, callback };
        let now = {
            let mut st = self.state.lock();
            match self.check(&st, end) {
                Some(r) => r,
                None => {
                    st.callbacks.push(pending);
                    self.callback_count.store(st.callbacks.len(), Ordering::Release);
                    self.registered(&mut st);
                    return;
                }
            }
        };
        pending.run(now.map(|_| PutMessageStatus::PutOk));
    }

    /// Answers `FlushDiskTimeout` to callbacks whose timeout has passed. Cheap when none
    /// are registered; called by the flusher each round and by other store threads (so
    /// that a hung fsync does not hold the answers back).
    pub(crate) fn expire_callbacks(&self, now: Instant) {
        if self.callback_count.load(Ordering::Acquire) == 0 {
            return;
        }
        let expired: Vec<PendingCallback> = {
            let mut st = self.state.lock();
            let n = st.callbacks.iter().take_while(|c| c.deadline <= now).count();
            if n == 0 {
                return;
            }
            let expired = st.callbacks.drain(..n).collect();
            self.callback_count.store(st.callbacks.len(), Ordering::Release);
            expired
        };
        expired.into_iter().for_each(|c| c.run(Ok(PutMessageStatus::FlushDiskTimeout)));
    }

    /// Unparks up to `n` satisfied threads.
    fn wake_threads(&self, n: usize) {
        let batch: Vec<Thread> = {
            let mut st = self.state.lock();
            let keep = st.to_wake.len().saturating_sub(n);
            st.to_wake.split_off(keep)
        };
        batch.iter().for_each(Thread::unpark);
    }

    /// Unparks every satisfied thread still waiting for its turn in the wake-up tree (a
    /// branch stops when its thread was already awake); the flusher calls this each round.
    pub(crate) fn wake_stragglers(&self) {
        self.wake_threads(usize::MAX);
    }

    /// Resets the position downwards (truncation of the log).
    pub(crate) fn reset(&self, flushed: u64) {
        let _st = self.state.lock();
        self.flushed.store(flushed, Ordering::Release);
    }

    fn wake_everyone(&self, f: impl FnOnce(&mut WatchState)) {
        let (wakers, threads, callbacks, poisoned) = {
            let mut st = self.state.lock();
            f(&mut st);
            let wakers: Vec<Waker> = st.wakers.drain(..).map(|(_, w)| w).collect();
            let mut threads: Vec<Thread> = st.threads.drain(..).map(|(_, t)| t).collect();
            threads.append(&mut st.to_wake);
            let callbacks: Vec<PendingCallback> = st.callbacks.drain(..).collect();
            self.callback_count.store(0, Ordering::Release);
            (wakers, threads, callbacks, st.poisoned.clone())
        };
        self.gather_cond.notify_all();
        wakers.into_iter().for_each(Waker::wake);
        threads.iter().for_each(Thread::unpark);
        for c in callbacks {
            c.run(Err(match &poisoned {
                Some(p) => StoreError::Poisoned(p.clone()),
                None => StoreError::Shutdown,
            }));
        }
    }

    pub(crate) fn poison(&self, why: String) {
        self.wake_everyone(|st| {
            if st.poisoned.is_none() {
                st.poisoned = Some(why);
            }
        });
    }

    pub(crate) fn poisoned(&self) -> Option<String> {
        self.state.lock().poisoned.clone()
    }

    pub(crate) fn shutdown(&self) {
        self.wake_everyone(|st| st.shutdown = true);
    }

    fn check(&self, st: &WatchState, end: u64) -> Option<Result<WaitOutcome>> {
        if self.flushed.load(Ordering::Acquire) >= end {
            return Some(Ok(WaitOutcome::Durable));
        }
        if let Some(p) = &st.poisoned {
            return Some(Err(StoreError::Poisoned(p.clone())));
        }
        if st.shutdown {
            return Some(Err(StoreError::Shutdown));
        }
        None
    }

    fn registered(&self, st: &mut WatchState) {
        if st.gathering && st.waiting() >= st.gather_target {
            st.gathering = false;
            self.gather_cond.notify_one();
        }
    }

    /// Blocks until `end` is durable, the store is poisoned or shut down, or `timeout`.
    pub(crate) fn wait(&self, end: u64, timeout: Duration) -> Result<WaitOutcome> {
        if self.flushed() >= end {
            return Ok(WaitOutcome::Durable);
        }
        let deadline = Instant::now() + timeout;
        let me = std::thread::current();
        {
            let mut st = self.state.lock();
            if let Some(r) = self.check(&st, end) {
                return r;
            }
            st.threads.push((end, me.clone()));
            self.registered(&mut st);
        }
        loop {
            // Spurious unparks (an earlier wake-up token) only cost a re-check.
            let now = Instant::now();
            if now < deadline {
                std::thread::park_timeout(deadline - now);
            }
            if self.flushed() >= end {
                self.wake_threads(FAN_OUT);
                return Ok(WaitOutcome::Durable);
            }
            let mut st = self.state.lock();
            if let Some(r) = self.check(&st, end) {
                return r;
            }
            if Instant::now() >= deadline {
                let id = me.id();
                st.threads.retain(|(_, t)| t.id() != id);
                return Ok(WaitOutcome::TimedOut);
            }
        }
    }

    /// `registered`: whether an earlier poll of the same future registered a waker (then
    /// it is looked up and refreshed; a first poll just pushes, in O(1) — with a thousand
    /// waiting futures a scan per registration would cost more than the rest of a put).
    fn poll_durable(
        &self,
        end: u64,
        registered: &mut bool,
        cx: &mut Context<'_>,
    ) -> Poll<Result<WaitOutcome>> {
        if self.flushed() >= end {
            return Poll::Ready(Ok(WaitOutcome::Durable));
        }
        let mut st = self.state.lock();
        if let Some(r) = self.check(&st, end) {
            return Poll::Ready(r);
        }
        let w = cx.waker();
        // Polled again with a different waker (the task moved): register that one too; the
        // stale one only costs a spurious wake-up and goes with the advance.
        if *registered && st.wakers.iter().rev().any(|(e, x)| *e == end && x.will_wake(w)) {
            return Poll::Pending;
        }
        st.wakers.push((end, w.clone()));
        *registered = true;
        self.registered(&mut st);
        Poll::Pending
    }

    /// Group commit's gathering step (the flusher, before an fsync): waits until `target`
    /// waiters are registered (the writers the last fsync released have appended again)
    /// or `max_wait` passes, so that one fsync serves them all instead of the first few.
    /// Returns whether `target` waiters were there (or the watch was shut down or poisoned),
    /// `false` when `max_wait` ran out first.
    pub(crate) fn gather(&self, target: usize, max_wait: Duration) -> bool {
        let deadline = Instant::now() + max_wait;
        let mut st = self.state.lock();
        let done = |st: &WatchState| st.waiting() >= target || st.shutdown || st.poisoned.is_some();
        if done(&st) {
            return true;
        }
        st.gather_target = target;
        st.gathering = true;
        while st.gathering && !st.shutdown && st.poisoned.is_none() {
            if self.gather_cond.wait_until(&mut st, deadline).timed_out() {
                break;
            }
        }
        st.gathering = false;
        done(&st)
    }
}

/// RocketMQ's `PutMessageStatus` for a stored message (failures are [`StoreError`]s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMessageStatus {
    PutOk,
    /// Stored, but not fsynced within `syncFlushTimeout` (SYNC_FLUSH); it may still be
    /// flushed later, or lost in a power failure.
    FlushDiskTimeout,
}

/// Where and how a message was stored (RocketMQ's `AppendMessageResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    /// CommitLog offset of the record (the first, for a batch).
    pub wrote_offset: u64,
    /// Bytes written (all records of a batch).
    pub wrote_bytes: u64,
    /// ConsumeQueue offset of the (first) message.
    pub logics_offset: i64,
    pub store_timestamp: i64,
    /// Number of messages.
    pub msg_num: u32,
}

impl AppendResult {
    /// The end of the appended bytes; durable once the flushed position reaches it.
    pub fn end_offset(&self) -> u64 {
        self.wrote_offset + self.wrote_bytes
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutMessageResult {
    pub status: PutMessageStatus,
    pub append: AppendResult,
}

/// Returned by `put_message`: the record is appended and visible to the page cache;
/// [`PutHandle::wait`] (blocking) or `.await` resolves once it is as durable as the flush
/// mode promises. In ASYNC_FLUSH it is ready at once. Awaiting has no timeout of its own
/// (wrap it in the runtime's timeout; `wait` uses `syncFlushTimeout`).
#[derive(Debug)]
pub struct PutHandle {
    append: AppendResult,
    watch: Option<Arc<FlushWatch>>,
    timeout: Duration,
    /// A poll has registered this future's waker with the watch.
    registered: bool,
}

impl PutHandle {
    pub(crate) fn ready(append: AppendResult) -> Self {
        PutHandle { append, watch: None, timeout: Duration::ZERO, registered: false }
    }

    pub(crate) fn waiting(append: AppendResult, watch: Arc<FlushWatch>, timeout: Duration) -> Self {
        PutHandle { append, watch: Some(watch), timeout, registered: false }
    }

    /// True when nothing is left to wait for (ASYNC_FLUSH, or `WAIT=false`): the append
    /// result is the answer.
    pub fn is_ready(&self) -> bool {
        self.watch.is_none()
    }

    /// Where the message went (known before it is durable).
    pub fn append_result(&self) -> &AppendResult {
        &self.append
    }

    /// Calls `callback` once the put is as durable as the flush mode promises: at once in
    /// ASYNC_FLUSH; in SYNC_FLUSH from the flusher thread after the fsync that covers it
    /// (`PutOk`), or after `syncFlushTimeout` (`FlushDiskTimeout`), or with the error that
    /// poisoned or shut down the store. The callback must be quick and must not block: it
    /// runs between fsyncs, under the flush lock, so a flush or a wait for durability from
    /// it would deadlock. A new put is allowed (appends take no lock the flusher holds),
    /// but its time delays the next fsync. Encoding and queueing an answer is what it is for.
    pub fn on_durable(self, callback: impl FnOnce(Result<PutMessageResult>) + Send + 'static) {
        match self.watch {
            None => callback(Ok(PutMessageResult { status: PutMessageStatus::PutOk, append: self.append })),
            Some(w) => w.on_durable(self.append, self.timeout, Box::new(callback)),
        }
    }

    /// Blocks until durable per the flush mode; `FlushDiskTimeout` after `syncFlushTimeout`.
    pub fn wait(self) -> Result<PutMessageResult> {
        let status = match &self.watch {
            None => PutMessageStatus::PutOk,
            Some(w) => match w.wait(self.append.end_offset(), self.timeout)? {
                WaitOutcome::Durable => PutMessageStatus::PutOk,
                WaitOutcome::TimedOut => PutMessageStatus::FlushDiskTimeout,
            },
        };
        Ok(PutMessageResult { status, append: self.append })
    }
}

impl Future for PutHandle {
    type Output = Result<PutMessageResult>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(w) = &this.watch {
            match w.poll_durable(this.append.end_offset(), &mut this.registered, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(_)) => {}
            }
        }
        Poll::Ready(Ok(PutMessageResult { status: PutMessageStatus::PutOk, append: this.append.clone() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn append(end: u64) -> AppendResult {
        AppendResult { wrote_offset: 0, wrote_bytes: end, logics_offset: 0, store_timestamp: 0, msg_num: 1 }
    }

    #[test]
    fn future_resolves_after_advance() {
        let watch = Arc::new(FlushWatch::new(0));
        let mut h = PutHandle::waiting(append(100), watch.clone(), Duration::from_secs(1));
        let flag = Arc::new(Flag(Default::default()));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut h).poll(&mut cx).is_pending());
        watch.advance(50);
        assert!(!flag.0.load(std::sync::atomic::Ordering::SeqCst));
        watch.advance(100);
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert!(matches!(Pin::new(&mut h).poll(&mut cx), Poll::Ready(Ok(_))));
    }

    #[test]
    fn one_advance_wakes_every_blocked_thread_through_the_tree() {
        let watch = Arc::new(FlushWatch::new(0));
        let n = 300u64;
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let w = watch.clone();
                std::thread::spawn(move || w.wait(i + 1, Duration::from_secs(30)).unwrap())
            })
            .collect();
        // The gathering step returns once every writer is registered.
        assert!(watch.gather(n as usize, Duration::from_secs(30)));
        assert_eq!(watch.state.lock().waiting(), n as usize);
        let started = Instant::now();
        assert_eq!(watch.advance(n), Advanced { registered: n as usize, released: n as usize });
        for t in threads {
            assert_eq!(t.join().unwrap(), WaitOutcome::Durable);
        }
        // Woken by each other, not by the 30 s timeout (nor the flusher's safety net).
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(watch.state.lock().to_wake.is_empty());
        // A partial advance wakes only those it covers.
        let w = watch.clone();
        let late = std::thread::spawn(move || w.wait(n + 10, Duration::from_secs(30)).unwrap());
        assert!(watch.gather(1, Duration::from_secs(30)));
        // Registered, but not released: its record ends later.
        assert_eq!(watch.advance(n + 5), Advanced { registered: 1, released: 0 });
        std::thread::sleep(Duration::from_millis(20));
        assert!(!late.is_finished());
        watch.advance(n + 10);
        assert_eq!(late.join().unwrap(), WaitOutcome::Durable);
    }

    /// Records what each callback received.
    #[allow(clippy::type_complexity)]
    fn recorder() -> (
        Arc<Mutex<Vec<(u64, std::result::Result<PutMessageStatus, String>)>>>,
        impl Fn(u64) -> DurableCallback,
    ) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let make = move |id: u64| -> DurableCallback {
            let s = s2.clone();
            Box::new(move |r: Result<PutMessageResult>| {
                s.lock().push((id, r.map(|r| r.status).map_err(|e| e.to_string())))
            })
        };
        (seen, make)
    }

    #[test]
    fn callbacks_run_on_the_advance_that_covers_them_and_count_for_gathering() {
        let watch = Arc::new(FlushWatch::new(0));
        let (seen, make) = recorder();
        for end in [10, 20, 30] {
            PutHandle::waiting(append(end), watch.clone(), Duration::from_secs(5)).on_durable(make(end));
        }
        // Registered callbacks are waiters: the gathering step sees them.
        assert!(watch.gather(3, Duration::from_secs(5)));
        assert!(!watch.gather(4, Duration::from_millis(1)), "a fourth never comes");
        assert_eq!(watch.advance(20), Advanced { registered: 3, released: 2 });
        assert_eq!(*seen.lock(), vec![(10, Ok(PutMessageStatus::PutOk)), (20, Ok(PutMessageStatus::PutOk))]);
        watch.advance(30);
        assert_eq!(seen.lock().len(), 3);
        // Already durable (or ASYNC_FLUSH): called at once.
        PutHandle::waiting(append(25), watch.clone(), Duration::from_secs(5)).on_durable(make(25));
        PutHandle::ready(append(99)).on_durable(make(99));
        assert_eq!(seen.lock()[3..], [(25, Ok(PutMessageStatus::PutOk)), (99, Ok(PutMessageStatus::PutOk))]);
    }

    #[test]
    fn callbacks_time_out_in_order_and_fail_when_poisoned() {
        let watch = Arc::new(FlushWatch::new(0));
        let (seen, make) = recorder();
        PutHandle::waiting(append(10), watch.clone(), Duration::from_millis(10)).on_durable(make(1));
        PutHandle::waiting(append(20), watch.clone(), Duration::from_secs(60)).on_durable(make(2));
        watch.expire_callbacks(Instant::now());
        assert!(seen.lock().is_empty(), "nothing expired yet");
        watch.expire_callbacks(Instant::now() + Duration::from_millis(50));
        assert_eq!(*seen.lock(), vec![(1, Ok(PutMessageStatus::FlushDiskTimeout))]);
        watch.poison("fsync failed: EIO".into());
        assert!(matches!(&seen.lock()[1], (2, Err(e)) if e.contains("EIO")));
        // After poisoning, a new callback fails at once.
        PutHandle::waiting(append(30), watch.clone(), Duration::from_secs(5)).on_durable(make(3));
        assert!(matches!(&seen.lock()[2], (3, Err(e)) if e.contains("EIO")));
        let watch = Arc::new(FlushWatch::new(0));
        PutHandle::waiting(append(10), watch.clone(), Duration::from_secs(5)).on_durable(make(4));
        watch.shutdown();
        assert!(matches!(&seen.lock()[3], (4, Err(_))));
    }

    #[test]
    fn shutdown_wakes_blocked_threads() {
        let watch = Arc::new(FlushWatch::new(0));
        let w = watch.clone();
        let t = std::thread::spawn(move || w.wait(10, Duration::from_secs(30)));
        assert!(watch.gather(1, Duration::from_secs(30)));
        watch.shutdown();
        assert!(matches!(t.join().unwrap(), Err(StoreError::Shutdown)));
    }

    #[test]
    fn blocking_wait_times_out_and_poison_fails() {
        let watch = Arc::new(FlushWatch::new(0));
        let h = PutHandle::waiting(append(10), watch.clone(), Duration::from_millis(20));
        assert_eq!(h.wait().unwrap().status, PutMessageStatus::FlushDiskTimeout);
        let h = PutHandle::waiting(append(10), watch.clone(), Duration::from_secs(5));
        let w2 = watch.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            w2.poison("fsync failed".into());
        });
        assert!(matches!(h.wait(), Err(StoreError::Poisoned(_))));
        t.join().unwrap();
    }
}
