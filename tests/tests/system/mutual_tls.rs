//! Mutual TLS (issue 7): with `TSUNAGU_TLS_*` set, every service serves TLS and demands a
//! client certificate of the deployment's CA — from integrators and from the other services,
//! whose calls to each other (key introspection, the notifications' registry lookups) go over
//! it too. A client without a certificate, with one of another CA, or speaking plain HTTP/2
//! does not get through, even with a valid API key.

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tsunagu_proto::intake::v1 as pb;
use tsunagu_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::grpc::traced_channel_with_tls;
use tsunagu_tests::{Fixture, MUNICIPALITY, Options, TestSystem, certificates};

use crate::support::{submit_need, wait_for_notification};

async fn list_needs(
    mut intake: IntakeServiceClient<tsunagu_tests::KeyedChannel>,
) -> Result<(), tonic::Status> {
    intake
        .list_needs(pb::ListNeedsRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_and_clients_speak_mutual_tls_and_strangers_do_not_get_through() {
    let certs = certificates::generate();
    let system = TestSystem::start_with(Options {
        env: vec![
            ("TSUNAGU_TLS_CERT", certs.path("service.pem")),
            ("TSUNAGU_TLS_KEY", certs.path("service.key")),
            ("TSUNAGU_TLS_CA", certs.path("ca.pem")),
        ],
        ..Options::default()
    })
    .await;
    let intake_url = system.service(ServiceName::Intake).url();
    assert!(intake_url.starts_with("https://"), "{intake_url}");

    // The whole loop over TLS: keys checked with the registry, the provider's name looked up.
    let fixture = Fixture::create(&system, 1).await;
    let need = submit_need(&system, "tls-need", &fixture.daily_life_area_id, "ゴミ出し").await;
    let notifications = wait_for_notification(&system, &fixture.organization_id, &need.id).await;
    assert_eq!(notifications.len(), 1);

    let key = system.keys.municipal_admin.clone();
    let ca = Certificate::from_pem(certs.read("ca.pem"));
    // No client certificate.
    let anonymous = ClientTlsConfig::new().ca_certificate(ca.clone());
    let refused = list_needs(IntakeServiceClient::new(
        traced_channel_with_tls(&intake_url, &key, Some(&anonymous)).unwrap(),
    ))
    .await;
    assert!(refused.is_err(), "no client certificate: {refused:?}");
    // A certificate of another CA.
    let rogue = ClientTlsConfig::new()
        .ca_certificate(ca.clone())
        .identity(Identity::from_pem(
            certs.read("rogue.pem"),
            certs.read("rogue.key"),
        ));
    let refused = list_needs(IntakeServiceClient::new(
        traced_channel_with_tls(&intake_url, &key, Some(&rogue)).unwrap(),
    ))
    .await;
    assert!(refused.is_err(), "a certificate of another CA: {refused:?}");
    // Plain HTTP/2 to the TLS port.
    let plain_url = intake_url.replacen("https://", "http://", 1);
    let plain = Endpoint::from_shared(plain_url).unwrap().connect_lazy();
    let refused = IntakeServiceClient::new(plain)
        .list_needs(pb::ListNeedsRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await;
    assert!(refused.is_err(), "plain HTTP/2: {refused:?}");
    // The deployment's certificate gets through.
    list_needs(system.intake())
        .await
        .expect("a client with the CA's certificate");
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integrator_authenticates_with_its_client_certificate_instead_of_a_key() {
    use tsunagu_proto::access::v1 as access_pb;
    use tsunagu_proto::access::v1::access_service_client::AccessServiceClient;
    use tsunagu_runtime::auth::{PresentedKey, Role};

    let certs = certificates::generate();
    let system = TestSystem::start_with(Options {
        env: vec![
            ("TSUNAGU_TLS_CERT", certs.path("service.pem")),
            ("TSUNAGU_TLS_KEY", certs.path("service.key")),
            ("TSUNAGU_TLS_CA", certs.path("ca.pem")),
            // Intake asks the registry about every call, so a revocation shows at once.
            ("TSUNAGU_AUTH_CACHE_SECONDS", "0".into()),
        ],
        ..Options::default()
    })
    .await;
    let integrator_pem = String::from_utf8(certs.read("integrator.pem")).unwrap();
    let mut access = AccessServiceClient::new(
        system.channel_with_key(ServiceName::Registry, &system.keys.municipal_admin),
    );
    let bind = |name: &str| access_pb::CreateApiKeyRequest {
        name: name.into(),
        role: Role::Integration.to_proto().into(),
        scope_code: MUNICIPALITY.into(),
        client_certificate_pem: integrator_pem.clone(),
        ..Default::default()
    };
    let created = access
        .create_api_key(bind("大垣市 福祉システム（証明書）"))
        .await
        .expect("the city binds its system's certificate")
        .into_inner();
    assert!(created.key.is_empty(), "no secret for a certificate key");
    let api_key = created.api_key.unwrap();
    assert!(api_key.prefix.starts_with("tsc_"), "{}", api_key.prefix);
    assert_eq!(api_key.client_certificate_sha256.len(), 64);

    // The integrator's certificate and no authorization header: admitted as that key.
    let ca = Certificate::from_pem(certs.read("ca.pem"));
    let intake_url = system.service(ServiceName::Intake).url();
    let over = |certificate: &str| {
        let tls = ClientTlsConfig::new()
            .ca_certificate(ca.clone())
            .identity(Identity::from_pem(
                certs.read(&format!("{certificate}.pem")),
                certs.read(&format!("{certificate}.key")),
            ));
        IntakeServiceClient::new(
            Endpoint::from_shared(intake_url.clone())
                .unwrap()
                .tls_config(tls)
                .unwrap()
                .connect_lazy(),
        )
    };
    let list = |mut intake: IntakeServiceClient<tonic::transport::Channel>| async move {
        intake
            .list_needs(pb::ListNeedsRequest {
                municipality_code: MUNICIPALITY.into(),
                ..Default::default()
            })
            .await
            .map(|_| ())
    };
    list(over("integrator"))
        .await
        .expect("the certificate is the credential");
    // Its scope holds: another municipality's needs are not its.
    let refused = over("integrator")
        .list_needs(pb::ListNeedsRequest {
            municipality_code: "212016".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    // A certificate of the CA that no key stands for gets no further than the handshake.
    let refused = list(over("service")).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    // The key derived from the (public) certificate is no bearer token.
    let derived = PresentedKey::from_certificate(&certs.read("integrator.der")).text();
    let refused = list_needs(IntakeServiceClient::new(
        traced_channel_with_tls(
            &intake_url,
            &derived,
            Some(
                &ClientTlsConfig::new()
                    .ca_certificate(ca.clone())
                    .identity(Identity::from_pem(
                        certs.read("service.pem"),
                        certs.read("service.key"),
                    )),
            ),
        )
        .unwrap(),
    ))
    .await
    .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    // One certificate, one key: binding it again is refused.
    let status = access.create_api_key(bind("二重登録")).await.unwrap_err();
    assert_eq!(
        crate::support::violated_fields(&status),
        ["client_certificate_pem"]
    );

    // Revoked: the certificate no longer gets in.
    access
        .revoke_api_key(access_pb::RevokeApiKeyRequest {
            id: api_key.id.clone(),
            reason: "システム更改".into(),
        })
        .await
        .unwrap();
    let refused = list(over("integrator")).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    system.shutdown().await;
}
