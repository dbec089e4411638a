//! Where a process is in its life, as the runtime tracks it.
//!
//! The runtime's own type: the Observer's wire type carries an extra `Unknown` for
//! values a newer agent may send, which no process is ever in.

use noex_agent::types as wire;

/// Where a process is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum ProcessStatus {
    /// `init` is running; the process does not take messages yet.
    Initializing,
    /// Waiting for or handling messages.
    Running,
    /// `terminate` is running.
    Stopping,
    /// Ended.
    Stopped,
}

impl ProcessStatus {
    /// Its encoding in the cell's status byte.
    pub(crate) fn to_raw(self) -> u8 {
        self as u8
    }

    /// Read back a status byte written by [`ProcessStatus::to_raw`].
    pub(crate) fn from_raw(raw: u8) -> Self {
        match raw {
            0 => ProcessStatus::Initializing,
            1 => ProcessStatus::Running,
            2 => ProcessStatus::Stopping,
            _ => ProcessStatus::Stopped,
        }
    }
}

impl From<ProcessStatus> for wire::ProcessStatus {
    fn from(status: ProcessStatus) -> Self {
        match status {
            ProcessStatus::Initializing => wire::ProcessStatus::Initializing,
            ProcessStatus::Running => wire::ProcessStatus::Running,
            ProcessStatus::Stopping => wire::ProcessStatus::Stopping,
            ProcessStatus::Stopped => wire::ProcessStatus::Stopped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ProcessStatus; 4] = [
        ProcessStatus::Initializing,
        ProcessStatus::Running,
        ProcessStatus::Stopping,
        ProcessStatus::Stopped,
    ];

    #[test]
    fn every_status_survives_the_status_byte() {
        for status in ALL {
            assert_eq!(ProcessStatus::from_raw(status.to_raw()), status);
        }
    }

    #[test]
    fn every_status_keeps_its_name_on_the_wire() {
        let names: Vec<_> = ALL
            .iter()
            .map(|&status| wire::ProcessStatus::from(status).as_str())
            .collect();
        assert_eq!(names, ["initializing", "running", "stopping", "stopped"]);
    }
}
