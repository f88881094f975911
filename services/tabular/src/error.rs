//! What can go wrong reading or writing a sheet, said so that a coordinator can fix the file.
//!
//! Every message is Japanese first, then English after " / ", as elsewhere in Tsunagu: the
//! Japanese half is shown to coordinators as is, the English half is for logs and developers.
//! Row numbers are the ones Excel shows (header = row 1 when the sheet starts at the top), so a
//! coordinator can go straight to the row.

use thiserror::Error;

/// Why a sheet could not be read or written.
///
/// Non-exhaustive: new kinds of malformed files keep turning up, and a new variant must not
/// break callers that map these to API errors.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TabularError {
    /// The bytes were to be read as .xlsx but are not a readable workbook (not a ZIP, a ZIP
    /// without a workbook in it, broken XML...). `detail` is the reader's own explanation.
    #[error("Excelファイル（.xlsx）として読み取れません / not a readable .xlsx file: {detail}")]
    NotXlsx {
        /// The underlying reader's explanation, in English.
        detail: String,
    },

    /// A legacy .xls workbook or a password-protected .xlsx: both are OLE compound files, which
    /// only Excel itself can open, so the coordinator has to re-save the file.
    #[error(
        "古い形式（.xls）またはパスワード付きのExcelファイルは読み取れません。パスワードを外して .xlsx 形式で保存し直してください / legacy .xls and password-protected workbooks cannot be read: remove the password and save as .xlsx"
    )]
    LegacyOrEncrypted,

    /// CSV was asked for but the bytes are an .xlsx (a ZIP): usually a renamed file. Reading
    /// it as text would only produce mojibake, so say what it is instead.
    #[error("CSVではなくExcelファイル（.xlsx）のようです / this looks like an Excel .xlsx file, not a CSV")]
    XlsxNotCsv,

    /// The workbook holds no worksheet (only chart sheets, or nothing at all).
    #[error("ワークシートがありません / the workbook has no worksheet")]
    NoWorksheet,

    /// The named sheet does not exist (or is not a worksheet).
    #[error("シート「{name}」が見つかりません / there is no worksheet named \"{name}\"")]
    SheetNotFound {
        /// The name that was asked for.
        name: String,
    },

    /// Nothing but empty rows: there is no header row to read.
    #[error("見出しの行がありません（ファイルが空です） / there is no header row: the file is empty")]
    NoHeaders,

    /// Two or more headers are the same once compared the way [`crate::Sheet::column`] compares
    /// them ("URL" and "ＵＲＬ" count as the same), so a lookup by name would be ambiguous.
    #[error(
        "{row}行目の見出しが重複しています: {} / duplicate headers in row {row}: {}",
        quote_ja(.names),
        quote_en(.names)
    )]
    DuplicateHeaders {
        /// The header row.
        row: usize,
        /// Every spelling involved, as written, in order of first appearance.
        names: Vec<String>,
    },

    /// A row has a value to the right of the last header: data nobody can name.
    #[error(
        "{row}行目の{column}列に値がありますが、その列には見出しがありません / row {row} has a value in column {column}, which has no header"
    )]
    RowTooLong {
        /// The row.
        row: usize,
        /// The first column (as Excel letters) holding a value but no header.
        column: String,
    },

    /// More cells than this crate will hold (see `limit`, blank padding included): far beyond
    /// any list kept by hand, and a guard against small uploads built to exhaust memory
    /// (a compressed .xlsx can expand a thousandfold).
    #[error(
        "セルの数が多すぎます（{row}行目で上限の{limit}個を超えました） / too many cells: more than {limit} by row {row}"
    )]
    TooManyCells {
        /// The row being read when the limit was passed.
        row: usize,
        /// The limit.
        limit: usize,
    },

    /// An .xlsx that unpacks to more than a sheet of resources or people could ever need: a
    /// ZIP compresses repeated text a thousandfold, so a small upload can unpack to gigabytes
    /// (a "zip bomb"). `part` is the file inside the archive, or "(全体)" for the archive as a
    /// whole; `limit_mb` the limit in MiB.
    #[error(
        "Excelファイルを展開すると大きすぎます（{part}: 上限 {limit_mb} MB）。不要なシートや書式を削除するか、CSVで保存し直してください / the .xlsx unpacks to more than {limit_mb} MB ({part}): remove unused sheets or formatting, or save as CSV"
    )]
    UnpackedTooLarge {
        /// The part of the archive (e.g. "xl/sharedStrings.xml"), or "(全体)" for the total.
        part: String,
        /// The limit, in MiB.
        limit_mb: u64,
    },

    /// An .xlsx archive with more files in it than any workbook has.
    #[error(
        "Excelファイルの中のファイルが多すぎます（上限 {limit} 個） / the .xlsx holds more than {limit} files"
    )]
    TooManyParts {
        /// The limit.
        limit: usize,
    },

    /// The text is neither UTF-8 nor Shift_JIS (Windows-31J): decoding it would lose characters.
    #[error(
        "{row}行目に読み取れない文字があります（UTF-8でもShift_JISでもありません） / row {row} contains bytes that are neither UTF-8 nor Shift_JIS"
    )]
    Undecodable {
        /// The first row with an undecodable byte.
        row: usize,
    },

    /// UTF-16 text (Excel's "Unicode テキスト", tab-separated) rather than a CSV.
    #[error(
        "UTF-16のテキストには対応していません。「CSV UTF-8（コンマ区切り）」で保存し直してください / UTF-16 text is not supported: save as \"CSV UTF-8 (comma delimited)\""
    )]
    Utf16,

    /// A quoted CSV field never closes, so the rest of the file would silently become one cell.
    #[error(
        "{row}行目で始まる引用符（\"）が閉じられていません / the quote (\") opened in row {row} is never closed"
    )]
    UnclosedQuote {
        /// The row where the unclosed quoted field starts.
        row: usize,
    },

    /// The CSV parser failed. Not expected for in-memory text; kept so that nothing panics.
    #[error("CSVを読み取れません（{row}行目付近） / could not read the CSV near row {row}: {detail}")]
    Csv {
        /// The row being read.
        row: usize,
        /// The parser's explanation.
        detail: String,
    },

    /// A cell holds an Excel error value (#N/A, #REF!...): a broken formula, whose intended
    /// value nobody can guess.
    #[error(
        "{row}行目の{column}列がエラー値 {value} になっています / cell {column}{row} holds the error value {value}"
    )]
    CellError {
        /// The row.
        row: usize,
        /// The column, as Excel letters.
        column: String,
        /// The error value as Excel shows it, e.g. "#N/A".
        value: String,
    },

    /// A cell is longer than Excel allows (32,767 UTF-16 units) and cannot be written.
    #[error(
        "{row}行目の{column}列が長すぎます（Excelのセルは32,767文字まで） / cell {column}{row} is longer than Excel's limit of 32,767 characters"
    )]
    CellTooLong {
        /// The row in the written sheet (header = row 1).
        row: usize,
        /// The column, as Excel letters.
        column: String,
    },

    /// The workbook could not be written (too many rows or columns, ...).
    #[error("Excelファイルを書き出せません / could not write the .xlsx file: {detail}")]
    WriteXlsx {
        /// The writer's explanation, in English.
        detail: String,
    },
}

