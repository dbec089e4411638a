//! Futures run as processes (Elixir's `Task` and `Task.Supervisor`).
