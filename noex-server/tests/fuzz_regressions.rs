//! What the fuzzer (noex-server/fuzz, `frames`) found, kept as tests.

mod support;

use serde_json::Value;
use support::{connect, server};

/// crash-056b4b9c: an integer id too large for u64 came back one ulp off, as
/// serde_json's fast float parsing rounded it differently on the way in and out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_integer_id_is_echoed_as_the_same_number() {
    let server = server(support::config()).await;
    let mut client = connect(&server).await;
    let request = r#"{"id":777777777777777777777777777777777777777777777777777777777777777777777777777777777779,"type":"server.stats"}"#;
    let sent: Value = serde_json::from_str(request).unwrap();
    client.send_text(request).await;
    let reply = client.next_message().await.unwrap();
    assert_eq!(reply["type"], "result");
    assert_eq!(reply["id"], sent["id"]);
}