impl TabularError {
    /// The row the error is about, when there is one: callers put it into per-row reports.
    pub fn row(&self) -> Option<usize> {
        match self {
            Self::DuplicateHeaders { row, .. }
            | Self::RowTooLong { row, .. }
            | Self::TooManyCells { row, .. }
            | Self::Undecodable { row }
            | Self::UnclosedQuote { row }
            | Self::Csv { row, .. }
            | Self::CellError { row, .. }
            | Self::CellTooLong { row, .. } => Some(*row),
            Self::NotXlsx { .. }
            | Self::LegacyOrEncrypted
            | Self::XlsxNotCsv
            | Self::NoWorksheet
            | Self::SheetNotFound { .. }
            | Self::NoHeaders
            | Self::Utf16
            | Self::UnpackedTooLarge { .. }
            | Self::TooManyParts { .. }
            | Self::WriteXlsx { .. } => None,
        }
    }
}

/// 「名前」「URL」 — Japanese quotation brackets around each name.
fn quote_ja(names: &[String]) -> String {
    names.iter().map(|n| format!("「{n}」")).collect()
}

/// "名前", "URL"
fn quote_en(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_japanese_then_english() {
        let e = TabularError::DuplicateHeaders {
            row: 1,
            names: vec!["名前".into(), "URL".into()],
        };
        assert_eq!(
            e.to_string(),
            "1行目の見出しが重複しています: 「名前」「URL」 / duplicate headers in row 1: \"名前\", \"URL\""
        );
        assert_eq!(e.row(), Some(1));
        let e = TabularError::CellError {
            row: 3,
            column: "C".into(),
            value: "#N/A".into(),
        };
        assert_eq!(
            e.to_string(),
            "3行目のC列がエラー値 #N/A になっています / cell C3 holds the error value #N/A"
        );
        assert_eq!(TabularError::NoHeaders.row(), None);
    }
}
