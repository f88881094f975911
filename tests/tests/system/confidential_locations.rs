//! A resource's confidential location (a shelter's, a home's address and point) is shown only
//! to those who may edit the resource — 大垣市's staff, 岐阜県's administrator, the resource's
//! own organisation, the other services — on every path that returns a resource or its
//! fields (issue 17). Every such call is made with a key of every role, in 大垣市, in 岐阜市
//! (the same prefecture) and in another prefecture; the whole answer of everyone else is
//! searched for the address (past ones too) and the point.

use prost_types::FieldMask;
use tonic::Code;
use tsunagu_proto::common::v1::GeoPoint;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::auth::Role;
use tsunagu_tests::{Fixture, KeyedChannel, MUNICIPALITY, PREFECTURE, TestSystem, new_resource};
use uuid::Uuid;

/// 岐阜市, another municipality of 岐阜県.
const GIFU_CITY: &str = "212016";
/// 東京都 and its 千代田区: another prefecture.
const TOKYO: &str = "130001";
const CHIYODA: &str = "131016";

/// The address the resource was created with (public then, the same shelter), and the one it
/// has now.
const FIRST_ADDRESS: &str = "岐阜県大垣市丸の内二丁目29番地 避難所A";
const ADDRESS: &str = "岐阜県大垣市郭町三丁目98番地 シェルターB";
const POINT: GeoPoint = GeoPoint {
    latitude: 35.362_187,
    longitude: 136.618_453,
};
/// The point as any answer would spell it (Debug, JSON, CSV).
const POINT_TEXT: &str = "35.362187";

/// Who calls, and whether the rule of issue 17 lets them see the location.
struct Caller {
    label: String,
    key: String,
    sees: bool,
    /// Writes the municipality's registry data (the sheet export with confidential addresses
    /// is refused to everyone else, the resource's own provider included).
    staff: bool,
}

/// What one call must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The address and the point are in the answer.
    Shown,
    /// The answer (the whole of it) holds neither address nor point.
    Withheld,
    /// PERMISSION_DENIED.
    Denied,
}

/// Every read path that returns resources or their fields.
#[derive(Debug, Clone, Copy)]
enum Path {
    GetPublic,
    GetFull,
    ListPublic,
    ListFull,
    SearchFull,
    BatchGetPublic,
    BatchGetFull,
    History,
    ListStale,
    ExportSheet,
    ExportSheetConfidential,
    ExportHsds,
}

const PATHS: [Path; 12] = [
    Path::GetPublic,
    Path::GetFull,
    Path::ListPublic,
    Path::ListFull,
    Path::SearchFull,
    Path::BatchGetPublic,
    Path::BatchGetFull,
    Path::History,
    Path::ListStale,
    Path::ExportSheet,
    Path::ExportSheetConfidential,
    Path::ExportHsds,
];

impl Path {
    /// Whether the answer holds the resource as a `Resource` (else as text: history, sheets).
    fn carries_resource(self) -> bool {
        !matches!(
            self,
            Path::History | Path::ExportSheet | Path::ExportSheetConfidential | Path::ExportHsds
        )
    }

    /// The rule, written out independently of the registry's code.
    fn expect(self, caller: &Caller) -> Expect {
        let shown_or = |otherwise| if caller.sees { Expect::Shown } else { otherwise };
        match self {
            Path::GetFull => shown_or(Expect::Denied),
            Path::ListFull | Path::SearchFull | Path::BatchGetFull | Path::History => {
                shown_or(Expect::Withheld)
            }
            Path::ExportSheetConfidential if caller.staff => Expect::Shown,
            Path::ExportSheetConfidential => Expect::Denied,
            Path::GetPublic
            | Path::ListPublic
            | Path::BatchGetPublic
            | Path::ListStale
            | Path::ExportSheet
            | Path::ExportHsds => Expect::Withheld,
        }
    }
}

/// One answer: its whole text, and the confidential resource's location where the answer
/// carries it as a `Location`.
struct Answer {
    text: String,
    location: Option<pb::Location>,
}

fn located(text: String, resources: &[pb::Resource], id: &str) -> Answer {
    let location = resources
        .iter()
        .find(|resource| resource.id == id)
        .map(|resource| resource.location.clone().unwrap_or_default());
    Answer { text, location }
}

