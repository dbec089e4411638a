//! End to end: the demo's store (noex-store) as `noex` shows it. Each bucket is a
//! process of the store's supervisor whose STATE gives its records, bytes,
//! operations per second and subscribers; its records belong to the store, so a
//! killed bucket process comes back with them; `noex state` gives its schema; the
//! dashboard's details list its figures.

mod support;

use serde_json::Value;
use support::{DEMO_PIDS, Demo, noex_bin, redact_late_pids};

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

/// What the demo's shop writes (noex-cli/src/demo/app/shop/mod.rs) and keeps from
/// start to stop: each bucket's records, and the live queries that read it (two
/// read the orders, one reads a customer).
const BUCKETS: [(&str, u64, u64); 3] = [("customers", 8, 1), ("orders", 40, 2), ("audit", 100, 0)];

/// A bucket's figures, read from its STATE in `noex ps`.
#[derive(Debug, PartialEq)]
struct Figures {
    records: u64,
    bytes: String,
    ops_per_second: u64,
    subscribers: u64,
}

/// `bucket orders: 1,234 records, 56.0 KiB, 12 ops/s, 2 subscribers`
fn figures(bucket: &str, state: &str) -> Figures {
    let pattern = regex_lite::Regex::new(
        r"^bucket (\S+): ([0-9,]+) records?, ([0-9.]+ (?:B|KiB|MiB)), ([0-9,]+) ops/s, ([0-9]+) subscribers?(;|$)",
    )
    .unwrap();
    let found = pattern
        .captures(state)
        .unwrap_or_else(|| panic!("not a bucket's state: {state:?}"));
    assert_eq!(&found[1], bucket, "{state}");
    let number = |text: &str| text.replace(',', "").parse::<u64>().unwrap();
    Figures {
        records: number(&found[2]),
        bytes: found[3].to_string(),
        ops_per_second: number(&found[4]),
        subscribers: number(&found[5]),
    }
}

fn row<'a>(rows: &'a Value, name: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|row| row["name"] == name)
        .unwrap_or_else(|| panic!("no row {name} in {rows:#}"))
}

fn bucket_figures(rows: &Value, bucket: &str) -> Figures {
    let state = row(rows, &format!("store/{bucket}"))["state"]
        .as_str()
        .unwrap_or_else(|| panic!("store/{bucket} says nothing: {rows:#}"))
        .to_string();
    figures(bucket, &state)
}

#[test]
fn ps_shows_each_bucket_as_a_process_with_the_records_the_demo_wrote() {
    let demo = Demo::start();
    // Its writer runs from the start: wait until each bucket has been written.
    let rows = demo.wait_for_ps(|rows| {
        BUCKETS
            .iter()
            .all(|(bucket, ..)| bucket_figures(rows, bucket).ops_per_second > 0)
    });
    let store = row(&rows, "store");
    assert_eq!(store["kind"], "supervisor");
    assert_eq!(store["strategy"], "one_for_one");
    for (bucket, records, subscribers) in BUCKETS {
        let process = row(&rows, &format!("store/{bucket}"));
        assert_eq!(process["child_id"], bucket);
        assert_eq!(process["type_name"], "BucketServer");
        assert_eq!(process["parent"], store["pid"]);
        let shown = bucket_figures(&rows, bucket);
        assert_eq!(shown.records, records, "{bucket}: {shown:?}");
        assert_eq!(shown.subscribers, subscribers, "{bucket}: {shown:?}");
        assert!(shown.bytes.ends_with("KiB"), "{bucket}: {shown:?}");
    }
    assert_eq!(row(&rows, "store/queries")["parent"], store["pid"]);

    // The table shows the state whole.
    let ps = demo.noex(&["ps"]);
    assert_eq!(ps.code, 0, "{}", ps.stderr);
    let orders = ps
        .stdout
        .lines()
        .find(|line| line.contains("store/orders"))
        .unwrap();
    let state = regex_lite::Regex::new(
        r"  bucket orders: 40 records, [0-9.]+ KiB, [0-9]+ ops/s, 2 subscribers(\s|$)",
    )
    .unwrap();
    assert!(state.is_match(orders), "{orders}");
}

