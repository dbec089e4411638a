//! Call timeouts that cost a lock instead of a timer.
//!
//! Every `call` has a timeout, but almost every call is answered long before it. A
//! tokio timer per call (registered in the runtime's timer wheel, removed again on
//! the reply) was half the cost of a round trip. Instead, calls whose deadlines fall
//! in the same 10 ms window share one timer per thread: a call registers its waker in
//! that window's bucket (an uncontended lock and a slab slot) and removes it on the
//! reply. The bucket's timer is a tokio timer, so paused time in tests still works.
//! A timeout fires up to one window late.
//!
//! Most calls never get that far: [`with_deadline`] sets the deadline up only for a
//! call still unanswered at its second poll (see there), which took the deadline's
//! cost (a clock read, a lock, a waker clone, and again on the reply) out of the
//! common round trip.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use slab::Slab;
use tokio::time::Instant;

use crate::sync::Mutex;

/// The width of a deadline window.
const WINDOW: Duration = Duration::from_millis(10);
/// Windows each thread keeps at hand (different timeouts in use at once).
const CACHED_WINDOWS: usize = 4;

/// This thread's buckets. Windows are counted from a per-thread origin: a test
/// runtime with paused time has a clock of its own, and runs on a thread of its own.
struct Windows {
    origin: Instant,
    buckets: VecDeque<Arc<Bucket>>,
}

thread_local! {
    static WINDOWS: RefCell<Option<Windows>> = const { RefCell::new(None) };
}

struct Bucket {
    /// When the bucket fires: the end of its window.
    fires_at: Instant,
    state: Mutex<BucketState>,
}

#[derive(Default)]
struct BucketState {
    fired: bool,
    waiters: Slab<Waker>,
}

impl Bucket {
    fn fire(&self) {
        let waiters = {
            let mut state = self.state.lock();
            state.fired = true;
            std::mem::take(&mut state.waiters)
        };
        for (_, waker) in waiters {
            waker.wake();
        }
    }
}

/// Wakes the bucket's waiters however its timer task ends (also when its runtime
/// shuts down), so no caller waits past its deadline for a timer that is gone.
struct FireOnDrop(Arc<Bucket>);

impl Drop for FireOnDrop {
    fn drop(&mut self) {
        self.0.fire();
    }
}

/// The bucket on this thread whose window holds `deadline`, with its timer started
/// if it is new.
fn bucket_for(deadline: Instant) -> Arc<Bucket> {
    WINDOWS.with(|windows| {
        let mut windows = windows.borrow_mut();
        let windows = windows.get_or_insert_with(|| Windows {
            origin: Instant::now(),
            buckets: VecDeque::with_capacity(CACHED_WINDOWS),
        });
        let since = deadline
            .saturating_duration_since(windows.origin)
            .as_nanos();
        let window = since.div_ceil(WINDOW.as_nanos());
        let fires_at = windows.origin + Duration::from_nanos((window * WINDOW.as_nanos()) as u64);
        if let Some(bucket) = windows.buckets.iter().find(|b| b.fires_at == fires_at) {
            return bucket.clone();
        }
        let bucket = Arc::new(Bucket {
            fires_at,
            state: Mutex::default(),
        });
        let guard = FireOnDrop(bucket.clone());
        tokio::spawn(async move {
            tokio::time::sleep_until(fires_at).await;
            drop(guard);
        });
        if windows.buckets.len() == CACHED_WINDOWS {
            windows.buckets.pop_front();
        }
        windows.buckets.push_back(bucket.clone());
        bucket
    })
}

/// Drop `bucket` from this thread's cache, so no later call waits in it.
fn forget_bucket(bucket: &Arc<Bucket>) {
    WINDOWS.with(|windows| {
        if let Some(windows) = windows.borrow_mut().as_mut() {
            windows
                .buckets
                .retain(|cached| !Arc::ptr_eq(cached, bucket));
        }
    });
}

/// A deadline for one call: `poll_expired` registers the task to be woken at (or
/// just after) the deadline and tells whether it has passed.
pub(crate) struct Deadline {
    at: Instant,
    registration: Option<(Arc<Bucket>, usize)>,
}

impl Deadline {
    pub(crate) fn after(timeout: Duration) -> Self {
        let now = Instant::now();
        Deadline {
            at: now
                .checked_add(timeout)
                .unwrap_or(now + Duration::from_secs(86_400 * 365)),
            registration: None,
        }
    }

