//! The gap map (見える化) from the real flow: needs submitted in intake, matched or not by
//! matching, resources from the registry, area issues from intake — per daily-life area and
//! category, per municipality, rolled up for the prefecture, and out as CSV, .xlsx and SVG.

use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::matching::v1 as pb;
use tsunagu_proto::matching::v1::matching_service_client::MatchingServiceClient;
use tsunagu_proto::registry::v1 as registry_pb;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::auth::Role;
use tsunagu_tests::{Fixture, MUNICIPALITY, PREFECTURE, TestSystem, eventually};

use crate::support::{WAIT, submit_need, submit_unshared};

fn request(code: &str, layer: pb::GapMapLayer) -> pb::GetGapMapRequest {
    pb::GetGapMapRequest {
        code: code.into(),
        layer: layer.into(),
        category: String::new(),
    }
}

fn row<'a>(rows: &'a [pb::GapMapRow], area: &str, category: &str) -> &'a pb::GapMapRow {
    rows.iter()
        .find(|r| r.area_name == area && r.category == category)
        .unwrap_or_else(|| panic!("no row {area} / {category} in {rows:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gap_map_shows_which_area_lacks_which_service() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let east = system
        .registry()
        .create_area(registry_pb::CreateAreaRequest {
            kind: registry_pb::AreaKind::DailyLifeArea.into(),
            name: "東部圏域".into(),
            parent_id: fixture.municipality_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .area
        .unwrap();
    let west = &fixture.daily_life_area_id;
    // 西部: two ゴミ出し needs for one place; 東部: 外出支援 nobody offers, and a ゴミ出し need
    // without consent yet.
    submit_need(&system, "gap-1", west, "ゴミ出し").await;
    submit_need(&system, "gap-2", west, "ゴミ出し").await;
    submit_need(&system, "gap-3", &east.id, "外出支援").await;
    submit_unshared(&system, "gap-4", &east.id, "ゴミ出し").await;
    // A needs survey counted 42 residents wanting help with shopping in 東部.
    system
        .intake()
        .record_area_issue(intake_pb::RecordAreaIssueRequest {
            request_id: "survey-1".into(),
            issue: Some(intake_pb::AreaIssue {
                municipality_code: MUNICIPALITY.into(),
                source: intake_pb::AreaIssueSource::NeedsSurvey.into(),
                area_id: east.id.clone(),
                category: "買い物支援".into(),
                count: 42,
                period_from: "2026-04-01".into(),
                period_to: "2026-09-30".into(),
                ..Default::default()
            }),
            recorded_by: "高齢介護課".into(),
        })
        .await
        .unwrap();

    let mut matching = system.matching();
    let rows = eventually("the map to hold every need and the survey", WAIT, || {
        let mut matching = matching.clone();
        async move {
            let rows = matching
                .get_gap_map(request(MUNICIPALITY, pb::GapMapLayer::DailyLifeArea))
                .await
                .unwrap()
                .into_inner()
                .rows;
            let needs: u32 = rows.iter().map(|r| r.needs).sum();
            let issues: u32 = rows.iter().map(|r| r.area_issue_count).sum();
            let settled = rows
                .iter()
                .map(|r| r.proposed + r.unmatched + r.awaiting_consent)
                .sum::<u32>();
            (needs == 4 && settled == 4 && issues == 42).then_some(rows)
        }
    })
    .await;
    let west_garbage = row(&rows, "西部圏域", "life.garbage");
    assert_eq!(
        (
            west_garbage.needs,
            west_garbage.proposed,
            west_garbage.unmatched,
            west_garbage.unmatched_at_capacity
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(
        (west_garbage.capacity_offered, west_garbage.capacity_used),
        (1, 1)
    );
    let east_outing = row(&rows, "東部圏域", "life.outing");
    assert_eq!((east_outing.unmatched, east_outing.unmatched_no_resource), (1, 1));
    let east_garbage = row(&rows, "東部圏域", "life.garbage");
    assert_eq!(
        (east_garbage.awaiting_consent, east_garbage.capacity_offered),
        (1, 1)
    );
    assert_eq!(row(&rows, "東部圏域", "life.shopping").area_issue_count, 42);

    // The municipality as one row per category, and the prefecture's roll-up.
    let city = matching
        .get_gap_map(request(MUNICIPALITY, pb::GapMapLayer::Municipality))
        .await
        .unwrap()
        .into_inner()
        .rows;
    let garbage = city.iter().find(|r| r.category == "life.garbage").unwrap();
    assert_eq!((garbage.needs, garbage.capacity_offered), (3, 1));
    // The roll-up is the prefecture's: its analyst sees it (aggregates only), a city's
    // administrator does not, nor does the analyst see a city's proposals.
    let refused = matching
        .get_gap_map(request(PREFECTURE, pb::GapMapLayer::Unspecified))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let analyst = system.key(Role::PrefectureAnalyst, PREFECTURE, None).await;
    let mut prefectural =
        MatchingServiceClient::new(system.channel_with_key(ServiceName::Matching, &analyst));
    let refused = prefectural
        .list_proposals(pb::ListProposalsRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let prefecture = prefectural
        .get_gap_map(request(PREFECTURE, pb::GapMapLayer::Unspecified))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(prefecture.municipality_codes, [MUNICIPALITY]);
    assert_eq!(prefecture.rows.iter().map(|r| r.needs).sum::<u32>(), 4);
    assert!(
        prefecture
            .rows
            .iter()
            .all(|r| r.area_id == fixture.municipality_id)
    );

    // A sheet for the 協議体, and a chart.
    let csv = matching
        .export_gap_map(pb::ExportGapMapRequest {
            map: Some(request(MUNICIPALITY, pb::GapMapLayer::DailyLifeArea)),
            format: pb::GapMapFormat::Csv.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let sheet = tsunagu_tabular::read(&csv.content, tsunagu_tabular::Format::Csv).unwrap();
    assert_eq!(sheet.headers[0], "区域");
    assert_eq!(sheet.rows.len(), rows.len());
    assert!(
        sheet
            .rows
            .iter()
            .any(|r| r.cells[2] == "外出支援（移動支援）" && r.cells[8] == "1"),
        "{:?}",
        sheet.rows
    );
    let xlsx = matching
        .export_gap_map(pb::ExportGapMapRequest {
            map: Some(request(MUNICIPALITY, pb::GapMapLayer::DailyLifeArea)),
            format: pb::GapMapFormat::Xlsx.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(xlsx.content.starts_with(b"PK"));
    assert!(xlsx.file_name.ends_with(".xlsx"));
    let svg = matching
        .render_gap_map_svg(request(MUNICIPALITY, pb::GapMapLayer::DailyLifeArea))
        .await
        .unwrap()
        .into_inner()
        .svg;
    assert!(
        svg.starts_with("<svg") && svg.contains("西部圏域 / ゴミ出し"),
        "{svg}"
    );
    // A bad code is named.
    let status = matching
        .get_gap_map(request("12345", pb::GapMapLayer::Unspecified))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    system.shutdown().await;
}
