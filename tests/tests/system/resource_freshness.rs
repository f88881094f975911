//! Freshness: "last updated" is not "last verified". Verifying a resource bumps only its
//! verified date, and coordinators can list what nobody has confirmed since a given time.
//! A resource that outlives its municipality's freshness period is announced to the provider
//! and the coordinators once, and again only after it was verified and went stale anew.

use tonic::Code;
use tsunagu_proto::notifications::v1 as notifications_pb;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_runtime::ServiceName;
use tsunagu_tests::{Fixture, MUNICIPALITY, Options, TestSystem, eventually, new_resource};

use crate::support::{WAIT, notifications_of, organization};

fn at(time: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinators_find_what_was_not_verified_and_verifying_changes_nothing_else() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await; // one resource: ゴミ出し支え隊
    let mut registry = system.registry();
    let second = registry
        .create_resource(new_resource(
            &fixture.organization_id,
            "ふれあいサロン",
            "交流サロン",
            &[&fixture.municipality_id],
            20,
        ))
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    let before_verification = chrono::Utc::now();
    let stale = |cutoff: chrono::DateTime<chrono::Utc>, page_size: u32, page_token: String| {
        let mut registry = system.registry();
        async move {
            registry
                .list_stale_resources(pb::ListStaleResourcesRequest {
                    municipality_code: MUNICIPALITY.into(),
                    not_verified_since: Some(at(cutoff)),
                    page: Some(tsunagu_proto::common::v1::PageRequest {
                        page_size,
                        page_token,
                    }),
                })
                .await
                .unwrap()
                .into_inner()
        }
    };
    fn ids(response: &pb::ListStaleResourcesResponse) -> Vec<&str> {
        response.resources.iter().map(|r| r.id.as_str()).collect()
    }

    // Never verified: both are stale.
    assert_eq!(
        ids(&stale(before_verification, 0, String::new()).await),
        [fixture.resource_id.as_str(), second.id.as_str()]
    );

    let original = registry
        .get_resource(pb::GetResourceRequest {
            view: 0,
            id: fixture.resource_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    assert!(original.verified_at.is_none());
    let verified = registry
        .verify_resource(pb::VerifyResourceRequest {
            resource_id: fixture.resource_id.clone(),
            verified_by: "山田（第2層生活支援コーディネーター）".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    assert!(verified.verified_at.is_some());
    assert_eq!(
        verified.verified_by, "山田(第2層生活支援コーディネーター)",
        "stored NFKC-normalised, like names"
    );
    assert_eq!(
        verified.updated_at, original.updated_at,
        "verifying is not editing"
    );

    // Verified after the cutoff: no longer stale. With a later cutoff it is stale again, after
    // the never-verified one, and paging walks that order.
    assert_eq!(
        ids(&stale(before_verification, 0, String::new()).await),
        [second.id.as_str()]
    );
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    let first_page = stale(later, 1, String::new()).await;
    assert_eq!(ids(&first_page), [second.id.as_str()]);
    let second_page = stale(later, 1, first_page.next_page_token.clone()).await;
    assert_eq!(ids(&second_page), [fixture.resource_id.as_str()]);

    // Bad input is named; an unknown resource is not found.
    let status = registry
        .verify_resource(pb::VerifyResourceRequest {
            resource_id: fixture.resource_id.clone(),
            verified_by: " ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("verified_by"));
    let status = registry
        .verify_resource(pb::VerifyResourceRequest {
            resource_id: uuid::Uuid::now_v7().to_string(),
            verified_by: "山田".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // Without a cutoff, the municipality's freshness period decides. The verification is
    // made ten days old; fresh under the default half year, stale under a week.
    let registry_db = system.database(tsunagu_runtime::ServiceName::Registry).await;
    sqlx::query("UPDATE resource SET verified_at = now() - interval '10 days' WHERE id = $1::uuid")
        .bind(&fixture.resource_id)
        .execute(&registry_db)
        .await
        .unwrap();
    let by_period = |mut registry: pb::registry_service_client::RegistryServiceClient<
        tsunagu_tests::KeyedChannel,
    >| async move {
        registry
            .list_stale_resources(pb::ListStaleResourcesRequest {
                municipality_code: MUNICIPALITY.into(),
                not_verified_since: None,
                page: None,
            })
            .await
            .unwrap()
            .into_inner()
    };
    let period = registry
        .get_freshness_period(pb::GetFreshnessPeriodRequest {
            municipality_code: MUNICIPALITY.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .period
        .unwrap();
    assert_eq!((period.days, period.is_default), (180, true));
    assert_eq!(ids(&by_period(registry.clone()).await), [second.id.as_str()]);
    let period = registry
        .set_freshness_period(pb::SetFreshnessPeriodRequest {
            municipality_code: MUNICIPALITY.into(),
            days: 7,
            changed_by: "山田".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .period
        .unwrap();
    assert_eq!((period.days, period.is_default), (7, false));
    let weekly = by_period(registry.clone()).await;
    assert_eq!(ids(&weekly), [second.id.as_str(), fixture.resource_id.as_str()]);
    let cutoff = weekly.not_verified_since.unwrap().seconds;
    let expected = (chrono::Utc::now() - chrono::Duration::days(7)).timestamp();
    assert!(
        (cutoff - expected).abs() < 60,
        "cutoff {cutoff}, expected about {expected}"
    );
    let status = registry
        .set_freshness_period(pb::SetFreshnessPeriodRequest {
            municipality_code: MUNICIPALITY.into(),
            days: 0,
            changed_by: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(crate::support::violated_fields(&status), ["days"]);

    system.shutdown().await;
}

const OVERDUE: &str = "resource.verification_overdue";

/// The overdue notices about `resource_id` in `recipient`'s inbox.
async fn overdue_notices(
    system: &TestSystem,
    recipient: notifications_pb::recipient::Kind,
    resource_id: &str,
) -> Vec<notifications_pb::Notification> {
    notifications_of(system, recipient)
        .await
        .into_iter()
        .filter(|n| n.event_type == OVERDUE && n.body.contains(resource_id))
        .collect()
}

/// Waits until both the provider and the coordinators hold `count` notices about
/// `resource_id`, and returns the provider's.
async fn wait_for_notices(
    system: &TestSystem,
    organization_id: &str,
    resource_id: &str,
    count: usize,
) -> Vec<notifications_pb::Notification> {
    eventually("the overdue notices", WAIT, || async {
        let provider = overdue_notices(system, organization(organization_id), resource_id).await;
        let coordinators = overdue_notices(system, coordinators(), resource_id).await;
        (provider.len() >= count && coordinators.len() >= count).then_some(provider)
    })
    .await
}

fn coordinators() -> notifications_pb::recipient::Kind {
    notifications_pb::recipient::Kind::CoordinatorsOfMunicipality(MUNICIPALITY.into())
}

/// How many announcements of `resource_id` the registry wrote (its outbox keeps them).
async fn announced(registry_db: &sqlx::PgPool, resource_id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = $1 AND payload->>'resource_id' = $2")
        .bind(OVERDUE)
        .bind(resource_id)
        .fetch_one(registry_db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_resource_is_announced_once_per_stale_spell() {
    let system = TestSystem::start_with(Options {
        env: vec![("TSUNAGU_REGISTRY_FRESHNESS_SWEEP_SECONDS", "1".into())],
        ..Default::default()
    })
    .await;
    let fixture = Fixture::create(&system, 1).await; // ゴミ出し支え隊, never verified
    let mut registry = system.registry();
    let create = |name: &'static str| {
        let request = new_resource(
            &fixture.organization_id,
            name,
            "交流サロン",
            &[&fixture.municipality_id],
            20,
        );
        let mut registry = registry.clone();
        async move {
            registry
                .create_resource(request)
                .await
                .unwrap()
                .into_inner()
                .resource
                .unwrap()
                .id
        }
    };
    let sentinel = create("ふれあいサロン").await;
    let deleted = create("閉じたサロン").await;
    registry
        .delete_resource(pb::DeleteResourceRequest {
            id: deleted.clone(),
            reason: "事業終了のため".into(),
            deleted_by: "山田".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    registry
        .set_freshness_period(pb::SetFreshnessPeriodRequest {
            municipality_code: MUNICIPALITY.into(),
            days: 1,
            changed_by: "山田".into(),
        })
        .await
        .unwrap();

    // Two days old and never verified: overdue, counted from its registration. Only the
    // database can age a resource without waiting a day.
    let registry_db = system.database(ServiceName::Registry).await;
    let age = |column: &'static str, id: String| {
        let registry_db = registry_db.clone();
        async move {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE resource SET {column} = now() - interval '2 days' WHERE id = $1::uuid"
            )))
            .bind(id)
            .execute(&registry_db)
            .await
            .unwrap();
        }
    };
    age("created_at", fixture.resource_id.clone()).await;
    age("created_at", deleted.clone()).await;
    let notices = wait_for_notices(&system, &fixture.organization_id, &fixture.resource_id, 1).await;
    let notice = &notices[0];
    assert_eq!(notice.template_key, "resource.verification_overdue:organization");
    assert_eq!(notice.need_id, "", "about a resource, not a need");
    assert_eq!(notice.municipality_code, MUNICIPALITY);
    assert!(notice.title.contains("ゴミ出し"), "{}", notice.title);
    assert!(notice.body.contains("最終確認日: 未確認"), "{}", notice.body);
    assert!(notice.body.contains("1日以上"), "{}", notice.body);
    let to_coordinators = overdue_notices(&system, coordinators(), &fixture.resource_id).await;
    assert_eq!(
        to_coordinators[0].template_key,
        "resource.verification_overdue:coordinators"
    );
    // Registered today, the sentinel is not due yet although nobody ever verified it.
    assert!(
        overdue_notices(&system, organization(&fixture.organization_id), &sentinel)
            .await
            .is_empty()
    );

    // Later sweeps pass the announced resource by. The sentinel shows one has run: it is
    // verified, its verification aged, and its own notice awaited.
    registry
        .verify_resource(pb::VerifyResourceRequest {
            resource_id: sentinel.clone(),
            verified_by: "山田".into(),
        })
        .await
        .unwrap();
    age("verified_at", sentinel.clone()).await;
    let sentinel_notices = wait_for_notices(&system, &fixture.organization_id, &sentinel, 1).await;
    assert!(
        !sentinel_notices[0].body.contains("未確認"),
        "its verification date is shown: {}",
        sentinel_notices[0].body
    );
    assert_eq!(announced(&registry_db, &fixture.resource_id).await, 1);
    assert_eq!(
        announced(&registry_db, &deleted).await,
        0,
        "deleted: not worth re-checking"
    );
    assert_eq!(
        overdue_notices(
            &system,
            organization(&fixture.organization_id),
            &fixture.resource_id
        )
        .await
        .len(),
        1
    );
    assert_eq!(
        overdue_notices(&system, coordinators(), &fixture.resource_id)
            .await
            .len(),
        1
    );

    // Verified, it starts a new spell; once that verification is stale, it is announced again.
    registry
        .verify_resource(pb::VerifyResourceRequest {
            resource_id: fixture.resource_id.clone(),
            verified_by: "山田".into(),
        })
        .await
        .unwrap();
    age("verified_at", fixture.resource_id.clone()).await;
    let notices = wait_for_notices(&system, &fixture.organization_id, &fixture.resource_id, 2).await;
    assert_eq!(notices.len(), 2);
    assert!(
        notices.iter().any(|n| !n.body.contains("未確認")),
        "the second notice names the verification"
    );
    assert_eq!(announced(&registry_db, &fixture.resource_id).await, 2);

    system.shutdown().await;
}
