//! Import and export of organisations and helpers (担い手): a sheet with good and bad rows
//! (good rows kept, bad rows reported by row and column, nothing half written), dry runs,
//! re-imports that change nothing, partial sheets that touch only their columns, the
//! onboarding rules for a helper's 状態, and export → import round trips in both formats.

use tsunagu_proto::registry::v1 as pb;
use tsunagu_proto::registry::v1::community_service_client::CommunityServiceClient;
use tsunagu_runtime::ServiceName;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem};

use crate::support::violated_fields;

fn community(system: &TestSystem) -> CommunityServiceClient<tsunagu_tests::KeyedChannel> {
    CommunityServiceClient::new(system.grpc_channel(ServiceName::Registry))
}

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

const HELPERS: &str = "\
外部ID,氏名,読み,種類,所属団体ID,所属団体名,技能,活動区域,活動できる時間,月の上限,性別,言語,状態,研修,電話,メール
h-1,山田 花子,ヤマダ ハナコ,個人,,NPO法人 ささえあい,ゴミ出し、買い物支援,西部圏域,火 9:00〜12:00、金 13:00〜15:00,8回,女性,ja,養成済,生活支援サポーター養成講座 2025-06-14 12時間（大垣市社会福祉協議会）,090-1234-5678（携帯）,hanako@example.jp
h-2,見守りグループ西,,グループ,,NPO法人 ささえあい,安否確認・見守り,212024,月〜金 7:00〜8:00,10時間,,ja、pt-BR,養成前,,,
bad-1,鈴木 一郎,,個人,,NPO法人 ささえあい,草刈り,,水 25:00〜26:00,,,,活動中,,,
bad-2,佐藤 次郎,,個人,,存在しない団体,ゴミ出し,,,たくさん,,,,,,
bad-3,岐阜 四郎,,個人,{OTHER},,ゴミ出し,,,,,,養成前,,,
h-3,田中 三郎,,,,NPO法人 ささえあい,ゴミ出し,,,,男性,,活動中,\"認知症サポーター養成講座 2024-04-01
生活支援サポーター養成講座 2025-06-14 12時間\",,
";

