//! Area issues (地域課題): recorded one by one and listed for the gap map.

use tonic::{Response, Status};
use tsunagu_proto::intake::v1 as pb;
use tsunagu_runtime::error::{FieldViolation, ServiceError, Violations};
use tsunagu_runtime::grpc::{Page, parse_id, timestamp};
use tsunagu_runtime::{MunicipalityCode, text};

use super::IntakeApi;
use crate::area_issues::{self, AreaIssueFilter, AreaIssueInput, AreaIssueRow, NewAreaIssue, Source};

pub async fn record(
    api: &IntakeApi,
    request: pb::RecordAreaIssueRequest,
) -> Result<Response<pb::RecordAreaIssueResponse>, Status> {
    let issue = request.issue.unwrap_or_default();
    let source = SOURCE_PAIRS
        .iter()
        .find(|(_, proto)| *proto as i32 == issue.source && *proto != pb::AreaIssueSource::Unspecified)
        .map(|(domain, _)| *domain);
    let new = NewAreaIssue::parse(AreaIssueInput {
        request_id: &request.request_id,
        municipality_code: &issue.municipality_code,
        source,
        area_id: &issue.area_id,
        category: &issue.category,
        count: issue.count,
        estimated: issue.estimated,
        period_from: &issue.period_from,
        period_to: &issue.period_to,
        notes: &issue.notes,
    })
    .map_err(|error| {
        // Fields of the nested issue are named by their path; request_id is top-level.
        match error {
            ServiceError::InvalidArgument(violations) => ServiceError::InvalidArgument(
                violations
                    .into_iter()
                    .map(|v| {
                        let field = if v.field == "request_id" {
                            v.field
                        } else {
                            format!("issue.{}", v.field)
                        };
                        FieldViolation::new(field, v.description)
                    })
                    .collect(),
            ),
            other => other,
        }
    })?;
    let recorded_by = text::normalised_non_empty(&request.recorded_by).unwrap_or_else(|| "(不明)".into());
    let (row, replayed) = area_issues::record(&api.pool, &new, &recorded_by)
        .await
        .map_err(|error| error.prefixed("issue."))?;
    tracing::info!(area_issue_id = %row.id, replayed, "area issue recorded");
    Ok(Response::new(pb::RecordAreaIssueResponse {
        issue: Some(area_issue_to_proto(row)),
        replayed,
    }))
}

pub async fn list(
    api: &IntakeApi,
    request: pb::ListAreaIssuesRequest,
) -> Result<Response<pb::ListAreaIssuesResponse>, Status> {
    let mut violations = Violations::new();
    let code = violations.check(
        "municipality_code",
        MunicipalityCode::parse_known(&request.municipality_code),
    );
    let area_id = match request.area_id.trim() {
        "" => None,
        id => violations.absorb(parse_id("area_id", id)),
    };
    let mut date = |field: &str, raw: &str| match raw.trim() {
        "" => None,
        raw => violations.check(
            field,
            chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map_err(|_| "日付は YYYY-MM-DD で入力してください / date must be YYYY-MM-DD"),
        ),
    };
    let from = date("period_from", &request.period_from);
    let to = date("period_to", &request.period_to);
    let page = violations.absorb(Page::from_request(request.page));
    violations.into_result()?;
    let category = text::normalised_non_empty(&request.category).map(|category| {
        tsunagu_runtime::taxonomy::resolve_bundled(&category).map_or(category, |entry| entry.code.clone())
    });
    let filter = AreaIssueFilter {
        area_id,
        category,
        from,
        to,
    };
    let page = page.expect("checked");
    let rows = area_issues::list(&api.pool, code.expect("checked").as_str(), &filter, page).await?;
    let next_page_token = page.next_token_after(&rows, |row| row.id);
    Ok(Response::new(pb::ListAreaIssuesResponse {
        issues: rows.into_iter().map(area_issue_to_proto).collect(),
        next_page_token,
    }))
}

pub const SOURCE_PAIRS: [(Source, pb::AreaIssueSource); 4] = [
    (Source::NeedsSurvey, pb::AreaIssueSource::NeedsSurvey),
    (
        Source::CommunityCareMeeting,
        pb::AreaIssueSource::CommunityCareMeeting,
    ),
    (Source::CarePlanReview, pb::AreaIssueSource::CarePlanReview),
    (Source::Remark, pb::AreaIssueSource::Remark),
];

pub fn area_issue_to_proto(row: AreaIssueRow) -> pb::AreaIssue {
    let source = Source::parse(&row.source)
        .and_then(|source| SOURCE_PAIRS.iter().find(|(domain, _)| *domain == source))
        .map_or(pb::AreaIssueSource::Unspecified, |(_, proto)| *proto);
    pb::AreaIssue {
        id: row.id.to_string(),
        municipality_code: row.municipality_code,
        source: source.into(),
        area_id: row.area_id.to_string(),
        category: row.category,
        count: u32::try_from(row.count).unwrap_or(0),
        estimated: row.estimated,
        period_from: row.period_from.to_string(),
        period_to: row.period_to.to_string(),
        notes: row.notes,
        recorded_by: row.recorded_by,
        recorded_at: Some(timestamp(row.recorded_at)),
    }
}
