//! Area issues (地域課題): recorded idempotently, categories resolved to codes, listed by area,
//! category and overlapping period; bad input named field by field.

use tsunagu_proto::intake::v1 as pb;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem};

use crate::support::violated_fields;

fn issue(area_id: &str, category: &str, from: &str, to: &str, count: u32) -> pb::AreaIssue {
    pb::AreaIssue {
        municipality_code: MUNICIPALITY.into(),
        source: pb::AreaIssueSource::CommunityCareMeeting.into(),
        area_id: area_id.into(),
        category: category.into(),
        count,
        estimated: false,
        period_from: from.into(),
        period_to: to.into(),
        notes: "予防プランの検証で「荷物の持ち帰り」が多く挙がった".into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn area_issues_are_recorded_once_and_listed_by_area_category_and_period() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut intake = system.intake();
    let record = |request_id: &str, issue: pb::AreaIssue| pb::RecordAreaIssueRequest {
        request_id: request_id.into(),
        issue: Some(issue),
        recorded_by: "西部圏域SC 佐藤".into(),
    };
    let first = intake
        .record_area_issue(record(
            "ai-1",
            issue(
                &fixture.daily_life_area_id,
                "買い物",
                "2026-04-01",
                "2026-06-30",
                12,
            ),
        ))
        .await
        .unwrap()
        .into_inner();
    let recorded = first.issue.unwrap();
    assert_eq!(
        (recorded.category.as_str(), first.replayed),
        ("life.shopping", false)
    );
    let again = intake
        .record_area_issue(record(
            "ai-1",
            issue(
                &fixture.daily_life_area_id,
                "買い物",
                "2026-04-01",
                "2026-06-30",
                12,
            ),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed);
    assert_eq!(again.issue.unwrap().id, recorded.id);
    intake
        .record_area_issue(record(
            "ai-2",
            issue(
                &fixture.daily_life_area_id,
                "ゴミ出し",
                "2025-10-01",
                "2025-12-31",
                5,
            ),
        ))
        .await
        .unwrap();

    let list = |category: &str, from: &str, to: &str| pb::ListAreaIssuesRequest {
        municipality_code: MUNICIPALITY.into(),
        area_id: fixture.daily_life_area_id.clone(),
        category: category.into(),
        period_from: from.into(),
        period_to: to.into(),
        page: None,
    };
    let all = intake
        .list_area_issues(list("", "", ""))
        .await
        .unwrap()
        .into_inner()
        .issues;
    assert_eq!(all.len(), 2);
    let shopping = intake
        .list_area_issues(list("買い物支援", "", ""))
        .await
        .unwrap()
        .into_inner()
        .issues;
    assert_eq!(shopping.iter().map(|i| i.count).collect::<Vec<_>>(), [12]);
    let in_2026 = intake
        .list_area_issues(list("", "2026-01-01", "2026-12-31"))
        .await
        .unwrap()
        .into_inner()
        .issues;
    assert_eq!(
        in_2026.iter().map(|i| i.category.as_str()).collect::<Vec<_>>(),
        ["life.shopping"]
    );

    let mut bad = issue("nowhere", "", "2026-06-30", "2026-04-01", 1);
    bad.source = 0;
    let status = intake.record_area_issue(record("", bad)).await.unwrap_err();
    assert_eq!(
        violated_fields(&status),
        [
            "request_id",
            "issue.source",
            "issue.area_id",
            "issue.category",
            "issue.period_to"
        ]
    );
}
