//! Freshness: "last updated" is not "last verified". Verifying a resource bumps only its
//! verified date, and coordinators can list what nobody has confirmed since a given time.

use tonic::Code;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem, new_resource};

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
