//! The audit trail of intake: the shared one (`tsunagu_runtime::audit`) over intake's
//! `audit_entry` table (migration 108).

pub use tsunagu_runtime::audit::*;
