//! A program in a real terminal: a tmux server of the test's own (its socket in a
//! temporary directory), one session running the program, the screen read back as
//! text. The server is killed when the test ends, passing or not.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{HANG, outside_tool};

pub struct Tmux {
    tmux: PathBuf,
    socket: PathBuf,
    status_file: PathBuf,
}

/// The one session the server runs.
const SESSION: &str = "t";

impl Tmux {
    /// Start `program args` in a `width`x`height` terminal, with `env` added to its
    /// environment; `None` (the test skips) without tmux, as
    /// [`outside_tool`] decides. `dir` holds the socket and the exit status.
    ///
    /// The program runs under a shell that writes its exit status to a file: what
    /// tmux shows once its pane's process ends, and when it notices, varies under
    /// load; the file does not.
    pub fn start(
        dir: &Path,
        (width, height): (u16, u16),
        env: &[(&str, &OsStr)],
        program: &Path,
        args: &[&str],
    ) -> Option<Tmux> {
        let tmux = Tmux {
            tmux: outside_tool("tmux")?,
            socket: dir.join("tmux.sock"),
            status_file: dir.join("program.status"),
        };
        let mut command = tmux.command();
        command.args(["new-session", "-d", "-s", SESSION]).args([
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ]);
        let status_file = ("STATUS_FILE", tmux.status_file.as_os_str());
        for (name, value) in env.iter().chain([&status_file]) {
            command
                .arg("-e")
                .arg(format!("{name}={}", value.to_string_lossy()));
        }
        let started = command
            .args(["sh", "-c", "\"$0\" \"$@\"; echo $? > \"$STATUS_FILE\""])
            .arg(program)
            .args(args)
            .status()
            .unwrap();
        assert!(started.success(), "tmux new-session: {started}");
        Some(tmux)
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.tmux);
        command.arg("-S").arg(&self.socket);
        command
    }

    pub fn screen(&self) -> String {
        let out = self
            .command()
            .args(["capture-pane", "-p", "-t", SESSION])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait until the screen shows every one of `wanted`; the last screen when it
    /// never does.
    pub fn wait_for(&self, wanted: &[&str]) -> Result<String, String> {
        let began = Instant::now();
        loop {
            let screen = self.screen();
            if wanted.iter().all(|text| screen.contains(text)) {
                return Ok(screen);
            }
            if began.elapsed() > HANG {
                return Err(screen);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Type `keys` (tmux key names: `q`, `Enter`, `Escape`).
    pub fn send_keys(&self, keys: &str) {
        let sent = self
            .command()
            .args(["send-keys", "-t", SESSION, keys])
            .status()
            .unwrap();
        assert!(sent.success(), "tmux send-keys {keys}");
    }

    /// The program's exit status, once it has exited; panics with the last screen if
    /// it does not.
    pub fn exit_status(&self) -> i32 {
        let began = Instant::now();
        loop {
            if let Ok(status) = std::fs::read_to_string(&self.status_file)
                && status.ends_with('\n')
            {
                return status.trim().parse().unwrap();
            }
            assert!(
                began.elapsed() < HANG,
                "the program did not exit:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
    }
}
