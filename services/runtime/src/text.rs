//! Japanese text handling shared by every service.

use unicode_normalization::UnicodeNormalization;

/// NFKC normalisation: half-width kana become full-width, full-width digits and letters become
/// ASCII. Everything that is matched or searched is stored in this form.
pub fn nfkc(input: &str) -> String {
    input.nfkc().collect()
}

/// NFKC, trimmed; `None` when nothing is left.
pub fn normalised_non_empty(input: &str) -> Option<String> {
    let normalised = nfkc(input).trim().to_string();
    (!normalised.is_empty()).then_some(normalised)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_width_kana_become_full_width() {
        assert_eq!(nfkc("ｵｵｶﾞｷｼ"), "オオガキシ");
        assert_eq!(nfkc("ＡＢＣ１２３"), "ABC123");
    }

    #[test]
    fn blank_is_none() {
        assert_eq!(normalised_non_empty(" \u{3000} "), None);
        assert_eq!(normalised_non_empty(" ｺﾞﾐ出し "), Some("ゴミ出し".into()));
    }
}
