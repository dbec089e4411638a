//! An application: a root supervisor and the agent, started from one description and stopped gracefully (OTP's `application`).
