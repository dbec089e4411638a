//! What runs when the application starts its first process.
//!
//! The agent starts then, but the process core sits below the agent and imports
//! nothing of it: the agent hands its start in from above, before `main`
//! (`agent::register_autostart`), and the core calls whatever it was given. The agent
//! is the one hook: without the `agent` feature there is none, and no check either.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

static HOOK: OnceLock<fn()> = OnceLock::new();
static DONE: AtomicBool = AtomicBool::new(false);

/// Run `hook` when the first process starts. The first hook given is kept.
pub(crate) fn on_first_spawn(hook: fn()) {
    let _ = HOOK.set(hook);
}

/// Called by every start: one relaxed load once the first has run.
#[inline]
pub(crate) fn first_spawn() {
    if !DONE.load(Ordering::Relaxed) {
        run_once();
    }
}

#[cold]
fn run_once() {
    if !DONE.swap(true, Ordering::Relaxed)
        && let Some(hook) = HOOK.get()
    {
        hook();
    }
}
