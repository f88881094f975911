//! The demo data set: two daily-life areas of 岐阜県大垣市, an NPO and a 社協 with three
//! resources. Loaded through the public gRPC API, like any client would, and only once: a
//! second `up` finds it and reuses it.

use tonic::Code;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use tsunagu_runtime::auth::Role;
use tsunagu_runtime::grpc::{TracedChannel, traced_channel_with_tls};
use tsunagu_runtime::service::RunningService;
use tsunagu_runtime::{Config, ServiceName};

pub const DEMO_PREFECTURE: &str = "210005"; // 岐阜県
pub const DEMO_MUNICIPALITY: &str = "212024"; // 大垣市
/// The daily-life area the printed walk-through submits needs in.
const DEMO_AREA_NAME: &str = "西部地域包括支援センター圏域";
/// Generous, so the walk-through can be followed many times before the resource is full
/// (after that, the need is reported to the coordinators as at capacity, which is right too).
const DEMO_GOMI_DASHI_CAPACITY: u32 = 50;

pub struct Demo {
    pub daily_life_area_id: String,
    pub daily_life_area_name: String,
    pub organization_id: String,
    pub organization_name: String,
}

fn url_of(services: &[RunningService], name: ServiceName) -> String {
    services
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.url())
        .unwrap_or_default()
}

/// Where a person on this machine reaches the service: `localhost:PORT` when it listens on a
/// loopback or wildcard address, its own address otherwise.
fn target_of(services: &[RunningService], name: ServiceName) -> String {
    let Some(service) = services.iter().find(|s| s.name == name) else {
        return String::new();
    };
    let addr = service.local_addr;
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

/// The keys of one `tsunagu up` session, printed with the walk-through.
pub struct SessionKeys {
    /// 岐阜県's administrator: the registry's data, keys, the prefecture's gap map.
    pub prefecture_admin: String,
    /// 大垣市's administrator: needs, residents, proposals and notifications of the city.
    pub municipal_admin: String,
}

/// Keys for this session, valid for 30 days, written straight into the registry's database
/// (the demo is a single process on the operator's own machine).
pub async fn session_keys(config: &Config) -> anyhow::Result<SessionKeys> {
    let registry = config.service(ServiceName::Registry);
    let pool =
        tsunagu_runtime::db::connect(&registry.database_url, ServiceName::Registry.as_str(), 1).await?;
    let make = async |role: Role, scope: &str, name: &str| {
        let grant = tsunagu_registry::access::KeyGrant {
            name: name.to_string(),
            role,
            scope_code: scope.to_string(),
            organization_id: None,
            valid_days: 30,
            certificate_der: None,
        };
        tsunagu_registry::access::create_key(&pool, &grant, "tsunagu up", None)
            .await
            .map(|(_, key)| key)
            .map_err(|error| anyhow::anyhow!("cannot create the session's keys: {error}"))
    };
    let prefecture_admin = make(
        Role::PrefectureAdmin,
        DEMO_PREFECTURE,
        "tsunagu up: 岐阜県 管理者",
    )
    .await?;
    let municipal_admin = make(
        Role::MunicipalAdmin,
        DEMO_MUNICIPALITY,
        "tsunagu up: 大垣市 管理者",
    )
    .await?;
    pool.close().await;
    Ok(SessionKeys {
        prefecture_admin,
        municipal_admin,
    })
}

/// What `tsunagu bootstrap-admin` prints: the key, once, and what to do with it.
pub fn key_instructions(prefecture_code: &str, key: &str) -> String {
    format!(
        r#"都道府県管理者のAPIキー / the prefecture admin's API key ({prefecture_code}) — shown this once, keep it safe:

  {key}

Every call carries it:  grpcurl -H "authorization: Bearer {key}" …

Create a municipality's keys with it (roles: ROLE_MUNICIPAL_ADMIN, ROLE_COORDINATOR, ROLE_PROVIDER
with organization_id, ROLE_INTEGRATION; see README.md, "Access"):
  grpcurl -plaintext -H "authorization: Bearer {key}"     -d '{{"name":"大垣市 管理者","role":"ROLE_MUNICIPAL_ADMIN","scope_code":"212024"}}'     localhost:50051 tsunagu.access.v1.AccessService/CreateApiKey
"#
    )
}

