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
            return Err(MunicipalityCodeError::NotSixDigits(input.to_string()));
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

const OFFICIAL_CSV: &str = include_str!("../data/municipalities.csv");

/// The official list, parsed once. Kana are converted from half-width to full-width (NFKC).
pub fn official_list() -> &'static HashMap<MunicipalityCode, OfficialEntry> {
    static LIST: OnceLock<HashMap<MunicipalityCode, OfficialEntry>> = OnceLock::new();
    LIST.get_or_init(|| {
        OFFICIAL_CSV
            .lines()
            .skip(1)
            .filter(|line| !line.trim().is_empty())
            .filter_map(|line| {
                let columns: Vec<&str> = line.split(',').collect();
                let [code, prefecture, city, prefecture_kana, city_kana] = columns[..] else {
                    return None;
                };
                let code = MunicipalityCode::parse(code).ok()?;
                Some((
                    code.clone(),
                    OfficialEntry {
                        code,
                        prefecture: prefecture.to_string(),
                        city: city.to_string(),
                        prefecture_kana: crate::text::nfkc(prefecture_kana),
                        city_kana: crate::text::nfkc(city_kana),
                    },
                ))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_valid_code_missing_from_the_list_is_unknown() {
        // 999997 has a correct check digit but names no local government.
        assert!(MunicipalityCode::parse("999997").is_ok());
        assert!(matches!(
            MunicipalityCode::parse_known("999997"),
            Err(MunicipalityCodeError::Unknown(_))
        ));
    }
}
