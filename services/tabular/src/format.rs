//! Which of the two formats a file is in.

/// The file formats coordinators keep their lists in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Comma-separated text, UTF-8 (with or without BOM) or Shift_JIS.
    Csv,
    /// An Excel workbook (Office Open XML, .xlsx).
    Xlsx,
}

impl Format {
    /// The format of `bytes`, judged by content alone: file names get lost or lie (a workbook
    /// renamed to .csv), contents do not. An .xlsx is a ZIP archive, which starts with
    /// "PK\x03\x04"; anything else is taken for text.
    pub fn detect(bytes: &[u8]) -> Format {
        if bytes.starts_with(b"PK\x03\x04") {
            Format::Xlsx
        } else {
            Format::Csv
        }
    }

    /// The format a file name announces: ".csv" or ".xlsx", in any case ("名簿.CSV"), or
    /// `None` for anything else, so the caller can fall back to [`Format::detect`].
    pub fn from_file_name(name: &str) -> Option<Format> {
        let (_, extension) = name.rsplit_once('.')?;
        if extension.eq_ignore_ascii_case("csv") {
            Some(Format::Csv)
        } else if extension.eq_ignore_ascii_case("xlsx") {
            Some(Format::Xlsx)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_zip_as_xlsx() {
        assert_eq!(Format::detect(b"PK\x03\x04rest"), Format::Xlsx);
        assert_eq!(Format::detect("名前,住所\r\n".as_bytes()), Format::Csv);
        assert_eq!(Format::detect(b""), Format::Csv);
        assert_eq!(Format::detect(b"PK"), Format::Csv);
    }

    #[test]
    fn file_names_in_any_case() {
        assert_eq!(Format::from_file_name("名簿.csv"), Some(Format::Csv));
        assert_eq!(
            Format::from_file_name("C:\\Users\\職員\\名簿.CSV"),
            Some(Format::Csv)
        );
        assert_eq!(Format::from_file_name("list.XLSX"), Some(Format::Xlsx));
        assert_eq!(Format::from_file_name("list.Xlsx"), Some(Format::Xlsx));
        assert_eq!(Format::from_file_name("list.xls"), None);
        assert_eq!(Format::from_file_name("list.csv.txt"), None);
        assert_eq!(Format::from_file_name("csv"), None);
        assert_eq!(Format::from_file_name(""), None);
    }
}
