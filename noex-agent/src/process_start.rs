//! When an OS process started, in milliseconds since the Unix epoch.
//!
//! Pids are reused: the agent puts its process's start time in `Hello`, so a client that
//! attaches by pid can tell the application it meant from a newcomer with the same pid,
//! and discovery can tell a socket older than the process that now holds its pid.
//! The start times come with the `discovery` feature; the wall clock, [`now_ms`], is
//! always here.

/// The start time of process `pid`, where the platform tells it (Linux: `/proc`).
#[cfg(feature = "discovery")]
pub fn process_start_ms(pid: u32) -> Option<u64> {
    imp::process_start_ms(pid)
}

/// Milliseconds since the Unix epoch, now: the one wall clock of noex's data.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(all(feature = "discovery", target_os = "linux"))]
mod imp {
    pub fn process_start_ms(pid: u32) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let start_ticks = start_ticks_from_stat(&stat)?;
        let boot_secs = boot_time_secs(&std::fs::read_to_string("/proc/stat").ok()?)?;
        // SAFETY: sysconf only reads a configuration value.
        let ticks_per_sec = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok()?;
        Some(boot_secs * 1000 + (start_ticks * 1000).checked_div(ticks_per_sec)?)
    }

    /// Field 22 of `/proc/<pid>/stat`: clock ticks after boot. The command name (field 2)
    /// may hold spaces and parentheses, so count fields after its last `)`.
    pub(super) fn start_ticks_from_stat(stat: &str) -> Option<u64> {
        let after_comm = &stat[stat.rfind(')')? + 1..];
        // After `)` come fields 3 (state), 4, ...: field 22 is the 20th of them.
        after_comm.split_whitespace().nth(19)?.parse().ok()
    }

    pub(super) fn boot_time_secs(proc_stat: &str) -> Option<u64> {
        proc_stat
            .lines()
            .find_map(|line| line.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()
    }
}

#[cfg(all(feature = "discovery", not(target_os = "linux")))]
mod imp {
    pub fn process_start_ms(_pid: u32) -> Option<u64> {
        None
    }
}

#[cfg(all(test, feature = "discovery", target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_survives_parentheses_and_spaces_in_the_command_name() {
        let stat = "1234 (my (odd) app) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 4 0 \
                    987654 123456 789 18446744073709551615";
        assert_eq!(imp::start_ticks_from_stat(stat), Some(987654));
        assert_eq!(
            imp::boot_time_secs("cpu 1 2 3\nbtime 1700000000\nprocesses 5\n"),
            Some(1_700_000_000)
        );
    }

    #[test]
    fn own_process_started_in_the_past_but_recently() {
        let started = process_start_ms(std::process::id()).expect("linux has /proc");
        let now = now_ms();
        // btime has one-second precision.
        assert!(started <= now + 1000, "started {started} now {now}");
        assert!(
            now.saturating_sub(started) < 24 * 3600 * 1000,
            "a test process is young"
        );
    }
}
