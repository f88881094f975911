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