async fn call(
    registry: &mut RegistryServiceClient<KeyedChannel>,
    path: Path,
    id: &str,
    other_id: &str,
) -> Result<Answer, tonic::Status> {
    let full = pb::ResourceView::Full as i32;
    let public = pb::ResourceView::Unspecified as i32;
    let get = |view| pb::GetResourceRequest { id: id.into(), view };
    let list = |view, text: &str| pb::ListResourcesRequest {
        municipality_code: MUNICIPALITY.into(),
        view,
        text: text.into(),
        ..Default::default()
    };
    let batch = |view| pb::BatchGetResourcesRequest {
        ids: vec![other_id.into(), id.into()],
        view,
    };
    let export = |include_confidential| pb::ExportResourcesRequest {
        municipality_code: MUNICIPALITY.into(),
        format: pb::SheetFormat::Csv.into(),
        include_confidential,
    };
    Ok(match path {
        Path::GetPublic | Path::GetFull => {
            let view = if matches!(path, Path::GetFull) {
                full
            } else {
                public
            };
            let answer = registry.get_resource(get(view)).await?.into_inner();
            let resources: Vec<pb::Resource> = answer.resource.iter().cloned().collect();
            located(format!("{answer:?}"), &resources, id)
        }
        Path::ListPublic | Path::ListFull | Path::SearchFull => {
            let request = match path {
                Path::ListPublic => list(public, ""),
                Path::ListFull => list(full, ""),
                _ => list(full, "シェルター"),
            };
            let answer = registry.list_resources(request).await?.into_inner();
            located(format!("{answer:?}"), &answer.resources, id)
        }
        Path::BatchGetPublic | Path::BatchGetFull => {
            let view = if matches!(path, Path::BatchGetFull) {
                full
            } else {
                public
            };
            let answer = registry.batch_get_resources(batch(view)).await?.into_inner();
            assert_eq!(
                answer.resources.len(),
                2,
                "a batch is never cut short: {answer:?}"
            );
            located(format!("{answer:?}"), &answer.resources, id)
        }
        Path::History => {
            let answer = registry
                .list_resource_history(pb::ListResourceHistoryRequest {
                    resource_id: id.into(),
                    page: None,
                })
                .await?
                .into_inner();
            Answer {
                text: format!("{answer:?}"),
                location: None,
            }
        }
        Path::ListStale => {
            let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
            let answer = registry
                .list_stale_resources(pb::ListStaleResourcesRequest {
                    municipality_code: MUNICIPALITY.into(),
                    not_verified_since: Some(prost_types::Timestamp {
                        seconds: tomorrow.timestamp(),
                        nanos: 0,
                    }),
                    page: None,
                })
                .await?
                .into_inner();
            located(format!("{answer:?}"), &answer.resources, id)
        }
        Path::ExportSheet | Path::ExportSheetConfidential => {
            let include = matches!(path, Path::ExportSheetConfidential);
            let answer = registry.export_resources(export(include)).await?.into_inner();
            let sheet = String::from_utf8_lossy(&answer.content).into_owned();
            Answer {
                text: format!("{answer:?}\n{sheet}"),
                location: None,
            }
        }
        Path::ExportHsds => {
            let answer = registry
                .export_resources_hsds(pb::ExportResourcesHsdsRequest {
                    municipality_code: MUNICIPALITY.into(),
                })
                .await?
                .into_inner();
            Answer {
                text: format!("{answer:?}\n{}", answer.json),
                location: None,
            }
        }
    })
}

/// What went wrong with one call, if anything.
fn check(path: Path, caller: &Caller, answer: Result<Answer, tonic::Status>) -> Option<String> {
    let expected = path.expect(caller);
    let who = format!("{path:?} by {}", caller.label);
    if let Ok(answer) = &answer
        && path.carries_resource()
        && answer.location.is_none()
    {
        return Some(format!(
            "{who}: the resource is not in the answer: {}",
            answer.text
        ));
    }
    match (expected, answer) {
        (Expect::Denied, Err(status)) if status.code() == Code::PermissionDenied => None,
        (Expect::Denied, Err(status)) => Some(format!("{who}: {status:?}, expected PERMISSION_DENIED")),
        (Expect::Denied, Ok(answer)) => Some(format!(
            "{who}: answered, expected PERMISSION_DENIED: {}",
            answer.text
        )),
        (_, Err(status)) => Some(format!("{who}: {status:?}, expected {expected:?}")),
        (Expect::Shown, Ok(answer)) => {
            let history = matches!(path, Path::History);
            let missing = !answer.text.contains(ADDRESS)
                || (history && !answer.text.contains(FIRST_ADDRESS))
                || answer.location.as_ref().is_some_and(|location| {
                    location.redacted || location.address != ADDRESS || location.point != Some(POINT)
                });
            missing.then(|| format!("{who}: the location is not shown: {}", answer.text))
        }
        (Expect::Withheld, Ok(answer)) => {
            let leaked = [ADDRESS, FIRST_ADDRESS, POINT_TEXT]
                .iter()
                .any(|secret| answer.text.contains(secret));
            // Where the answer holds the resource, it says its location was withheld.
            let marked = answer
                .location
                .as_ref()
                .is_none_or(|location| location.redacted && location.confidential);
            (leaked || !marked).then(|| {
                format!(
                    "{who}: the location leaks or is not marked redacted: {}",
                    answer.text
                )
            })
        }
    }
}

