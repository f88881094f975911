//! Schedules of community resources (placeholder; see the crate description).
