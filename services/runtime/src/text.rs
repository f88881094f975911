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

/// The key two strings are compared by when a coordinator searches or names something:
/// NFKC, lower case, katakana as hiragana. The registry's SQL function `search_fold` computes
/// the same key, so Rust and SQL agree on what matches.
pub fn search_fold(input: &str) -> String {
    nfkc(input)
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            // ァ (U+30A1) … ヶ (U+30F6) sit 0x60 above their hiragana.
            '\u{30A1}'..='\u{30F6}' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_fold_ignores_script_width_and_case() {
        assert_eq!(search_fold("ごみだし"), search_fold("ｺﾞﾐﾀﾞｼ"));
        assert_eq!(search_fold("ヴ"), "ゔ");
        assert_eq!(search_fold("ＳＡＬＯＮ"), "salon");
    }

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