async fn import_helpers(system: &TestSystem, content: Vec<u8>, dry_run: bool) -> pb::ImportHelpersResponse {
    community(system)
        .import_helpers(pb::ImportHelpersRequest {
            municipality_code: MUNICIPALITY.into(),
            content,
            dry_run,
            imported_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .expect("import helpers")
        .into_inner()
}

async fn helpers(system: &TestSystem, municipality_code: &str) -> Vec<pb::Helper> {
    community(system)
        .list_helpers(pb::ListHelpersRequest {
            municipality_code: municipality_code.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .helpers
}

/// The helper sheet, with an organisation of 岐阜市 (another municipality) for the row that
/// must be refused after its insert.
async fn helper_sheet(system: &TestSystem) -> String {
    let other = system
        .registry()
        .create_organization(pb::CreateOrganizationRequest {
            municipality_code: "212016".into(),
            name: "岐阜の会".into(),
            kind: pb::OrganizationKind::VolunteerGroup.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    HELPERS.replace("{OTHER}", &other.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpers_import_good_rows_report_bad_ones_and_follow_the_onboarding_rules() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let sheet = helper_sheet(&system).await;

    let dry = import_helpers(&system, sheet.clone().into_bytes(), true).await;
    assert_eq!((dry.created, dry.updated, dry.dry_run), (3, 0, true), "{dry:#?}");
    assert!(
        helpers(&system, MUNICIPALITY).await.is_empty(),
        "a dry run writes nothing"
    );

    let report = import_helpers(&system, sheet.clone().into_bytes(), false).await;
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (3, 0, 0),
        "{report:#?}"
    );
    assert_eq!(
        cells(&report.rejected),
        [
            (4, "活動できる時間"),
            (4, "技能"),
            (4, "状態"),
            (5, "所属団体名"),
            (5, "月の上限"),
            (6, "所属団体ID"),
        ],
        "{:#?}",
        report.rejected
    );
    assert!(
        report.rejected[1].reason.contains("草刈り"),
        "{}",
        report.rejected[1].reason
    );
    // The refused row of 岐阜市 was inserted, then undone with its savepoint.
    assert!(helpers(&system, "212016").await.is_empty());

    let after = helpers(&system, MUNICIPALITY).await;
    let names: Vec<&str> = after.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["山田 花子", "見守りグループ西", "田中 三郎"]);
    let hanako = &after[0];
    assert_eq!(hanako.external_id, "h-1");
    assert_eq!(hanako.organization_id, fixture.organization_id);
    assert_eq!(hanako.skills, ["life.garbage", "life.shopping"]);
    assert_eq!(hanako.area_ids, std::slice::from_ref(&fixture.daily_life_area_id));
    assert_eq!(
        hanako
            .availability
            .iter()
            .map(|w| (w.weekday, w.start_minute, w.end_minute))
            .collect::<Vec<_>>(),
        [(2, 540, 720), (5, 780, 900)]
    );
    let load = hanako.monthly_load.unwrap();
    assert_eq!((load.amount, load.unit()), (8, pb::MonthlyLoadUnit::Visits));
    assert_eq!(hanako.gender(), pb::HelperGender::Female);
    assert_eq!(hanako.status(), pb::HelperStatus::Trained);
    let course = &hanako.training_records[0];
    assert_eq!(
        (
            course.course_name.as_str(),
            course.completed_on.as_str(),
            course.hours,
            course.organiser.as_str()
        ),
        (
            "生活支援サポーター養成講座",
            "2025-06-14",
            12.0,
            "大垣市社会福祉協議会"
        )
    );
    assert_eq!(
        hanako.contact_points,
        [
            contact(pb::ContactKind::Phone, "090-1234-5678", "携帯"),
            contact(pb::ContactKind::Email, "hanako@example.jp", ""),
        ]
    );
    let group = &after[1];
    assert_eq!(group.kind(), pb::HelperKind::Group);
    assert_eq!(group.availability.len(), 5);
    assert_eq!(group.languages, ["ja", "pt-BR"]);
    assert_eq!(group.status(), pb::HelperStatus::Prospective);
    let saburo = &after[2];
    assert_eq!(saburo.kind(), pb::HelperKind::Individual, "an empty 種類 is 個人");
    assert_eq!(saburo.status(), pb::HelperStatus::Active);
    assert_eq!(saburo.training_records.len(), 2);

    // The same sheet again changes nothing.
    let again = import_helpers(&system, sheet.into_bytes(), false).await;
    assert_eq!(
        (again.created, again.updated, again.unchanged),
        (0, 0, 3),
        "{again:#?}"
    );
    assert_eq!(helpers(&system, MUNICIPALITY).await, after);

    // 状態 follows the onboarding rules: trained → active is a step, prospective → active is not.
    let steps = format!("ID,状態\n{},活動中\n{},活動中\n", after[0].id, after[1].id);
    let steps = import_helpers(&system, steps.into_bytes(), false).await;
    assert_eq!((steps.updated, steps.unchanged), (1, 0));
    assert_eq!(cells(&steps.rejected), [(3, "状態")]);
    assert!(
        steps.rejected[0].reason.contains("現在「養成前」"),
        "{}",
        steps.rejected[0].reason
    );
    let now = helpers(&system, MUNICIPALITY).await;
    assert_eq!(now[0].status(), pb::HelperStatus::Active);
    assert_eq!((now[0].version, now[0].name.as_str()), (2, "山田 花子"));
    assert_eq!(now[1], after[1], "the refused step wrote nothing");

    // The external id is the helper's through the API too, and unique in the municipality.
    let taken = community(&system)
        .create_helper(pb::CreateHelperRequest {
            helper: Some(pb::Helper {
                organization_id: fixture.organization_id.clone(),
                name: "別人".into(),
                kind: pb::HelperKind::Individual.into(),
                status: pb::HelperStatus::Prospective.into(),
                external_id: "h-1".into(),
                ..Default::default()
            }),
            created_by: "テスト".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(taken.code(), tonic::Code::AlreadyExists, "{taken:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helper_export_imports_back_to_the_same_state_in_both_formats() {
    let system = TestSystem::start().await;
    let _fixture = Fixture::create(&system, 1).await;
    let sheet = helper_sheet(&system).await;
    import_helpers(&system, sheet.into_bytes(), false).await;
    let before = helpers(&system, MUNICIPALITY).await;
    assert_eq!(before.len(), 3);

    let export = |format: pb::SheetFormat, include_contact_points: bool| {
        let mut client = community(&system);
        async move {
            client
                .export_helpers(pb::ExportHelpersRequest {
                    municipality_code: MUNICIPALITY.into(),
                    format: format.into(),
                    include_contact_points,
                })
                .await
                .unwrap()
                .into_inner()
        }
    };
    for format in [pb::SheetFormat::Xlsx, pb::SheetFormat::Csv] {
        let exported = export(format, true).await;
        assert_eq!(exported.row_count, 3);
        if format == pb::SheetFormat::Csv {
            let csv = String::from_utf8(exported.content.clone()).unwrap();
            for cell in [
                "火 9:00〜12:00、金 13:00〜15:00",
                ",8回,",
                "生活支援サポーター養成講座 2025-06-14 12時間（大垣市社会福祉協議会）",
                "090-1234-5678（携帯）",
                ",ゴミ出し、買い物支援,",
                ",養成済,",
            ] {
                assert!(csv.contains(cell), "{cell} not in {csv}");
            }
        }
        let report = import_helpers(&system, exported.content, false).await;
        assert!(report.rejected.is_empty(), "{format:?}: {:#?}", report.rejected);
        assert_eq!(
            (report.created, report.updated, report.unchanged),
            (0, 0, 3),
            "{format:?}"
        );
        assert_eq!(
            helpers(&system, MUNICIPALITY).await,
            before,
            "{format:?}: the round trip changed something"
        );
    }

    // Without include_contact_points the personal columns are left out, and importing that
    // sheet keeps the phone numbers and e-mail addresses as they are.
    let public = export(pb::SheetFormat::Csv, false).await;
    let csv = String::from_utf8(public.content.clone()).unwrap();
    assert!(!csv.contains("090-1234-5678") && !csv.contains("メール"), "{csv}");
    let report = import_helpers(&system, public.content, false).await;
    assert_eq!((report.unchanged, report.rejected.len()), (3, 0));
    assert_eq!(helpers(&system, MUNICIPALITY).await, before);
}
