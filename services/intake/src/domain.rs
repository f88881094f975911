//! A need as intake accepts it.

use sha2::{Digest, Sha256};
use tsunagu_runtime::MunicipalityCode;
use tsunagu_runtime::error::{ServiceResult, Violations};
use tsunagu_runtime::{taxonomy, text};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    Routine,
    Urgent,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Routine => "routine",
            Urgency::Urgent => "urgent",
        }
    }

    pub fn parse(stored: &str) -> Urgency {
        if stored == "urgent" {
            Urgency::Urgent
        } else {
            Urgency::Routine
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewNeed {
    pub request_id: String,
    pub municipality_code: MunicipalityCode,
    pub area_id: Uuid,
    pub category: String,
    pub urgency: Urgency,
    /// The resident the need is for (pseudonymous id), if known.
    pub resident_id: Option<Uuid>,
}

pub struct NeedInput<'a> {
    pub request_id: &'a str,
    pub municipality_code: &'a str,
    pub area_id: &'a str,
    pub category: &'a str,
    pub urgency: Option<Urgency>,
    /// Empty when the need is not (yet) tied to a registered resident.
    pub resident_id: &'a str,
}

pub const MAX_REQUEST_ID_CHARS: usize = 128;

impl NewNeed {
    pub fn parse(input: NeedInput<'_>) -> ServiceResult<NewNeed> {
        let mut violations = Violations::new();
        let request_id = input.request_id.trim();
        if request_id.is_empty() || request_id.chars().count() > MAX_REQUEST_ID_CHARS {
            violations.add(
                "request_id",
                format!("リクエストIDは1〜{MAX_REQUEST_ID_CHARS}文字です（再送時も同じ値を使います） / request_id must be 1–{MAX_REQUEST_ID_CHARS} characters"),
            );
        }
        let municipality_code = violations.check(
            "municipality_code",
            MunicipalityCode::parse_known(input.municipality_code),
        );
        let area_id = violations.check(
            "area_id",
            input.area_id.trim().parse::<Uuid>().map_err(|_| "区域IDを指定してください（レジストリの区域ID） / area_id must be an area id from the registry"),
        );
        // A bundled category given by its Japanese name (ゴミ出し) is stored as its code
        // (life.garbage), the form resources are registered under; anything else is kept as
        // given (a municipality's own category code).
        let category = text::normalised_non_empty(input.category).map(|category| {
            taxonomy::resolve_bundled(&category).map_or(category, |entry| entry.code.clone())
        });
        if category.is_none() {
            violations.add(
                "category",
                "カテゴリを入力してください（例: ゴミ出し） / category is required",
            );
        }
        let resident_id = match input.resident_id.trim() {
            "" => None,
            raw => violations.check(
                "resident_id",
                raw.parse::<Uuid>()
                    .map_err(|_| "利用者IDの形式が不正です / resident_id must be a resident id"),
            ),
        };
        violations.into_result()?;
        Ok(NewNeed {
            request_id: request_id.to_string(),
            municipality_code: municipality_code.expect("checked"),
            area_id: area_id.expect("checked"),
            category: category.expect("checked"),
            urgency: input.urgency.unwrap_or(Urgency::Routine),
            resident_id,
        })
    }

    /// Identifies the content of the request, so a retry can be told from a reuse of its id.
    pub fn fingerprint(&self) -> String {
        use std::fmt::Write;
        let mut canonical = format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.municipality_code,
            self.area_id,
            self.category,
            self.urgency.as_str()
        );
        // Appended only when present, so needs submitted before residents existed keep
        // their fingerprints (and their retries stay retries).
        if let Some(resident_id) = self.resident_id {
            let _ = write!(canonical, "\u{1f}resident:{resident_id}");
        }
        let digest = Sha256::digest(canonical.as_bytes());
        digest.iter().fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsunagu_runtime::ServiceError;

    fn input<'a>(code: &'a str, category: &'a str) -> NeedInput<'a> {
        NeedInput {
            request_id: "r-1",
            municipality_code: code,
            area_id: "0192f0c4-0000-7000-8000-000000000001",
            category,
            urgency: None,
            resident_id: "",
        }
    }

    #[test]
    fn the_same_content_has_the_same_fingerprint() {
        let a = NewNeed::parse(input("212024", "ゴミ出し")).unwrap();
        let b = NewNeed::parse(input("212024", "ｺﾞﾐ出し")).unwrap();
        let c = NewNeed::parse(input("212024", "買い物支援")).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(a.urgency, Urgency::Routine);
    }

    #[test]
    fn unknown_municipality_and_empty_category_are_named() {
        let error = NewNeed::parse(input("999997", " ")).unwrap_err();
        let ServiceError::InvalidArgument(violations) = error else {
            panic!()
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["municipality_code", "category"]);
    }
}
