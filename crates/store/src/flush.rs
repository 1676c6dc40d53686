//! Durability tracking: [`FlushWatch`] publishes how far the CommitLog is fsynced and
//! wakes the writers waiting for it, whether they block a thread ([`PutHandle::wait`]) or
//! await a future (the broker's tokio tasks; no runtime dependency here, only `Waker`s).
//!
//! Group commit: a SYNC_FLUSH put does not fsync itself. It asks the flusher thread for a
//! flush and waits until the flushed position passes its record's end. While one fsync
//! runs, every put that arrives queues behind it, and the next fsync covers them all, so
//! N concurrent writers pay about one fsync per round instead of N.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{Result, StoreError};

#[derive(Debug, Default)]
struct WatchState {
    flushed: u64,
    poisoned: Option<String>,
    shutdown: bool,
    /// Futures waiting for `flushed >= .0`.
    wakers: Vec<(u64, Waker)>,
}

#[derive(Debug, Default)]
pub(crate) struct FlushWatch {
    state: Mutex<WatchState>,
    cond: Condvar,
}

/// Outcome of waiting for durability.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum WaitOutcome {
    Durable,
    TimedOut,
}

impl FlushWatch {
    pub(crate) fn new(flushed: u64) -> Self {
        FlushWatch {
            state: Mutex::new(WatchState { flushed, ..WatchState::default() }),
            cond: Condvar::new(),
        }
    }

    pub(crate) fn flushed(&self) -> u64 {
        self.state.lock().flushed
    }

    /// Publishes a new flushed position and wakes everyone it satisfies.
    pub(crate) fn advance(&self, flushed: u64) {
        let wake: Vec<Waker> = {
            let mut st = self.state.lock();
            if flushed > st.flushed {
                st.flushed = flushed;
            }
            let f = st.flushed;
            let mut ready = Vec::new();
            st.wakers.retain(|(end, w)| {
                if *end <= f {
                    ready.push(w.clone());
                    false
                } else {
                    true
                }
            });
            ready
        };
        self.cond.notify_all();
        wake.into_iter().for_each(Waker::wake);
    }

    /// Resets the position downwards (truncation of the log).
    pub(crate) fn reset(&self, flushed: u64) {
        self.state.lock().flushed = flushed;
    }

    pub(crate) fn poison(&self, why: String) {
        let wake: Vec<Waker> = {
            let mut st = self.state.lock();
            if st.poisoned.is_none() {
                st.poisoned = Some(why);
            }
            st.wakers.drain(..).map(|(_, w)| w).collect()
        };
        self.cond.notify_all();
        wake.into_iter().for_each(Waker::wake);
    }

    pub(crate) fn poisoned(&self) -> Option<String> {
        self.state.lock().poisoned.clone()
    }

    pub(crate) fn shutdown(&self) {
        let wake: Vec<Waker> = {
            let mut st = self.state.lock();
            st.shutdown = true;
            st.wakers.drain(..).map(|(_, w)| w).collect()
        };
        self.cond.notify_all();
        wake.into_iter().for_each(Waker::wake);
    }

    fn check(st: &WatchState, end: u64) -> Option<Result<WaitOutcome>> {
        if st.flushed >= end {
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

    /// Blocks until `end` is durable, the store is poisoned or shut down, or `timeout`.
    pub(crate) fn wait(&self, end: u64, timeout: Duration) -> Result<WaitOutcome> {
        let deadline = Instant::now() + timeout;
        let mut st = self.state.lock();
        loop {
            if let Some(r) = Self::check(&st, end) {
                return r;
            }
            if self.cond.wait_until(&mut st, deadline).timed_out() {
                return Self::check(&st, end).unwrap_or(Ok(WaitOutcome::TimedOut));
            }
        }
    }

    fn poll_durable(&self, end: u64, cx: &mut Context<'_>) -> Poll<Result<WaitOutcome>> {
        let mut st = self.state.lock();
        if let Some(r) = Self::check(&st, end) {
            return Poll::Ready(r);
        }
        let w = cx.waker();
        if let Some(slot) = st.wakers.iter_mut().find(|(_, x)| x.will_wake(w)) {
            slot.0 = end;
        } else {
            st.wakers.push((end, w.clone()));
        }
        Poll::Pending
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
}

impl PutHandle {
    pub(crate) fn ready(append: AppendResult) -> Self {
        PutHandle { append, watch: None, timeout: Duration::ZERO }
    }

    pub(crate) fn waiting(append: AppendResult, watch: Arc<FlushWatch>, timeout: Duration) -> Self {
        PutHandle { append, watch: Some(watch), timeout }
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
            match w.poll_durable(this.append.end_offset(), cx) {
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
