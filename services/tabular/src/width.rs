//! How wide text looks in a spreadsheet column, roughly: East Asian wide characters take two
//! columns, everything else one. Only used to size columns when writing, so "approximately
//! right" is the goal, not Unicode's full East Asian Width table.

/// The width of the widest line of `text`, in half-width character units.
pub(crate) fn display_width(text: &str) -> usize {
    text.lines()
        .map(|line| line.chars().map(char_width).sum())
        .max()
        .unwrap_or(0)
}

/// 2 for characters a Japanese font draws full-width, else 1.
fn char_width(ch: char) -> usize {
    let wide = matches!(ch as u32,
        0x1100..=0x115F        // Hangul jamo
        | 0x2190..=0x21FF      // arrows (→): full-width in Japanese fonts
        | 0x203B               // ※
        | 0x2460..=0x24FF      // ①
        | 0x25A0..=0x27BF      // ■ ○ ★ ✓
        | 0x2E80..=0x303E      // CJK radicals, punctuation, 　「」
        | 0x3041..=0x33FF      // kana, CJK compatibility
        | 0x3400..=0x4DBF      // CJK extension A
        | 0x4E00..=0x9FFF      // CJK unified ideographs
        | 0xA000..=0xA4CF      // Yi
        | 0xAC00..=0xD7A3      // Hangul syllables
        | 0xF900..=0xFAFF      // CJK compatibility ideographs
        | 0xFE30..=0xFE4F      // CJK compatibility forms
        | 0xFF00..=0xFF60      // full-width ASCII (not the half-width kana after it)
        | 0xFFE0..=0xFFE6      // full-width signs (￥)
        | 0x1F300..=0x1F64F    // emoji
        | 0x1F900..=0x1F9FF    // more emoji
        | 0x20000..=0x3FFFD    // CJK extensions B and later
    );
    if wide { 2 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_count_double() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("大垣市"), 6);
        assert_eq!(display_width("ｵｵｶﾞｷ"), 5);
        assert_eq!(display_width("ＵＲＬ①"), 8);
        assert_eq!(display_width("🍙"), 2);
        assert_eq!(display_width("短い\r\nとても長い行"), 12);
        assert_eq!(display_width(""), 0);
    }
}
