//! Every service reports SERVING once its database and the broker answer, and lists its
//! service through reflection (what `grpcurl list` asks).

use tokio_stream::StreamExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tsunagu_runtime::ServiceName;
use tsunagu_tests::{TestSystem, eventually};

use crate::support::WAIT;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_is_serving_and_reflects_its_api() {
    let system = TestSystem::start().await;
    let expected = [
        (ServiceName::Registry, tsunagu_registry::GRPC_SERVICE_NAME),
        (ServiceName::Intake, tsunagu_intake::GRPC_SERVICE_NAME),
        (ServiceName::Matching, tsunagu_matching::GRPC_SERVICE_NAME),
        (
            ServiceName::Notifications,
            tsunagu_notifications::GRPC_SERVICE_NAME,
        ),
    ];
    for (service, grpc_name) in expected {
        let mut health = system.health(service);
        eventually(&format!("{service} SERVING"), WAIT, || {
            let mut health = health.clone();
            async move {
                let status = health
                    .check(HealthCheckRequest {
                        service: grpc_name.to_string(),
                    })
                    .await
                    .ok()?
                    .into_inner()
                    .status();
                (status == ServingStatus::Serving).then_some(())
            }
        })
        .await;
        let unknown = health
            .check(HealthCheckRequest {
                service: "no.such.Service".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), tonic::Code::NotFound);

        let mut reflection = ServerReflectionClient::new(system.grpc_channel(service));
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses = reflection
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .expect("reflection answers")
            .into_inner();
        let response = responses.next().await.expect("one response").expect("ok");
        let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
            panic!("unexpected reflection response");
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        assert!(names.iter().any(|n| n == grpc_name), "{service}: {names:?}");
        assert!(
            names.iter().any(|n| n == "grpc.health.v1.Health"),
            "{service}: {names:?}"
        );
    }
    system.shutdown().await;
}
