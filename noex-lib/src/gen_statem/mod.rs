//! State machines (OTP's `gen_statem`).