pub async fn load(config: &Config, services: &[RunningService], keys: &SessionKeys) -> anyhow::Result<Demo> {
    let tls = match &config.tls {
        Some(files) => Some(tsunagu_runtime::grpc::TlsMaterial::read(files)?.client()),
        None => None,
    };
    let mut registry = RegistryServiceClient::new(traced_channel_with_tls(
        &url_of(services, ServiceName::Registry),
        &keys.prefecture_admin,
        tls.as_ref(),
    )?);

    // 岐阜県 and 大垣市 come from the official list the registry loads on first start (or are
    // created here when that is switched off); the demo is loaded once its own area exists.
    let prefecture = official_area(&mut registry, pb::AreaKind::Prefecture, DEMO_PREFECTURE, "").await?;
    let municipality = official_area(
        &mut registry,
        pb::AreaKind::Municipality,
        DEMO_MUNICIPALITY,
        &prefecture.id,
    )
    .await?;
    let children = registry
        .list_areas(pb::ListAreasRequest {
            parent_id: municipality.id.clone(),
            page: None,
        })
        .await?
        .into_inner()
        .areas;
    if children.iter().any(|area| area.name == DEMO_AREA_NAME) {
        return find_existing(&mut registry, &municipality.id).await;
    }

    let west = create_area(
        &mut registry,
        pb::AreaKind::DailyLifeArea,
        "",
        DEMO_AREA_NAME,
        &municipality.id,
    )
    .await?;
    let east = create_area(
        &mut registry,
        pb::AreaKind::DailyLifeArea,
        "",
        "東部地域包括支援センター圏域",
        &municipality.id,
    )
    .await?;

    let npo = create_organization(
        &mut registry,
        "NPO法人 西部ささえあいの会",
        "ｾｲﾌﾞｻｻｴｱｲﾉｶｲ",
        pb::OrganizationKind::Npo,
        &[&west.id],
    )
    .await?;
    let shakyo = create_organization(
        &mut registry,
        "大垣市社会福祉協議会",
        "ｵｵｶﾞｷｼｼｬｶｲﾌｸｼｷｮｳｷﾞｶｲ",
        pb::OrganizationKind::Shakyo,
        &[&municipality.id],
    )
    .await?;

    create_resource(
        &mut registry,
        &npo.id,
        "ゴミ出し支え隊",
        "ゴミ出し",
        &[&west.id],
        DEMO_GOMI_DASHI_CAPACITY,
        Offer {
            schedule: "毎週 火・金曜 7:00〜8:30（祝日を除く）",
            fee: None,
        },
    )
    .await?;
    create_resource(
        &mut registry,
        &npo.id,
        "買い物いっしょに便",
        "買い物支援",
        &[&west.id, &east.id],
        2,
        Offer {
            schedule: "毎週 水曜 10:00〜12:00",
            fee: Some((300, "1回")),
        },
    )
    .await?;
    create_resource(
        &mut registry,
        &shakyo.id,
        "ふれあい・いきいきサロン",
        "交流サロン",
        &[&municipality.id],
        20,
        Offer {
            schedule: "毎月 第2・第4水曜 10:00〜12:00（祝日を除く） ※雨天決行",
            fee: Some((100, "1回（お茶代）")),
        },
    )
    .await?;

    Ok(Demo {
        daily_life_area_id: west.id,
        daily_life_area_name: west.name,
        organization_id: npo.id,
        organization_name: npo.name,
    })
}

