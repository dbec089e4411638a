//! End to end: the WebSocket gateway of `noex demo --web` seen from the real `noex`
//! binary. Each client is a process of its own under `noex-server/connections`, its
//! line in `noex ps` says who it is and what it has done, and a client that leaves
//! leaves no process behind.

mod support;

use std::net::TcpStream;

use serde_json::{Value, json};
use support::Demo;
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

type Client = WebSocket<MaybeTlsStream<TcpStream>>;

fn gateway(demo: &Demo) -> String {
    let stdout = demo.stdout();
    let address = stdout
        .lines()
        .find_map(|line| line.strip_prefix("web dashboard: http://"))
        .unwrap_or_else(|| panic!("the demo did not say where its gateway is: {stdout}"));
    format!("ws://{address}")
}

fn connect(url: &str) -> Client {
    let (mut client, _) = tungstenite::connect(url).unwrap();
    let welcome = read(&mut client);
    assert_eq!(welcome["type"], "welcome");
    client
}

fn read(client: &mut Client) -> Value {
    loop {
        if let Message::Text(text) = client.read().unwrap() {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

fn request(client: &mut Client, id: u64, kind: &str, fields: Value) -> Value {
    let mut request = fields;
    request["id"] = id.into();
    request["type"] = kind.into();
    client
        .send(Message::Text(request.to_string().into()))
        .unwrap();
    loop {
        let message = read(client);
        if message["id"] == json!(id) {
            return message;
        }
    }
}

fn connections(ps: &Value) -> Vec<Value> {
    ps.as_array()
        .unwrap()
        .iter()
        .filter(|row| row["type_name"] == "Connection")
        .cloned()
        .collect()
}

#[test]
fn ps_lists_each_websocket_client_as_a_connection_process_and_drops_it_when_it_leaves() {
    let demo = Demo::start_with(&["--web", "127.0.0.1:0"]);
    let url = gateway(&demo);
    let mut reader = connect(&url);
    let mut writer = connect(&url);
    assert_eq!(
        request(
            &mut reader,
            1,
            "store.subscribe",
            json!({"query": "orders_by_status"})
        )["type"],
        "result"
    );
    for id in 1..=3 {
        let reply = request(&mut writer, id, "store.count", json!({"bucket": "orders"}));
        assert_eq!(reply["type"], "result", "{reply}");
    }

    let ps = demo.wait_for_ps(|rows| {
        let rows = connections(rows);
        rows.len() == 2
            && rows.iter().any(|row| {
                row["state"]
                    .as_str()
                    .is_some_and(|state| state.contains("anonymous: 3 in,"))
            })
    });
    let rows = connections(&ps);
    for row in &rows {
        let state = row["state"].as_str().unwrap();
        assert!(state.starts_with("ws 127.0.0.1:"), "{state}");
        assert!(
            row["child_id"].as_str().unwrap().starts_with("connection-"),
            "{row}"
        );
    }
    assert!(
        rows.iter()
            .any(|row| row["state"].as_str().unwrap().ends_with("1 subscriptions")),
        "{rows:#?}"
    );

    let tree = demo.noex(&["tree"]).stdout;
    assert!(tree.contains("noex-server/connections"), "{tree}");
    assert!(tree.contains("noex-server/listener"), "{tree}");

    // A client that leaves: its process goes (temporary: not restarted).
    writer.close(None).unwrap();
    let _ = writer.read();
    demo.wait_for_ps(|rows| connections(rows).len() == 1);
    drop(reader);
    demo.wait_for_ps(|rows| connections(rows).is_empty());
}
