//! Every write of the registry is on its audit trail (issue 17): every method of
//! `RegistryService`, `CommunityService` and `AccessService`, taken from the descriptor set, is
//! either named a read by the registry (`write_audit::READ_ONLY`) or made here, successfully,
//! and found on the trail with its method and the object it changed. A new write method fails
//! this test until it is made here too.

use std::collections::BTreeSet;

use prost::Message;
use prost_types::FieldMask;
use tsunagu_proto::access::v1 as access_pb;
use tsunagu_proto::access::v1::access_service_client::AccessServiceClient;
use tsunagu_proto::audit::v1 as audit_pb;
use tsunagu_proto::audit::v1::audit_service_client::AuditServiceClient;
use tsunagu_proto::common::v1::PageRequest;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_proto::registry::v1::community_service_client::CommunityServiceClient;
use tsunagu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use tsunagu_registry::write_audit::READ_ONLY;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::auth::Role;
use tsunagu_tests::{Fixture, KeyedChannel, MUNICIPALITY, TestSystem, new_resource};

/// 岐阜市, which the official import below adds.
const GIFU_CITY: &str = "212016";

const SERVICES: [&str; 3] = [
    "tsunagu.registry.v1.RegistryService",
    "tsunagu.registry.v1.CommunityService",
    "tsunagu.access.v1.AccessService",
];

