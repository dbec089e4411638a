//! Where noex's supervisors and servers differ from OTP's, and why.
//!
//! (Filled in below.)
