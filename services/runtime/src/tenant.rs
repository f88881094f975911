//! The tenant of every row and event: a municipality, named by its 全国地方公共団体コード.
//!
//! A code is six digits: five of JIS X 0402 and a check digit. [`MunicipalityCode::parse`]
//! verifies the check digit; [`MunicipalityCode::parse_known`] also requires the code to be in
//! the official list shipped with the project (`data/municipalities.csv`).

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MunicipalityCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MunicipalityCodeError {
    #[error("全国地方公共団体コードは6桁の数字です（入力: {0:?}） / a local government code is six digits")]
    NotSixDigits(String),
    #[error(
        "全国地方公共団体コード {code} の検査数字が誤っています（正しくは {expected}） / check digit of {code} is wrong, expected {expected}"
    )]
    WrongCheckDigit { code: String, expected: u32 },
    #[error(
        "全国地方公共団体コード {0} は公式一覧にありません / {0} is not in the official list of local government codes"
    )]
    Unknown(String),
    #[error(
        "{0} は都道府県のコードです。市区町村のコードを指定してください / {0} is a prefecture's code; a municipality's is required"
    )]
    NotAMunicipality(String),
}

/// One row of the official list.
#[derive(Debug, Clone)]
pub struct OfficialEntry {
    pub code: MunicipalityCode,
    pub prefecture: String,
    /// Empty for a prefecture itself.
    pub city: String,
    pub prefecture_kana: String,
    pub city_kana: String,
}

impl OfficialEntry {
    pub fn is_prefecture(&self) -> bool {
        self.city.is_empty()
    }

    /// The official name: the city, or the prefecture for a prefecture's own row.
    pub fn name(&self) -> &str {
        if self.is_prefecture() {
            &self.prefecture
        } else {
            &self.city
        }
    }

    pub fn name_kana(&self) -> &str {
        if self.is_prefecture() {
            &self.prefecture_kana
        } else {
            &self.city_kana
        }
    }

    /// The code of this entry's prefecture among `entries` (an imported file).
    pub fn prefecture_code_in(&self, entries: &[&OfficialEntry]) -> String {
        let prefix = &self.code.as_str()[..2];
        entries
            .iter()
            .find(|entry| entry.is_prefecture() && entry.code.as_str().starts_with(prefix))
            .map_or_else(
                || self.prefecture_code().as_str().to_string(),
                |entry| entry.code.as_str().to_string(),
            )
    }

    /// The prefecture's own code (its JIS X 0401 number followed by 0001 with check digit).
    pub fn prefecture_code(&self) -> MunicipalityCode {
        let prefix = &self.code.as_str()[..2];
        official_list()
            .values()
            .find(|entry| entry.is_prefecture() && entry.code.as_str().starts_with(prefix))
            .map(|entry| entry.code.clone())
            .unwrap_or_else(|| self.code.clone())
    }
}

impl MunicipalityCode {
    /// Accepts six ASCII digits (full-width digits are normalised first) with a correct check digit.
    pub fn parse(input: &str) -> Result<MunicipalityCode, MunicipalityCodeError> {
        let normalised: String = crate::text::nfkc(input).trim().to_string();
        let digits: Vec<u32> = normalised.chars().filter_map(|c| c.to_digit(10)).collect();
        if normalised.chars().count() != 6 || digits.len() != 6 {
            // What was given, cut short: a refusal never repeats a long value.
            return Err(MunicipalityCodeError::NotSixDigits(
                input.chars().take(20).collect(),
            ));
        }
        let expected = check_digit(&digits[..5]);
        if digits[5] != expected {
            return Err(MunicipalityCodeError::WrongCheckDigit {
                code: normalised,
                expected,
            });
        }
        Ok(MunicipalityCode(normalised))
    }

    /// Like [`parse`](Self::parse), and the code must be in the official list.
    pub fn parse_known(input: &str) -> Result<MunicipalityCode, MunicipalityCodeError> {
        let code = MunicipalityCode::parse(input)?;
        if official_list().contains_key(&code) {
            Ok(code)
        } else {
            Err(MunicipalityCodeError::Unknown(code.0))
        }
    }

