//! Import and export of organisations: a sheet with good and bad rows (good rows kept, bad
//! rows reported by row and column, nothing half written), dry runs, re-imports that change
//! nothing, partial sheets that touch only their columns, and export → import round trips in
//! both formats.

use tsunagu_proto::registry::v1 as pb;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem};

use crate::support::violated_fields;

/// (row, column) of each rejected cell, in report order.
fn cells(rejected: &[pb::RowProblem]) -> Vec<(u32, &str)> {
    rejected.iter().map(|p| (p.row, p.column.as_str())).collect()
}

const ORGANIZATIONS: &str = "\
外部ID,団体名,読み,種類,親団体名,法人番号,介護保険事業所番号,活動区域,電話,FAX,メール,URL,住所
o-1,大垣市社会福祉協議会,オオガキシ シャカイフクシキョウギカイ,社会福祉協議会,,1180301018771,,212024,0584-78-1111（事務局）、0584-78-2222,0584-78-3333,info@example.jp,https://example.jp/,大垣市丸の内1-1（本所）
o-2,西地区社協,,地区社協,大垣市社会福祉協議会,,,西部圏域,,,,,
bad-1,,,NPO法人,,,,,,,,,
bad-2,なぞの会,,秘密結社,,,,東部圏域,123,,,,
o-3,ケアセンターあおい,,介護サービス事業所,,,2170400123、2170400456,西部圏域、212024,0584-11-2222,,,,
bad-3,親なし会,,ボランティア団体,存在しない団体,,21704,,,,,,
";

