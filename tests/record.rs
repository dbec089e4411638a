//! `noex record` against a real demo app, and the recording played back with
//! `noex events --replay` and `noex top --replay`: a kill seen in the replay, and a
//! recording that survives its app's `kill -9` and its own.

#![cfg(unix)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::tmux::Tmux;
use support::{DEMO_PIDS, Demo, HANG, noex_bin, outside_tool, redact_late_pids, run_noex};

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

/// A `noex record` running against `demo`, writing `file`, its stderr in `log`.
struct Recorder {
    child: Child,
    file: PathBuf,
    log: PathBuf,
}

impl Recorder {
    fn start(demo: &Demo, dir: &Path) -> Recorder {
        let file = dir.join("demo.noexrec");
        let log = dir.join("record.stderr");
        let child = Command::new(noex_bin())
            .args(["record", "--interval", "100ms", "-o"])
            .arg(&file)
            .env("NOEX_AGENT_DIR", demo.agent_dir())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Recorder { child, file, log }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: `kill` touches no memory of ours; the child is not yet waited for,
        // so its pid is still its own.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, signal);
        }
    }

    /// Wait for the recorder to exit; its exit code and stderr.
    fn wait(&mut self) -> (Option<i32>, String) {
        let began = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(began.elapsed() < HANG, "noex record did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        (
            status.code(),
            std::fs::read_to_string(&self.log).unwrap_or_default(),
        )
    }

    /// Wait until the file, read as it is now, satisfies `ready` (a recording is
    /// readable while it is written).
    fn wait_for(&self, ready: impl Fn(&support::Output) -> bool) -> support::Output {
        let began = Instant::now();
        loop {
            let replay = replay(&self.file, &[]);
            if replay.code == 0 && ready(&replay) {
                return replay;
            }
            assert!(
                began.elapsed() < HANG,
                "the recording never got there: {} {}",
                replay.stdout,
                replay.stderr
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `noex events --replay FILE ARGS` (no agent needed: an empty agent directory).
fn replay(file: &Path, args: &[&str]) -> support::Output {
    let nowhere = tempfile::tempdir().unwrap();
    let mut all = vec!["events", "--replay", file.to_str().unwrap()];
    all.extend_from_slice(args);
    run_noex(nowhere.path(), &all)
}

/// How many snapshots `events --replay` says it read.
fn snapshots(replay: &support::Output) -> u64 {
    let count = regex_lite::Regex::new(r"(\d+) snapshots?").unwrap();
    count
        .captures(&replay.stderr)
        .map_or(0, |c| c[1].parse().unwrap())
}

fn redact_times(text: &str) -> String {
    let time = regex_lite::Regex::new(r"\d\d:\d\d:\d\d\.\d{3}").unwrap();
    time.replace_all(text, "HH:MM:SS.mmm").into_owned()
}

#[test]
fn a_kill_during_a_recording_replays_as_the_crash_and_the_restart() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let mut recorder = Recorder::start(&demo, dir.path());
    recorder.wait_for(|r| snapshots(r) >= 2);
    assert_eq!(demo.noex(&["kill", "worker-2"]).code, 0);
    recorder.wait_for(|r| r.stdout.contains("restarted"));
    recorder.signal(libc::SIGINT);
    let (code, stderr) = recorder.wait();
    assert_eq!(code, Some(0), "{stderr}");
    let closing = regex_lite::Regex::new(
        r"recording ended \(stopped by Ctrl-C\): \d+ snapshots, \d+ events, [0-9.]+K? in .*demo\.noexrec\n$",
    )
    .unwrap();
    assert!(closing.is_match(&stderr), "{stderr}");

    let events = replay(&recorder.file, &[]);
    assert_eq!(events.code, 0, "{}", events.stderr);
    snapshot!(
        "e2e_record_events_replay",
        redact_late_pids(&redact_times(&events.stdout), DEMO_PIDS)
    );
    let summary = regex_lite::Regex::new(&format!(
        r"^a recording of noex-demo \(pid {}\), HH:MM:SS.mmm to HH:MM:SS.mmm: \d+ snapshots, \d+ events; it ended: stopped by Ctrl-C\n$",
        demo.pid()
    ))
    .unwrap();
    assert!(
        summary.is_match(&redact_times(&events.stderr)),
        "{}",
        events.stderr
    );

    // The same events as JSON lines, as `noex events --json` prints live ones.
    let json = replay(&recorder.file, &["--json"]);
    let kinds: Vec<String> = json
        .stdout
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            format!("{} {}", event["child_id"], event["kind"])
        })
        .collect();
    assert_eq!(
        kinds,
        [
            r#""worker-2" "terminated""#,
            r#""worker-2" "started""#,
            r#""worker-2" "restarted""#
        ]
    );
}

