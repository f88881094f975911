//! Import and export of resources: a sheet with good and bad rows (good rows kept, bad rows
//! reported by row and column, nothing half written), dry runs, export → import round trips
//! in both formats, and HSDS JSON.

use tsunagu_proto::registry::v1 as pb;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem};

use crate::support::violated_fields;

const SHEET: &str = "\
外部ID,資源名,読み,事業主体名,カテゴリ,対象区域,定員,空き,料金,対象者,日程,状態,住所,住所非公開
g-1,ふれあいサロン西,ふれあいさろんにし,NPO法人 ささえあい,交流サロン,西部圏域,20,5,100円/1回,一般高齢者、要支援1,第2・第4水曜 10:00〜12:00（祝日を除く）,実施中,大垣市西1-1,
g-2,ゴミ出し応援隊,,NPO法人 ささえあい,ゴミ出し,212024,3,3,無料,,毎週 火・金曜 7:00〜8:30,実施中,,
bad-1,,,NPO法人 ささえあい,ゴミ出し,西部圏域,3,3,,,毎週 火曜 7:00〜8:00,実施中,,
bad-2,体操教室,,NPO法人 ささえあい,健康体操,東部圏域,10,,,要介護6,ときどき,,,
g-3,シェルター,,NPO法人 ささえあい,空き家,,0,0,,,,一時休止,大垣市東2-2,○
";

