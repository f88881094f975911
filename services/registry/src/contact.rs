//! Contact points of an organisation: how a coordinator reaches it.

use serde::{Deserialize, Serialize};
use tsunagu_runtime::text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    Phone,
    Fax,
    Email,
    Url,
    Address,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPoint {
    pub kind: ContactKind,
    pub value: String,
    /// Whom or what it reaches, e.g. 「事務局」 or 「夜間」.
    pub label: String,
}

const MAX_LABEL_CHARS: usize = 100;
const MAX_ADDRESS_CHARS: usize = 200;

impl ContactPoint {
    /// Normalises (NFKC, trimmed) and checks the value against its kind. The error names the
    /// part at fault: `value` or `label`.
    pub fn parse(
        kind: ContactKind,
        value: &str,
        label: &str,
    ) -> Result<ContactPoint, (&'static str, String)> {
        let value = text::nfkc(value).trim().to_string();
        let label = text::nfkc(label).trim().to_string();
        if label.chars().count() > MAX_LABEL_CHARS {
            return Err((
                "label",
                format!("ラベルは{MAX_LABEL_CHARS}文字以内です / label is too long"),
            ));
        }
        let problem = match kind {
            ContactKind::Phone | ContactKind::Fax => {
                let digits = value.chars().filter(char::is_ascii_digit).count();
                let allowed = value
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '-' | '(' | ')' | '+' | ' '));
                (!allowed || !(10..=15).contains(&digits))
                    .then(|| format!("電話番号は10〜15桁の数字です（例: 0584-00-0000）（入力: {value:?}） / not a phone number"))
            }
            ContactKind::Email => {
                let valid = value.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty()
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }) && value.matches('@').count() == 1
                    && !value.contains(char::is_whitespace);
                (!valid).then(|| {
                    format!(
                        "メールアドレスの形式が正しくありません（入力: {value:?}） / not an e-mail address"
                    )
                })
            }
            ContactKind::Url => {
                let valid = (value.starts_with("https://") || value.starts_with("http://"))
                    && value.len() > "https://".len()
                    && !value.contains(char::is_whitespace);
                (!valid).then(|| {
                    format!(
                        "URLは http:// または https:// で始まります（入力: {value:?}） / not a web address"
                    )
                })
            }
            ContactKind::Address => {
                let count = value.chars().count();
                (count == 0 || count > MAX_ADDRESS_CHARS)
                    .then(|| format!("住所は1〜{MAX_ADDRESS_CHARS}文字です / address must be 1–{MAX_ADDRESS_CHARS} characters"))
            }
        };
        match problem {
            Some(reason) => Err(("value", reason)),
            None => Ok(ContactPoint { kind, value, label }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_normalised_and_checked_by_kind() {
        let phone = ContactPoint::parse(ContactKind::Phone, "０５８４－７８－１１１１", "事務局").unwrap();
        assert_eq!(phone.value, "0584-78-1111");
        assert!(ContactPoint::parse(ContactKind::Email, "info@example.jp", "").is_ok());
        assert!(ContactPoint::parse(ContactKind::Url, "https://example.jp/", "").is_ok());
        assert_eq!(
            ContactPoint::parse(ContactKind::Email, "info@", "")
                .unwrap_err()
                .0,
            "value"
        );
        assert_eq!(
            ContactPoint::parse(ContactKind::Phone, "123", "").unwrap_err().0,
            "value"
        );
        assert_eq!(
            ContactPoint::parse(ContactKind::Url, "example.jp", "")
                .unwrap_err()
                .0,
            "value"
        );
        assert_eq!(
            ContactPoint::parse(ContactKind::Address, " ", "").unwrap_err().0,
            "value"
        );
        assert_eq!(
            ContactPoint::parse(ContactKind::Fax, "0584781111", &"長".repeat(101))
                .unwrap_err()
                .0,
            "label"
        );
    }
}
