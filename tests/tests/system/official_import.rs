//! The official list of 全国地方公共団体コード loads into the area tree: good rows applied, bad
//! rows reported by row and column, wards under their designated city, a dry run changing
//! nothing, and a re-import touching only what changed.

use tonic::Code;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::auth::Role;
use tsunagu_tests::TestSystem;

const HEADER: &str = "code,prefecture,city,prefecture_kana,city_kana\n";
const BUNDLED_LIST: &[u8] = include_bytes!("../../../services/runtime/data/municipalities.csv");

async fn import(system: &TestSystem, csv: &str, dry_run: bool) -> pb::ImportOfficialAreasResponse {
    system
        .registry()
        .import_official_areas(pb::ImportOfficialAreasRequest {
            csv: csv.as_bytes().to_vec(),
            dry_run,
        })
        .await
        .expect("import accepted")
        .into_inner()
}

async fn area_by_code(system: &TestSystem, code: &str) -> pb::Area {
    system
        .registry()
        .get_area(pb::GetAreaRequest {
            id: String::new(),
            code: code.into(),
        })
        .await
        .unwrap_or_else(|status| panic!("area {code}: {status:?}"))
        .into_inner()
        .area
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_list_loads_with_wards_a_row_report_and_dry_runs() {
    let system = TestSystem::start().await;

    // Line 4 has a wrong check digit, line 7 a city without its prefecture's row; the rest
    // is good, including a designated city and one of its wards (a newer official file may
    // carry wards; the bundled one does not).
    let file = format!(
        "{HEADER}\
         210005,岐阜県,,ｷﾞﾌｹﾝ,\n\
         212024,岐阜県,大垣市,ｷﾞﾌｹﾝ,ｵｵｶﾞｷｼ\n\
         212025,岐阜県,大垣市,ｷﾞﾌｹﾝ,ｵｵｶﾞｷｼ\n\
         010006,北海道,,ﾎｯｶｲﾄﾞｳ,\n\
         011011,北海道,札幌市中央区,ﾎｯｶｲﾄﾞｳ,ｻｯﾎﾟﾛｼﾁｭｳｵｳｸ\n\
         402303,福岡県,糸島市,ﾌｸｵｶｹﾝ,ｲﾄｼﾏｼ\n\
         011002,北海道,札幌市,ﾎｯｶｲﾄﾞｳ,ｻｯﾎﾟﾛｼ\n"
    );
    let report = import(&system, &file, false).await;
    assert_eq!((report.created, report.updated, report.unchanged), (5, 0, 0));
    let rejected: Vec<(u32, &str)> = report
        .rejected
        .iter()
        .map(|p| (p.row, p.column.as_str()))
        .collect();
    assert_eq!(rejected, [(4, "code"), (7, "code")]);
    assert!(
        report.rejected[0].reason.contains("検査数字"),
        "{}",
        report.rejected[0].reason
    );

    let ogaki = area_by_code(&system, "212024").await;
    assert_eq!(
        (ogaki.name.as_str(), ogaki.name_kana.as_str()),
        ("大垣市", "オオガキシ")
    );
    assert_eq!(ogaki.kind(), pb::AreaKind::Municipality);
    assert_eq!(ogaki.prefecture_jis_code, "21", "JIS X 0401 code of 岐阜県");
    let sapporo = area_by_code(&system, "011002").await;
    let chuo = area_by_code(&system, "011011").await;
    assert_eq!(chuo.kind(), pb::AreaKind::Ward);
    assert_eq!(
        chuo.parent_id, sapporo.id,
        "a ward hangs under its designated city"
    );
    assert_eq!(
        chuo.municipality_code, "011002",
        "the city is the ward's municipality"
    );

    // A daily-life area may lie in a ward, and belongs to the city: 札幌市's own staff create it
    // (岐阜県's administrator may not: another prefecture).
    let sapporo_admin = system.key(Role::MunicipalAdmin, "011002", None).await;
    let mut sapporo_registry =
        RegistryServiceClient::new(system.channel_with_key(ServiceName::Registry, &sapporo_admin));
    let in_ward = |registry: &mut RegistryServiceClient<tsunagu_tests::KeyedChannel>| {
        let mut registry = registry.clone();
        let parent_id = chuo.id.clone();
        async move {
            registry
                .create_area(pb::CreateAreaRequest {
                    kind: pb::AreaKind::DailyLifeArea.into(),
                    name: "中央第一圏域".into(),
                    parent_id,
                    ..Default::default()
                })
                .await
        }
    };
    let refused = in_ward(&mut system.registry()).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let area = in_ward(&mut sapporo_registry)
        .await
        .expect("daily-life area in a ward")
        .into_inner()
        .area
        .unwrap();
    assert_eq!(area.municipality_code, "011002");

    // A dry run reports what would change and changes nothing.
    let renamed = format!("{HEADER}210005,岐阜県,,ｷﾞﾌｹﾝ,\n212024,岐阜県,大垣市,ｷﾞﾌｹﾝ,ｵｵｶﾞｷ\n");
    let dry = import(&system, &renamed, true).await;
    assert!(dry.dry_run);
    assert_eq!((dry.created, dry.updated, dry.unchanged), (0, 1, 1));
    assert_eq!(area_by_code(&system, "212024").await.name_kana, "オオガキシ");
    let applied = import(&system, &renamed, false).await;
    assert_eq!((applied.created, applied.updated, applied.unchanged), (0, 1, 1));
    let renamed_ogaki = area_by_code(&system, "212024").await;
    assert_eq!(renamed_ogaki.name_kana, "オオガキ");
    assert_eq!(renamed_ogaki.id, ogaki.id, "the same area, updated in place");

    // The whole bundled list: everything not yet there is created, 大垣市's reading restored.
    let full = system
        .registry()
        .import_official_areas(pb::ImportOfficialAreasRequest {
            csv: BUNDLED_LIST.to_vec(),
            dry_run: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(full.rejected.is_empty(), "{:?}", full.rejected);
    assert_eq!(full.created + full.updated + full.unchanged, 1788);
    // Already there: 岐阜県, 北海道, 札幌市 (unchanged) and 大垣市 (its reading restored);
    // 糸島市 was rejected before, so it is new like the rest.
    assert_eq!((full.created, full.updated, full.unchanged), (1784, 1, 3));
    assert_eq!(area_by_code(&system, "212024").await.name_kana, "オオガキシ");

    // A file that is not the official format is refused as a whole, naming the field.
    let status = system
        .registry()
        .import_official_areas(pb::ImportOfficialAreasRequest {
            csv: b"name,code\nx,1\n".to_vec(),
            dry_run: false,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("csv"), "{}", status.message());

    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_loads_the_official_list_on_first_start_and_matching_learns_it() {
    let system = TestSystem::start_with(tsunagu_tests::Options {
        seed_official_areas: true,
        ..Default::default()
    })
    .await;

    let ogaki = area_by_code(&system, "212024").await;
    assert_eq!(
        (ogaki.name.as_str(), ogaki.name_kana.as_str()),
        ("大垣市", "オオガキシ")
    );
    let gifu = area_by_code(&system, "210005").await;
    assert_eq!(ogaki.parent_id, gifu.id);

    // Loaded exactly once: importing the same list again changes nothing.
    let again = system
        .registry()
        .import_official_areas(pb::ImportOfficialAreasRequest {
            csv: BUNDLED_LIST.to_vec(),
            dry_run: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 1788));

    // Every area reached matching's read model through the outbox and RabbitMQ.
    let matching_db = system.database(tsunagu_runtime::ServiceName::Matching).await;
    tsunagu_tests::eventually(
        "matching to know all 1,788 official areas",
        std::time::Duration::from_secs(60),
        || async {
            let known: i64 = sqlx::query_scalar("SELECT count(*) FROM area")
                .fetch_one(&matching_db)
                .await
                .unwrap();
            (known == 1788).then_some(())
        },
    )
    .await;
    matching_db.close().await;

    system.shutdown().await;
}
