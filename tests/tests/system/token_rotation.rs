//! The internal token rotates without a full stop: with `TSUNAGU_INTERNAL_TOKEN_ACCEPTED`,
//! services accept a second token they never send, so a deployment first adds the new token
//! as accepted everywhere, then makes it the token (the old one accepted), then drops the old.
//! Here the registry is one step behind an intake that already sends the new token, and an
//! intake with a token nobody accepts cannot get its callers' keys checked.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tonic::Code;
use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tsunagu_runtime::auth::random_internal_token;
use tsunagu_tests::{MUNICIPALITY, Options, TestSystem};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intake_sending_the_next_token_is_accepted_during_a_rotation() {
    let next = random_internal_token();
    // Step 1 everywhere: the next token is accepted, the current one still sent.
    let system = TestSystem::start_with(Options {
        env: vec![("TSUNAGU_INTERNAL_TOKEN_ACCEPTED", next.clone())],
        ..Options::default()
    })
    .await;
    let current = system
        .config
        .internal_token
        .clone()
        .expect("the test system's token");

    let list_needs = |intake: &tsunagu_runtime::service::RunningService| {
        let channel =
            tsunagu_runtime::grpc::traced_channel_with_tls(&intake.url(), &system.keys.municipal_admin, None)
                .expect("channel");
        async move {
            IntakeServiceClient::new(channel)
                .list_needs(intake_pb::ListNeedsRequest {
                    municipality_code: MUNICIPALITY.into(),
                    ..Default::default()
                })
                .await
        }
    };

    // Step 2 on one intake: it sends the next token (its keys are checked by the registry
    // with it) and accepts the current one from the services not yet rolled.
    let mut rolled = (*system.config).clone();
    rolled.internal_token = Some(next.clone());
    rolled.internal_token_accepted = Some(current.clone());
    let stop = CancellationToken::new();
    let intake = tsunagu_intake::start(Arc::new(rolled), stop.clone())
        .await
        .expect("the rolled intake starts");
    list_needs(&intake)
        .await
        .expect("the registry accepts the next token: the caller's key is checked");

    // A token nobody accepts: the registry refuses the key check, and the caller is refused.
    let mut stranger = (*system.config).clone();
    stranger.internal_token = Some(random_internal_token());
    stranger.internal_token_accepted = None;
    let stop_stranger = CancellationToken::new();
    let lost = tsunagu_intake::start(Arc::new(stranger), stop_stranger.clone())
        .await
        .expect("the misconfigured intake starts");
    let refused = list_needs(&lost).await.expect_err("no key can be checked");
    assert!(
        matches!(refused.code(), Code::Unauthenticated | Code::Unavailable),
        "{refused:?}"
    );

    for (stop, running) in [(stop, intake), (stop_stranger, lost)] {
        stop.cancel();
        running.wait().await.expect("stops cleanly");
    }
    system.shutdown().await;
}