#[test]
fn a_recording_ends_cleanly_when_the_app_is_killed() {
    let mut demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let mut recorder = Recorder::start(&demo, dir.path());
    recorder.wait_for(|r| snapshots(r) >= 2);
    // SAFETY: as in `Recorder::signal`; the demo is not yet waited for.
    unsafe {
        libc::kill(demo.pid() as libc::pid_t, libc::SIGKILL);
    }
    let _ = demo.wait_for_exit();
    let (code, stderr) = recorder.wait();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("recording ended (the application exited): "),
        "{stderr}"
    );
    let replay = replay(&recorder.file, &[]);
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    assert!(snapshots(&replay) >= 2, "{}", replay.stderr);
    assert!(
        replay
            .stderr
            .ends_with("; it ended: the application exited\n"),
        "{}",
        replay.stderr
    );
}

#[test]
fn ctrl_c_ends_a_recording_of_an_app_that_stopped_answering() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let mut recorder = Recorder::start(&demo, dir.path());
    recorder.wait_for(|r| snapshots(r) >= 2);
    // SAFETY: as in `Recorder::signal`; the demo is not yet waited for. Stopped, it
    // answers no snapshot until SIGCONT.
    unsafe {
        libc::kill(demo.pid() as libc::pid_t, libc::SIGSTOP);
    }
    // Three intervals, so the recorder is waiting for a snapshot that will not come
    // when Ctrl-C arrives (the case this checks). Not a limit: the outcome is the
    // same, sooner or later.
    std::thread::sleep(Duration::from_millis(300));
    recorder.signal(libc::SIGINT);
    let (code, stderr) = recorder.wait();
    // SAFETY: as above.
    unsafe {
        libc::kill(demo.pid() as libc::pid_t, libc::SIGCONT);
    }
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("recording ended (stopped by Ctrl-C): "),
        "{stderr}"
    );
    assert_eq!(replay(&recorder.file, &[]).code, 0);
}

#[test]
fn a_recording_whose_recorder_is_killed_reads_to_its_last_record() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let mut recorder = Recorder::start(&demo, dir.path());
    recorder.wait_for(|r| snapshots(r) >= 3);
    recorder.signal(libc::SIGKILL);
    let (code, _) = recorder.wait();
    assert_eq!(code, None, "killed by a signal");
    let replay = replay(&recorder.file, &[]);
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    assert!(snapshots(&replay) >= 3, "{}", replay.stderr);
    let cut = regex_lite::Regex::new(
        r"; it stops without an end \(its recorder was killed, or is still writing\)(, in the middle of a record)?; everything before that was read \(\d+ bytes in the file\)\n$",
    )
    .unwrap();
    assert!(cut.is_match(&replay.stderr), "{}", replay.stderr);
}

