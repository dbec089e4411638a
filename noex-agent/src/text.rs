//! Bounded text: strings that come from outside (a client's target or kill reason) or
//! from crashes (panic messages, error texts) are kept and echoed only up to a limit,
//! so a 60 KB panic message costs 1 KiB in every event that carries it.
//!
//! ```
//! use noex_agent::text::clip;
//!
//! assert_eq!(clip("short", 16), "short");
//! assert_eq!(clip("a longer text than that", 20), "a long… (23 bytes)");
//! ```

use std::borrow::Cow;

/// Exit reasons, panic messages and error texts kept in events, in `last_error` and in
/// history: at most this many bytes.
pub const STORED_TEXT_LIMIT: usize = 1024;
/// Client text quoted back in an error message (an unknown target, say).
pub const ECHOED_TEXT_LIMIT: usize = 128;
/// A whole error message the agent sends.
pub const ERROR_MESSAGE_LIMIT: usize = 1024;

/// `text` if it fits in `max` bytes; otherwise its start, cut at a character boundary,
/// then `…` and the original length, all within `max` bytes (for any `max` of 32 or
/// more).
pub fn clip(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let suffix = format!("… ({} bytes)", text.len());
    let mut end = max.saturating_sub(suffix.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{suffix}", &text[..end]))
}

/// Clips `text` in place; no allocation when it fits.
pub fn clip_owned(text: &mut String, max: usize) {
    if let Cow::Owned(clipped) = clip(text, max) {
        *text = clipped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_fits_is_kept_whole_and_borrowed() {
        assert!(matches!(clip("exactly16bytes!!", 16), Cow::Borrowed(_)));
        assert_eq!(clip("", 0), "");
    }

    #[test]
    fn long_text_is_cut_to_the_limit_with_its_original_length() {
        let long = "x".repeat(60_000);
        let clipped = clip(&long, STORED_TEXT_LIMIT);
        assert_eq!(clipped.len(), STORED_TEXT_LIMIT);
        assert!(clipped.ends_with("x… (60000 bytes)"), "{clipped}");
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        // 'é' is two bytes: a cut in the middle of one moves back before it.
        let text = "é".repeat(100);
        let clipped = clip(&text, 40);
        assert!(clipped.len() <= 40);
        assert!(clipped.starts_with("éé"));
        assert!(clipped.ends_with("… (200 bytes)"));
    }

    #[test]
    fn clipping_in_place_changes_only_text_over_the_limit() {
        let mut short = String::from("fine");
        clip_owned(&mut short, 32);
        assert_eq!(short, "fine");
        let mut long = "y".repeat(100);
        clip_owned(&mut long, 32);
        assert_eq!(long, format!("{}… (100 bytes)", "y".repeat(17)));
    }
}