    /// Like [`parse_known`](Self::parse_known), and the code must be a municipality's (or a
    /// ward's), not a prefecture's: for what only a municipality has (its own categories, its
    /// freshness period).
    pub fn parse_municipality(input: &str) -> Result<MunicipalityCode, MunicipalityCodeError> {
        let code = MunicipalityCode::parse_known(input)?;
        if code.official().is_some_and(OfficialEntry::is_prefecture) {
            Err(MunicipalityCodeError::NotAMunicipality(code.0))
        } else {
            Ok(code)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn official(&self) -> Option<&'static OfficialEntry> {
        official_list().get(self)
    }
}

impl std::fmt::Display for MunicipalityCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for MunicipalityCode {
    type Error = MunicipalityCodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        MunicipalityCode::parse(&value)
    }
}

impl From<MunicipalityCode> for String {
    fn from(code: MunicipalityCode) -> String {
        code.0
    }
}

/// S = 6·d1 + 5·d2 + 4·d3 + 3·d4 + 2·d5; check digit = (11 − S mod 11) mod 10.
fn check_digit(first_five: &[u32]) -> u32 {
    let sum: u32 = first_five.iter().zip([6, 5, 4, 3, 2]).map(|(d, w)| d * w).sum();
    (11 - sum % 11) % 10
}

/// The official list shipped with the project (総務省, as published; see `data/`).
pub const BUNDLED_OFFICIAL_LIST: &str = include_str!("../data/municipalities.csv");

/// The official list shipped with the project, parsed once. Kana are full-width (NFKC).
pub fn official_list() -> &'static HashMap<MunicipalityCode, OfficialEntry> {
    static LIST: OnceLock<HashMap<MunicipalityCode, OfficialEntry>> = OnceLock::new();
    LIST.get_or_init(|| {
        // The bundled file is checked by a test to parse without a single rejected row.
        let parsed = parse_official_csv(BUNDLED_OFFICIAL_LIST.as_bytes()).unwrap_or_default();
        parsed
            .entries
            .into_iter()
            .map(|entry| (entry.code.clone(), entry))
            .collect()
    })
}

/// The official list's columns, in order (総務省「全国地方公共団体コード」).
pub const OFFICIAL_COLUMNS: [&str; 5] = ["code", "prefecture", "city", "prefecture_kana", "city_kana"];

/// A rejected row of an imported file: where, and why, in words a coordinator understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// Line in the file, the header being line 1.
    pub row: usize,
    /// The column at fault, empty when the row as a whole is.
    pub column: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct OfficialParse {
    /// Valid rows, in file order.
    pub entries: Vec<OfficialEntry>,
    /// The line of each entry, for problems found later (e.g. when it is stored).
    pub entry_rows: Vec<usize>,
    pub rejected: Vec<RowProblem>,
}

