//! Area issues (地域課題): needs known in aggregate for an area and a period, with their
//! source. Recorded idempotently by request id; listed by municipality, area, category and
//! period for the gap map.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use tsunagu_runtime::MunicipalityCode;
use tsunagu_runtime::error::{ServiceError, ServiceResult, Violations};
use tsunagu_runtime::events::{self, AreaIssueRecorded};
use tsunagu_runtime::grpc::Page;
use tsunagu_runtime::outbox;
use tsunagu_runtime::{taxonomy, text};
use uuid::Uuid;

use crate::areas;
use crate::categories;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    NeedsSurvey,
    CommunityCareMeeting,
    CarePlanReview,
    Remark,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::NeedsSurvey,
        Source::CommunityCareMeeting,
        Source::CarePlanReview,
        Source::Remark,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::NeedsSurvey => "needs_survey",
            Source::CommunityCareMeeting => "community_care_meeting",
            Source::CarePlanReview => "care_plan_review",
            Source::Remark => "remark",
        }
    }

    pub fn parse(stored: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|source| source.as_str() == stored)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewAreaIssue {
    pub request_id: String,
    pub municipality_code: MunicipalityCode,
    pub source: Source,
    pub area_id: Uuid,
    pub category: String,
    pub count: u32,
    pub estimated: bool,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub notes: String,
}

pub struct AreaIssueInput<'a> {
    pub request_id: &'a str,
    pub municipality_code: &'a str,
    pub source: Option<Source>,
    pub area_id: &'a str,
    pub category: &'a str,
    pub count: u32,
    pub estimated: bool,
    pub period_from: &'a str,
    pub period_to: &'a str,
    pub notes: &'a str,
}

fn date(violations: &mut Violations, field: &str, raw: &str) -> Option<NaiveDate> {
    violations.check(
        field,
        NaiveDate::parse_from_str(text::nfkc(raw).trim(), "%Y-%m-%d").map_err(|_| {
            format!("日付は YYYY-MM-DD で入力してください（入力: {raw:?}） / date must be YYYY-MM-DD")
        }),
    )
}

