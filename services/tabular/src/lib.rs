//! Sheets as coordinators keep them (placeholder; see the crate description).
