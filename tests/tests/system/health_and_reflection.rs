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

        // Older grpcurl versions ask the v1alpha reflection service.
        use tonic_reflection::pb::v1alpha as alpha;
        let mut reflection =
            alpha::server_reflection_client::ServerReflectionClient::new(system.grpc_channel(service));
        let request = alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(alpha::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            )),
        };
        let response = reflection
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .expect("v1alpha reflection answers")
            .into_inner()
            .next()
            .await
            .expect("one response")
            .expect("ok");
        let Some(alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
            response.message_response
        else {
            panic!("unexpected v1alpha reflection response");
        };
        assert!(
            list.service.iter().any(|s| s.name == grpc_name),
            "{service} (v1alpha)"
        );
    }
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_are_not_serving_until_the_broker_answers() {
    let proxy = tsunagu_tests::tcp_proxy::TcpProxy::start("127.0.0.1:5672".parse().unwrap()).await;
    proxy.cut();
    let system = TestSystem::start_with(tsunagu_tests::Options {
        amqp_url: Some(proxy.amqp_url()),
        ..Default::default()
    })
    .await;
    let status = |service: ServiceName| {
        let mut health = system.health(service);
        async move {
            health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(|response| response.into_inner().status())
                .ok()
        }
    };
    // The database answers, the broker does not: every service says NOT_SERVING…
    for service in ServiceName::ALL {
        eventually(&format!("{service} reports its status"), WAIT, || async {
            (status(service).await == Some(ServingStatus::NotServing)).then_some(())
        })
        .await;
    }
    // …and SERVING once the broker is reachable.
    proxy.restore();
    for service in ServiceName::ALL {
        eventually(
            &format!("{service} SERVING after the broker returned"),
            WAIT,
            || async { (status(service).await == Some(ServingStatus::Serving)).then_some(()) },
        )
        .await;
    }
    system.shutdown().await;
}
