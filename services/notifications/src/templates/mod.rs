//! Message templates: version 1 of every key is bundled (`bundled`), an operator adds newer
//! versions (the `template` table) for a scope — a prefecture or a municipality (`scope.rs`);
//! for a municipality's recipients the newest version of (key, locale) in the most specific
//! scope renders (municipality, prefecture, the deployment, then the bundled one), and an
//! English subscriber without an English template gets the Japanese one.
//!
//! A template sees only the variables of its key (`variables_of`): ids, codes and the names
//! of categories and organisations. A resident's proxy (a `…:need` key) sees even less — the
//! need's own progress — and the values are filtered again at rendering, so an operator's
//! template cannot print more than its recipients may read.

mod bundled;
pub mod render;
pub mod scope;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tsunagu_runtime::error::{FieldViolation, ServiceError, ServiceResult};

pub use render::Vars;

pub const LOCALES: [&str; 2] = ["ja", "en"];

/// What the templates of organisations, coordinators and municipal systems may use.
pub const VARIABLES: &[&str] = &[
    "event_type",
    "municipality_code",
    "need_id",
    "proposal_id",
    "resource_id",
    "category",
    "organization",
    "urgent_mark",
    "reason",
    "withdrawal_cause",
    "status",
    "outcome",
    "idle_since",
    "last_verified",
    "freshness_days",
];

/// What the templates for a resident's proxies (`…:need`) may use: how the need goes.
pub const PROXY_VARIABLES: &[&str] = &[
    "event_type",
    "municipality_code",
    "need_id",
    "proposal_id",
    "category",
    "organization",
    "status",
    "outcome",
];

pub const DIGEST_VARIABLES: &[&str] = &["count", "items", "subscriber_name"];

pub fn variables_of(key: &str) -> &'static [&'static str] {
    if key == "digest" {
        DIGEST_VARIABLES
    } else if key.ends_with(":need") {
        PROXY_VARIABLES
    } else {
        VARIABLES
    }
}

#[derive(Debug, Clone)]
pub struct Template {
    pub key: String,
    pub locale: String,
    pub version: i32,
    pub subject: String,
    pub body: String,
    /// None for the bundled version.
    pub created_at: Option<DateTime<Utc>>,
    /// Where this version applies: a prefecture's or a municipality's code, or "" for the
    /// whole deployment (and the bundled version).
    pub scope: String,
}

#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
    pub key: String,
    pub version: i32,
}

fn bundled(key: &str, locale: &str) -> Option<Template> {
    let entry = bundled::BUNDLED.iter().find(|entry| entry.0 == key)?;
    let (subject, body) = match locale {
        "en" => (entry.3, entry.4),
        _ => (entry.1, entry.2),
    };
    Some(Template {
        key: key.to_string(),
        locale: locale.to_string(),
        version: 1,
        subject: subject.to_string(),
        body: body.to_string(),
        created_at: None,
        scope: String::new(),
    })
}

pub fn is_known(key: &str) -> bool {
    bundled::BUNDLED.iter().any(|entry| entry.0 == key)
}

/// The version in use of (key, locale) in the first of `scopes` that has one (most specific
/// first, see [`scope::chain`]), else the bundled one; None if the key has no template (the
/// event is not told to that kind of recipient).
pub async fn current(
    conn: &mut PgConnection,
    key: &str,
    locale: &str,
    scopes: &[String],
) -> ServiceResult<Option<Template>> {
    let stored: Option<(i32, String, String, DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT version, subject, body, created_at, scope FROM template
         WHERE key = $1 AND locale = $2 AND scope = ANY ($3)
         ORDER BY array_position($3, scope), version DESC LIMIT 1",
    )
    .bind(key)
    .bind(locale)
    .bind(scopes)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match stored {
        Some((version, subject, body, created_at, scope)) => Some(Template {
            key: key.to_string(),
            locale: locale.to_string(),
            version,
            subject,
            body,
            created_at: Some(created_at),
            scope,
        }),
        None => bundled(key, locale),
    })
}

/// Renders `key` in `locale` (Japanese when there is no English one) for the recipients of
/// `municipality_code` (its own or its prefecture's version, if any), with the variables its
/// recipients may see.
pub async fn render(
    conn: &mut PgConnection,
    key: &str,
    locale: &str,
    municipality_code: &str,
    vars: &Vars,
) -> ServiceResult<Option<Rendered>> {
    let scopes = scope::chain(municipality_code);
    let template = match current(conn, key, locale, &scopes).await? {
        Some(template) => Some(template),
        None if locale != "ja" => current(conn, key, "ja", &scopes).await?,
        None => None,
    };
    let Some(template) = template else {
        return Ok(None);
    };
    let allowed = variables_of(key);
    let visible: Vars = vars
        .iter()
        .filter(|(name, _)| allowed.contains(name))
        .map(|(name, value)| (*name, value.clone()))
        .collect();
    Ok(Some(Rendered {
        // A value with a line break (an organisation's name, say) must not break the subject
        // into two header lines either: one line, controls as spaces.
        subject: render::render(&template.subject, &visible)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
        body: render::render(&template.body, &visible),
        key: template.key,
        version: template.version,
    }))
}

