//! Every call is authenticated (issue 7): without a key, with a malformed, wrong, expired or
//! revoked key it is refused with UNAUTHENTICATED — by the registry, which holds the keys, and
//! by the services that ask it — while health checks and reflection stay open. Keys are
//! managed through `AccessService` within the caller's scope, shown once, listed without
//! their secrets, and rotated without downtime.

use std::time::Duration;

use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tsunagu_proto::access::v1 as pb;
use tsunagu_proto::access::v1::access_service_client::AccessServiceClient;
use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tsunagu_proto::registry::v1 as registry_pb;
use tsunagu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::auth::Role;
use tsunagu_tests::{MUNICIPALITY, Options, PREFECTURE, TestSystem, eventually};

use crate::support::{WAIT, violated_fields};

/// Another municipality of 岐阜県 (岐阜市).
const GIFU_CITY: &str = "212016";

fn access(system: &TestSystem, key: &str) -> AccessServiceClient<tsunagu_tests::KeyedChannel> {
    AccessServiceClient::new(system.channel_with_key(ServiceName::Registry, key))
}

/// A call to intake with `key`: its status code.
async fn intake_answer(system: &TestSystem, key: &str) -> Code {
    let answer = IntakeServiceClient::new(system.channel_with_key(ServiceName::Intake, key))
        .list_needs(intake_pb::ListNeedsRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await;
    match answer {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

async fn registry_answer(system: &TestSystem, key: &str) -> Result<(), tonic::Status> {
    RegistryServiceClient::new(system.channel_with_key(ServiceName::Registry, key))
        .list_categories(registry_pb::ListCategoriesRequest::default())
        .await
        .map(|_| ())
}

fn short_cache() -> Options {
    Options {
        env: vec![("TSUNAGU_AUTH_CACHE_SECONDS", "1".into())],
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_without_a_good_key_are_refused_and_health_stays_open() {
    let system = TestSystem::start_with(short_cache()).await;
    for service in ServiceName::ALL {
        let channel = system.anonymous_channel(service);
        // Health answers without a key.
        let health = tonic_health::pb::health_client::HealthClient::new(channel.clone())
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await;
        assert!(health.is_ok(), "{service}: {health:?}");
    }
    // No key at all.
    let refused = IntakeServiceClient::new(system.anonymous_channel(ServiceName::Intake))
        .list_needs(intake_pb::ListNeedsRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(refused.message().contains("Bearer"), "{}", refused.message());
    let refused = RegistryServiceClient::new(system.anonymous_channel(ServiceName::Registry))
        .list_categories(registry_pb::ListCategoriesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    // Malformed, and well-formed but unknown.
    let malformed = registry_answer(&system, "not-a-key").await.unwrap_err();
    assert_eq!(malformed.code(), Code::Unauthenticated);
    assert!(malformed.message().contains("形式"), "{}", malformed.message());
    let unknown = "tsk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let invalid = registry_answer(&system, unknown).await.unwrap_err();
    assert!(invalid.message().contains("無効"), "{}", invalid.message());
    assert_eq!(intake_answer(&system, unknown).await, Code::Unauthenticated);
    // The internal token is only for the services: a forged one is just an unknown key.
    assert_eq!(
        intake_answer(&system, "0123456789abcdef0123456789abcdef0123").await,
        Code::Unauthenticated
    );

    // A good key works everywhere.
    let coordinator = system.key(Role::Coordinator, MUNICIPALITY, None).await;
    assert_eq!(intake_answer(&system, &coordinator).await, Code::Ok);
    registry_answer(&system, &coordinator).await.unwrap();

    // Expired: refused by the registry at once, by intake once its memory of the key lapses.
    let registry_db = system.database(ServiceName::Registry).await;
    let prefix = coordinator.split('_').nth(1).unwrap().to_string();
    sqlx::query("UPDATE api_key SET expires_at = now() - interval '1 second' WHERE prefix = $1")
        .bind(&prefix)
        .execute(&registry_db)
        .await
        .unwrap();
    let expired = registry_answer(&system, &coordinator).await.unwrap_err();
    assert!(expired.message().contains("有効期限"), "{}", expired.message());
    eventually("intake to refuse the expired key", WAIT, || async {
        (intake_answer(&system, &coordinator).await == Code::Unauthenticated).then_some(())
    })
    .await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_managed_within_their_scope_revoked_and_rotated_without_downtime() {
    let system = TestSystem::start_with(short_cache()).await;
    let admin = system.keys.prefecture_admin.clone();
    let city_admin = system.keys.municipal_admin.clone();

    // The prefecture admin makes a coordinator key for 大垣市; the key is shown once.
    let created = access(&system, &admin)
        .create_api_key(pb::CreateApiKeyRequest {
            name: "西部圏域SC 佐藤".into(),
            role: pb::Role::Coordinator.into(),
            scope_code: MUNICIPALITY.into(),
            valid_days: 30,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let coordinator = created.key.clone();
    let record = created.api_key.unwrap();
    assert!(
        coordinator.starts_with(&record.prefix),
        "{coordinator} {}",
        record.prefix
    );
    assert_eq!(intake_answer(&system, &coordinator).await, Code::Ok);

    // Listed by both admins, never with the secret.
    for lister in [&admin, &city_admin] {
        let listed = access(&system, lister)
            .list_api_keys(pb::ListApiKeysRequest {
                scope_code: MUNICIPALITY.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .api_keys;
        assert!(listed.iter().any(|key| key.id == record.id));
        let secret = coordinator.rsplit('_').next().unwrap();
        assert!(!format!("{listed:?}").contains(secret), "no secret in the list");
    }

    // Outside the caller's scope, or by a role that manages no keys: PERMISSION_DENIED.
    let denied = access(&system, &city_admin)
        .create_api_key(pb::CreateApiKeyRequest {
            name: "岐阜市の鍵".into(),
            role: pb::Role::Coordinator.into(),
            scope_code: GIFU_CITY.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = access(&system, &coordinator)
        .create_api_key(pb::CreateApiKeyRequest {
            name: "自分で作る鍵".into(),
            role: pb::Role::Coordinator.into(),
            scope_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = access(&system, &city_admin)
        .list_api_keys(pb::ListApiKeysRequest {
            scope_code: PREFECTURE.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    // Only the services introspect keys.
    let denied = access(&system, &admin)
        .introspect_api_key(pb::IntrospectApiKeyRequest {
            key: coordinator.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Bad requests name their fields.
    let invalid = access(&system, &admin)
        .create_api_key(pb::CreateApiKeyRequest {
            name: String::new(),
            role: pb::Role::Provider.into(),
            scope_code: PREFECTURE.into(),
            valid_days: 9999,
            ..Default::default()
        })
        .await
        .unwrap_err();
    let mut fields = violated_fields(&invalid);
    fields.sort();
    assert_eq!(fields, ["name", "organization_id", "scope_code", "valid_days"]);

    // Rotation: the new key works at once, the old one until the overlap ends.
    let rotated = access(&system, &coordinator)
        .rotate_api_key(pb::RotateApiKeyRequest {
            id: record.id.clone(),
            overlap_seconds: 2,
        })
        .await
        .unwrap()
        .into_inner();
    let successor = rotated.key.clone();
    assert_eq!(rotated.api_key.as_ref().unwrap().rotated_from, record.id);
    assert_eq!(intake_answer(&system, &successor).await, Code::Ok);
    assert_eq!(
        intake_answer(&system, &coordinator).await,
        Code::Ok,
        "still in the overlap"
    );
    eventually("the old key to end after the overlap", WAIT, || async {
        let registry = registry_answer(&system, &coordinator).await.is_err();
        let intake = intake_answer(&system, &coordinator).await == Code::Unauthenticated;
        (registry && intake).then_some(())
    })
    .await;
    assert_eq!(intake_answer(&system, &successor).await, Code::Ok);

    // Revocation: at once in the registry, within the cache period elsewhere.
    let successor_id = rotated.api_key.unwrap().id;
    let revoked = access(&system, &city_admin)
        .revoke_api_key(pb::RevokeApiKeyRequest {
            id: successor_id,
            reason: "端末の紛失".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .api_key
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    let refused = registry_answer(&system, &successor).await.unwrap_err();
    assert!(refused.message().contains("失効"), "{}", refused.message());
    eventually(
        "intake to refuse the revoked key",
        Duration::from_secs(10),
        || async { (intake_answer(&system, &successor).await == Code::Unauthenticated).then_some(()) },
    )
    .await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_its_rate_is_refused_until_it_recovers_and_other_keys_are_not_affected() {
    let system = TestSystem::start_with(Options {
        env: vec![
            ("TSUNAGU_RATE_LIMIT_PER_SECOND", "2".into()),
            ("TSUNAGU_RATE_LIMIT_BURST", "3".into()),
        ],
        ..Options::default()
    })
    .await;
    let busy = system.key(Role::Coordinator, MUNICIPALITY, None).await;
    let calm = system.key(Role::Coordinator, MUNICIPALITY, None).await;
    // The burst passes, the next call is refused, saying when to retry.
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(intake_answer(&system, &busy).await);
    }
    assert_eq!(answers[..3], [Code::Ok, Code::Ok, Code::Ok]);
    assert_eq!(answers[3], Code::ResourceExhausted);
    let refused = IntakeServiceClient::new(system.channel_with_key(ServiceName::Intake, &busy))
        .list_needs(intake_pb::ListNeedsRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(refused.message().contains("再試行"), "{}", refused.message());
    // Another key has its own allowance; health checks none at all.
    assert_eq!(intake_answer(&system, &calm).await, Code::Ok);
    // The busy key recovers as its bucket refills.
    eventually("the busy key to be served again", WAIT, || async {
        (intake_answer(&system, &busy).await == Code::Ok).then_some(())
    })
    .await;
    system.shutdown().await;
}

/// Every call has a deadline on the server: a client-streaming import left open past
/// `TSUNAGU_GRPC_TIMEOUT_SECONDS` is ended, while ordinary calls are answered as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_left_open_past_the_servers_deadline_is_ended() {
    let system = TestSystem::start_with(Options {
        env: vec![("TSUNAGU_GRPC_TIMEOUT_SECONDS", "1".into())],
        ..Options::default()
    })
    .await;
    let (sender, receiver) = tokio::sync::mpsc::channel::<intake_pb::SubmitNeedRequest>(1);
    let requests = tokio_stream::wrappers::ReceiverStream::new(receiver);
    let started = std::time::Instant::now();
    let answer = tokio::time::timeout(
        Duration::from_secs(20),
        system.intake().import_need_stream(requests),
    )
    .await
    .expect("the server ends the call itself");
    let status = answer.expect_err("an import that never finishes is not answered as a success");
    assert!(
        matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded),
        "{status:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    drop(sender);
    assert_eq!(
        intake_answer(&system, &system.keys.municipal_admin).await,
        Code::Ok
    );
    system.shutdown().await;
}