async fn import(system: &TestSystem, content: Vec<u8>, dry_run: bool) -> pb::ImportResourcesResponse {
    system
        .registry()
        .import_resources(pb::ImportResourcesRequest {
            municipality_code: MUNICIPALITY.into(),
            content,
            dry_run,
            imported_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .expect("import")
        .into_inner()
}

async fn resources(system: &TestSystem) -> Vec<pb::Resource> {
    let mut all = system
        .registry()
        .list_resources(pb::ListResourcesRequest {
            municipality_code: MUNICIPALITY.into(),
            view: pb::ResourceView::Full.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .resources;
    all.sort_by(|a, b| a.id.cmp(&b.id));
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_rows_are_kept_bad_rows_reported_and_nothing_is_half_written() {
    let system = TestSystem::start().await;
    let _fixture = Fixture::create(&system, 1).await;
    let before = resources(&system).await;

    let dry = import(&system, SHEET.as_bytes().to_vec(), true).await;
    assert_eq!((dry.created, dry.updated, dry.rejected.is_empty()), (3, 0, false));
    assert_eq!(resources(&system).await, before, "a dry run writes nothing");

    let report = import(&system, SHEET.as_bytes().to_vec(), false).await;
    assert_eq!((report.created, report.updated, report.unchanged), (3, 0, 0));
    let problems: Vec<(u32, &str)> = report
        .rejected
        .iter()
        .map(|p| (p.row, p.column.as_str()))
        .collect();
    assert_eq!(
        problems,
        [(4, "資源名"), (5, "対象区域"), (5, "対象者"), (5, "日程")],
        "{:#?}",
        report.rejected
    );
    assert!(
        report.rejected[1].reason.contains("東部圏域"),
        "{}",
        report.rejected[1].reason
    );

    let after = resources(&system).await;
    let names: Vec<&str> = after.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ゴミ出し支え隊",
            "ふれあいサロン西",
            "ゴミ出し応援隊",
            "シェルター"
        ]
    );
    let salon = &after[1];
    assert_eq!(salon.category, "social.salon");
    assert_eq!(salon.schedules[0].rrule, "FREQ=MONTHLY;BYDAY=2WE,4WE");
    assert_eq!(salon.fee.as_ref().unwrap().amount_yen, 100);
    assert_eq!(salon.external_id, "g-1");
    let shelter = &after[3];
    assert_eq!(shelter.kind(), pb::ResourceKind::Place);
    assert!(shelter.location.as_ref().unwrap().confidential);

    // Importing the same sheet again changes nothing; a changed cell updates by 外部ID.
    let again = import(&system, SHEET.as_bytes().to_vec(), false).await;
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 3));
    let edited = SHEET.replace(
        "g-2,ゴミ出し応援隊,,NPO法人 ささえあい,ゴミ出し,212024,3,3",
        "g-2,ゴミ出し応援隊,,NPO法人 ささえあい,ゴミ出し,212024,5,4",
    );
    let update = import(&system, edited.into_bytes(), false).await;
    assert_eq!((update.created, update.updated, update.unchanged), (0, 1, 2));

    // A file that is not a sheet is refused as a whole, naming the field.
    let status = system
        .registry()
        .import_resources(pb::ImportResourcesRequest {
            municipality_code: MUNICIPALITY.into(),
            content: b"PK\x03\x04 not really a workbook".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["content"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_imports_back_to_the_same_state_in_both_formats() {
    let system = TestSystem::start().await;
    let _fixture = Fixture::create(&system, 1).await;
    import(&system, SHEET.as_bytes().to_vec(), false).await;
    let before = resources(&system).await;

    for format in [pb::SheetFormat::Xlsx, pb::SheetFormat::Csv] {
        let export = system
            .registry()
            .export_resources(pb::ExportResourcesRequest {
                municipality_code: MUNICIPALITY.into(),
                format: format.into(),
                include_confidential: true,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(export.row_count, 4);
        let report = import(&system, export.content.clone(), false).await;
        assert!(report.rejected.is_empty(), "{format:?}: {:#?}", report.rejected);
        assert_eq!(
            (report.created, report.updated, report.unchanged),
            (0, 0, 4),
            "{format:?}"
        );
        assert_eq!(
            resources(&system).await,
            before,
            "{format:?}: the round trip changed something"
        );
    }

    // Without include_confidential the shelter's address is left out of the sheet.
    let public = system
        .registry()
        .export_resources(pb::ExportResourcesRequest {
            municipality_code: MUNICIPALITY.into(),
            format: pb::SheetFormat::Csv.into(),
            include_confidential: false,
        })
        .await
        .unwrap()
        .into_inner();
    let csv = String::from_utf8(public.content).unwrap();
    assert!(
        csv.contains("大垣市西1-1") && !csv.contains("大垣市東2-2"),
        "{csv}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsds_export_carries_schedules_costs_areas_and_no_confidential_address() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    import(&system, SHEET.as_bytes().to_vec(), false).await;
    let hsds = system
        .registry()
        .export_resources_hsds(pb::ExportResourcesHsdsRequest {
            municipality_code: MUNICIPALITY.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hsds.service_count, 4);
    let json: serde_json::Value = serde_json::from_str(&hsds.json).unwrap();
    let organization = &json[0];
    assert_eq!(organization["id"], fixture.organization_id.as_str());
    let services = organization["services"].as_array().unwrap();
    let salon = services.iter().find(|s| s["name"] == "ふれあいサロン西").unwrap();
    assert_eq!(salon["schedules"][0]["freq"], "MONTHLY");
    assert_eq!(salon["schedules"][0]["byday"], "2WE,4WE");
    assert_eq!(salon["schedules"][0]["opens_at"], "10:00");
    assert_eq!(salon["cost_options"][0]["amount"], 100);
    assert_eq!(salon["cost_options"][0]["currency"], "JPY");
    assert_eq!(salon["service_areas"][0]["name"], "西部圏域");
    assert_eq!(salon["attributes"][0]["taxonomy_term"]["code"], "social.salon");
    assert_eq!(
        salon["service_at_locations"][0]["location"]["addresses"][0]["address_1"],
        "大垣市西1-1"
    );
    let shelter = services.iter().find(|s| s["name"] == "シェルター").unwrap();
    assert!(!hsds.json.contains("大垣市東2-2"));
    assert_eq!(shelter["status"], "temporarily closed");
}

/// Two rows of the standard dataset as a municipality publishes it (Shift_JIS, half-width
/// kana), and one with a broken 事業所番号.
const CARE_PROVIDERS: &str = "\
都道府県コード又は市区町村コード,NO,名称,名称_カナ,実施サービス,住所,方書,緯度,経度,電話番号,FAX番号,法人番号,事業所番号,利用可能曜日,定員,URL,備考
212024,1,デイサービスひまわり,ﾃﾞｲｻｰﾋﾞｽﾋﾏﾜﾘ,地域密着型通所介護,岐阜県大垣市丸の内1-1,,35.36,136.61,0584-11-2222,,,2170400123,月火水木金,18,https://example.jp/himawari,送迎あり
212024,2,ヘルパーステーションあおい,ﾍﾙﾊﾟｰｽﾃｰｼｮﾝｱｵｲ,訪問介護,岐阜県大垣市東1-2,,,,0584-33-4444,,,2170400456,毎日,,,
212024,3,番号まちがい,ﾊﾞﾝｺﾞｳﾏﾁｶﾞｲ,訪問介護,,,,,,,,21704,,,,
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_care_provider_list_becomes_organisations_and_resources() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let (content, _, unmappable) = encoding_rs::SHIFT_JIS.encode(CARE_PROVIDERS);
    assert!(!unmappable);
    let request = |dry_run| pb::ImportCareProvidersRequest {
        municipality_code: MUNICIPALITY.into(),
        content: content.to_vec(),
        dry_run,
        imported_by: "テスト".into(),
        coverage_area_ids: vec![],
    };
    let report = system
        .registry()
        .import_care_providers(request(false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (report.organizations_created, report.resources_created),
        (2, 2),
        "{report:#?}"
    );
    assert_eq!(
        report
            .rejected
            .iter()
            .map(|p| (p.row, p.column.as_str()))
            .collect::<Vec<_>>(),
        // NO is a column of the standard this import does not take: named against the
        // header row, as the response has no ignored_headers.
        [(1, "NO"), (4, "事業所番号")]
    );

    let day_service = system
        .registry()
        .list_resources(pb::ListResourcesRequest {
            municipality_code: MUNICIPALITY.into(),
            text: "ﾋﾏﾜﾘ".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .resources;
    let day_service = &day_service[0];
    assert_eq!(
        (day_service.category.as_str(), day_service.name_kana.as_str()),
        ("care.day", "デイサービスヒマワリ")
    );
    assert_eq!(day_service.capacity.as_ref().unwrap().maximum, 18);
    assert_eq!(
        day_service.coverage_area_ids,
        std::slice::from_ref(&fixture.municipality_id)
    );
    assert!(
        day_service.description.contains("利用可能曜日: 月火水木金"),
        "{}",
        day_service.description
    );
    let provider = system
        .registry()
        .list_organizations(pb::ListOrganizationsRequest {
            municipality_code: MUNICIPALITY.into(),
            care_provider_number: "2170400123".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .organizations;
    assert_eq!(provider.len(), 1);
    assert_eq!(provider[0].kind(), pb::OrganizationKind::CareProvider);
    assert_eq!(day_service.organization_id, provider[0].id);

    // Re-importing the same list changes nothing.
    let again = system
        .registry()
        .import_care_providers(request(false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            again.organizations_created,
            again.resources_created,
            again.unchanged
        ),
        (0, 0, 2)
    );
}