/// Reads an official list in the published columns. Valid rows are kept and every invalid one
/// is reported; only a file that cannot be read at all (not UTF-8, other columns) is an error.
/// Half-width kana become full-width, names and codes are NFKC-normalised.
pub fn parse_official_csv(data: &[u8]) -> Result<OfficialParse, String> {
    let text = std::str::from_utf8(data).map_err(|_| {
        "ファイルがUTF-8ではありません（Shift_JISの場合はUTF-8で保存し直してください） / the file is not UTF-8"
            .to_string()
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|error| format!("見出し行を読めません / cannot read the header: {error}"))?
        .iter()
        .map(|column| crate::text::nfkc(column).trim().to_lowercase())
        .collect();
    if header != OFFICIAL_COLUMNS {
        return Err(format!(
            "列は {} の順に並べてください（見出し: {}） / expected the columns {}",
            OFFICIAL_COLUMNS.join(","),
            header.join(","),
            OFFICIAL_COLUMNS.join(",")
        ));
    }

    let mut parsed = OfficialParse::default();
    let mut seen: HashMap<MunicipalityCode, usize> = HashMap::new();
    for (index, record) in reader.records().enumerate() {
        let row = index + 2;
        let problem = |column: &str, reason: String| RowProblem {
            row,
            column: column.into(),
            reason,
        };
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                parsed
                    .rejected
                    .push(problem("", format!("行を読めません / unreadable row: {error}")));
                continue;
            }
        };
        if record.iter().all(|field| field.trim().is_empty()) {
            continue;
        }
        if record.len() != OFFICIAL_COLUMNS.len() {
            parsed.rejected.push(problem(
                "",
                format!(
                    "{}列必要ですが{}列です / expected 5 columns, found {}",
                    5,
                    record.len(),
                    record.len()
                ),
            ));
            continue;
        }
        let field = |i: usize| crate::text::nfkc(&record[i]).trim().to_string();
        let code = match MunicipalityCode::parse(&record[0]) {
            Ok(code) => code,
            Err(error) => {
                parsed.rejected.push(problem("code", error.to_string()));
                continue;
            }
        };
        if let Some(first) = seen.get(&code) {
            parsed.rejected.push(problem(
                "code",
                format!("{code} は{first}行目と重複しています / duplicate of row {first}"),
            ));
            continue;
        }
        let (prefecture, city) = (field(1), field(2));
        let is_prefecture_code = &code.as_str()[2..5] == "000";
        if prefecture.is_empty() {
            parsed.rejected.push(problem(
                "prefecture",
                "都道府県名がありません / prefecture is empty".into(),
            ));
            continue;
        }
        if city.is_empty() != is_prefecture_code {
            let reason = if city.is_empty() {
                format!("{code} は市区町村のコードですが市区町村名がありません / city is empty")
            } else {
                format!(
                    "{code} は都道府県のコードですが市区町村名があります / a prefecture's code with a city name"
                )
            };
            parsed.rejected.push(problem("city", reason));
            continue;
        }
        seen.insert(code.clone(), row);
        parsed.entries.push(OfficialEntry {
            code,
            prefecture,
            city,
            prefecture_kana: field(3),
            city_kana: field(4),
        });
        parsed.entry_rows.push(row);
    }

    // A municipality needs its prefecture's row in the same file.
    let prefectures: Vec<String> = parsed
        .entries
        .iter()
        .filter(|entry| entry.is_prefecture())
        .map(|entry| entry.code.as_str()[..2].to_string())
        .collect();
    let mut kept = OfficialParse {
        rejected: parsed.rejected,
        ..OfficialParse::default()
    };
    for (entry, row) in parsed.entries.into_iter().zip(parsed.entry_rows) {
        if !entry.is_prefecture() && !prefectures.contains(&entry.code.as_str()[..2].to_string()) {
            kept.rejected.push(RowProblem {
                row,
                column: "code".into(),
                reason: format!(
                    "都道府県 {} の行がファイルにありません / the file has no row for this prefecture",
                    &entry.code.as_str()[..2]
                ),
            });
            continue;
        }
        kept.entries.push(entry);
        kept.entry_rows.push(row);
    }
    kept.rejected.sort_by_key(|problem| problem.row);
    Ok(kept)
}