impl NewAreaIssue {
    pub fn parse(input: AreaIssueInput<'_>) -> ServiceResult<NewAreaIssue> {
        let mut violations = Violations::new();
        let request_id = input.request_id.trim();
        if request_id.is_empty() || request_id.chars().count() > 128 {
            violations.add(
                "request_id",
                "リクエストIDは1〜128文字です / request_id must be 1–128 characters",
            );
        }
        let municipality_code = violations.check(
            "municipality_code",
            MunicipalityCode::parse_known(input.municipality_code),
        );
        if input.source.is_none() {
            violations.add(
                "source",
                "出所を指定してください（ニーズ調査・地域ケア会議・予防プランの検証・つぶやき） / source is required",
            );
        }
        let area_id = violations.check(
            "area_id",
            input
                .area_id
                .trim()
                .parse::<Uuid>()
                .map_err(|_| "区域IDを指定してください / area_id must be an area id"),
        );
        let category = text::normalised_non_empty(input.category).map(|category| {
            taxonomy::resolve_bundled(&category).map_or(category, |entry| entry.code.clone())
        });
        if category.is_none() {
            violations.add(
                "category",
                "カテゴリを入力してください（例: 買い物支援） / category is required",
            );
        }
        let period_from = date(&mut violations, "period_from", input.period_from);
        let period_to = date(&mut violations, "period_to", input.period_to);
        if let (Some(from), Some(to)) = (period_from, period_to)
            && to < from
        {
            violations.add(
                "period_to",
                "期間の終わりが始まりより前です / period_to is before period_from",
            );
        }
        if input.count > i32::MAX as u32 {
            violations.add("count", "件数が大きすぎます / count is too large");
        }
        let notes = text::nfkc(input.notes).trim().to_string();
        if notes.chars().count() > 4000 {
            violations.add("notes", "4000文字以内で入力してください / notes are too long");
        }
        violations.into_result()?;
        Ok(NewAreaIssue {
            request_id: request_id.to_string(),
            municipality_code: municipality_code.expect("checked"),
            source: input.source.expect("checked"),
            area_id: area_id.expect("checked"),
            category: category.expect("checked"),
            count: input.count,
            estimated: input.estimated,
            period_from: period_from.expect("checked"),
            period_to: period_to.expect("checked"),
            notes,
        })
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AreaIssueRow {
    pub id: Uuid,
    pub municipality_code: String,
    pub source: String,
    pub area_id: Uuid,
    pub category: String,
    pub count: i32,
    pub estimated: bool,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub notes: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, municipality_code, source, area_id, category, count, estimated, period_from, period_to,
     notes, recorded_by, recorded_at";

/// The issue's category code, after checking its area and category (both named at once when
/// both are wrong).
async fn checked_references(conn: &mut PgConnection, new: &NewAreaIssue) -> ServiceResult<String> {
    let municipality_code = new.municipality_code.as_str();
    let area = areas::check(conn, municipality_code, new.area_id).await;
    let category = categories::resolve_known(conn, municipality_code, &new.category).await;
    match (area, category) {
        (Ok(()), Ok(category)) => Ok(category),
        (Err(ServiceError::InvalidArgument(mut violations)), Err(ServiceError::InvalidArgument(more))) => {
            violations.extend(more);
            Err(ServiceError::InvalidArgument(violations))
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    }
}

/// What a dry run of a sheet reports for the issue: the refusal the import would give.
pub async fn check(pool: &PgPool, new: &NewAreaIssue) -> ServiceResult<()> {
    areas::await_known(pool, new.area_id).await?;
    checked_references(&mut *pool.acquire().await?, new)
        .await
        .map(|_| ())
}

/// Records the issue, or returns the one an earlier call with the same request id recorded.
pub async fn record(
    pool: &PgPool,
    new: &NewAreaIssue,
    recorded_by: &str,
) -> ServiceResult<(AreaIssueRow, bool)> {
    // Outside the transaction: an area created a moment ago is given time to arrive.
    areas::await_known(pool, new.area_id).await?;
    let mut tx = pool.begin().await?;
    let category = checked_references(&mut tx, new).await?;
    let inserted = sqlx::query_as::<_, AreaIssueRow>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO area_issue (id, municipality_code, request_id, source, area_id, category, count, estimated,
                                 period_from, period_to, notes, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (municipality_code, request_id) DO NOTHING RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(new.municipality_code.as_str())
    .bind(&new.request_id)
    .bind(new.source.as_str())
    .bind(new.area_id)
    .bind(&category)
    .bind(i32::try_from(new.count).unwrap_or(i32::MAX))
    .bind(new.estimated)
    .bind(new.period_from)
    .bind(new.period_to)
    .bind(&new.notes)
    .bind(recorded_by)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = inserted {
        // The gap map counts it beside individual needs: counts and codes only, no notes.
        let event = AreaIssueRecorded {
            area_issue_id: row.id,
            municipality_code: row.municipality_code.clone(),
            source: row.source.clone(),
            area_id: row.area_id,
            category: row.category.clone(),
            count: u32::try_from(row.count).unwrap_or(0),
            estimated: row.estimated,
            period_from: row.period_from,
            period_to: row.period_to,
        };
        outbox::enqueue(
            &mut tx,
            events::AREA_ISSUE_RECORDED,
            &row.municipality_code,
            &event,
        )
        .await?;
        tx.commit().await?;
        return Ok((row, false));
    }
    let earlier = sqlx::query_as::<_, AreaIssueRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM area_issue WHERE municipality_code = $1 AND request_id = $2"
    )))
    .bind(new.municipality_code.as_str())
    .bind(&new.request_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.rollback().await?;
    Ok((earlier, true))
}

#[derive(Debug, Clone, Default)]
pub struct AreaIssueFilter {
    pub area_id: Option<Uuid>,
    pub category: Option<String>,
    /// Issues whose period overlaps [from, to].
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

pub async fn list(
    pool: &PgPool,
    municipality_code: &str,
    filter: &AreaIssueFilter,
    page: Page,
) -> ServiceResult<Vec<AreaIssueRow>> {
    Ok(sqlx::query_as::<_, AreaIssueRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM area_issue
         WHERE municipality_code = $1
           AND ($2::uuid IS NULL OR area_id = $2)
           AND ($3::text IS NULL OR category = $3)
           AND ($4::date IS NULL OR period_to >= $4)
           AND ($5::date IS NULL OR period_from <= $5)
           AND ($6::uuid IS NULL OR id > $6)
         ORDER BY id LIMIT $7"
    )))
    .bind(municipality_code)
    .bind(filter.area_id)
    .bind(&filter.category)
    .bind(filter.from)
    .bind(filter.to)
    .bind(page.after)
    .bind(i64::from(page.size))
    .fetch_all(pool)
    .await?)
}