#[test]
fn a_damaged_recording_prints_what_comes_before_and_fails() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let mut recorder = Recorder::start(&demo, dir.path());
    recorder.wait_for(|r| snapshots(r) >= 3);
    recorder.signal(libc::SIGINT);
    assert_eq!(recorder.wait().0, Some(0));
    let mut bytes = std::fs::read(&recorder.file).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 0xff;
    let damaged = dir.path().join("damaged.noexrec");
    std::fs::write(&damaged, bytes).unwrap();
    let replay = replay(&damaged, &[]);
    assert_eq!(replay.code, 1, "{}", replay.stderr);
    let error =
        regex_lite::Regex::new(r"^error: .*damaged\.noexrec is damaged at record \d+: ").unwrap();
    assert!(error.is_match(&replay.stderr), "{}", replay.stderr);
}

#[test]
fn bad_recording_files_are_clear_errors_with_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let not = replay(&text, &[]);
    assert_eq!(not.code, 1);
    assert_eq!(
        not.stderr,
        format!(
            "error: {}: not a noex recording (it does not start with the recording's magic bytes)\n",
            text.display()
        )
    );
    let missing = replay(&dir.path().join("missing.noexrec"), &[]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.starts_with("error: cannot read "),
        "{}",
        missing.stderr
    );
}

#[test]
fn record_refuses_to_overwrite_a_file_unless_asked() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("taken.noexrec");
    std::fs::write(&file, "precious").unwrap();
    let refused = demo.noex(&["record", "-o", file.to_str().unwrap(), "--duration", "1s"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("hint: choose another file, or add --overwrite to replace it"),
        "{}",
        refused.stderr
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "precious");
    let done = demo.noex(&[
        "record",
        "-o",
        file.to_str().unwrap(),
        "--duration",
        "300ms",
        "--interval",
        "100ms",
        "--overwrite",
    ]);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(
        done.stderr
            .contains("recording ended (the duration was reached): "),
        "{}",
        done.stderr
    );
    let replay = replay(&file, &[]);
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    assert!(snapshots(&replay) >= 1, "{}", replay.stderr);
}

#[test]
fn record_usage_errors_are_exit_code_2() {
    let nowhere = tempfile::tempdir().unwrap();
    let no_output = run_noex(nowhere.path(), &["record"]);
    assert_eq!(no_output.code, 2);
    let fast = run_noex(
        nowhere.path(),
        &["record", "-o", "x.noexrec", "--interval", "1ms"],
    );
    assert_eq!(fast.code, 2);
    assert!(
        fast.stderr.contains("the interval must be at least 50ms"),
        "{}",
        fast.stderr
    );
}

/// `noex top --replay` in a real terminal (tmux): the first frame says REPLAY, it
/// plays to the end, and K is refused with the replay's message.
#[test]
fn top_replay_in_a_real_terminal_says_replay_and_refuses_kill() {
    if outside_tool("tmux").is_none() {
        return;
    }
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let mut recorder = Recorder::start(&demo, dir.path());
    recorder.wait_for(|r| snapshots(r) >= 3);
    recorder.signal(libc::SIGINT);
    assert_eq!(recorder.wait().0, Some(0));

    let env: [(&str, &std::ffi::OsStr); 2] = [("NO_COLOR", "1".as_ref()), ("TZ", "UTC".as_ref())];
    let file = recorder.file.to_str().unwrap();
    let Some(tmux) = Tmux::start(
        dir.path(),
        (120, 30),
        &env,
        &noex_bin(),
        &["top", "--replay", file],
    ) else {
        return;
    };
    let screen = |wanted: &str| {
        tmux.wait_for(&[wanted])
            .unwrap_or_else(|text| panic!("never showed {wanted:?}:\n{text}"))
    };
    let first = screen("REPLAY");
    assert!(first.contains("noex-demo pid"), "{first}");
    // It plays at once, at the recorded pace, and stops at the end, saying so.
    screen("end of the recording: stopped by Ctrl-C");
    tmux.send_keys("K");
    screen("replay: kill and restart are disabled");
    tmux.send_keys("q");
    assert_eq!(tmux.exit_status(), 0, "q did not quit cleanly");
}
