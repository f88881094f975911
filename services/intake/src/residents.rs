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
        let birth_date = match text::nfkc(input.birth_date).trim() {
            "" => None,
            raw => violations.check(
                "personal.birth_date",
                NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
                    format!(
                        "生年月日は YYYY-MM-DD で入力してください（入力: {raw:?}） / date must be YYYY-MM-DD"
                    )
                }),
            ),
        };
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
            phone: text::nfkc(input.phone).trim().to_string(),
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
