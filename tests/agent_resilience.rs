//! Bad input on the real socket of a real app: the app keeps running and the agent
//! keeps serving.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use support::Demo;

fn connect(demo: &Demo) -> UnixStream {
    let stream = UnixStream::connect(demo.socket()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// Read frames until the peer closes; returns how many bytes came.
fn drain(stream: &mut UnixStream) -> usize {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        total += n;
    }
    total
}

#[test]
fn garbage_oversized_frames_and_silent_clients_leave_the_app_running() {
    let demo = Demo::start();

    // Bytes that are not a request, inside a well-formed frame.
    let mut garbage = connect(&demo);
    garbage
        .write_all(&[0, 0, 0, 4, 0xc1, 0xc1, 0xc1, 0xc1])
        .unwrap();

    // A frame header announcing a gigabyte: refused, connection closed.
    let mut huge = connect(&demo);
    huge.write_all(&[0x40, 0, 0, 0]).unwrap();
    assert!(drain(&mut huge) > 0, "an error frame before the close");

    // Clients that connect and never read or write.
    let silent: Vec<UnixStream> = (0..20).map(|_| connect(&demo)).collect();

    let ps = demo.noex(&["ps", "--json"]);
    assert_eq!(ps.code, 0, "{}", ps.stderr);
    let rows: serde_json::Value = serde_json::from_str(&ps.stdout).unwrap();
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "running")
    );
    drop(silent);
    drop(garbage);
    assert_eq!(demo.noex(&["tree"]).code, 0);
}
