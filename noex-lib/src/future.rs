//! The few future tools the runtime needs: catching a panic inside a future, polling
//! once, a future prepared in two stages. Small enough that a futures crate would cost more to build than it saves to
//! write.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A boxed, sendable future, as `futures` names it (and the agent's `Backend`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pin_project_lite::pin_project! {
    /// `future`, with a panic in any of its polls caught as `Err(payload)`.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        future: F,
    }
}

/// Runs `future`, catching a panic in it as `Err` with the panic's payload. The caller
/// asserts that nothing the future touches is left broken by a panic: the process whose
/// handler panicked is ended.
pub(crate) fn catch_panic<F: Future>(future: F) -> CatchUnwind<F> {
    CatchUnwind { future }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.project().future;
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

pin_project_lite::pin_project! {
    /// A future in two stages: at its first poll, `prepare` runs and gives the
    /// future to await (or an error, the output at once). It holds `prepare`'s
    /// captures or that future, never both: an `async` block keeps its captures for
    /// its whole life, beside whatever it awaits.
    #[project = StagedProjection]
    pub(crate) enum Staged<P, F> {
        Preparing { prepare: Option<P> },
        Running { #[pin] future: F },
    }
}

/// See [`Staged`].
pub(crate) fn staged<P, F, T, E>(prepare: P) -> Staged<P, F>
where
    P: FnOnce() -> Result<F, E>,
    F: Future<Output = Result<T, E>>,
{
    Staged::Preparing {
        prepare: Some(prepare),
    }
}

impl<P, F, T, E> Future for Staged<P, F>
where
    P: FnOnce() -> Result<F, E>,
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project() {
                StagedProjection::Running { future } => return future.poll(cx),
                StagedProjection::Preparing { prepare } => {
                    let prepare = prepare
                        .take()
                        .expect("a staged future polled after it failed");
                    match prepare() {
                        Ok(future) => self.set(Staged::Running { future }),
                        Err(error) => return Poll::Ready(Err(error)),
                    }
                }
            }
        }
    }
}

/// The output of `future` if it is ready at its first poll. Nothing wakes it: a future
/// that was pending must be polled again by its owner, with a real waker.
pub(crate) fn now_or_never<F: Future + ?Sized>(future: Pin<&mut F>) -> Option<F::Output> {
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_inside_a_future_comes_back_as_its_payload() {
        let caught = catch_panic(async {
            tokio::task::yield_now().await;
            panic!("boom")
        })
        .await
        .unwrap_err();
        assert_eq!(caught.downcast_ref::<&str>(), Some(&"boom"));
        assert_eq!(catch_panic(async { 7 }).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_staged_future_prepares_at_its_first_poll_not_before() {
        let prepared = std::cell::Cell::new(false);
        let future = staged(|| {
            prepared.set(true);
            Ok::<_, ()>(async { Ok(5) })
        });
        assert!(!prepared.get(), "futures do nothing until polled");
        assert_eq!(future.await, Ok(5));
        assert!(prepared.get());
        let failed = staged(|| Err::<std::future::Ready<Result<(), &str>>, _>("refused"));
        assert_eq!(failed.await, Err("refused"));
    }

    #[test]
    fn now_or_never_answers_only_a_ready_future() {
        assert_eq!(now_or_never(std::pin::pin!(async { 3 })), Some(3));
        assert_eq!(
            now_or_never(std::pin::pin!(std::future::pending::<u8>())),
            None
        );
    }
}
