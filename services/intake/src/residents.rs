//! Residents (利用者): a pseudonymous id for the rest of the system, and personal data sealed
//! before it reaches the database. Nothing here is logged, traced or put in an event.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tsunagu_runtime::MunicipalityCode;
use tsunagu_runtime::error::{ServiceError, ServiceResult, Violations};
use tsunagu_runtime::text;
use uuid::Uuid;

use crate::sealing::{Keyring, Sealed};

/// Care levels in the vocabulary of 介護保険 (domain.md §5).
pub const CARE_LEVELS: [&str; 9] = [
    "一般高齢者",
    "事業対象者",
    "要支援1",
    "要支援2",
    "要介護1",
    "要介護2",
    "要介護3",
    "要介護4",
    "要介護5",
];

/// The personal data, as sealed. 要配慮個人情報 (the care level) included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalData {
    pub name: String,
    pub name_kana: String,
    pub address: String,
    pub phone: String,
    pub birth_date: Option<NaiveDate>,
    pub care_level: String,
    pub notes: String,
}

pub struct PersonalInput<'a> {
    pub name: &'a str,
    pub name_kana: &'a str,
    pub address: &'a str,
    pub phone: &'a str,
    pub birth_date: &'a str,
    pub care_level: &'a str,
    pub notes: &'a str,
}

impl PersonalData {
    /// Field names are prefixed `personal.` as in the request.
    pub fn parse(input: PersonalInput<'_>, violations: &mut Violations) -> Option<PersonalData> {
        let before = violations.len();
        let name = text::normalised_non_empty(input.name);
        if name.is_none() {
            violations.add("personal.name", "氏名を入力してください / name is required");
        }
        let name_kana = text::nfkc(input.name_kana).trim().to_string();
        let is_kana = |c: char| matches!(c, '\u{3041}'..='\u{3096}' | '\u{30A1}'..='\u{30FA}' | 'ー' | '・' | ' ' | '\u{3000}');
        if !name_kana.chars().all(is_kana) {
            violations.add(
                "personal.name_kana",
                "読みはひらがなかカタカナで入力してください / reading must be kana",
            );
        }
        let birth_date = violations
            .check(
                "personal.birth_date",
                parse_birth_date(input.birth_date, today_in_japan()),
            )
            .flatten();
        let phone = violations.check("personal.phone", parse_phone(input.phone));
        let care_level = text::nfkc(input.care_level).trim().to_string();
        if !care_level.is_empty() && !CARE_LEVELS.contains(&care_level.as_str()) {
            violations.add(
                "personal.care_level",
                format!(
                    "要介護度は {} のいずれかです / unknown care level",
                    CARE_LEVELS.join("・")
                ),
            );
        }
        if violations.len() > before {
            return None;
        }
        Some(PersonalData {
            name: name.expect("checked"),
            name_kana,
            address: text::nfkc(input.address).trim().to_string(),
            phone: phone.expect("checked"),
            birth_date,
            care_level,
            notes: text::nfkc(input.notes).trim().to_string(),
        })
    }

    /// What duplicate detection compares: the reading without spaces in one script, and the
    /// birth date. `None` when either is missing.
    fn duplicate_basis(&self) -> Option<String> {
        let reading: String = text::search_fold(&self.name_kana)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let birth_date = self.birth_date?;
        (!reading.is_empty()).then(|| format!("{reading}|{birth_date}"))
    }
}

/// The earliest birth date taken: nobody served was born before it, so an earlier one is a
/// typing error (a year of 0019 or 1026), not a person.
const EARLIEST_BIRTH_DATE: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("a date");

/// Today's date where the residents live: a birth date is a date in Japan, and "in the
/// future" is judged there, not in UTC (before 09:00 JST, UTC is still yesterday).
fn today_in_japan() -> NaiveDate {
    (chrono::Utc::now() + chrono::TimeDelta::hours(9)).date_naive()
}

/// A birth date: YYYY-MM-DD (or YYYY/MM/DD), from 1900-01-01 to today; empty is none. The
/// refusal does not repeat the value: it is personal data.
fn parse_birth_date(raw: &str, today: NaiveDate) -> Result<Option<NaiveDate>, String> {
    let raw = text::nfkc(raw);
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%Y/%m/%d"))
        .map_err(|_| {
            "生年月日は YYYY-MM-DD で入力してください / birth date must be YYYY-MM-DD".to_string()
        })?;
    if date > today {
        return Err("生年月日が未来の日付です / birth date is in the future".into());
    }
    if date < EARLIEST_BIRTH_DATE {
        return Err(
            "生年月日は1900年1月1日以降で入力してください / birth date must be 1900-01-01 or later".into(),
        );
    }
    Ok(Some(date))
}

