//! The format end to end in memory: written, read back, cut, damaged, sought.

use noex_agent::client::Push;
use noex_agent::types::{EventKind, LifecycleEvent, Snapshot};
use proptest::prelude::*;

use super::format::tests::normalised;
use super::*;
use crate::top::testing;

fn header() -> Header {
    Header::new(testing::hello(false), 1_000, 1_000)
}

/// Snapshots 0..=3 of the dashboard fixtures, then again with later times, so a
/// small keyframe interval makes several keyframes.
fn snapshots(count: u64) -> Vec<Snapshot> {
    (0..count)
        .map(|i| {
            let mut snapshot = normalised(i % 4);
            snapshot.taken_at_ms += (i / 4) * 4_000;
            snapshot
        })
        .collect()
}

fn event(seq: u64, at_ms: u64) -> LifecycleEvent {
    LifecycleEvent {
        at_ms,
        seq,
        kind: EventKind::Crashed {
            error: format!("crash number {seq}").into(),
        },
        ..testing::events().remove(0)
    }
}

/// The records a recording of `count` snapshots with an event after each should
/// read back as, and its bytes.
fn recording(count: u64, keyframe_every: u32, finish: bool) -> (Vec<u8>, Vec<Snapshot>) {
    let mut writer = Writer::new(Vec::new(), &header())
        .unwrap()
        .keyframe_every(keyframe_every);
    let snapshots = snapshots(count);
    for (i, snapshot) in snapshots.iter().enumerate() {
        writer.snapshot(snapshot.clone()).unwrap();
        writer
            .event(event(i as u64 + 1, snapshot.taken_at_ms + 10))
            .unwrap();
    }
    let bytes = if finish {
        writer.finish(99_000, "the application exited").unwrap()
    } else {
        // A recorder killed: what it flushed is all there is (no end record, and
        // the last zstd frame never closed).
        writer.sink().clone()
    };
    (bytes, snapshots)
}

fn frames(timeline: &Timeline) -> Vec<Snapshot> {
    (0..timeline.len()).map(|i| timeline.snapshot(i)).collect()
}

#[test]
fn a_recording_reads_back_every_snapshot_and_event_and_its_end() {
    let (bytes, snapshots) = recording(10, 4, true);
    let read = read(&bytes).unwrap();
    assert_eq!(read.header, header());
    assert_eq!(
        read.ending,
        Ending::Finished {
            at_ms: 99_000,
            reason: "the application exited".into()
        }
    );
    let keyframes = read
        .records
        .iter()
        .filter(|r| matches!(r, Record::Keyframe { .. }))
        .count();
    assert_eq!(keyframes, 3, "snapshots 0, 4 and 8");
    let timeline = Timeline::new(read);
    assert_eq!(frames(&timeline), snapshots);
    let events: Vec<u64> = timeline.events().map(|e| e.seq).collect();
    assert_eq!(events, (1..=10).collect::<Vec<_>>());
}

#[test]
fn a_recorder_killed_mid_frame_leaves_every_flushed_record_readable() {
    let (bytes, snapshots) = recording(6, 4, false);
    let read = read(&bytes).unwrap();
    assert_eq!(read.ending, Ending::Cut { partial: false });
    assert_eq!(frames(&Timeline::new(read)), snapshots);
}

#[test]
fn a_cut_at_every_byte_reads_up_to_the_last_whole_record_and_never_errs() {
    let (bytes, _) = recording(6, 3, true);
    let whole = read(&bytes).unwrap().records;
    let header_end = bytes.len() - compressed_len(&bytes);
    let mut previous = 0;
    for cut in header_end..bytes.len() {
        let read = read(&bytes[..cut]).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        // Cut, until the end record is whole (the frame's own end may still be
        // missing: it adds nothing).
        let finished_whole =
            matches!(read.ending, Ending::Finished { .. }) && read.records.len() == whole.len();
        assert!(
            matches!(read.ending, Ending::Cut { .. }) || finished_whole,
            "cut at {cut}: {:?}",
            read.ending
        );
        assert_eq!(
            read.records[..],
            whole[..read.records.len()],
            "cut at {cut}"
        );
        assert!(read.records.len() >= previous, "cut at {cut} read fewer");
        previous = read.records.len();
    }
    assert_eq!(
        previous,
        whole.len(),
        "the byte before the end reads all but End"
    );
}

#[test]
fn a_cut_inside_the_header_is_a_clear_error() {
    let (bytes, _) = recording(1, 4, true);
    let header_end = bytes.len() - compressed_len(&bytes);
    for cut in 0..header_end {
        let error = read(&bytes[..cut]).unwrap_err();
        let expected = if cut == 0 {
            ReadError::Empty
        } else {
            ReadError::HeaderCut
        };
        assert_eq!(error, expected, "cut at {cut}");
    }
}

#[test]
fn a_damaged_record_is_reported_with_the_records_before_it() {
    let (bytes, _) = recording(6, 3, true);
    let good = read(&bytes).unwrap();
    let header_end = bytes.len() - compressed_len(&bytes);
    // Flip a byte in the middle of the compressed stream.
    let mut damaged = bytes.clone();
    let at = header_end + (bytes.len() - header_end) / 2;
    damaged[at] ^= 0x5a;
    let read = read(&damaged).unwrap();
    let Ending::Corrupt { record, why } = &read.ending else {
        panic!("not reported as damage: {:?}", read.ending);
    };
    assert!(!why.is_empty());
    assert_eq!(read.records.len(), *record);
    assert_eq!(read.records[..], good.records[..*record]);
}

