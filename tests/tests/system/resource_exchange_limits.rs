//! What a sheet import must refuse cell by cell, as the API refuses the same field (issue 17):
//! a negative fee, a longitude that is not a number, an area that does not exist, a control
//! character (PostgreSQL refuses NUL; the API refuses every control character outside
//! multi-line fields) — each reported by row and column while the good rows around it are
//! kept. Also the columns an import does not take, which it must name.

use std::io::Write;

use tonic::Code;
use tonic_types::StatusExt;
use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_proto::registry::v1::community_service_client::CommunityServiceClient;
use tsunagu_runtime::ServiceName;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem};

use crate::support::violated_fields;

/// (row, column) of each rejected cell, in report order.
fn cells(rejected: &[pb::RowProblem]) -> Vec<(u32, &str)> {
    rejected.iter().map(|p| (p.row, p.column.as_str())).collect()
}

/// An area id that no area has (a valid UUID, so only the database can tell).
const NO_AREA: &str = "01900000-0000-7000-8000-000000000000";

fn resource_sheet() -> String {
    // Rows 3 to 9 are each wrong in exactly one cell; rows 2 and 10 are sound, and row 2's
    // 説明 holds a line break, which the API's description (a multi-line field) allows.
    [
        "外部ID,資源名,事業主体名,カテゴリ,対象区域,料金,緯度,経度,住所,説明",
        "ok-1,サロン東,NPO法人 ささえあい,交流サロン,212024,300円/1回,35.36,136.61,大垣市東1-1,\"送迎あり\n雨天中止\"",
        "neg-fee,サロン南,NPO法人 ささえあい,交流サロン,212024,-300円/1回,,,,",
        "bad-lon,サロン北,NPO法人 ささえあい,交流サロン,212024,無料,35.36,abc,,",
        &format!("no-area,サロン西,NPO法人 ささえあい,交流サロン,{NO_AREA},無料,,,,"),
        "nul-name,サロン\u{0}中,NPO法人 ささえあい,交流サロン,212024,無料,,,,",
        "nul-\u{0}id,サロン中央,NPO法人 ささえあい,交流サロン,212024,無料,,,,",
        "lf-name,\"サロン\n二行\",NPO法人 ささえあい,交流サロン,212024,無料,,,,",
        "esc-address,サロン駅前,NPO法人 ささえあい,交流サロン,212024,無料,,,大垣市\u{1b}[31m駅前,",
        "ok-2,サロン駅裏,NPO法人 ささえあい,交流サロン,212024,無料,,,,",
    ]
    .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_sheet_cells_are_checked_as_the_api_checks_their_fields() {
    let system = TestSystem::start().await;
    let _fixture = Fixture::create(&system, 1).await;
    let report = system
        .registry()
        .import_resources(pb::ImportResourcesRequest {
            municipality_code: MUNICIPALITY.into(),
            content: resource_sheet().into_bytes(),
            imported_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .expect("a sheet with bad cells is reported, not refused")
        .into_inner();
    assert_eq!(
        cells(&report.rejected),
        [
            (3, "料金"),
            (4, "経度"),
            (5, "対象区域"),
            (6, "資源名"),
            (7, "外部ID"),
            (8, "資源名"),
            (9, "住所"),
        ],
        "{:#?}",
        report.rejected
    );
    assert_eq!(report.created, 2, "the sound rows around the bad ones are kept");
    let reason = |row: u32| {
        report
            .rejected
            .iter()
            .find(|p| p.row == row)
            .map(|p| p.reason.as_str())
            .unwrap()
    };
    assert!(reason(6).contains("U+0000"), "{}", reason(6));
    assert!(reason(8).contains("U+000A"), "{}", reason(8));
    assert!(reason(9).contains("U+001B"), "{}", reason(9));
    for problem in &report.rejected {
        assert!(
            !problem.reason.contains('\u{0}') && !problem.reason.contains('\u{1b}'),
            "a report never repeats the control character: {:?}",
            problem.reason
        );
    }
    let stored = system
        .registry()
        .list_resources(pb::ListResourcesRequest {
            municipality_code: MUNICIPALITY.into(),
            text: "サロン".into(),
            view: pb::ResourceView::Full.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .resources;
    let mut names: Vec<&str> = stored.iter().map(|r| r.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["サロン東", "サロン駅裏"]);
    let east = stored.iter().find(|r| r.name == "サロン東").unwrap();
    assert_eq!(east.description, "送迎あり\n雨天中止");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organisation_and_helper_sheet_cells_are_checked_as_the_api_checks_their_fields() {
    let system = TestSystem::start().await;
    let _fixture = Fixture::create(&system, 1).await;
    let organizations = [
        "外部ID,団体名,種類,活動区域,電話",
        "o-ok,見守りの会,ボランティアグループ,212024,0584-11-1111",
        "o-nul,見守り\u{0}会,ボランティアグループ,212024,",
        &format!("o-area,配食の会,ボランティアグループ,{NO_AREA},"),
        "o-tab,体操の会,ボランティアグループ,212024,0584-11-\u{7}2222",
        "o-ok2,散歩の会,ボランティアグループ,212024,",
    ]
    .join("\n");
    let report = system
        .registry()
        .import_organizations(pb::ImportOrganizationsRequest {
            municipality_code: MUNICIPALITY.into(),
            content: organizations.into_bytes(),
            imported_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .expect("organisations reported")
        .into_inner();
    assert_eq!(
        cells(&report.rejected),
        [(3, "団体名"), (4, "活動区域"), (5, "電話")],
        "{:#?}",
        report.rejected
    );
    assert_eq!(report.created, 2);

    let helpers = [
        "外部ID,氏名,種類,所属団体名,技能,活動区域",
        "h-ok,山田 花子,個人,見守りの会,ゴミ出し,212024",
        "h-nul,鈴木\u{0}一郎,個人,見守りの会,ゴミ出し,212024",
        &format!("h-area,佐藤 次郎,個人,見守りの会,ゴミ出し,{NO_AREA}"),
        "h-ok2,田中 三郎,個人,見守りの会,ゴミ出し,212024",
    ]
    .join("\n");
    let report = CommunityServiceClient::new(system.grpc_channel(ServiceName::Registry))
        .import_helpers(pb::ImportHelpersRequest {
            municipality_code: MUNICIPALITY.into(),
            content: helpers.into_bytes(),
            imported_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .expect("helpers reported")
        .into_inner();
    assert_eq!(
        cells(&report.rejected),
        [(3, "氏名"), (4, "活動区域")],
        "{:#?}",
        report.rejected
    );
    assert_eq!(report.created, 2);
}

/// The standard dataset with the headers of the 自治体標準オープンデータセット's current
/// template (事業所名_カナ), a column this import does not take (地域区分), and rows wrong in
/// one cell each.
const CARE_PROVIDERS: &str = "\
市区町村コード,NO,事業所名,事業所名_カナ,実施サービス,住所,緯度,経度,事業所番号,地域区分
212024,1,デイサービスさくら,ﾃﾞｲｻｰﾋﾞｽｻｸﾗ,通所介護,岐阜県大垣市西1-1,35.36,136.61,2170400789,7級地
212024,2,訪問介護つばき,ﾎｳﾓﾝｶｲｺﾞﾂﾊﾞｷ,訪問介護,岐阜県大垣市西1-2,35.36,abc,2170400790,7級地
212024,3,訪問介護\u{0}もみじ,ﾎｳﾓﾝｶｲｺﾞﾓﾐｼﾞ,訪問介護,,,,2170400791,7級地
212024,4,ショートステイかえで,ｼｮｰﾄｽﾃｲｶｴﾃﾞ,短期入所生活介護,,,,2170400792,7級地
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn care_provider_list_takes_the_kana_column_checks_every_cell_and_names_what_it_ignores() {
    let system = TestSystem::start().await;
    let _fixture = Fixture::create(&system, 1).await;
    let report = system
        .registry()
        .import_care_providers(pb::ImportCareProvidersRequest {
            municipality_code: MUNICIPALITY.into(),
            content: CARE_PROVIDERS.as_bytes().to_vec(),
            imported_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .expect("care providers reported")
        .into_inner();
    assert_eq!(report.resources_created, 2, "{report:#?}");
    // The response has no ignored_headers field: the columns not taken are reported against
    // the header row (row 1), before the rows' own problems.
    assert_eq!(
        cells(&report.rejected),
        [(1, "NO"), (1, "地域区分"), (3, "経度"), (4, "事業所名")],
        "{:#?}",
        report.rejected
    );
    let resources = system
        .registry()
        .list_resources(pb::ListResourcesRequest {
            municipality_code: MUNICIPALITY.into(),
            text: "さくら".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .resources;
    assert_eq!(resources.len(), 1);
    assert_eq!(resources[0].name_kana, "デイサービスサクラ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sheet_import_names_the_columns_it_does_not_take() {
    let system = TestSystem::start().await;
    let _fixture = Fixture::create(&system, 1).await;
    let resources = system
        .registry()
        .import_resources(pb::ImportResourcesRequest {
            municipality_code: MUNICIPALITY.into(),
            content: "資源名,カテゴリ,対象区域,担当者メモ\nサロン,交流サロン,212024,内緒\n"
                .as_bytes()
                .to_vec(),
            dry_run: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resources.ignored_headers, ["担当者メモ"]);
    let organizations = system
        .registry()
        .import_organizations(pb::ImportOrganizationsRequest {
            municipality_code: MUNICIPALITY.into(),
            content: "団体名,種類,会費\n会,ボランティアグループ,500円\n"
                .as_bytes()
                .to_vec(),
            dry_run: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(organizations.ignored_headers, ["会費"]);
}

/// An .xlsx of a few hundred KB whose shared strings unpack to `unpacked` bytes: one sheet,
/// cell A1 the first shared string, then the same 1,000-byte string again and again, which
/// deflate squeezes a thousandfold.
fn xlsx_bomb(unpacked: usize) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    let main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    let relationships = "http://schemas.openxmlformats.org/package/2006/relationships";
    let office = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    let parts = [
        (
            "[Content_Types].xml".to_string(),
            r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>"#
                .to_string(),
        ),
        (
            "_rels/.rels".into(),
            format!(
                r#"<Relationships xmlns="{relationships}"><Relationship Id="rId1" Type="{office}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
            ),
        ),
        (
            "xl/workbook.xml".into(),
            format!(
                r#"<workbook xmlns="{main}" xmlns:r="{office}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#
            ),
        ),
        (
            "xl/_rels/workbook.xml.rels".into(),
            format!(
                r#"<Relationships xmlns="{relationships}"><Relationship Id="rId1" Type="{office}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{office}/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#
            ),
        ),
        (
            "xl/worksheets/sheet1.xml".into(),
            format!(
                r#"<worksheet xmlns="{main}"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>"#
            ),
        ),
    ];
    for (name, content) in parts {
        zip.start_file(name, options).unwrap();
        zip.write_all(content.as_bytes()).unwrap();
    }
    zip.start_file("xl/sharedStrings.xml", options).unwrap();
    write!(zip, r#"<sst xmlns="{main}">"#).unwrap();
    let item = format!("<si><t>{}</t></si>", "資".repeat(328));
    for _ in 0..unpacked / item.len() + 1 {
        zip.write_all(item.as_bytes()).unwrap();
    }
    zip.write_all(b"</sst>").unwrap();
    zip.finish().unwrap().into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_xlsx_import_refuses_a_workbook_that_unpacks_too_large() {
    let system = TestSystem::start().await;
    let _fixture = Fixture::create(&system, 1).await;
    // The size of the issue's bomb: 290 MB of shared strings.
    let bomb = xlsx_bomb(290 * 1024 * 1024);
    assert!(
        bomb.len() < 4 * 1024 * 1024,
        "the bomb is small: {} bytes",
        bomb.len()
    );
    let refused = |status: tonic::Status, import: &str| {
        assert_eq!(status.code(), Code::InvalidArgument, "{import}: {status:?}");
        assert_eq!(violated_fields(&status), ["content"], "{import}");
        let details = status.get_error_details();
        let reason = &details.bad_request().unwrap().field_violations[0].description;
        assert!(
            // Intake puts 「表を読めません: 」 before the reader's message.
            reason.contains("Excelファイルを展開すると大きすぎます")
                && reason.contains(" / the .xlsx unpacks to more than"),
            "{import}: {reason}"
        );
    };
    let xlsx = pb::SheetFormat::Xlsx.into();
    refused(
        system
            .registry()
            .import_resources(pb::ImportResourcesRequest {
                municipality_code: MUNICIPALITY.into(),
                content: bomb.clone(),
                format: xlsx,
                ..Default::default()
            })
            .await
            .unwrap_err(),
        "ImportResources",
    );
    refused(
        system
            .registry()
            .import_organizations(pb::ImportOrganizationsRequest {
                municipality_code: MUNICIPALITY.into(),
                content: bomb.clone(),
                format: xlsx,
                ..Default::default()
            })
            .await
            .unwrap_err(),
        "ImportOrganizations",
    );
    refused(
        CommunityServiceClient::new(system.grpc_channel(ServiceName::Registry))
            .import_helpers(pb::ImportHelpersRequest {
                municipality_code: MUNICIPALITY.into(),
                content: bomb.clone(),
                format: xlsx,
                ..Default::default()
            })
            .await
            .unwrap_err(),
        "ImportHelpers",
    );
    // Told from the content (an .xlsx is a ZIP), as a coordinator's upload usually is.
    refused(
        system
            .intake()
            .import_needs_sheet(intake_pb::ImportNeedsSheetRequest {
                municipality_code: MUNICIPALITY.into(),
                content: bomb,
                ..Default::default()
            })
            .await
            .unwrap_err(),
        "ImportNeedsSheet",
    );
}

/// Resources of two organisations: schedules, a paid and a free fee, coverage by name and by
/// official code, a point, an address, and a confidential shelter.
const HSDS_SHEET: &str = "\
外部ID,資源名,読み,事業主体名,カテゴリ,対象区域,定員,空き,料金,対象者,日程,状態,住所,緯度,経度,住所非公開,URL,説明
s-1,ふれあいサロン西,ふれあいさろんにし,NPO法人 ささえあい,交流サロン,212024,20,5,100円/1回（お茶代）,一般高齢者、要支援1,第2・第4水曜 10:00〜12:00（祝日を除く）,実施中,大垣市西1-1,35.36,136.61,,https://example.jp/salon,毎月の集い
s-2,ゴミ出し応援隊,,NPO法人 ささえあい,ゴミ出し,212024,3,3,無料,,毎週 火・金曜 7:00〜8:30,実施中,,,,,,
s-3,体操教室,,見守りの会,健康体操,212024,10,2,300円/月,要支援1、要支援2,毎週 月曜 14:00〜15:00,一時休止,大垣市東3-3,,,,,
s-4,シェルター,,見守りの会,空き家,,0,0,,,,実施中,大垣市東2-2,35.37,136.62,○,,
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsds_export_validates_against_the_hsds_3_schema() {
    let system = TestSystem::start().await;
    let _fixture = Fixture::create(&system, 1).await;
    system
        .registry()
        .create_organization(pb::CreateOrganizationRequest {
            municipality_code: MUNICIPALITY.into(),
            name: "見守りの会".into(),
            kind: pb::OrganizationKind::VolunteerGroup.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let report = system
        .registry()
        .import_resources(pb::ImportResourcesRequest {
            municipality_code: MUNICIPALITY.into(),
            content: HSDS_SHEET.as_bytes().to_vec(),
            imported_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((report.created, report.rejected.len()), (4, 0), "{report:#?}");
    let hsds = system
        .registry()
        .export_resources_hsds(pb::ExportResourcesHsdsRequest {
            municipality_code: MUNICIPALITY.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let json: serde_json::Value = serde_json::from_str(&hsds.json).unwrap();
    assert!(json.as_array().unwrap().len() >= 2, "several organisations");

    // The official schema (tests/data/hsds-3, copied from openreferral/specification) and
    // Python's jsonschema, which scripts/ensure-services.sh installs.
    let validator = concat!(env!("CARGO_MANIFEST_DIR"), "/data/hsds-3/validate.py");
    let mut child = std::process::Command::new("python3")
        .arg(validator)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(hsds.json.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the HSDS export does not validate:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // What the schema cannot say: the confidential address stays out, ids are stable.
    assert!(!hsds.json.contains("大垣市東2-2"));
    for organization in json.as_array().unwrap() {
        for service in organization["services"].as_array().unwrap() {
            for at_location in service["service_at_locations"].as_array().unwrap() {
                assert_ne!(at_location["id"], at_location["location"]["id"]);
                assert!(at_location["location"]["id"].is_string());
            }
        }
    }
}