/// The confidential resource: created with a public address, made confidential, then moved,
/// so that its history holds both addresses. Returns its id.
async fn shelter(system: &TestSystem, fixture: &Fixture) -> String {
    let mut registry = system.registry();
    let mut request = new_resource(
        &fixture.organization_id,
        "一時避難シェルター",
        "ゴミ出し",
        &[&fixture.municipality_id],
        2,
    );
    let resource = request.resource.as_mut().unwrap();
    resource.location = Some(pb::Location {
        address: FIRST_ADDRESS.into(),
        ..Default::default()
    });
    let created = registry
        .create_resource(request)
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    let mut version = created.version;
    for address in [FIRST_ADDRESS, ADDRESS] {
        let updated = registry
            .update_resource(pb::UpdateResourceRequest {
                resource: Some(pb::Resource {
                    id: created.id.clone(),
                    location: Some(pb::Location {
                        address: address.into(),
                        point: Some(POINT),
                        confidential: true,
                        redacted: false,
                    }),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["location".into()],
                }),
                expected_version: version,
                changed_by: "テスト".into(),
                reason: "所在地を非公開に".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .resource
            .unwrap();
        version = updated.version;
    }
    created.id
}

/// Every role the system has, in 大垣市, 岐阜市 and another prefecture; providers of the
/// resource's organisation and of another.
async fn callers(system: &TestSystem, fixture: &Fixture) -> Vec<Caller> {
    let own_organization: Uuid = fixture.organization_id.parse().unwrap();
    let other_organization: Uuid = system
        .registry()
        .create_organization(pb::CreateOrganizationRequest {
            municipality_code: MUNICIPALITY.into(),
            name: "NPO法人 となりの会".into(),
            kind: pb::OrganizationKind::Npo.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id
        .parse()
        .unwrap();
    let mut callers = Vec::new();
    let mut add = |label: String, key: String, sees: bool, staff: bool| {
        callers.push(Caller {
            label,
            key,
            sees,
            staff,
        })
    };
    for (scope, own) in [(PREFECTURE, true), (TOKYO, false)] {
        let admin = system.key(Role::PrefectureAdmin, scope, None).await;
        add(format!("prefecture_admin of {scope}"), admin, own, own);
        let analyst = system.key(Role::PrefectureAnalyst, scope, None).await;
        add(format!("prefecture_analyst of {scope}"), analyst, false, false);
    }
    for scope in [MUNICIPALITY, GIFU_CITY, CHIYODA] {
        let own = scope == MUNICIPALITY;
        for role in [Role::MunicipalAdmin, Role::Coordinator, Role::Integration] {
            let key = system.key(role, scope, None).await;
            add(format!("{} of {scope}", role.as_str()), key, own, own);
        }
        let provider = system.key(Role::Provider, scope, Some(other_organization)).await;
        add(
            format!("provider of another organisation in {scope}"),
            provider,
            false,
            false,
        );
    }
    let provider = system
        .key(Role::Provider, MUNICIPALITY, Some(own_organization))
        .await;
    add(
        "provider of the resource's organisation".into(),
        provider,
        true,
        false,
    );
    let internal = system
        .config
        .internal_token
        .clone()
        .expect("the test system's token");
    add("service (another Tsunagu service)".into(), internal, true, true);
    // Every role the system has is among the callers.
    for role in Role::KEYED.into_iter().chain([Role::Service]) {
        assert!(
            callers
                .iter()
                .any(|caller| caller.label.starts_with(role.as_str())),
            "{} has no caller",
            role.as_str()
        );
    }
    callers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confidential_location_reaches_only_those_who_may_edit_the_resource_on_every_path() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 3).await;
    let id = shelter(&system, &fixture).await;
    let callers = callers(&system, &fixture).await;
    let mut problems = Vec::new();
    let mut calls = 0;
    for caller in &callers {
        let mut registry =
            RegistryServiceClient::new(system.channel_with_key(ServiceName::Registry, &caller.key));
        for path in PATHS {
            let answer = call(&mut registry, path, &id, &fixture.resource_id).await;
            calls += 1;
            problems.extend(check(path, caller, answer));
        }
    }
    assert_eq!(calls, callers.len() * PATHS.len());
    assert!(
        problems.is_empty(),
        "{} of {calls} calls went wrong:\n{}",
        problems.len(),
        problems.join("\n")
    );
    system.shutdown().await;
}