#[test]
fn a_file_that_is_not_a_recording_says_so() {
    assert_eq!(read(b"hello, world").unwrap_err(), ReadError::NotARecording);
    let mut other = b"NOEXREC\0".to_vec();
    let header = rmp_serde::to_vec_named(&Header {
        format_major: 9,
        ..header()
    })
    .unwrap();
    other.extend((header.len() as u32).to_be_bytes());
    other.extend(header);
    assert_eq!(
        read(&other).unwrap_err(),
        ReadError::OtherFormat { found: 9 }
    );
    assert_eq!(
        ReadError::OtherFormat { found: 9 }.to_string(),
        "the recording is in format 9.x and this noex reads format 1.x: \
         use a noex CLI of the version that wrote it"
    );
}

#[test]
fn seeking_lands_on_the_frame_taken_at_or_before_the_time() {
    let (bytes, snapshots) = recording(12, 5, true);
    let timeline = Timeline::new(read(&bytes).unwrap());
    assert_eq!(timeline.len(), 12);
    for (i, snapshot) in snapshots.iter().enumerate() {
        assert_eq!(timeline.frame_at(snapshot.taken_at_ms), i);
        assert_eq!(timeline.frame_at(snapshot.taken_at_ms + 1), i);
        assert_eq!(timeline.snapshot(i), *snapshot, "frame {i}");
    }
    assert_eq!(timeline.frame_at(0), 0, "before the start: the first frame");
    assert_eq!(timeline.frame_at(u64::MAX), 11);
    // Playing forward gives what seeking gives.
    let mut playing = timeline.snapshot(0);
    for (i, snapshot) in snapshots.iter().enumerate().skip(1) {
        timeline.next_snapshot(&mut playing, i);
        assert_eq!(playing, *snapshot, "frame {i}");
    }
}

#[test]
fn events_between_frames_are_those_recorded_between_their_snapshots() {
    let (bytes, _) = recording(4, 60, true);
    let timeline = Timeline::new(read(&bytes).unwrap());
    let seqs = |from, to| -> Vec<u64> {
        timeline
            .pushes_between(from, to)
            .map(|push| match push {
                Push::Event(event) => event.seq,
                Push::Lagged { .. } => unreachable!("no lag in this recording"),
            })
            .collect()
    };
    // Event n is written after snapshot n-1: frame 2 has seen events 1 and 2.
    assert_eq!(seqs(None, 0), [0u64; 0]);
    assert_eq!(seqs(None, 2), [1, 2]);
    assert_eq!(seqs(Some(1), 2), [2]);
    // The last frame also has what came after it.
    assert_eq!(seqs(Some(2), 3), [3, 4]);
}

/// The length of the compressed part of a finished recording.
fn compressed_len(bytes: &[u8]) -> usize {
    let header_len = u32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
    bytes.len() - 12 - header_len
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_read_without_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = read(&bytes);
    }

    #[test]
    fn any_bytes_after_a_good_header_read_without_a_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let (bytes, _) = recording(1, 4, true);
        let mut file = bytes[..bytes.len() - compressed_len(&bytes)].to_vec();
        file.extend(tail);
        // The header is good, so this is a recording, whatever follows it.
        prop_assert!(read(&file).is_ok());
    }

    #[test]
    fn any_recording_cut_anywhere_reads_a_prefix_of_its_records(
        count in 1u64..12,
        keyframe_every in 1u32..6,
        finish in any::<bool>(),
        cut in any::<proptest::sample::Index>(),
    ) {
        let (bytes, _) = recording(count, keyframe_every, finish);
        let whole = read(&bytes).unwrap().records;
        let header_end = bytes.len() - compressed_len(&bytes);
        let cut = header_end + cut.index(bytes.len() - header_end + 1);
        let read = read(&bytes[..cut]).unwrap();
        prop_assert!(!matches!(read.ending, Ending::Corrupt { .. }), "{:?}", read.ending);
        prop_assert_eq!(&read.records[..], &whole[..read.records.len()]);
        // Frames rebuilt from what was read are the ones recorded.
        let timeline = Timeline::new(read);
        for i in 0..timeline.len() {
            prop_assert_eq!(timeline.snapshot(i), snapshots(count)[i].clone());
        }
    }

    #[test]
    fn a_damaged_byte_anywhere_never_panics_and_keeps_a_prefix(at in 0usize..4096, flip in 1u8..=255) {
        let (bytes, _) = recording(5, 2, true);
        let good = read(&bytes).unwrap().records;
        let mut damaged = bytes.clone();
        let at = at % damaged.len();
        damaged[at] ^= flip;
        if let Ok(read) = read(&damaged) {
            // What is read is what was written, up to where the damage stops it
            // (the checksums make a damaged record that reads as another unlikely
            // beyond reason).
            prop_assert!(read.records.len() <= good.len());
            prop_assert_eq!(&read.records[..], &good[..read.records.len()]);
        }
    }
}