/// A Japanese phone number, after NFKC (full-width digits and hyphens become ASCII): digits
/// and hyphens, optionally starting with +81 for the leading 0, 10 or 11 digits in the
/// national form starting with 0 (固定電話 10, 携帯・IP電話 11). Stored as written, NFKC'd; empty is
/// none. The refusal does not repeat the value: it is personal data.
fn parse_phone(raw: &str) -> Result<String, String> {
    let phone = text::nfkc(raw).trim().to_string();
    if phone.is_empty() {
        return Ok(phone);
    }
    let refused = || {
        "電話番号は数字とハイフンで、0から始まる10桁か11桁（+81で始めても可）で入力してください / phone must be a Japanese number: 10 or 11 digits starting with 0 (or +81), digits and hyphens only".to_string()
    };
    let national = match phone.strip_prefix("+81") {
        // +81 stands for the leading 0 (a 0 written after it as well is tolerated).
        Some(rest) => {
            let rest = rest.trim_start_matches('-');
            if rest.starts_with('0') {
                rest.to_string()
            } else {
                format!("0{rest}")
            }
        }
        None => phone.clone(),
    };
    if !national.chars().all(|c| c.is_ascii_digit() || c == '-')
        || national.starts_with('-')
        || national.ends_with('-')
        || national.contains("--")
    {
        return Err(refused());
    }
    let digits: String = national.chars().filter(char::is_ascii_digit).collect();
    // Mobile, IP and M2M numbers (090, 080 — 0800 too —, 070, 050, 020) have 11 digits; fixed
    // lines, 0120 and 0570 have 10.
    let eleven = ["090", "080", "070", "050", "020"]
        .iter()
        .any(|prefix| digits.starts_with(prefix));
    if !digits.starts_with('0') || digits.len() != if eleven { 11 } else { 10 } {
        return Err(refused());
    }
    Ok(phone)
}

#[derive(Debug, Clone)]
pub struct Resident {
    pub id: Uuid,
    pub municipality_code: String,
    pub personal: PersonalData,
    /// Earlier residents with the same reading and birth date, for a coordinator to merge.
    pub possible_duplicates: Vec<Uuid>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(sqlx::FromRow)]
struct ResidentRow {
    id: Uuid,
    municipality_code: String,
    key_id: String,
    nonce: Vec<u8>,
    sealed: Vec<u8>,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// The row's identity, bound into the seal: a sealed blob copied to another row does not open.
fn associated_data(id: Uuid, municipality_code: &str) -> Vec<u8> {
    format!("resident:{id}:{municipality_code}").into_bytes()
}

fn keyring(keys: Option<&Keyring>) -> ServiceResult<&Keyring> {
    keys.ok_or_else(|| {
        ServiceError::FailedPrecondition(
            "個人情報を暗号化する鍵が設定されていません（TSUNAGU_INTAKE_ENCRYPTION_KEYS） / no encryption key is configured".into(),
        )
    })
}

fn open(keys: &Keyring, row: ResidentRow) -> ServiceResult<(ResidentRow, PersonalData)> {
    let sealed = Sealed {
        key_id: row.key_id.clone(),
        nonce: row.nonce.clone(),
        ciphertext: row.sealed.clone(),
    };
    let plaintext = keys
        .open(&associated_data(row.id, &row.municipality_code), &sealed)
        .map_err(|reason| ServiceError::Internal(anyhow::anyhow!("resident {}: {reason}", row.id)))?;
    let personal =
        serde_json::from_slice(&plaintext).map_err(|error| ServiceError::Internal(error.into()))?;
    Ok((row, personal))
}

async fn duplicates_of(pool: &PgPool, id: Uuid) -> ServiceResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "SELECT other.id FROM resident this JOIN resident other
           ON other.municipality_code = this.municipality_code AND other.duplicate_key = this.duplicate_key
          AND other.duplicate_key_id = this.duplicate_key_id AND other.id <> this.id
         WHERE this.id = $1 AND this.duplicate_key IS NOT NULL ORDER BY other.id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?)
}

