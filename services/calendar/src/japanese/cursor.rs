//! Normalising the text and walking through it.

use crate::error::clip;

/// Full-width ASCII to ASCII (the part of NFKC that matters here), dashes and waves to `〜`,
/// other brackets to parentheses, ASCII letters to lower case, and whitespace runs to one space.
pub(super) fn normalize(text: &str) -> Vec<char> {
    let text = text.replace("祝祭日", "祝日").replace("祭日", "祝日");
    let mut out: Vec<char> = Vec::with_capacity(text.len());
    for c in text.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            _ => c,
        };
        let c = match c {
            '〜' | '~' | '-' | '–' | '—' | 'ー' | '−' | '‐' | '‑' | '―' | '〰' => '〜',
            '･' | '·' => '・',
            '【' | '「' | '[' | '〔' | '『' => '(',
            '】' | '」' | ']' | '〕' | '』' => ')',
            c if c.is_whitespace() => ' ',
            c => c.to_ascii_lowercase(),
        };
        if c == ' ' && out.last().is_none_or(|&last| last == ' ') {
            continue;
        }
        out.push(c);
    }
    while out.last() == Some(&' ') {
        out.pop();
    }
    out
}

/// A position in the normalised text. Every look and every eat skips spaces first, so spaces
/// are allowed anywhere between tokens.
pub(super) struct Cursor {
    pub(super) chars: Vec<char>,
    pub(super) pos: usize,
}

impl Cursor {
    pub(super) fn skip_spaces(&mut self) {
        while self.chars.get(self.pos) == Some(&' ') {
            self.pos += 1;
        }
    }

    pub(super) fn peek(&mut self) -> Option<char> {
        self.skip_spaces();
        self.chars.get(self.pos).copied()
    }

    pub(super) fn looking_at(&mut self, literal: &str) -> bool {
        self.skip_spaces();
        (self.pos..)
            .zip(literal.chars())
            .all(|(i, c)| self.chars.get(i) == Some(&c))
    }

    pub(super) fn eat(&mut self, literal: &str) -> bool {
        if self.looking_at(literal) {
            self.pos += literal.chars().count();
            true
        } else {
            false
        }
    }

    pub(super) fn eat_any(&mut self, literals: &[&str]) -> bool {
        literals.iter().any(|literal| self.eat(literal))
    }

    pub(super) fn looking_at_digit(&mut self) -> bool {
        self.peek().is_some_and(|c| c.is_ascii_digit())
    }

    /// A run of ASCII digits, saturating instead of overflowing (callers check ranges).
    pub(super) fn number(&mut self) -> Option<u64> {
        self.skip_spaces();
        let mut value: Option<u64> = None;
        while let Some(digit) = self.chars.get(self.pos).and_then(|c| c.to_digit(10)) {
            value = Some(
                value
                    .unwrap_or(0)
                    .saturating_mul(10)
                    .saturating_add(u64::from(digit)),
            );
            self.pos += 1;
        }
        value
    }

    /// The text from `start`, for quoting in error messages.
    pub(super) fn quote(&self, start: usize) -> String {
        let text: String = self.chars.get(start..).unwrap_or_default().iter().collect();
        let text = clip(text.trim(), 24);
        if text.is_empty() {
            "（なし）".to_owned()
        } else {
            text
        }
    }
}
