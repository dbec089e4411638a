//! `disable` on one thread while another starts the application's first process:
//! whichever wins, once both are done no agent runs and no socket is left. (Its own
//! test binary: the agent starts with the OS process's first noex process.)
#![cfg(all(unix, feature = "agent"))]

use std::sync::{Arc, Barrier};

mod support;

#[test]
fn disable_racing_the_first_process_leaves_no_agent() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    #[cfg(target_os = "linux")]
    let inherited = support::open_sockets();
    let together = Arc::new(Barrier::new(2));
    let disabler = std::thread::spawn({
        let together = Arc::clone(&together);
        move || {
            together.wait();
            noex::agent::disable();
        }
    });
    let app = runtime.block_on(async {
        together.wait();
        support::start_an_app("raced").await
    });
    disabler.join().unwrap();

    assert_eq!(noex::agent::socket_path(), None);
    let dir = support::sandbox::agent_dir();
    let left = std::fs::read_dir(dir).map_or(0, |entries| entries.count());
    assert_eq!(left, 0, "a socket was left in {}", dir.display());
    #[cfg(target_os = "linux")]
    assert_eq!(support::open_sockets(), inherited, "no socket of any kind");
    runtime.block_on(app.stop()).unwrap();
}
