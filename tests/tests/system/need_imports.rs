//! Integration paths for municipal systems: batches where each need stands alone, a
//! client stream whose accepted needs survive a broken connection, sheets of needs and of
//! survey results with a per-row report, and retries that never create a need twice.

use tonic::Code;
use tsunagu_proto::intake::v1 as pb;
use tsunagu_runtime::ServiceName;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem, consent_to_share, eventually};

use crate::support::{WAIT, proposals_for};

fn request(request_id: &str, area_id: &str, category: &str) -> pb::SubmitNeedRequest {
    pb::SubmitNeedRequest {
        request_id: request_id.into(),
        municipality_code: MUNICIPALITY.into(),
        area_id: area_id.into(),
        category: category.into(),
        consent: Some(consent_to_share()),
        ..Default::default()
    }
}

async fn count_needs(system: &TestSystem) -> i64 {
    let intake_db = system.database(ServiceName::Intake).await;
    sqlx::query_scalar("SELECT count(*) FROM need")
        .fetch_one(&intake_db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_and_batches_create_each_need_once() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 5).await;
    let area = fixture.daily_life_area_id.clone();

    // Ten concurrent retries of one submission: one need, one event.
    let calls = (0..10).map(|_| {
        let mut intake = system.intake();
        let request = request("same-1", &area, "ゴミ出し");
        tokio::spawn(async move { intake.submit_need(request).await.unwrap().into_inner() })
    });
    let responses: Vec<_> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|joined| joined.unwrap())
        .collect();
    let id = responses[0].need.as_ref().unwrap().id.clone();
    assert!(responses.iter().all(|r| r.need.as_ref().unwrap().id == id));
    assert_eq!(responses.iter().filter(|r| !r.replayed).count(), 1);
    let intake_db = system.database(ServiceName::Intake).await;
    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE event_type = 'need.submitted' AND payload->>'need_id' = $1",
    )
    .bind(&id)
    .fetch_one(&intake_db)
    .await
    .unwrap();
    assert_eq!(events, 1);

    // A batch: a good need, a retry of the first, a bad one and a reused id with other content.
    let results = system
        .intake()
        .submit_needs(pb::SubmitNeedsRequest {
            needs: vec![
                request("batch-1", &area, "買い物支援"),
                request("same-1", &area, "ゴミ出し"),
                request("batch-3", "西部", ""),
                request("same-1", &area, "見守り"),
            ],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(results.len(), 4);
    assert!(results[0].need.is_some() && !results[0].replayed);
    assert!(results[1].replayed);
    assert_eq!(results[1].need.as_ref().unwrap().id, id);
    let bad = results[2].error.as_ref().unwrap();
    assert_eq!(bad.code, "INVALID_ARGUMENT");
    let fields: Vec<_> = bad.field_violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["area_id", "category"]);
    assert_eq!(results[3].error.as_ref().unwrap().code, "ALREADY_EXISTS");
    assert_eq!(count_needs(&system).await, 2);

    // Too many at once is refused whole.
    let too_many = system
        .intake()
        .submit_needs(pb::SubmitNeedsRequest {
            needs: (0..501)
                .map(|i| request(&format!("many-{i}"), &area, "ゴミ出し"))
                .collect(),
        })
        .await
        .unwrap_err();
    assert_eq!(too_many.code(), Code::InvalidArgument);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_commits_each_need_as_it_arrives_and_a_broken_stream_keeps_them() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 50).await;
    let area = fixture.daily_life_area_id.clone();

    // A complete stream: good needs, one bad, one resent.
    let items = vec![
        request("s-1", &area, "ゴミ出し"),
        request("s-2", &area, "ゴミ出し"),
        request("s-3", &area, ""),
        request("s-1", &area, "ゴミ出し"),
    ];
    let report = system
        .intake()
        .import_need_stream(tokio_stream::iter(items))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((report.accepted, report.replayed), (2, 1));
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(
        (report.rejected[0].index, report.rejected[0].request_id.as_str()),
        (2, "s-3")
    );

    // A stream that breaks off: the needs it delivered before are kept.
    let (sender, receiver) = tokio::sync::mpsc::channel(8);
    let mut intake = system.intake();
    let call = tokio::spawn(async move {
        intake
            .import_need_stream(tokio_stream::wrappers::ReceiverStream::new(receiver))
            .await
    });
    for index in 0..3 {
        sender
            .send(request(&format!("broken-{index}"), &area, "ゴミ出し"))
            .await
            .unwrap();
    }
    eventually("the three streamed needs committed", WAIT, || async {
        (count_needs(&system).await == 5).then_some(())
    })
    .await;
    call.abort();
    drop(sender);
    let _ = call.await;
    assert_eq!(count_needs(&system).await, 5);
    // And they reach matching like any other need.
    let intake_db = system.database(ServiceName::Intake).await;
    let broken: String = sqlx::query_scalar("SELECT id::text FROM need WHERE request_id = 'broken-2'")
        .fetch_one(&intake_db)
        .await
        .unwrap();
    eventually("a proposal for a streamed need", WAIT, || async {
        (!proposals_for(&system, &broken).await.is_empty()).then_some(())
    })
    .await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sheets_of_needs_and_survey_results_import_with_a_report_per_row() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 5).await;
    let area = &fixture.daily_life_area_id;
    let csv = format!(
        "受付番号,区域ID,カテゴリ,頻度,希望日時,対象者区分,負担できる料金,担い手の性別,経路,紹介者,備考,同意,同意者,同意方法,同意日,メモ\n\
         N-1,{area},ゴミ出し,週2回,火・金 9:00〜12:00,要支援1,無料のみ,女性,包括,包括 山本,玄関前,提供者への共有,本人,書面,2026-11-01,x\n\
         N-2,{area},買い物支援,月2回,水 13:00〜15:00,,500円,,民生委員,民生委員 加藤,,,,,,\n\
         N-3,{area},ゴミ出し,ときどき,,要介護9,,,,,,,,,,\n\
         N-4,西部,,,,,,,,,,,,,,\n"
    );
    let import = |content: Vec<u8>, dry_run: bool| pb::ImportNeedsSheetRequest {
        municipality_code: MUNICIPALITY.into(),
        content,
        dry_run,
        imported_by: "西部圏域SC 佐藤".into(),
        ..Default::default()
    };
    let mut intake = system.intake();
    // A dry run writes nothing and says what would happen.
    let dry = intake
        .import_needs_sheet(import(csv.clone().into_bytes(), true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((dry.created, dry.unchanged, dry.rejected.len()), (2, 0, 4));
    assert_eq!(count_needs(&system).await, 0);

    let report = intake
        .import_needs_sheet(import(csv.clone().into_bytes(), false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((report.created, report.unchanged), (2, 0));
    let problems: Vec<_> = report
        .rejected
        .iter()
        .map(|p| (p.row, p.column.as_str()))
        .collect();
    assert_eq!(
        problems,
        [(4, "頻度"), (4, "対象者区分"), (5, "区域ID"), (5, "カテゴリ")]
    );
    assert_eq!(report.ignored_headers, ["メモ"]);
    assert!(
        report.rejected[0].reason.contains("週2回"),
        "{}",
        report.rejected[0].reason
    );

    // The good rows are needs with their details; the consented one is proposed.
    let needs = intake
        .list_needs(pb::ListNeedsRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .needs;
    assert_eq!(needs.len(), 2);
    let first = &needs[0];
    let details = first.details.as_ref().unwrap();
    assert_eq!(details.frequency.unwrap().times, 2);
    assert_eq!(details.time_windows.len(), 2);
    assert_eq!(details.max_fee_yen, Some(0));
    assert_eq!(first.submitted_by, "西部圏域SC 佐藤");
    assert!(first.consent.is_some() && needs[1].consent.is_none());
    eventually("the consented row proposed", WAIT, || async {
        (!proposals_for(&system, &first.id).await.is_empty()).then_some(())
    })
    .await;

    // Importing the same sheet again, as .xlsx, changes nothing.
    let sheet = tsunagu_tabular::read(csv.as_bytes(), tsunagu_tabular::Format::Csv).unwrap();
    let rows: Vec<Vec<String>> = sheet.rows.iter().map(|row| row.cells.clone()).collect();
    let headers: Vec<&str> = sheet.headers.iter().map(String::as_str).collect();
    let xlsx = tsunagu_tabular::write_xlsx("ニーズ", &headers, &rows).unwrap();
    let again = intake
        .import_needs_sheet(import(xlsx, false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.created, again.unchanged, again.rejected.len()), (0, 2, 4));
    assert_eq!(count_needs(&system).await, 2);

    // A sheet without 受付番号 is refused whole, naming the column.
    let status = intake
        .import_needs_sheet(import(
            format!("区域ID,カテゴリ\n{area},ゴミ出し\n").into_bytes(),
            false,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("受付番号"), "{}", status.message());

    // Survey results (地域課題) the same way.
    let survey = format!(
        "受付番号,出典,区域ID,カテゴリ,件数,推計,期間開始,期間終了,備考\n\
         S-1,ニーズ調査,{area},買い物支援,42人,○,2026-04-01,2026-09-30,坂が多い\n\
         S-2,地域ケア会議,{area},ゴミ出し,3,,2026-10-01,2026-10-31,\n\
         S-3,回覧板,{area},ゴミ出し,x,,2026-10-01,2026-09-01,\n"
    );
    let issues = intake
        .import_area_issues_sheet(pb::ImportAreaIssuesSheetRequest {
            municipality_code: MUNICIPALITY.into(),
            content: survey.into_bytes(),
            imported_by: "高齢介護課".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(issues.created, 2);
    let columns: Vec<_> = issues
        .rejected
        .iter()
        .map(|p| (p.row, p.column.as_str()))
        .collect();
    assert_eq!(columns, [(4, "出典"), (4, "件数")]);
    let listed = intake
        .list_area_issues(pb::ListAreaIssuesRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .issues;
    assert_eq!(listed.len(), 2);
    assert_eq!((listed[0].count, listed[0].estimated), (42, true));
    system.shutdown().await;
}
