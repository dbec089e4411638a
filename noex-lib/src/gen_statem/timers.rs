//! The machine's timeouts: one event timeout, one state timeout, and generic ones
//! by name. Each runs on [`Context::send_after`], and every start has a generation
//! of its own: a timer cancelled after it fired still has its message on the way,
//! and that message, of an older generation, is dropped on arrival. So a cancelled
//! or replaced timeout never reaches the handler, as OTP's synchronous cancel
//! ensures.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::transition::TimerKey;
use crate::gen_server::{Context, GenServer, TimerRef};

/// The message a timer sends the machine's process.
pub(crate) struct TimerFired {
    key: TimerKey,
    generation: u64,
}

struct Running<T> {
    generation: u64,
    content: T,
    /// `None` for a zero timeout, waiting in [`Timers::zero`] instead.
    timer: Option<TimerRef>,
}

pub(crate) struct Timers<T> {
    running: HashMap<TimerKey, Running<T>>,
    /// Zero timeouts, due as soon as no event is queued: handled before the next
    /// message, in the order set (OTP's dedicated queue for them).
    zero: VecDeque<TimerKey>,
    generation: u64,
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Timers {
            running: HashMap::new(),
            zero: VecDeque::new(),
            generation: 0,
        }
    }
}

impl<T> Timers<T> {
    /// Start the timeout `key`, replacing any that runs.
    pub(crate) fn start<S: GenServer>(
        &mut self,
        key: TimerKey,
        after: Duration,
        content: T,
        ctx: &Context<S>,
    ) {
        self.cancel(&key);
        self.generation += 1;
        let generation = self.generation;
        let timer = if after.is_zero() {
            self.zero.push_back(key.clone());
            None
        } else {
            let fired = TimerFired {
                key: key.clone(),
                generation,
            };
            Some(ctx.send_after(after, fired))
        };
        let running = Running {
            generation,
            content,
            timer,
        };
        self.running.insert(key, running);
    }

    /// Cancel the timeout `key`, if it runs.
    pub(crate) fn cancel(&mut self, key: &TimerKey) {
        let Some(running) = self.running.remove(key) else {
            return;
        };
        match running.timer {
            Some(timer) => timer.cancel(),
            None => self.zero.retain(|zero| zero != key),
        }
    }

    /// The timeout a timer's message is about, if that timer is still the one
    /// running; it is then over.
    pub(crate) fn fired(&mut self, fired: TimerFired) -> Option<(TimerKey, T)> {
        let current = self.running.get(&fired.key)?.generation == fired.generation;
        if !current {
            return None;
        }
        let running = self.running.remove(&fired.key)?;
        Some((fired.key, running.content))
    }

    /// The first zero timeout due, if any; it is then over.
    pub(crate) fn take_zero(&mut self) -> Option<(TimerKey, T)> {
        let key = self.zero.pop_front()?;
        let running = self.running.remove(&key)?;
        Some((key, running.content))
    }
}

impl<T> Drop for Timers<T> {
    /// A timer left running would keep the process's allocation until it ran out.
    fn drop(&mut self) {
        for (_, running) in self.running.drain() {
            if let Some(timer) = running.timer {
                timer.cancel();
            }
        }
    }
}