async fn find_existing(
    registry: &mut RegistryServiceClient<TracedChannel>,
    municipality_id: &str,
) -> anyhow::Result<Demo> {
    let areas = registry
        .list_areas(pb::ListAreasRequest {
            parent_id: municipality_id.into(),
            page: None,
        })
        .await?
        .into_inner()
        .areas;
    let area = areas
        .into_iter()
        .find(|area| area.name == DEMO_AREA_NAME)
        .ok_or_else(|| anyhow::anyhow!("the demo municipality has no area named {DEMO_AREA_NAME}"))?;
    let resources = registry
        .list_resources(pb::ListResourcesRequest {
            municipality_code: DEMO_MUNICIPALITY.into(),
            category: "life.garbage".into(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .resources;
    let resource = resources
        .into_iter()
        .find(|r| r.category == "life.garbage")
        .ok_or_else(|| anyhow::anyhow!("demo data has no ゴミ出し resource"))?;
    let organization = registry
        .get_organization(pb::GetOrganizationRequest {
            id: resource.organization_id,
        })
        .await?
        .into_inner()
        .organization
        .unwrap_or_default();
    Ok(Demo {
        daily_life_area_id: area.id,
        daily_life_area_name: area.name,
        organization_id: organization.id,
        organization_name: organization.name,
    })
}

/// The official area with `code`, created if the registry does not have it yet.
async fn official_area(
    registry: &mut RegistryServiceClient<TracedChannel>,
    kind: pb::AreaKind,
    code: &str,
    parent_id: &str,
) -> anyhow::Result<pb::Area> {
    match registry
        .get_area(pb::GetAreaRequest {
            id: String::new(),
            code: code.into(),
        })
        .await
    {
        Ok(response) => Ok(response.into_inner().area.unwrap_or_default()),
        Err(status) if status.code() == Code::NotFound => {
            create_area(registry, kind, code, "", parent_id).await
        }
        Err(status) => Err(status.into()),
    }
}

async fn create_area(
    registry: &mut RegistryServiceClient<TracedChannel>,
    kind: pb::AreaKind,
    code: &str,
    name: &str,
    parent_id: &str,
) -> anyhow::Result<pb::Area> {
    let request = pb::CreateAreaRequest {
        kind: kind.into(),
        code: code.into(),
        name: name.into(),
        name_kana: String::new(),
        parent_id: parent_id.into(),
        ..Default::default()
    };
    Ok(registry
        .create_area(request)
        .await?
        .into_inner()
        .area
        .unwrap_or_default())
}

async fn create_organization(
    registry: &mut RegistryServiceClient<TracedChannel>,
    name: &str,
    kana: &str,
    kind: pb::OrganizationKind,
    area_ids: &[&str],
) -> anyhow::Result<pb::Organization> {
    let request = pb::CreateOrganizationRequest {
        municipality_code: DEMO_MUNICIPALITY.into(),
        name: name.into(),
        name_kana: kana.into(),
        kind: kind.into(),
        area_ids: area_ids.iter().map(|id| id.to_string()).collect(),
        ..Default::default()
    };
    Ok(registry
        .create_organization(request)
        .await?
        .into_inner()
        .organization
        .unwrap_or_default())
}

/// When a demo resource is offered (a schedule as coordinators write it) and what it costs
/// (`None`: free).
struct Offer {
    schedule: &'static str,
    fee: Option<(u32, &'static str)>,
}

async fn create_resource(
    registry: &mut RegistryServiceClient<TracedChannel>,
    organization_id: &str,
    name: &str,
    category: &str,
    coverage: &[&str],
    capacity: u32,
    offer: Offer,
) -> anyhow::Result<pb::Resource> {
    let request = pb::CreateResourceRequest {
        resource: Some(pb::Resource {
            municipality_code: DEMO_MUNICIPALITY.into(),
            organization_id: organization_id.into(),
            name: name.into(),
            category: category.into(),
            coverage_area_ids: coverage.iter().map(|id| id.to_string()).collect(),
            capacity: Some(pb::Capacity {
                available: capacity,
                maximum: capacity,
                unit: "人".into(),
                ..Default::default()
            }),
            schedules: vec![pb::Schedule {
                text: offer.schedule.into(),
                ..Default::default()
            }],
            fee: Some(match offer.fee {
                None => pb::Fee {
                    free: true,
                    ..Default::default()
                },
                Some((amount_yen, unit)) => pb::Fee {
                    amount_yen,
                    unit: unit.into(),
                    ..Default::default()
                },
            }),
            eligibility: vec![
                pb::Eligibility::GeneralElderly.into(),
                pb::Eligibility::ProjectTarget.into(),
                pb::Eligibility::Support1.into(),
                pb::Eligibility::Support2.into(),
            ],
            ..Default::default()
        }),
        created_by: "デモデータ".into(),
    };
    Ok(registry
        .create_resource(request)
        .await?
        .into_inner()
        .resource
        .unwrap_or_default())
}

/// Ready-to-paste grpcurl calls that carry a need through to a notification.
pub fn instructions(services: &[RunningService], demo: &Demo, keys: &SessionKeys) -> String {
    let registry = target_of(services, ServiceName::Registry);
    let intake = target_of(services, ServiceName::Intake);
    let matching = target_of(services, ServiceName::Matching);
    let notifications = target_of(services, ServiceName::Notifications);
    let request_id = uuid::Uuid::now_v7();
    format!(
        r#"
つなぐ Tsunagu is up. Demo data: 岐阜県大垣市 ({DEMO_MUNICIPALITY}), 圏域 「{area_name}」, 事業主体 「{org_name}」.
  registry      {registry}
  intake        {intake}
  matching      {matching}
  notifications {notifications}

Every call carries an API key. This session's keys (valid 30 days; more with
AccessService/CreateApiKey, see README.md "Access"):
  岐阜県 管理者 (registry, keys, the prefecture's gap map):
    PREF='authorization: Bearer {prefecture_key}'
  大垣市 管理者 (needs, residents, proposals, notifications of the city):
    CITY='authorization: Bearer {municipal_key}'

Try it (every service answers reflection without a key: grpcurl -plaintext {intake} list):

# 1. Submit a need: ゴミ出し on Tuesday and Friday, 7:00–9:00, in 「{area_name}」 (idempotent by
#    request_id), with the resident's written consent to share it with providers (without
#    consent it is recorded and counted, but proposed to nobody)
grpcurl -plaintext -H "$CITY" -d '{{"request_id":"{request_id}","municipality_code":"{DEMO_MUNICIPALITY}","area_id":"{area_id}","category":"ゴミ出し","urgency":"URGENCY_ROUTINE","details":{{"time_windows":[{{"weekday":"WEEKDAY_TUESDAY","start_minute":420,"end_minute":540}},{{"weekday":"WEEKDAY_FRIDAY","start_minute":420,"end_minute":540}}],"frequency":{{"times":2,"per":"FREQUENCY_UNIT_WEEK"}}}},"channel":"REFERRAL_CHANNEL_CARE_MANAGER","consent":{{"given_by":"CONSENT_GIVER_RESIDENT","method":"CONSENT_METHOD_WRITTEN","scopes":["CONSENT_SCOPE_SHARE_NEED_WITH_PROVIDERS"]}}}}' {intake} tsunagu.intake.v1.IntakeService/SubmitNeed

# 2. The proposal matching made
grpcurl -plaintext -H "$CITY" -d '{{"municipality_code":"{DEMO_MUNICIPALITY}"}}' {matching} tsunagu.matching.v1.MatchingService/ListProposals

# 3. The provider's in-app notification
grpcurl -plaintext -H "$CITY" -d '{{"recipient":{{"organization_id":"{org_id}"}}}}' {notifications} tsunagu.notifications.v1.NotificationsService/ListNotifications

# A need nobody can serve goes to the coordinators of the municipality:
grpcurl -plaintext -H "$CITY" -d '{{"request_id":"{request_id}-2","municipality_code":"{DEMO_MUNICIPALITY}","area_id":"{area_id}","category":"外出支援","consent":{{"given_by":"CONSENT_GIVER_FAMILY","method":"CONSENT_METHOD_VERBAL","scopes":["CONSENT_SCOPE_SHARE_NEED_WITH_PROVIDERS"]}}}}' {intake} tsunagu.intake.v1.IntakeService/SubmitNeed
grpcurl -plaintext -H "$CITY" -d '{{"recipient":{{"coordinators_of_municipality":"{DEMO_MUNICIPALITY}"}}}}' {notifications} tsunagu.notifications.v1.NotificationsService/ListNotifications

# Health
grpcurl -plaintext -d '{{"service":"tsunagu.intake.v1.IntakeService"}}' {intake} grpc.health.v1.Health/Check

This demo lets webhooks reach a receiver on this machine over plain http:// (127.0.0.1, ::1,
localhost); `tsunagu serve` does not, unless TSUNAGU_WEBHOOK_ALLOW_HTTP and
TSUNAGU_WEBHOOK_ALLOWED_DESTINATIONS say so.

Ctrl-C stops everything gracefully.
"#,
        area_name = demo.daily_life_area_name,
        org_name = demo.organization_name,
        area_id = demo.daily_life_area_id,
        org_id = demo.organization_id,
        prefecture_key = keys.prefecture_admin,
        municipal_key = keys.municipal_admin,
    )
}