    /// `true` once the deadline has passed; otherwise the task will be woken then.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let (bucket, key) = match &self.registration {
            Some((bucket, key)) => (bucket.clone(), Some(*key)),
            None => (bucket_for(self.at), None),
        };
        let mut state = bucket.state.lock();
        if state.fired {
            drop(state);
            self.registration = None;
            if Instant::now() < self.at {
                // Fired early: its timer's runtime is gone (a thread can run one
                // runtime after another). Wait in a bucket of the current runtime.
                forget_bucket(&bucket);
                return self.poll_expired(cx);
            }
            return true;
        }
        match key {
            Some(key) => {
                if let Some(waker) = state.waiters.get_mut(key)
                    && !waker.will_wake(cx.waker())
                {
                    *waker = cx.waker().clone();
                }
            }
            None => {
                let key = state.waiters.insert(cx.waker().clone());
                drop(state);
                self.registration = Some((bucket, key));
            }
        }
        false
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if let Some((bucket, key)) = self.registration.take() {
            let mut state = bucket.state.lock();
            if !state.fired {
                state.waiters.try_remove(key);
            }
        }
    }
}

/// When a wait for a reply gives up: [`Within`] a call's timeout, or [`Never`] (a
/// supervisor's calls). Its `Elapsed` type says whether giving up can happen at all.
pub(crate) trait Expiry {
    /// What giving up is: [`Elapsed`], or nothing ([`Infallible`](std::convert::Infallible)).
    type Elapsed;

    /// `Some` once it gives up; otherwise the task is woken when it would.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Option<Self::Elapsed>;
}

/// A call's timeout, counted from the wait's second poll (see [`with_deadline`]).
pub(crate) struct Within {
    timeout: Duration,
    deadline: Option<Deadline>,
}

impl Within {
    pub(crate) fn new(timeout: Duration) -> Self {
        Within {
            timeout,
            deadline: None,
        }
    }
}

impl Expiry for Within {
    type Elapsed = Elapsed;

    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Option<Elapsed> {
        let timeout = self.timeout;
        self.deadline
            .get_or_insert_with(|| Deadline::after(timeout))
            .poll_expired(cx)
            .then_some(Elapsed)
    }
}

/// No timeout: the wait lasts as long as it takes.
pub(crate) struct Never;

impl Expiry for Never {
    type Elapsed = std::convert::Infallible;

    fn poll_expired(&mut self, _: &mut Context<'_>) -> Option<Self::Elapsed> {
        None
    }
}

/// `future`, or `Err` once `expiry` gives up.
///
/// Almost every call is answered within one pass of the scheduler, so the deadline
/// is not set up on the first poll. A pending first poll asks to be polled again
/// once the runtime has run what is ready (tokio's `yield_now`: deferred, so unlike
/// a task waking itself it does not call another worker in to steal the caller),
/// and the server it just woke answers first. When the caller is polled again the
/// reply is usually there and no deadline ever existed. Only a call still
/// unanswered then registers its deadline, counted from that second poll: a timeout
/// can fire that much later, never earlier. `future` is always polled twice, which
/// it may count on to set up its own slow path (see `ServerRef`'s exit watch).
pub(crate) async fn with_deadline<F: Future, E: Expiry>(
    future: F,
    mut expiry: E,
) -> Result<F::Output, E::Elapsed> {
    let mut future = std::pin::pin!(future);
    let mut later = std::pin::pin!(tokio::task::yield_now());
    let mut first_poll = true;
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(output) = Pin::as_mut(&mut future).poll(cx) {
            return Poll::Ready(Ok(output));
        }
        if first_poll {
            first_poll = false;
            let _ = Pin::as_mut(&mut later).poll(cx);
            return Poll::Pending;
        }
        match expiry.poll_expired(cx) {
            Some(elapsed) => Poll::Ready(Err(elapsed)),
            None => Poll::Pending,
        }
    })
    .await
}

