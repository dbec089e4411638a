//! Any frame body that decodes as a request survives a round trip: encoded again the
//! way the codec writes it, it decodes to the same request, and encoding that gives
//! the same bytes (named fields have one encoding, so nothing drifts over hops).
#![no_main]

use libfuzzer_sys::fuzz_target;
use noex_agent::codec::decode_with_serde;
use noex_agent::protocol::Request;

/// The agent's nesting limit for requests (PROTOCOL.md §8).
const REQUEST_MAX_DEPTH: usize = 32;

fuzz_target!(|body: &[u8]| {
    let Ok(request) = decode_with_serde::<Request>(body, REQUEST_MAX_DEPTH) else {
        return;
    };
    let encoded = rmp_serde::to_vec_named(&request).expect("a decoded request encodes");
    let decoded_again =
        decode_with_serde::<Request>(&encoded, REQUEST_MAX_DEPTH).unwrap_or_else(|error| {
            panic!("{request:?} encoded as {encoded:02x?} does not decode: {error}")
        });
    assert_eq!(decoded_again, request, "encoded as {encoded:02x?}");
    let encoded_again = rmp_serde::to_vec_named(&decoded_again).expect("a decoded request encodes");
    assert_eq!(encoded_again, encoded, "{request:?} has two encodings");
});
