//! The one error type of the crate.

use std::fmt;

/// What is wrong with a schedule, and where.
///
/// `part` names the field or the piece of input at fault, so that a form can show the message
/// next to the right box. The parts used are `"rrule"`, `"opens_at"`, `"closes_at"`,
/// `"valid_from"`, `"valid_to"`, `"except_holidays"`, `"include_holidays"` and `"phrase"`
/// (Japanese text that could not be read at all).
///
/// `message` is Japanese, then `" / "`, then English: the people who read it are coordinators
/// (Japanese) and developers (either), and one string serves both without a lookup table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    /// Which field or piece of input is wrong (see the type's documentation for the list).
    pub part: &'static str,
    /// What is wrong, in Japanese then English, quoting the offending input when there is some.
    pub message: String,
}

impl ScheduleError {
    pub(crate) fn new(part: &'static str, message: impl Into<String>) -> Self {
        ScheduleError {
            part,
            message: message.into(),
        }
    }
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.part, self.message)
    }
}

impl std::error::Error for ScheduleError {}

/// At most `max` characters of `s`, with an ellipsis when cut, so that an error message quoting
/// user input stays readable whatever was pasted into the form.
pub(crate) fn clip(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}