/// The deadline passed first.
#[derive(Debug)]
pub(crate) struct Elapsed;

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    fn waiters(deadline: &Deadline) -> usize {
        deadline
            .registration
            .as_ref()
            .map(|(bucket, _)| bucket.state.lock().waiters.len())
            .unwrap_or(0)
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_expires_within_one_window_after_it_passes() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut deadline = Deadline::after(Duration::from_millis(95));
        assert!(!deadline.poll_expired(&mut cx));
        tokio::time::sleep(Duration::from_millis(90)).await;
        assert!(!deadline.poll_expired(&mut cx), "not yet");
        tokio::time::sleep(Duration::from_millis(5) + WINDOW).await;
        assert!(
            deadline.poll_expired(&mut cx),
            "passed, and at most one window late"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn calls_in_the_same_window_share_a_bucket_and_leave_nothing_behind() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = Deadline::after(Duration::from_secs(5));
        let mut second = Deadline::after(Duration::from_secs(5));
        assert!(!first.poll_expired(&mut cx));
        assert!(!second.poll_expired(&mut cx));
        assert!(Arc::ptr_eq(
            &first.registration.as_ref().unwrap().0,
            &second.registration.as_ref().unwrap().0
        ));
        assert_eq!(waiters(&first), 2);
        drop(second);
        assert_eq!(waiters(&first), 1, "an answered call removes its waker");
    }

    #[test]
    fn a_bucket_whose_runtime_is_gone_does_not_expire_later_calls() {
        let mut cx = Context::from_waker(Waker::noop());
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        let at = runtime().block_on(async {
            let mut first = Deadline::after(Duration::from_secs(5));
            assert!(!first.poll_expired(&mut cx));
            first.at
        });
        // The first runtime is dropped, and with it the timer of the bucket for `at`.
        runtime().block_on(async {
            let mut second = Deadline {
                at,
                registration: None,
            };
            assert!(
                !second.poll_expired(&mut cx),
                "5 s have not passed: the dead bucket must not time the call out"
            );
            assert!(!second.poll_expired(&mut cx));
        });
    }

    #[tokio::test(start_paused = true)]
    async fn with_deadline_returns_the_output_or_elapsed() {
        let quick = with_deadline(async { 7 }, Within::new(Duration::from_secs(1))).await;
        assert_eq!(quick.unwrap(), 7);
        let slow = with_deadline(
            std::future::pending::<()>(),
            Within::new(Duration::from_secs(1)),
        )
        .await;
        assert!(slow.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_answered_before_its_second_poll_never_registers_a_deadline() {
        let (reply, answer) = tokio::sync::oneshot::channel();
        // The call is polled first (pending: it asks to be polled again later), then
        // the server answers, then the call is polled again.
        let call = tokio::spawn(with_deadline(answer, Within::new(Duration::from_secs(1))));
        let server = tokio::spawn(async move { reply.send(5).unwrap() });
        assert_eq!(call.await.unwrap().unwrap().unwrap(), 5);
        server.await.unwrap();
        let buckets = WINDOWS.with(|windows| {
            windows
                .borrow()
                .as_ref()
                .map_or(0, |windows| windows.buckets.len())
        });
        assert_eq!(buckets, 0, "no bucket, no timer");
    }

    #[tokio::test(start_paused = true)]
    async fn calls_alternating_between_recent_windows_reuse_their_buckets() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut deadlines: Vec<Deadline> = Vec::new();
        // Two timeouts in use at once, asked for in turn: one timer each, not one
        // per call.
        for _ in 0..3 {
            for timeout in [Duration::from_secs(5), Duration::from_secs(6)] {
                let mut deadline = Deadline::after(timeout);
                assert!(!deadline.poll_expired(&mut cx));
                deadlines.push(deadline);
            }
        }
        let bucket = |i: usize| &deadlines[i].registration.as_ref().unwrap().0;
        for i in 2..deadlines.len() {
            assert!(Arc::ptr_eq(bucket(i), bucket(i % 2)), "call {i}");
        }
        assert!(!Arc::ptr_eq(bucket(0), bucket(1)));
    }

    /// A waker that counts its wakes.
    struct Counting(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_polled_from_another_task_is_woken_there_when_it_expires() {
        let first = Arc::new(Counting(Default::default()));
        let second = Arc::new(Counting(Default::default()));
        let mut deadline = Deadline::after(Duration::from_millis(50));
        let first_waker = Waker::from(first.clone());
        assert!(!deadline.poll_expired(&mut Context::from_waker(&first_waker)));
        let second_waker = Waker::from(second.clone());
        assert!(!deadline.poll_expired(&mut Context::from_waker(&second_waker)));
        tokio::time::sleep(Duration::from_millis(50) + WINDOW).await;
        assert_eq!(second.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(first.0.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_too_large_to_add_waits_at_least_a_year() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut deadline = Deadline::after(Duration::MAX);
        assert!(!deadline.poll_expired(&mut cx));
        tokio::time::sleep(Duration::from_secs(86_400 * 364)).await;
        assert!(!deadline.poll_expired(&mut cx), "364 days: not yet");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_call_still_times_out() {
        let (_reply, answer) = tokio::sync::oneshot::channel::<()>();
        let began = Instant::now();
        let outcome = with_deadline(answer, Within::new(Duration::from_millis(200))).await;
        assert!(outcome.is_err());
        let waited = began.elapsed();
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
        assert!(waited <= Duration::from_millis(200) + WINDOW, "{waited:?}");
    }
}