/// The designated city (政令指定都市) a ward belongs to: a city of the same prefecture whose
/// name the ward's name extends, e.g. 札幌市 for 札幌市中央区. `None` for every other entry
/// (東京都's special wards are municipalities in their own right).
pub fn designated_city_of<'a>(
    entry: &OfficialEntry,
    candidates: impl IntoIterator<Item = &'a OfficialEntry>,
) -> Option<&'a OfficialEntry> {
    if !entry.city.ends_with('区') {
        return None;
    }
    candidates.into_iter().find(|city| {
        city.code.as_str()[..2] == entry.code.as_str()[..2]
            && city.city.ends_with('市')
            && city.city.len() < entry.city.len()
            && entry.city.starts_with(&city.city)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefecture_is_not_a_municipality() {
        assert_eq!(
            MunicipalityCode::parse_municipality("210005").unwrap_err(),
            MunicipalityCodeError::NotAMunicipality("210005".into())
        );
        assert_eq!(
            MunicipalityCode::parse_municipality("212024").unwrap().as_str(),
            "212024"
        );
        let long = "9".repeat(10_000);
        assert!(MunicipalityCode::parse(&long).unwrap_err().to_string().len() < 200);
    }

    #[test]
    fn accepts_codes_with_the_right_check_digit() {
        assert_eq!(MunicipalityCode::parse("212024").unwrap().as_str(), "212024"); // 大垣市
        assert_eq!(MunicipalityCode::parse("402303").unwrap().as_str(), "402303"); // 糸島市
        assert_eq!(
            MunicipalityCode::parse("２１２０２４").unwrap().as_str(),
            "212024"
        );
    }

    #[test]
    fn rejects_a_wrong_check_digit_and_says_which_is_right() {
        let error = MunicipalityCode::parse("212025").unwrap_err();
        assert_eq!(
            error,
            MunicipalityCodeError::WrongCheckDigit {
                code: "212025".into(),
                expected: 4
            }
        );
        assert!(error.to_string().contains("検査数字"));
    }

    #[test]
    fn rejects_what_is_not_six_digits() {
        for input in ["", "21202", "2120245", "21202a", "21 202"] {
            assert!(matches!(
                MunicipalityCode::parse(input),
                Err(MunicipalityCodeError::NotSixDigits(_))
            ));
        }
    }

    #[test]
    fn official_list_holds_every_row_and_full_width_kana() {
        let list = official_list();
        assert_eq!(list.len(), 1788);
        let ogaki = MunicipalityCode::parse_known("212024").unwrap();
        let entry = ogaki.official().unwrap();
        assert_eq!(entry.name(), "大垣市");
        assert_eq!(entry.name_kana(), "オオガキシ");
        assert_eq!(entry.prefecture_code().as_str(), "210005");
    }

    #[test]
    fn the_bundled_list_parses_without_a_rejected_row() {
        let parsed = parse_official_csv(BUNDLED_OFFICIAL_LIST.as_bytes()).unwrap();
        assert_eq!(parsed.rejected, []);
        assert_eq!(parsed.entries.len(), 1788);
    }

    #[test]
    fn bad_rows_are_reported_and_good_rows_kept() {
        let file = "\u{feff}code,prefecture,city,prefecture_kana,city_kana\n\
                    210005,岐阜県,,ｷﾞﾌｹﾝ,\n\
                    212024,岐阜県,大垣市,ｷﾞﾌｹﾝ,ｵｵｶﾞｷｼ\n\
                    212025,岐阜県,大垣市,ｷﾞﾌｹﾝ,ｵｵｶﾞｷｼ\n\
                    212024,岐阜県,大垣市,ｷﾞﾌｹﾝ,ｵｵｶﾞｷｼ\n\
                    212016,岐阜県,,ｷﾞﾌｹﾝ,\n\
                    011002,北海道,札幌市,ﾎｯｶｲﾄﾞｳ,ｻｯﾎﾟﾛｼ\n\
                    212016,岐阜県\n";
        let parsed = parse_official_csv(file.as_bytes()).unwrap();
        let codes: Vec<&str> = parsed.entries.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["210005", "212024"]);
        assert_eq!(parsed.entries[1].city_kana, "オオガキシ");
        let problems: Vec<(usize, &str)> = parsed
            .rejected
            .iter()
            .map(|p| (p.row, p.column.as_str()))
            .collect();
        assert_eq!(
            problems,
            [(4, "code"), (5, "code"), (6, "city"), (7, "code"), (8, "")]
        );
        assert!(parsed.rejected[0].reason.contains("検査数字"));
        assert!(parsed.rejected[1].reason.contains("3行目"));
    }

    #[test]
    fn a_file_with_other_columns_or_encoding_is_refused_as_a_whole() {
        assert!(
            parse_official_csv(b"code,name\n212024,x\n")
                .unwrap_err()
                .contains("code,prefecture")
        );
        assert!(
            parse_official_csv(&[0x82, 0xa0, 0x0a])
                .unwrap_err()
                .contains("UTF-8")
        );
    }

    #[test]
    fn wards_belong_to_their_designated_city_and_tokyos_special_wards_do_not() {
        // The bundled list has no wards of designated cities; a newer official file may.
        let list = official_list();
        let entry = |code: &str| &list[&MunicipalityCode::parse(code).unwrap()];
        let chuo = OfficialEntry {
            code: MunicipalityCode::parse("011011").unwrap(),
            prefecture: "北海道".into(),
            city: "札幌市中央区".into(),
            prefecture_kana: "ホッカイドウ".into(),
            city_kana: "サッポロシチュウオウク".into(),
        };
        assert_eq!(
            designated_city_of(&chuo, list.values()).map(|c| c.city.as_str()),
            Some("札幌市")
        );
        let chiyoda = entry("131016"); // 千代田区
        assert!(designated_city_of(chiyoda, list.values()).is_none());
        assert!(designated_city_of(entry("212024"), list.values()).is_none());
    }

    #[test]
    fn a_valid_code_missing_from_the_list_is_unknown() {
        // 999997 has a correct check digit but names no local government.
        assert!(MunicipalityCode::parse("999997").is_ok());
        assert!(matches!(
            MunicipalityCode::parse_known("999997"),
            Err(MunicipalityCodeError::Unknown(_))
        ));
    }
}