/// `service/method` of every method of the registry's services.
fn every_method() -> BTreeSet<String> {
    let set =
        prost_types::FileDescriptorSet::decode(tsunagu_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let mut methods = BTreeSet::new();
    for file in set.file {
        for service in &file.service {
            let name = format!("{}.{}", file.package(), service.name());
            if SERVICES.contains(&name.as_str()) {
                methods.extend(
                    service
                        .method
                        .iter()
                        .map(|method| format!("{name}/{}", method.name())),
                );
            }
        }
    }
    assert!(methods.len() > 60, "{methods:?}");
    methods
}

/// What identifies a write's entry: the object's id, or for objects without one (a
/// municipality's setting, a category), the kind and the detail.
#[derive(Debug)]
enum Object {
    Id(String),
    Kind(&'static str, String),
}

/// One write made: its method (without the service), the municipality whose trail holds it,
/// its object.
#[derive(Debug)]
struct Made {
    method: &'static str,
    municipality: &'static str,
    object: Object,
}

fn made(method: &'static str, object: Object) -> Made {
    Made {
        method,
        municipality: MUNICIPALITY,
        object,
    }
}

fn id(id: &str) -> Object {
    Object::Id(id.to_string())
}

fn mask(path: &str) -> Option<FieldMask> {
    Some(FieldMask {
        paths: vec![path.into()],
    })
}

async fn area_writes(system: &TestSystem, fixture: &Fixture) -> Vec<Made> {
    let mut registry = system.registry();
    let area = registry
        .create_area(pb::CreateAreaRequest {
            kind: pb::AreaKind::DailyLifeArea.into(),
            name: "東部圏域".into(),
            parent_id: fixture.municipality_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .area
        .unwrap();
    registry
        .update_area(pb::UpdateAreaRequest {
            area: Some(pb::Area {
                id: area.id.clone(),
                name: "東部圏域（新）".into(),
                ..Default::default()
            }),
            update_mask: mask("name"),
            changed_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    registry
        .delete_area(pb::DeleteAreaRequest {
            id: area.id.clone(),
            reason: "統合のため".into(),
            deleted_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let csv = "code,prefecture,city,prefecture_kana,city_kana\n\
               210005,岐阜県,,ｷﾞﾌｹﾝ,\n212016,岐阜県,岐阜市,ｷﾞﾌｹﾝ,ｷﾞﾌｼ\n";
    registry
        .import_official_areas(pb::ImportOfficialAreasRequest {
            csv: csv.as_bytes().to_vec(),
            dry_run: false,
        })
        .await
        .unwrap();
    let gifu = registry
        .get_area(pb::GetAreaRequest {
            code: GIFU_CITY.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .area
        .unwrap();
    vec![
        made("CreateArea", id(&area.id)),
        made("UpdateArea", id(&area.id)),
        made("DeleteArea", id(&area.id)),
        Made {
            method: "ImportOfficialAreas",
            municipality: GIFU_CITY,
            object: id(&gifu.id),
        },
    ]
}

async fn organization_and_resource_writes(system: &TestSystem, fixture: &Fixture) -> Vec<Made> {
    let mut registry = system.registry();
    let organization = registry
        .create_organization(pb::CreateOrganizationRequest {
            municipality_code: MUNICIPALITY.into(),
            name: "NPO法人 監査の会".into(),
            kind: pb::OrganizationKind::Npo.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    registry
        .update_organization(pb::UpdateOrganizationRequest {
            organization: Some(pb::Organization {
                id: organization.id.clone(),
                name: "NPO法人 監査の会（新）".into(),
                ..Default::default()
            }),
            update_mask: mask("name"),
            changed_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    registry
        .delete_organization(pb::DeleteOrganizationRequest {
            id: organization.id.clone(),
            reason: "解散のため".into(),
            deleted_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let resource = registry
        .create_resource(new_resource(
            &fixture.organization_id,
            "監査の見守り",
            "ゴミ出し",
            &[&fixture.municipality_id],
            2,
        ))
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    registry
        .update_resource(pb::UpdateResourceRequest {
            resource: Some(pb::Resource {
                id: resource.id.clone(),
                name: "監査の見守り隊".into(),
                ..Default::default()
            }),
            update_mask: mask("name"),
            changed_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    registry
        .verify_resource(pb::VerifyResourceRequest {
            resource_id: resource.id.clone(),
            verified_by: "西部圏域SC 佐藤".into(),
        })
        .await
        .unwrap();
    registry
        .delete_resource(pb::DeleteResourceRequest {
            id: resource.id.clone(),
            reason: "事業終了のため".into(),
            deleted_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    registry
        .set_freshness_period(pb::SetFreshnessPeriodRequest {
            municipality_code: MUNICIPALITY.into(),
            days: 120,
            changed_by: "テスト".into(),
        })
        .await
        .unwrap();
    let category = registry
        .create_category(pb::CreateCategoryRequest {
            municipality_code: MUNICIPALITY.into(),
            slug: "kusakari".into(),
            parent: "生活支援".into(),
            name: "草刈り".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .category
        .unwrap();
    vec![
        made("CreateOrganization", id(&organization.id)),
        made("UpdateOrganization", id(&organization.id)),
        made("DeleteOrganization", id(&organization.id)),
        made("CreateResource", id(&resource.id)),
        made("UpdateResource", id(&resource.id)),
        made("VerifyResource", id(&resource.id)),
        made("DeleteResource", id(&resource.id)),
        made(
            "SetFreshnessPeriod",
            Object::Kind("freshness_period", "days=120".into()),
        ),
        made("CreateCategory", Object::Kind("category", category.code)),
    ]
}

/// The id of the resource of 大垣市 named `name`.
async fn resource_named(system: &TestSystem, name: &str) -> String {
    let listed = system
        .registry()
        .list_resources(pb::ListResourcesRequest {
            municipality_code: MUNICIPALITY.into(),
            text: name.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    listed
        .resources
        .into_iter()
        .find(|resource| resource.name == name)
        .unwrap_or_else(|| panic!("{name} was imported"))
        .id
}

async fn sheet_writes(system: &TestSystem) -> Vec<Made> {
    let mut registry = system.registry();
    let resources = "外部ID,資源名,読み,事業主体名,カテゴリ,対象区域,定員,空き,料金,対象者,日程,状態,住所,住所非公開\n\
                     a-1,監査サロン,,NPO法人 ささえあい,交流サロン,212024,20,5,,,,実施中,,\n";
    let imported = registry
        .import_resources(pb::ImportResourcesRequest {
            municipality_code: MUNICIPALITY.into(),
            content: resources.as_bytes().to_vec(),
            imported_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(imported.created, 1, "{imported:?}");
    let care_providers = "都道府県コード又は市区町村コード,NO,名称,名称_カナ,実施サービス,住所,方書,緯度,経度,電話番号,FAX番号,法人番号,事業所番号,利用可能曜日,定員,URL,備考\n\
                          212024,1,デイサービスかんさ,ﾃﾞｲｻｰﾋﾞｽｶﾝｻ,地域密着型通所介護,岐阜県大垣市丸の内1-1,,,,0584-11-2222,,,2170400789,月火水木金,18,,\n";
    let (content, _, unmappable) = encoding_rs::SHIFT_JIS.encode(care_providers);
    assert!(!unmappable);
    let providers = registry
        .import_care_providers(pb::ImportCareProvidersRequest {
            municipality_code: MUNICIPALITY.into(),
            content: content.to_vec(),
            imported_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(providers.resources_created, 1, "{providers:?}");
    let organizations = "外部ID,団体名,読み,種類,親団体名,法人番号,介護保険事業所番号,活動区域,電話,FAX,メール,URL,住所\n\
                         o-9,監査ボランティア会,,ボランティア団体,,,,212024,,,,,\n";
    let imported = registry
        .import_organizations(pb::ImportOrganizationsRequest {
            municipality_code: MUNICIPALITY.into(),
            content: organizations.as_bytes().to_vec(),
            imported_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(imported.created, 1, "{imported:?}");
    let organization = registry
        .list_organizations(pb::ListOrganizationsRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .organizations
        .into_iter()
        .find(|organization| organization.name == "監査ボランティア会")
        .expect("imported organisation");
    vec![
        made("ImportResources", id(&resource_named(system, "監査サロン").await)),
        made(
            "ImportCareProviders",
            id(&resource_named(system, "デイサービスかんさ").await),
        ),
        made("ImportOrganizations", id(&organization.id)),
    ]
}

fn community(system: &TestSystem) -> CommunityServiceClient<KeyedChannel> {
    CommunityServiceClient::new(system.grpc_channel(ServiceName::Registry))
}

async fn helper_writes(system: &TestSystem, fixture: &Fixture) -> Vec<Made> {
    let mut community = community(system);
    let helper = community
        .create_helper(pb::CreateHelperRequest {
            helper: Some(pb::Helper {
                organization_id: fixture.organization_id.clone(),
                name: "山田 花子".into(),
                kind: pb::HelperKind::Individual.into(),
                status: pb::HelperStatus::Prospective.into(),
                ..Default::default()
            }),
            created_by: "テスト".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .helper
        .unwrap();
    community
        .update_helper(pb::UpdateHelperRequest {
            helper: Some(pb::Helper {
                id: helper.id.clone(),
                name: "山田 花".into(),
                ..Default::default()
            }),
            update_mask: mask("name"),
            changed_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    community
        .delete_helper(pb::DeleteHelperRequest {
            id: helper.id.clone(),
            reason: "転居のため".into(),
            deleted_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let sheet = "外部ID,氏名,読み,種類,所属団体ID,所属団体名,技能,活動区域,活動できる時間,月の上限,性別,言語,状態,研修,電話,メール\n\
                 h-9,監査 太郎,,個人,,NPO法人 ささえあい,ゴミ出し,,,,,,養成前,,,\n";
    let imported = community
        .import_helpers(pb::ImportHelpersRequest {
            municipality_code: MUNICIPALITY.into(),
            content: sheet.as_bytes().to_vec(),
            imported_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(imported.created, 1, "{imported:?}");
    let imported = community
        .list_helpers(pb::ListHelpersRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .helpers
        .into_iter()
        .find(|helper| helper.name == "監査 太郎")
        .expect("imported helper");
    vec![
        made("CreateHelper", id(&helper.id)),
        made("UpdateHelper", id(&helper.id)),
        made("DeleteHelper", id(&helper.id)),
        made("ImportHelpers", id(&imported.id)),
    ]
}

async fn coordination_writes(system: &TestSystem, fixture: &Fixture) -> Vec<Made> {
    let mut community = community(system);
    let coordinator = community
        .create_coordinator(pb::CreateCoordinatorRequest {
            coordinator: Some(pb::Coordinator {
                municipality_code: MUNICIPALITY.into(),
                name: "佐藤 一郎".into(),
                layer: pb::CoordinationLayer::Second.into(),
                area_ids: vec![fixture.daily_life_area_id.clone()],
                ..Default::default()
            }),
            created_by: "テスト".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .coordinator
        .unwrap();
    community
        .update_coordinator(pb::UpdateCoordinatorRequest {
            coordinator: Some(pb::Coordinator {
                id: coordinator.id.clone(),
                name: "佐藤 一朗".into(),
                ..Default::default()
            }),
            update_mask: mask("name"),
            changed_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let council = community
        .create_council(pb::CreateCouncilRequest {
            council: Some(pb::Council {
                municipality_code: MUNICIPALITY.into(),
                name: "西部圏域 支え合い推進会議".into(),
                layer: pb::CoordinationLayer::Second.into(),
                area_id: fixture.daily_life_area_id.clone(),
                ..Default::default()
            }),
            created_by: "テスト".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .council
        .unwrap();
    community
        .update_council(pb::UpdateCouncilRequest {
            council: Some(pb::Council {
                id: council.id.clone(),
                name: "西部圏域 支え合い会議".into(),
                ..Default::default()
            }),
            update_mask: mask("name"),
            changed_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let meeting = community
        .add_council_meeting(pb::AddCouncilMeetingRequest {
            council_id: council.id.clone(),
            meeting: Some(pb::CouncilMeeting {
                held_on: "2025-05-10".into(),
                agenda_items: vec!["買い物に困っている世帯の共有".into()],
                attendees_count: 12,
                ..Default::default()
            }),
            recorded_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .meeting
        .unwrap();
    community
        .update_council_meeting(pb::UpdateCouncilMeetingRequest {
            meeting: Some(pb::CouncilMeeting {
                id: meeting.id.clone(),
                attendees_count: 13,
                ..Default::default()
            }),
            update_mask: mask("attendees_count"),
            changed_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    community
        .delete_council(pb::DeleteCouncilRequest {
            id: council.id.clone(),
            reason: "再編のため".into(),
            deleted_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    community
        .delete_coordinator(pb::DeleteCoordinatorRequest {
            id: coordinator.id.clone(),
            reason: "退任のため".into(),
            deleted_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    vec![
        made("CreateCoordinator", id(&coordinator.id)),
        made("UpdateCoordinator", id(&coordinator.id)),
        made("DeleteCoordinator", id(&coordinator.id)),
        made("CreateCouncil", id(&council.id)),
        made("UpdateCouncil", id(&council.id)),
        // A meeting is a change of its council.
        made("AddCouncilMeeting", id(&council.id)),
        made("UpdateCouncilMeeting", id(&council.id)),
        made("DeleteCouncil", id(&council.id)),
    ]
}

async fn key_writes(system: &TestSystem) -> Vec<Made> {
    let mut access = AccessServiceClient::new(
        system.channel_with_key(ServiceName::Registry, &system.keys.municipal_admin),
    );
    let created = access
        .create_api_key(access_pb::CreateApiKeyRequest {
            name: "監査のテスト".into(),
            role: Role::Coordinator.to_proto().into(),
            scope_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .api_key
        .unwrap();
    let rotated = access
        .rotate_api_key(access_pb::RotateApiKeyRequest {
            id: created.id.clone(),
            overlap_seconds: 2,
        })
        .await
        .unwrap()
        .into_inner()
        .api_key
        .unwrap();
    access
        .revoke_api_key(access_pb::RevokeApiKeyRequest {
            id: rotated.id.clone(),
            reason: "端末の紛失".into(),
        })
        .await
        .unwrap();
    vec![
        made("CreateApiKey", id(&created.id)),
        made("RotateApiKey", id(&rotated.id)),
        made("RevokeApiKey", id(&rotated.id)),
    ]
}

/// The whole trail of `municipality`, read by its administrator.
async fn trail(system: &TestSystem, municipality: &str) -> Vec<audit_pb::AuditEntry> {
    let key = system.key(Role::MunicipalAdmin, municipality, None).await;
    let mut audit = AuditServiceClient::new(system.channel_with_key(ServiceName::Registry, &key));
    let mut entries = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = audit
            .list_audit_entries(audit_pb::ListAuditEntriesRequest {
                municipality_code: municipality.into(),
                page: Some(PageRequest {
                    page_size: 500,
                    page_token,
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        entries.extend(page.entries);
        if page.next_page_token.is_empty() {
            return entries;
        }
        page_token = page.next_page_token;
    }
}

fn on_record(entries: &[audit_pb::AuditEntry], made: &Made) -> bool {
    entries.iter().any(|entry| {
        entry.method == made.method
            && entry.action == "change"
            && match &made.object {
                Object::Id(id) => entry.object_id == *id,
                Object::Kind(kind, detail) => {
                    entry.object_kind == *kind && entry.detail.contains(detail.as_str())
                }
            }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_of_the_registry_is_on_its_audit_trail_with_its_object() {
    let every = every_method();
    for read in READ_ONLY {
        assert!(
            every.contains(*read),
            "READ_ONLY names {read}, which no service has"
        );
    }
    let writes: BTreeSet<String> = every
        .iter()
        .filter(|method| !READ_ONLY.contains(&method.as_str()))
        .map(|method| method.rsplit('/').next().unwrap().to_string())
        .collect();

    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut all = area_writes(&system, &fixture).await;
    all.extend(organization_and_resource_writes(&system, &fixture).await);
    all.extend(sheet_writes(&system).await);
    all.extend(helper_writes(&system, &fixture).await);
    all.extend(coordination_writes(&system, &fixture).await);
    all.extend(key_writes(&system).await);
    let covered: BTreeSet<String> = all.iter().map(|made| made.method.to_string()).collect();
    assert_eq!(
        covered, writes,
        "every write method, and nothing else, is made here"
    );

    // A write that changed no object (every row of the sheet refused) is on record as a call.
    let refused = RegistryServiceClient::new(
        system.channel_with_key(ServiceName::Registry, &system.keys.municipal_admin),
    )
    .import_resources(pb::ImportResourcesRequest {
        municipality_code: MUNICIPALITY.into(),
        content: "外部ID,資源名,事業主体名,カテゴリ\nbad-1,,NPO法人 ささえあい,ゴミ出し\n"
            .as_bytes()
            .to_vec(),
        imported_by: "テスト".into(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner();
    assert!(
        refused.created == 0 && !refused.rejected.is_empty(),
        "{refused:?}"
    );

    let oogaki = trail(&system, MUNICIPALITY).await;
    let as_call = oogaki
        .iter()
        .filter(|entry| entry.method == "ImportResources" && entry.object_kind == "call")
        .count();
    assert_eq!(as_call, 1, "{oogaki:#?}");
    let gifu = trail(&system, GIFU_CITY).await;
    let missing: Vec<&Made> = all
        .iter()
        .filter(|made| {
            let entries = if made.municipality == GIFU_CITY {
                &gifu
            } else {
                &oogaki
            };
            !on_record(entries, made)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} writes are not on the trail: {missing:#?}",
        missing.len(),
        all.len()
    );
    system.shutdown().await;
}