async fn import_organizations(
    system: &TestSystem,
    content: Vec<u8>,
    dry_run: bool,
) -> pb::ImportOrganizationsResponse {
    system
        .registry()
        .import_organizations(pb::ImportOrganizationsRequest {
            municipality_code: MUNICIPALITY.into(),
            content,
            dry_run,
            imported_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .expect("import organizations")
        .into_inner()
}

async fn organizations(system: &TestSystem) -> Vec<pb::Organization> {
    system
        .registry()
        .list_organizations(pb::ListOrganizationsRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .organizations
}

fn contact(kind: pb::ContactKind, value: &str, label: &str) -> pb::ContactPoint {
    pb::ContactPoint {
        kind: kind.into(),
        value: value.into(),
        label: label.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organisations_import_good_rows_report_bad_ones_and_touch_only_their_columns() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let before = organizations(&system).await;

    let dry = import_organizations(&system, ORGANIZATIONS.as_bytes().to_vec(), true).await;
    assert_eq!((dry.created, dry.updated, dry.dry_run), (3, 0, true), "{dry:#?}");
    assert_eq!(organizations(&system).await, before, "a dry run writes nothing");

    let report = import_organizations(&system, ORGANIZATIONS.as_bytes().to_vec(), false).await;
    assert_eq!((report.created, report.updated, report.unchanged), (3, 0, 0));
    assert_eq!(
        cells(&report.rejected),
        [
            (4, "団体名"),
            (5, "種類"),
            (5, "活動区域"),
            (5, "電話"),
            (7, "親団体名"),
            (7, "介護保険事業所番号"),
        ],
        "{:#?}",
        report.rejected
    );
    assert!(
        report.rejected[2].reason.contains("東部圏域"),
        "{}",
        report.rejected[2].reason
    );

    let after = organizations(&system).await;
    let names: Vec<&str> = after.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "NPO法人 ささえあい",
            "大垣市社会福祉協議会",
            "西地区社協",
            "ケアセンターあおい"
        ]
    );
    let shakyo = &after[1];
    assert_eq!(shakyo.kind(), pb::OrganizationKind::Shakyo);
    assert_eq!(shakyo.external_id, "o-1");
    assert_eq!(shakyo.corporate_number, "1180301018771");
    assert_eq!(shakyo.area_ids, std::slice::from_ref(&fixture.municipality_id));
    assert_eq!(
        shakyo.contact_points,
        [
            contact(pb::ContactKind::Phone, "0584-78-1111", "事務局"),
            contact(pb::ContactKind::Phone, "0584-78-2222", ""),
            contact(pb::ContactKind::Fax, "0584-78-3333", ""),
            contact(pb::ContactKind::Email, "info@example.jp", ""),
            contact(pb::ContactKind::Url, "https://example.jp/", ""),
            contact(pb::ContactKind::Address, "大垣市丸の内1-1", "本所"),
        ]
    );
    // The parent was created by a row above.
    assert_eq!(after[2].parent_organization_id, shakyo.id);
    assert_eq!(after[2].kind(), pb::OrganizationKind::DistrictShakyo);
    let care = &after[3];
    assert_eq!(care.care_provider_numbers, ["2170400123", "2170400456"]);
    let mut areas = vec![
        fixture.daily_life_area_id.clone(),
        fixture.municipality_id.clone(),
    ];
    areas.sort();
    assert_eq!(care.area_ids, areas);

    // The same sheet again changes nothing.
    let again = import_organizations(&system, ORGANIZATIONS.as_bytes().to_vec(), false).await;
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 3));
    assert_eq!(organizations(&system).await, after);

    // A sheet of two columns changes the phones only; the other contact points stay.
    let phones = format!("ID,電話\n{},０５８４－７８－９９９９（事務局）\n", after[1].id);
    let update = import_organizations(&system, phones.into_bytes(), false).await;
    assert_eq!(
        (update.created, update.updated, update.unchanged),
        (0, 1, 0),
        "{update:#?}"
    );
    let shakyo = organizations(&system).await.remove(1);
    assert_eq!(shakyo.version, 2);
    assert_eq!(shakyo.name, "大垣市社会福祉協議会");
    assert_eq!(
        shakyo.contact_points[..2],
        [
            contact(pb::ContactKind::Phone, "0584-78-9999", "事務局"),
            contact(pb::ContactKind::Fax, "0584-78-3333", ""),
        ]
    );
    assert_eq!(shakyo.contact_points.len(), 5);

    // A taken 外部ID is the row's problem, and the rows after it are still applied.
    let clash = format!(
        "ID,外部ID,読み\n{},o-1,\n{},o-2,ニシチクシャキョウ\n",
        fixture.organization_id, after[2].id
    );
    let clash = import_organizations(&system, clash.into_bytes(), false).await;
    assert_eq!(cells(&clash.rejected), [(2, "外部ID")], "{clash:#?}");
    assert_eq!((clash.updated, clash.unchanged), (1, 0));
    let now = organizations(&system).await;
    assert_eq!(now[0], after[0], "the rejected row wrote nothing");
    assert_eq!(now[2].name_kana, "ニシチクシャキョウ");

    // A file without the required columns is refused as a whole.
    let status = system
        .registry()
        .import_organizations(pb::ImportOrganizationsRequest {
            municipality_code: MUNICIPALITY.into(),
            content: "読み\nあ\n".as_bytes().to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["content"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_export_imports_back_to_the_same_state_in_both_formats() {
    let system = TestSystem::start().await;
    let _fixture = Fixture::create(&system, 1).await;
    import_organizations(&system, ORGANIZATIONS.as_bytes().to_vec(), false).await;
    let before = organizations(&system).await;
    assert_eq!(before.len(), 4);

    for format in [pb::SheetFormat::Xlsx, pb::SheetFormat::Csv] {
        let export = system
            .registry()
            .export_organizations(pb::ExportOrganizationsRequest {
                municipality_code: MUNICIPALITY.into(),
                format: format.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(export.row_count, 4);
        assert!(
            export.file_name.starts_with("団体_212024_"),
            "{}",
            export.file_name
        );
        if format == pb::SheetFormat::Csv {
            let csv = String::from_utf8(export.content.clone()).unwrap();
            assert!(
                csv.contains(",社会福祉協議会,") && csv.contains("0584-78-1111（事務局）、0584-78-2222"),
                "{csv}"
            );
        }
        let report = import_organizations(&system, export.content, false).await;
        assert!(report.rejected.is_empty(), "{format:?}: {:#?}", report.rejected);
        assert_eq!(
            (report.created, report.updated, report.unchanged),
            (0, 0, 4),
            "{format:?}"
        );
        assert_eq!(
            organizations(&system).await,
            before,
            "{format:?}: the round trip changed something"
        );
    }
}