/// Every (key, locale) as it applies in `scopes` (most specific first).
pub async fn list(conn: &mut PgConnection, scopes: &[String]) -> ServiceResult<Vec<Template>> {
    let mut templates = Vec::new();
    for entry in bundled::BUNDLED {
        for locale in LOCALES {
            if let Some(template) = current(conn, entry.0, locale, scopes).await? {
                templates.push(template);
            }
        }
    }
    Ok(templates)
}

/// Stores a new version of (key, locale) for `scope` (a prefecture's or a municipality's code,
/// "" for the whole deployment), checked against the key's variables.
pub async fn put(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    locale: &str,
    subject: &str,
    body: &str,
    created_by: &str,
) -> ServiceResult<Template> {
    let mut violations = Vec::new();
    if !is_known(key) {
        violations.push((
            "key",
            format!(
                "テンプレート「{key}」はありません（ListTemplates で一覧できます） / unknown template key"
            ),
        ));
    }
    if !LOCALES.contains(&locale) {
        violations.push((
            "locale",
            format!("言語は ja か en です（入力: {locale}） / locale must be ja or en"),
        ));
    }
    if subject.trim().is_empty() {
        violations.push((
            "subject",
            "件名を入力してください / subject is required".to_string(),
        ));
    }
    if body.trim().is_empty() {
        violations.push(("body", "本文を入力してください / body is required".to_string()));
    }
    violations.extend(control_characters(subject, body));
    let allowed = variables_of(key);
    for (field, text) in [("subject", subject), ("body", body)] {
        if let Err(reason) = render::check(text, allowed) {
            violations.push((field, reason));
        }
    }
    if !violations.is_empty() {
        return Err(ServiceError::InvalidArgument(
            violations
                .into_iter()
                .map(|(field, reason)| FieldViolation::new(field, reason))
                .collect(),
        ));
    }
    // Numbered across scopes, so that (key, version) names one text wherever it is used.
    let previous: i32 =
        sqlx::query_scalar("SELECT coalesce(max(version), 1) FROM template WHERE key = $1 AND locale = $2")
            .bind(key)
            .bind(locale)
            .fetch_one(&mut *conn)
            .await?;
    let created_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO template (scope, key, locale, version, subject, body, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at",
    )
    .bind(scope)
    .bind(key)
    .bind(locale)
    .bind(previous + 1)
    .bind(subject)
    .bind(body)
    .bind(created_by)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Template {
        key: key.to_string(),
        locale: locale.to_string(),
        version: previous + 1,
        subject: subject.to_string(),
        body: body.to_string(),
        created_at: Some(created_at),
        scope: scope.to_string(),
    })
}

/// A subject is one header line: a line break in it would start another header
/// (`\r\nBcc: …`, e-mail header injection). The body may have lines, not other controls.
/// (The API's request guard refuses most of these before they get here; this holds for every
/// caller, whatever the guard's rules become.)
fn control_characters(subject: &str, body: &str) -> Vec<(&'static str, String)> {
    let mut violations = Vec::new();
    if subject.chars().any(char::is_control) {
        violations.push((
            "subject",
            "件名に改行や制御文字は使えません / subject must not contain line breaks or control characters"
                .to_string(),
        ));
    }
    if body
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        violations.push((
            "body",
            "本文に制御文字（改行とタブ以外）は使えません / body must not contain control characters other than line breaks and tabs".to_string(),
        ));
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_template_uses_only_its_variables() {
        for entry in bundled::BUNDLED {
            for text in [entry.1, entry.2, entry.3, entry.4] {
                render::check(text, variables_of(entry.0)).unwrap_or_else(|e| panic!("{}: {e}", entry.0));
            }
        }
    }

    #[test]
    fn a_subject_is_one_line() {
        assert!(control_characters("新しい提案「{{category}}」", "一行目\r\n二行目\tタブ").is_empty());
        for subject in [
            "件名\r\nBcc: attacker@example.com",
            "件名\n",
            "件名\r",
            "件名\u{0}",
            "件名\u{85}",
        ] {
            let fields: Vec<&str> = control_characters(subject, "本文").iter().map(|v| v.0).collect();
            assert_eq!(fields, ["subject"], "{subject:?}");
        }
        let fields: Vec<&str> = control_characters("件名", "本文\u{7}")
            .iter()
            .map(|v| v.0)
            .collect();
        assert_eq!(fields, ["body"]);
    }

    #[test]
    fn proxies_cannot_be_shown_the_reason_text() {
        assert!(render::check("{{reason}}", variables_of("need.unmatched:need")).is_err());
        assert!(render::check("{{reason}}", variables_of("need.unmatched:coordinators")).is_ok());
    }
}
