//! A recording as a player sees it: numbered frames (one per snapshot) with their
//! times, the events between them, and any frame rebuilt on demand from the nearest
//! keyframe before it.

use noex_agent::client::Push;
use noex_agent::types::{LifecycleEvent, Snapshot};

use super::format::{self, Record};
use super::reader::Recording;

/// One snapshot of the recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Frame {
    /// Its record's index in `Recording::records`.
    record: usize,
    /// The frame to rebuild it from (itself, for a keyframe).
    keyframe: usize,
    at_ms: u64,
}

/// Frames and events of a recording, for seeking.
pub struct Timeline {
    recording: Recording,
    frames: Vec<Frame>,
}

impl Timeline {
    pub fn new(recording: Recording) -> Timeline {
        let mut frames = Vec::new();
        let mut keyframe = None;
        for (record, entry) in recording.records.iter().enumerate() {
            match entry {
                Record::Keyframe { snapshot } => {
                    keyframe = Some(frames.len());
                    frames.push(Frame {
                        record,
                        keyframe: frames.len(),
                        at_ms: snapshot.taken_at_ms,
                    });
                }
                // A delta with no keyframe before it has nothing to apply to.
                Record::Delta { delta } => {
                    if let Some(keyframe) = keyframe {
                        frames.push(Frame {
                            record,
                            keyframe,
                            at_ms: delta.taken_at_ms,
                        });
                    }
                }
                _ => {}
            }
        }
        Timeline { recording, frames }
    }

    pub fn recording(&self) -> &Recording {
        &self.recording
    }

    /// How many frames (snapshots) there are.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// When frame `index` was taken.
    pub fn at_ms(&self, index: usize) -> u64 {
        self.frames[index].at_ms
    }

    /// The first and the last frame's times.
    pub fn span_ms(&self) -> Option<(u64, u64)> {
        Some((self.frames.first()?.at_ms, self.frames.last()?.at_ms))
    }

    /// The last frame taken at or before `at_ms` (the first, before the start).
    pub fn frame_at(&self, at_ms: u64) -> usize {
        self.frames
            .partition_point(|f| f.at_ms <= at_ms)
            .saturating_sub(1)
    }

    /// Frame `index`, rebuilt from its keyframe.
    pub fn snapshot(&self, index: usize) -> Snapshot {
        let frame = self.frames[index];
        let mut snapshot = match &self.recording.records[self.frames[frame.keyframe].record] {
            Record::Keyframe { snapshot } => snapshot.clone(),
            _ => unreachable!("a frame's keyframe is a keyframe record"),
        };
        for next in &self.frames[frame.keyframe + 1..=index] {
            self.advance(&mut snapshot, next.record);
        }
        snapshot
    }

    /// `snapshot`, frame `index - 1`, moved on to frame `index` (cheaper than
    /// [`Timeline::snapshot`] when playing forward).
    pub fn next_snapshot(&self, snapshot: &mut Snapshot, index: usize) {
        let frame = self.frames[index];
        if frame.keyframe == index {
            *snapshot = self.snapshot(index);
        } else {
            self.advance(snapshot, frame.record);
        }
    }

    fn advance(&self, snapshot: &mut Snapshot, record: usize) {
        if let Record::Delta { delta } = &self.recording.records[record] {
            format::apply(snapshot, delta);
        }
    }

    /// What the agent pushed (events and lag notices, as a live client receives
    /// them) after frame `from`'s snapshot (`None`: from the start) up to frame `to`'s:
    /// what the recorder had received when it took that snapshot. The last frame also
    /// has what came after it, up to the recording's end.
    pub fn pushes_between(&self, from: Option<usize>, to: usize) -> impl Iterator<Item = Push> {
        let start = from.map_or(0, |f| self.events_end(f));
        let end = self.events_end(to);
        self.recording.records[start.min(end)..end]
            .iter()
            .filter_map(|record| match record {
                Record::Event { event } => Some(Push::Event(event.clone())),
                Record::Lagged { dropped, .. } => Some(Push::Lagged { dropped: *dropped }),
                _ => None,
            })
    }

    /// Where frame `index`'s events end in the records.
    fn events_end(&self, index: usize) -> usize {
        if index + 1 >= self.frames.len() {
            self.recording.records.len()
        } else {
            self.frames[index].record
        }
    }

    /// Every event, in the order recorded.
    pub fn events(&self) -> impl Iterator<Item = &LifecycleEvent> {
        self.recording
            .records
            .iter()
            .filter_map(|record| match record {
                Record::Event { event } => Some(event),
                _ => None,
            })
    }
}