/// The records belong to the store, not to the bucket's process (as an ETS table
/// with an heir): the restarted process shows them all from its first moment.
#[test]
fn killing_a_bucket_process_restarts_it_with_its_records() {
    let demo = Demo::start();
    let before: Value = serde_json::from_str(&demo.noex(&["ps", "--json"]).stdout).unwrap();
    let kill = demo.noex(&["kill", "store/orders"]);
    assert_eq!(kill.code, 0, "{}", kill.stderr);
    snapshot!(
        "e2e_store_kill_bucket",
        redact_late_pids(&kill.stdout, DEMO_PIDS)
    );
    let rows = demo.wait_for_ps(|rows| row(rows, "store/orders")["restarts"] == 1);
    let orders = row(&rows, "store/orders");
    assert_ne!(
        orders["pid"],
        row(&before, "store/orders")["pid"],
        "a new process"
    );
    assert_eq!(orders["status"], "running");
    assert_eq!(orders["last_error"], "killed");
    let shown = bucket_figures(&rows, "orders");
    assert_eq!(
        shown.records, 40,
        "the records outlive the process: {shown:?}"
    );
    assert_eq!(
        shown.subscribers, 2,
        "the subscriptions belong to the store too: {shown:?}"
    );
    assert_eq!(row(&rows, "store/customers")["restarts"], 0, "one_for_one");
    assert_eq!(row(&rows, "store")["child_restarts"], 1);

    let state = demo.noex(&["state", "store/orders"]);
    assert_eq!(state.code, 0, "{}", state.stderr);
    assert!(state.stdout.contains("\nrecords: 40, "), "{}", state.stdout);
}

/// `noex state` of a bucket: its key, figures and fields with their rules.
#[test]
fn state_of_a_bucket_shows_its_schema() {
    let demo = Demo::start();
    let state = demo.noex(&["state", "store/orders"]);
    assert_eq!(state.code, 0, "{}", state.stderr);
    let counters = regex_lite::Regex::new(r"(bytes|reads|writes): [0-9]+").unwrap();
    snapshot!(
        "e2e_store_state_bucket",
        counters.replace_all(&state.stdout, "$1: _").into_owned()
    );
    let json: Value =
        serde_json::from_str(&demo.noex(&["state", "orders", "--json"]).stdout).unwrap();
    assert_eq!(json["process"]["name"], "store/orders");
    assert!(
        json["state"]
            .as_str()
            .unwrap()
            .starts_with("bucket orders (key: id)\n"),
        "{json:#}"
    );
}

/// `noex tree`: the store is a root of its own (noex-store starts its supervisor),
/// with its queries process and a process per bucket, in the order defined.
#[test]
fn tree_shows_the_store_supervisor_with_its_queries_and_buckets() {
    let demo = Demo::start();
    let tree: Value = serde_json::from_str(&demo.noex(&["tree", "--json"]).stdout).unwrap();
    let store = tree["roots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|root| root["name"] == "store")
        .unwrap_or_else(|| panic!("no store root: {tree:#}"));
    let children: Vec<(&str, &str)> = store["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["child_id"].as_str().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        children,
        [
            ("queries", "store/queries"),
            ("customers", "store/customers"),
            ("orders", "store/orders"),
            ("audit", "store/audit"),
        ]
    );
}

/// The dashboard in a real terminal: filter to the orders bucket, open its
/// details, and read its figures one to a line.
#[cfg(unix)]
#[test]
fn dashboard_details_of_a_bucket_list_its_figures() {
    use support::tmux::Tmux;

    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let agents = demo.agent_dir();
    let env: [(&str, &std::ffi::OsStr); 3] = [
        ("NOEX_AGENT_DIR", agents.as_os_str()),
        ("NO_COLOR", "1".as_ref()),
        ("TZ", "UTC".as_ref()),
    ];
    let pid = demo.pid().to_string();
    let Some(tmux) = Tmux::start(
        dir.path(),
        (160, 48),
        &env,
        &noex_bin(),
        &["top", "--pid", &pid],
    ) else {
        return;
    };
    let screen = |wanted: &[&str]| {
        tmux.wait_for(wanted)
            .unwrap_or_else(|text| panic!("never showed {wanted:?}:\n{text}"))
    };
    screen(&["store/orders"]);
    tmux.send_keys("/");
    tmux.send_keys("orders");
    tmux.send_keys("Enter");
    screen(&["filter \"orders\""]);
    tmux.send_keys("Enter");
    let details = screen(&["store/orders <0.24> · Enter or Esc closes", "subscribers"]);
    // The panel's lines, without the borders and what is drawn beside them.
    let panel: Vec<String> = details
        .lines()
        .filter_map(|line| {
            let inside = line.split('│').nth(2)?;
            Some(inside.trim_end().to_string())
        })
        .collect();
    let at = panel
        .iter()
        .position(|line| line == " state          bucket orders:")
        .unwrap_or_else(|| panic!("no state line:\n{details}"));
    let figures = &panel[at + 1..at + 5];
    assert_eq!(figures[0], "                  40 records", "{details}");
    assert!(figures[1].ends_with(" KiB"), "{details}");
    assert!(figures[2].ends_with(" ops/s"), "{details}");
    assert_eq!(figures[3], "                  2 subscribers", "{details}");
    assert!(
        !details.contains("timer"),
        "the rate is worked out without a timer:\n{details}"
    );
    tmux.send_keys("q");
    assert_eq!(tmux.exit_status(), 0, "q did not quit cleanly");
}
