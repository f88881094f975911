//! Every `area_id` intake takes names an area it learnt from the registry's events (issue 17):
//! an unknown id, another municipality's area, a deleted one, or one coarser than a daily-life
//! area is refused as INVALID_ARGUMENT on `area_id`, in SubmitNeed, UpdateNeed,
//! RecordAreaIssue and sheet imports alike; an area created a moment ago is waited for.

use tonic_types::StatusExt;
use tsunagu_proto::intake::v1 as pb;
use tsunagu_proto::registry::v1 as registry_pb;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem, eventually};

use crate::support::{WAIT, violated_fields};

/// Each refused field with its reason.
fn refusal(status: &tonic::Status) -> Vec<(String, String)> {
    violated_fields(status);
    status
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| (v.field.clone(), v.description.clone()))
        .collect()
}

fn need(request_id: &str, area_id: &str, category: &str) -> pb::SubmitNeedRequest {
    pb::SubmitNeedRequest {
        request_id: request_id.into(),
        municipality_code: MUNICIPALITY.into(),
        area_id: area_id.into(),
        category: category.into(),
        ..Default::default()
    }
}

async fn create_area(
    system: &TestSystem,
    kind: registry_pb::AreaKind,
    code: &str,
    name: &str,
    parent: &str,
) -> String {
    system
        .registry()
        .create_area(registry_pb::CreateAreaRequest {
            kind: kind.into(),
            code: code.into(),
            name: name.into(),
            parent_id: parent.into(),
            ..Default::default()
        })
        .await
        .expect("area created")
        .into_inner()
        .area
        .unwrap()
        .id
}

fn sheet(area_id: &str, dry_run: bool) -> pb::ImportNeedsSheetRequest {
    pb::ImportNeedsSheetRequest {
        municipality_code: MUNICIPALITY.into(),
        content: format!("受付番号,区域ID,カテゴリ\nS-1,{area_id},ゴミ出し\n").into_bytes(),
        dry_run,
        imported_by: "SC".into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_area_id_names_a_known_daily_life_area_of_the_municipality() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut intake = system.intake();

    // 岐阜市's own daily-life area is not 大垣市's.
    let gifu = create_area(
        &system,
        registry_pb::AreaKind::Municipality,
        "212016",
        "",
        &fixture.prefecture_id,
    )
    .await;
    let gifu_daily = create_area(
        &system,
        registry_pb::AreaKind::DailyLifeArea,
        "",
        "岐阜中央圏域",
        &gifu,
    )
    .await;
    let unknown = uuid::Uuid::now_v7().to_string();

    let cases = [
        (&unknown, "登録簿にありません"),
        (&gifu_daily, "別の市区町村"),
        (&fixture.municipality_id, "日常生活圏域"),
        (&fixture.prefecture_id, "日常生活圏域"),
    ];
    for (n, (area_id, reason)) in cases.iter().enumerate() {
        let refused = intake
            .submit_need(need(&format!("ref-{n}"), area_id, "ゴミ出し"))
            .await
            .unwrap_err();
        let refused = refusal(&refused);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].0, "area_id");
        assert!(refused[0].1.contains(reason), "{area_id}: {refused:?}");
        assert!(
            refused[0].1.contains(" / "),
            "Japanese, then English: {refused:?}"
        );
    }
    // A bad area and a bad category are named together.
    let refused = intake
        .submit_need(need("ref-both", &unknown, "存在しない分類"))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["area_id", "category"]);

    // An area created a moment ago is waited for: the coordinator's next call works.
    let fresh = create_area(
        &system,
        registry_pb::AreaKind::DailyLifeArea,
        "",
        "北部圏域",
        &fixture.municipality_id,
    )
    .await;
    let placed = intake
        .submit_need(need("ref-fresh", &fresh, "ゴミ出し"))
        .await
        .expect("a need in an area created just now")
        .into_inner()
        .need
        .unwrap();
    assert_eq!(placed.area_id, fresh);

    // An edit moving the need to the municipality is refused the same way.
    let refused = intake
        .update_need(pb::UpdateNeedRequest {
            need: Some(pb::Need {
                id: placed.id.clone(),
                area_id: fixture.municipality_id.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["area_id".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["need.area_id"]);

    // An area issue in another municipality's area.
    let refused = intake
        .record_area_issue(pb::RecordAreaIssueRequest {
            request_id: "issue-1".into(),
            issue: Some(pb::AreaIssue {
                municipality_code: MUNICIPALITY.into(),
                source: pb::AreaIssueSource::NeedsSurvey.into(),
                area_id: gifu_daily.clone(),
                category: "買い物".into(),
                count: 3,
                period_from: "2026-04-01".into(),
                period_to: "2026-06-30".into(),
                ..Default::default()
            }),
            recorded_by: "SC".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["issue.area_id"]);

    // A sheet names the row and the column, in a dry run and for real, and writes nothing.
    for dry_run in [true, false] {
        let report = intake
            .import_needs_sheet(sheet(&unknown, dry_run))
            .await
            .unwrap()
            .into_inner();
        let problems: Vec<_> = report
            .rejected
            .iter()
            .map(|p| (p.row, p.column.as_str()))
            .collect();
        assert_eq!(
            (report.created, problems),
            (0, vec![(2, "区域ID")]),
            "dry run: {dry_run}"
        );
    }

    // A deleted area is refused once intake heard of the deletion.
    let gone = create_area(
        &system,
        registry_pb::AreaKind::DailyLifeArea,
        "",
        "南部圏域",
        &fixture.municipality_id,
    )
    .await;
    system
        .registry()
        .delete_area(registry_pb::DeleteAreaRequest {
            id: gone.clone(),
            reason: "圏域の見直し".into(),
            deleted_by: "市 担当".into(),
            expected_version: 0,
        })
        .await
        .expect("an unused area is deleted");
    let reason = eventually("intake hears of the deletion", WAIT, || async {
        let report = system
            .intake()
            .import_needs_sheet(sheet(&gone, true))
            .await
            .unwrap()
            .into_inner();
        report
            .rejected
            .first()
            .filter(|p| p.reason.contains("削除"))
            .map(|p| (p.row, p.column.clone()))
    })
    .await;
    assert_eq!(reason, (2, "区域ID".to_string()));
    system.shutdown().await;
}
