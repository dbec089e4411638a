//! Values kept by a position that only grows (a supervisor's children in start
//! order): one sorted vector, found by binary search.
//!
//! A `BTreeMap` filled in key order leaves its nodes about half full, which cost a
//! supervisor of a million children about 220 bytes a child for a 112-byte record.
//! Here a removal leaves a hole, and the holes are swept out once they outnumber
//! the values, so removals cost amortized O(1) and the vector stays dense.

/// Values by position, in position order.
pub(crate) struct StartOrder<T> {
    /// Sorted by position; `None` is a hole left by a removal.
    slots: Vec<(u64, Option<T>)>,
    holes: usize,
}

impl<T> Default for StartOrder<T> {
    fn default() -> Self {
        StartOrder {
            slots: Vec::new(),
            holes: 0,
        }
    }
}

impl<T> StartOrder<T> {
    /// Holes are swept out only past this many, so a small table is not swept at
    /// every other removal.
    const FEW_HOLES: usize = 16;

    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.holes
    }

    fn find(&self, position: u64) -> Result<usize, usize> {
        self.slots.binary_search_by_key(&position, |(at, _)| *at)
    }

    /// Set the value at `position`; returns the one it replaces. A position after
    /// every other (the usual case) is appended.
    pub(crate) fn insert(&mut self, position: u64, value: T) -> Option<T> {
        if self.slots.last().is_none_or(|(last, _)| *last < position) {
            self.slots.push((position, Some(value)));
            return None;
        }
        match self.find(position) {
            Ok(at) => {
                let old = self.slots[at].1.replace(value);
                if old.is_none() {
                    self.holes -= 1;
                }
                old
            }
            Err(at) => {
                self.slots.insert(at, (position, Some(value)));
                None
            }
        }
    }

    pub(crate) fn get(&self, position: u64) -> Option<&T> {
        self.slots[self.find(position).ok()?].1.as_ref()
    }

    pub(crate) fn get_mut(&mut self, position: u64) -> Option<&mut T> {
        let at = self.find(position).ok()?;
        self.slots[at].1.as_mut()
    }

    pub(crate) fn remove(&mut self, position: u64) -> Option<T> {
        let at = self.find(position).ok()?;
        let value = self.slots[at].1.take()?;
        self.holes += 1;
        if self.holes > Self::FEW_HOLES && self.holes > self.len() {
            self.slots.retain(|(_, value)| value.is_some());
            self.holes = 0;
        }
        Some(value)
    }

    /// The values in position order, counted (a snapshot writes the count first).
    pub(crate) fn values(&self) -> Values<'_, T> {
        Values {
            slots: self.slots.iter(),
            left: self.len(),
        }
    }

    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.slots
            .iter_mut()
            .filter_map(|(_, value)| value.as_mut())
    }

    /// The positions from `from` on, in order.
    pub(crate) fn positions_from(&self, from: u64) -> impl Iterator<Item = u64> {
        let start = self.find(from).unwrap_or_else(|at| at);
        (self.slots[start..].iter()).filter_map(|(at, value)| value.as_ref().map(|_| *at))
    }
}

/// [`StartOrder::values`].
pub(crate) struct Values<'a, T> {
    slots: std::slice::Iter<'a, (u64, Option<T>)>,
    left: usize,
}

impl<'a, T> Iterator for Values<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        let value = self.slots.find_map(|(_, value)| value.as_ref())?;
        self.left -= 1;
        Some(value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for Values<'_, T> {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push(u8),
        Set(u8, u8),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            any::<u8>().prop_map(Op::Push),
            (any::<u8>(), any::<u8>()).prop_map(|(at, v)| Op::Set(at, v)),
            any::<u8>().prop_map(Op::Remove),
        ]
    }

    proptest! {
        /// Whatever is done, it answers as a `BTreeMap` would.
        #[test]
        fn answers_as_an_ordered_map_does(ops in prop::collection::vec(op(), 0..400)) {
            let mut order = StartOrder::default();
            let mut model = BTreeMap::new();
            let mut next = 0u64;
            for op in ops {
                match op {
                    Op::Push(value) => {
                        prop_assert_eq!(order.insert(next, value), model.insert(next, value));
                        next += 1;
                    }
                    Op::Set(at, value) => {
                        let at = u64::from(at) % (next + 1);
                        prop_assert_eq!(order.insert(at, value), model.insert(at, value));
                        next = next.max(at + 1);
                    }
                    Op::Remove(at) => {
                        let at = u64::from(at) % (next + 1);
                        prop_assert_eq!(order.remove(at), model.remove(&at));
                    }
                }
                prop_assert_eq!(order.len(), model.len());
            }
            prop_assert_eq!(order.values().len(), model.len());
            prop_assert!(order.values().eq(model.values()));
            let listed: Vec<(u64, u8)> = order.positions_from(0).zip(order.values().copied()).collect();
            let expected: Vec<(u64, u8)> = model.iter().map(|(at, v)| (*at, *v)).collect();
            prop_assert_eq!(listed, expected);
            for from in 0..=next {
                let positions: Vec<u64> = order.positions_from(from).collect();
                let expected: Vec<u64> = model.range(from..).map(|(at, _)| *at).collect();
                prop_assert_eq!(positions, expected);
            }
            for at in 0..=next {
                prop_assert_eq!(order.get(at), model.get(&at));
            }
        }
    }

    #[test]
    fn holes_are_swept_once_they_outnumber_the_values() {
        let mut order = StartOrder::default();
        for at in 0..100u64 {
            order.insert(at, at);
        }
        for at in 0..60u64 {
            order.remove(at);
        }
        assert_eq!(order.len(), 40);
        assert!(order.slots.len() < 60, "{} slots", order.slots.len());
        assert_eq!(order.get(70), Some(&70));
        assert_eq!(order.positions_from(0).next(), Some(60));
    }
}