/// Registers a resident, idempotently by (municipality, request id): `true` when replayed.
pub async fn register(
    pool: &PgPool,
    keys: Option<&Keyring>,
    municipality: &MunicipalityCode,
    request_id: &str,
    personal: &PersonalData,
    registered_by: &str,
) -> ServiceResult<(Resident, bool)> {
    let keys = keyring(keys)?;
    let id = Uuid::now_v7();
    let plaintext = serde_json::to_vec(personal).map_err(|error| ServiceError::Internal(error.into()))?;
    let sealed = keys
        .seal(&associated_data(id, municipality.as_str()), &plaintext)
        .map_err(|reason| ServiceError::Internal(anyhow::anyhow!(reason)))?;
    let duplicate = personal.duplicate_basis().map(|basis| keys.blind_index(&basis));
    let earlier: Option<Uuid> = match &duplicate {
        Some((key_id, key)) => sqlx::query_scalar(
            "SELECT id FROM resident WHERE municipality_code = $1 AND duplicate_key_id = $2 AND duplicate_key = $3
             ORDER BY id LIMIT 1",
        )
        .bind(municipality.as_str())
        .bind(key_id)
        .bind(key)
        .fetch_optional(pool)
        .await?,
        None => None,
    };
    let inserted = sqlx::query(
        "INSERT INTO resident (id, municipality_code, request_id, key_id, nonce, sealed, duplicate_key_id,
                               duplicate_key, possible_duplicate_of, registered_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (municipality_code, request_id) DO NOTHING",
    )
    .bind(id)
    .bind(municipality.as_str())
    .bind(request_id)
    .bind(&sealed.key_id)
    .bind(&sealed.nonce)
    .bind(&sealed.ciphertext)
    .bind(duplicate.as_ref().map(|(key_id, _)| key_id.clone()))
    .bind(duplicate.as_ref().map(|(_, key)| key.clone()))
    .bind(earlier)
    .bind(registered_by)
    .execute(pool)
    .await?
    .rows_affected()
        == 1;
    let id = if inserted {
        id
    } else {
        sqlx::query_scalar("SELECT id FROM resident WHERE municipality_code = $1 AND request_id = $2")
            .bind(municipality.as_str())
            .bind(request_id)
            .fetch_one(pool)
            .await?
    };
    Ok((get(pool, Some(keys), id).await?, !inserted))
}

pub async fn get(pool: &PgPool, keys: Option<&Keyring>, id: Uuid) -> ServiceResult<Resident> {
    let keys = keyring(keys)?;
    let row = sqlx::query_as::<_, ResidentRow>(
        "SELECT id, municipality_code, key_id, nonce, sealed, created_at FROM resident WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ServiceError::NotFound(format!("利用者 {id}")))?;
    let (row, personal) = open(keys, row)?;
    Ok(Resident {
        id: row.id,
        municipality_code: row.municipality_code,
        personal,
        possible_duplicates: duplicates_of(pool, id).await?,
        created_at: row.created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_birth_date_is_between_1900_and_today() {
        let today = day(2026, 12, 7);
        assert_eq!(parse_birth_date("1940-04-01", today), Ok(Some(day(1940, 4, 1))));
        assert_eq!(
            parse_birth_date("１９４０／０４／０１", today),
            Ok(Some(day(1940, 4, 1)))
        );
        assert_eq!(parse_birth_date(" ", today), Ok(None));
        assert_eq!(parse_birth_date("2026-12-07", today), Ok(Some(today)));
        assert_eq!(parse_birth_date("1900-01-01", today), Ok(Some(day(1900, 1, 1))));
        for refused in [
            "9999-12-31",
            "2026-12-08",
            "1899-12-31",
            "0019-05-01",
            "1940-02-30",
            "昭和15年",
        ] {
            let error = parse_birth_date(refused, today).unwrap_err();
            assert!(!error.contains(refused), "the value is not repeated: {error}");
        }
    }

    #[test]
    fn a_phone_number_is_a_japanese_one() {
        for accepted in [
            "03-1234-5678",
            "0312345678",
            "090-1234-5678",
            "09012345678",
            "+81-90-1234-5678",
            "+819012345678",
            "+81-3-1234-5678",
            "０９０－１２３４－５６７８",
            "0120-123-456",
            "0800-123-4567",
            "",
        ] {
            assert!(parse_phone(accepted).is_ok(), "{accepted}");
        }
        assert_eq!(
            parse_phone("０９０－１２３４－５６７８").unwrap(),
            "090-1234-5678"
        );
        for refused in [
            "12345",
            "090-1234-56789",
            "090-1234-567",
            "1234567890",
            "090 1234 5678",
            "+1-202-555-0100",
            "tel:090-1234-5678",
            "090--1234-5678",
            "-09012345678",
            "電話なし",
            "+81",
            "03-1234-56789",
        ] {
            assert!(parse_phone(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn every_bad_personal_field_is_named_at_once() {
        let mut violations = Violations::new();
        let parsed = PersonalData::parse(
            PersonalInput {
                name: "山田 花子",
                name_kana: "ヤマダ ハナコ",
                address: "",
                phone: "12345",
                birth_date: "9999-12-31",
                care_level: "",
                notes: "",
            },
            &mut violations,
        );
        assert!(parsed.is_none());
        let fields: Vec<String> = violations.iter().map(|v| v.field.clone()).collect();
        assert_eq!(fields, ["personal.birth_date", "personal.phone"]);
    }
}
