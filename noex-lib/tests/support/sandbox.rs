//! A private agent directory for every test process, set up before `main`.
//!
//! noex starts its agent with the first process, listening at
//! `$NOEX_AGENT_DIR/<pid>.sock`, else in `$XDG_RUNTIME_DIR/noex`, else in
//! `/tmp/noex-<uid>`: the user's real agent directory, where `noex list` looks. A
//! test binary that said nothing would leave its socket (and the directory) there.
//!
//! Every test binary of noex and noex-agent includes this file (through its
//! `support` module; noex's unit tests through `lib.rs`). Before `main` — before any
//! test or thread has started, since the agent starts with whichever test starts a
//! process first — it points `NOEX_AGENT_DIR` at `<temp dir>/noex-test-<pid>`, and
//! removes that directory when the process exits. The agent creates it (0700) the
//! first time it starts; nothing else is made. `.ci/check-sandbox` checks that a
//! whole `cargo test --workspace` leaves the real directories alone.
//!
//! A constructor (the `ctor` crate) rather than a call at the top of each test: a
//! test that forgot the call would leak only when it happened to run first.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static DIR: OnceLock<PathBuf> = OnceLock::new();

/// This process's agent directory (`$NOEX_AGENT_DIR`).
#[allow(dead_code)]
pub fn agent_dir() -> &'static Path {
    DIR.get().expect("set before main")
}

#[ctor::ctor]
unsafe fn sandbox() {
    let dir = std::env::temp_dir().join(format!("noex-test-{}", std::process::id()));
    // Named by our pid, so anything already there was left by a dead process.
    let _ = std::fs::remove_dir_all(&dir);
    // SAFETY: this runs before `main`, while the process has a single thread, so
    // nothing reads the environment at the same time.
    unsafe { std::env::set_var("NOEX_AGENT_DIR", &dir) };
    let _ = DIR.set(dir);
}

/// After `main` and the agent's own exit handler (which removes the socket).
#[ctor::dtor]
unsafe fn remove() {
    if let Some(dir) = DIR.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}
