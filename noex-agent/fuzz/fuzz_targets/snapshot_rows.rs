//! The compact snapshot (protocol 2.1): whatever body decodes as a snapshot, in either
//! form, says the same once written as rows by the agent's writer and read back, and
//! once written as named maps. Malformed bodies are errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use noex_agent::codec::DEFAULT_MAX_DEPTH;
use noex_agent::rows;
use noex_agent::types::Snapshot;

fn read(body: &[u8]) -> Result<Snapshot, rmp_serde::decode::Error> {
    let mut deserializer = rmp_serde::Deserializer::from_read_ref(body);
    deserializer.set_max_depth(DEFAULT_MAX_DEPTH);
    rows::deserialize_snapshot(&mut deserializer)
}

fuzz_target!(|body: &[u8]| {
    let Ok(snapshot) = read(body) else {
        return;
    };
    let as_rows = rows::encode(&snapshot);
    assert_eq!(
        read(&as_rows).expect("the writer's rows read back"),
        snapshot
    );
    let named = rmp_serde::to_vec_named(&snapshot).unwrap();
    assert_eq!(read(&named).expect("named maps read back"), snapshot);
});
