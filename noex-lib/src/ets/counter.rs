//! Values that `update_counter` can add to.

/// An integer that [`update_counter`](super::Table::update_counter) adds to, with
/// a check: Erlang's integers have no bounds, Rust's do, and passing one is an
/// error ([`TableError::CounterOverflow`](super::TableError::CounterOverflow)),
/// never a wrap.
pub trait Counter: Copy {
    /// `self + by`, or `None` past the type's bounds.
    fn checked_increment(self, by: Self) -> Option<Self>;
}

macro_rules! counters {
    ($($t:ty),*) => {$(
        impl Counter for $t {
            fn checked_increment(self, by: Self) -> Option<Self> {
                self.checked_add(by)
            }
        }
    )*};
}

counters!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);
