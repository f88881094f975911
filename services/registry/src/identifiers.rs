//! Identifiers of organisations, checked the way their issuers define them.

use tsunagu_runtime::text;

/// 法人番号 (corporate number, 国税庁): 13 digits, the first a check digit over the other 12.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorporateNumber(String);

impl CorporateNumber {
    /// Accepts full-width digits, spaces and hyphens as people type them.
    pub fn parse(input: &str) -> Result<CorporateNumber, String> {
        let digits: String = text::nfkc(input)
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        if digits.len() != 13 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "法人番号は13桁の数字です（入力: {input:?}） / a corporate number is 13 digits"
            ));
        }
        let values: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
        let expected = check_digit(&values[1..]);
        if values[0] != expected {
            return Err(format!(
                "法人番号 {digits} の検査数字（先頭の1桁）が誤っています（正しくは {expected}） / the check digit is wrong, expected {expected}"
            ));
        }
        Ok(CorporateNumber(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 9 − (Σ Pn·Qn mod 9), Pn the n-th digit of the base counted from the right, Qn 1 for odd n
/// and 2 for even n (国税庁「法人番号の指定について」).
fn check_digit(base: &[u32]) -> u32 {
    let sum: u32 = base
        .iter()
        .rev()
        .enumerate()
        .map(|(i, digit)| digit * if i % 2 == 0 { 1 } else { 2 })
        .sum();
    9 - sum % 9
}

/// 介護保険事業所番号: 10 digits, the first two the prefecture's JIS X 0401 code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CareProviderNumber(String);

impl CareProviderNumber {
    pub fn parse(input: &str) -> Result<CareProviderNumber, String> {
        let digits: String = text::nfkc(input)
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        if digits.len() != 10 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "介護保険事業所番号は10桁の数字です（入力: {input:?}） / a care provider number is 10 digits"
            ));
        }
        let prefecture: u32 = digits[..2].parse().unwrap_or(0);
        if !(1..=47).contains(&prefecture) {
            return Err(format!(
                "介護保険事業所番号の先頭2桁は都道府県コード（01〜47）です（入力: {digits}） / must start with a prefecture code"
            ));
        }
        Ok(CareProviderNumber(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corporate_numbers_with_the_right_check_digit_are_accepted() {
        // トヨタ自動車株式会社, 国税庁 (published numbers).
        assert_eq!(
            CorporateNumber::parse("1180301018771").unwrap().as_str(),
            "1180301018771"
        );
        assert_eq!(
            CorporateNumber::parse("７０００-０１２０-５０００２")
                .unwrap()
                .as_str(),
            "7000012050002"
        );
    }

    #[test]
    fn a_wrong_check_digit_is_refused_with_the_right_one() {
        let error = CorporateNumber::parse("2180301018771").unwrap_err();
        assert!(
            error.contains("検査数字") && error.contains("正しくは 1"),
            "{error}"
        );
        assert!(
            CorporateNumber::parse("118030101877")
                .unwrap_err()
                .contains("13桁")
        );
    }

    #[test]
    fn care_provider_numbers_start_with_a_prefecture() {
        assert_eq!(
            CareProviderNumber::parse("2170400123").unwrap().as_str(),
            "2170400123"
        );
        assert!(
            CareProviderNumber::parse("9970400123")
                .unwrap_err()
                .contains("都道府県")
        );
        assert!(CareProviderNumber::parse("21704").unwrap_err().contains("10桁"));
    }
}
