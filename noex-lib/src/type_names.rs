//! Type names as people read them, for `noex ps` and for errors.

use std::collections::HashMap;
use std::sync::Arc;

/// A type's name without its module path (`CacheServer<alloc::string::String, u64>`):
/// what `noex ps` shows.
pub(crate) fn short_type_name(full: &'static str) -> &'static str {
    let base_end = full.find('<').unwrap_or(full.len());
    match full[..base_end].rfind("::") {
        Some(at) => &full[at + 2..],
        None => full,
    }
}

/// Short type names as a snapshot's servers share them: one string per type,
/// however many servers of it there are.
#[derive(Default)]
pub(crate) struct SharedTypeNames {
    /// By the address of the full name: each type's name is one static string.
    shared: HashMap<usize, Arc<str>>,
}

impl SharedTypeNames {
    /// The short name of the type whose full name is `full`.
    pub(crate) fn get(&mut self, full: &'static str) -> Arc<str> {
        self.shared
            .entry(full.as_ptr() as usize)
            .or_insert_with(|| Arc::from(short_type_name(full)))
            .clone()
    }
}

/// A type name as a reader writes it: every path shortened to its last segment,
/// generics kept (`alloc::vec::Vec<my_app::Job>` -> `Vec<Job>`).
pub(crate) fn readable_type_name(type_name: &str) -> String {
    let mut readable = String::with_capacity(type_name.len());
    let mut path = String::new();
    // A path runs over identifiers, `::` and a closure's `{{closure}}`; whatever
    // ends it (`<`, `,`, a space...) is kept as it is.
    let flush = |path: &mut String, readable: &mut String| {
        // `<T as Trait>::Assoc`: the path after a `>` keeps its own `::`.
        if path.starts_with("::") {
            readable.push_str("::");
        }
        let last = path.rfind("::").map_or(0, |at| at + 2);
        readable.push_str(&path[last..]);
        path.clear();
    };
    for c in type_name.chars() {
        if c.is_alphanumeric() || matches!(c, '_' | ':' | '{' | '}') {
            path.push(c);
        } else {
            flush(&mut path, &mut readable);
            readable.push(c);
        }
    }
    flush(&mut path, &mut readable);
    readable
}

/// "a" or "an", by the first letter: "an EventBus", "a Worker server".
pub(crate) fn article(noun: &str) -> &'static str {
    match noun.chars().next() {
        Some(c) if "AEIOUaeiou".contains(c) => "an",
        _ => "a",
    }
}

#[cfg(test)]
mod tests {
    use super::{article, readable_type_name};

    #[test]
    fn a_type_name_loses_its_paths_and_keeps_its_generics() {
        let cases = [
            ("my_app::workers::Worker", "Worker"),
            ("Counter", "Counter"),
            (
                "noex::services::cache::handle::Cache<alloc::string::String, u64>",
                "Cache<String, u64>",
            ),
            (
                "core::option::Option<alloc::vec::Vec<(u8, my_app::Job)>>",
                "Option<Vec<(u8, Job)>>",
            ),
            (
                "alloc::boxed::Box<dyn core::any::Any + core::marker::Send + core::marker::Sync>",
                "Box<dyn Any + Send + Sync>",
            ),
            ("&'static [my_app::Job; 3]", "&'static [Job; 3]"),
            ("my_app::main::{{closure}}", "{{closure}}"),
            (
                "<my_app::Job as my_app::Task>::Output",
                "<Job as Task>::Output",
            ),
        ];
        for (full, readable) in cases {
            assert_eq!(readable_type_name(full), readable, "{full}");
        }
    }

    #[test]
    fn a_noun_that_starts_with_a_vowel_takes_an() {
        assert_eq!(article("EventBus<String>"), "an");
        assert_eq!(article("Worker server"), "a");
        assert_eq!(article("supervisor"), "a");
    }
}
