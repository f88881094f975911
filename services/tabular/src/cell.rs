//! A cell to write: text (the default, so codes keep their leading zeros) or a number, for
//! the columns a spreadsheet must be able to add up (counts of the gap map).

use std::borrow::Cow;

/// One cell of a sheet to write with [`crate::write_xlsx_cells`] or [`crate::write_csv_cells`].
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Stored as text in .xlsx (guarded against formula injection like every text cell).
    Text(String),
    /// Stored as a number in .xlsx, so that `SUM` counts it; written in its plainest form in
    /// CSV ("3", "-0.5").
    Number(f64),
}

impl Cell {
    /// The cell as CSV carries it.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(text) => Cow::Borrowed(text),
            Cell::Number(number) => Cow::Owned(number_text(*number)),
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::Text(text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::Text(text.to_string())
    }
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl From<$t> for Cell {
            fn from(number: $t) -> Cell {
                Cell::Number(number as f64)
            }
        }
    )*};
}
numbers!(i32, i64, u32, u64, usize, f64);

/// What the writers need of a cell: [`Cell`], or a plain `String` (always text).
pub(crate) trait CellValue {
    fn value(&self) -> Value<'_>;
}

pub(crate) enum Value<'a> {
    Text(&'a str),
    Number(f64),
}

impl CellValue for String {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl CellValue for Cell {
    fn value(&self) -> Value<'_> {
        match self {
            Cell::Text(text) => Value::Text(text),
            Cell::Number(number) => Value::Number(*number),
        }
    }
}

/// Rust's shortest round-trip form, never "-0": what the xlsx reader gives back for a number.
pub(crate) fn number_text(number: f64) -> String {
    if number == 0.0 {
        "0".to_owned()
    } else {
        number.to_string()
    }
}
