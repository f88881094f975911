//! `tsunagu up` keeps the README's promise: it starts all four services with demo data, prints
//! ready-to-paste grpcurl calls, and those calls — run in order, as a person following the
//! instructions would — carry a need through to a notification. SIGTERM then stops the process
//! gracefully, with exit code 0.
//!
//! Runs the real binary against this machine's PostgreSQL and RabbitMQ, in a database and an
//! AMQP namespace of its own, both removed afterwards.

mod support;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use support::cleanup::{POSTGRES_URL, RABBITMQ_URL, clean_up};
use support::grpcurl::{Call, Grpcurl, header_assignment};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Migrations, demo data and four services, on a busy 2-core machine.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// From one printed call until the effect shows in another service.
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(60);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
const LAST_LINE: &str = "Ctrl-C stops everything";

/// The calls `instructions()` prints, in order.
const EXPECTED_METHODS: [&str; 6] = [
    "tsunagu.intake.v1.IntakeService/SubmitNeed",
    "tsunagu.matching.v1.MatchingService/ListProposals",
    "tsunagu.notifications.v1.NotificationsService/ListNotifications",
    "tsunagu.intake.v1.IntakeService/SubmitNeed",
    "tsunagu.notifications.v1.NotificationsService/ListNotifications",
    "grpc.health.v1.Health/Check",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_prints_calls_that_carry_a_need_to_a_notification_and_stops_on_sigterm() {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let database_name = format!("tsunagu_up_{suffix}");
    let namespace = format!("tsunagu-up-{suffix}");

    let mut command = Command::new(env!("CARGO_BIN_EXE_tsunagu"));
    // Only this test's configuration: nothing from the developer's shell leaks in.
    for (key, _) in std::env::vars() {
        if key.starts_with("TSUNAGU_") || key.starts_with("OTEL_") {
            command.env_remove(key);
        }
    }
    command
        .arg("up")
        .env("TSUNAGU_DATABASE_URL", format!("{POSTGRES_URL}/{database_name}"))
        .env("TSUNAGU_AMQP_URL", RABBITMQ_URL)
        .env("TSUNAGU_AMQP_NAMESPACE", &namespace)
        .env("TSUNAGU_REGISTRY_LISTEN", "127.0.0.1:0")
        .env("TSUNAGU_INTAKE_LISTEN", "127.0.0.1:0")
        .env("TSUNAGU_MATCHING_LISTEN", "127.0.0.1:0")
        .env("TSUNAGU_NOTIFICATIONS_LISTEN", "127.0.0.1:0")
        .env("TSUNAGU_DATABASE_MAX_CONNECTIONS", "4")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("spawn tsunagu up");

    let (stdout_lines, stdout, stdout_done) = capture(child.stdout.take().expect("piped stdout"));
    let (_, stderr, stderr_done) = capture(child.stderr.take().expect("piped stderr"));

    // The assertions return errors instead of panicking, so that cleanup always runs.
    let result = follow_the_instructions(&mut child, stdout_lines).await;

    if matches!(child.try_wait(), Ok(None)) {
        let _ = child.start_kill();
    }
    let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, child.wait()).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), stdout_done).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), stderr_done).await;
    clean_up(&database_name, &namespace).await;

    if let Err(error) = result {
        panic!(
            "{error:#}\n\n--- stdout of tsunagu up ---\n{}\n--- stderr of tsunagu up ---\n{}",
            stdout.lock().unwrap().join("\n"),
            stderr.lock().unwrap().join("\n"),
        );
    }
}

async fn follow_the_instructions(
    child: &mut Child,
    mut stdout_lines: mpsc::UnboundedReceiver<String>,
) -> anyhow::Result<()> {
    // Read until the last line of the instructions.
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let mut calls = Vec::new();
    let mut headers = std::collections::HashMap::new();
    loop {
        let line = match tokio::time::timeout_at(deadline, stdout_lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => bail!("tsunagu up closed its stdout before printing the instructions"),
            Err(_) => bail!("no {LAST_LINE:?} line within {STARTUP_TIMEOUT:?}"),
        };
        if line.starts_with("grpcurl -plaintext -") && line.contains(" -d '") {
            calls.push(Call::parse(&line).with_context(|| format!("cannot parse {line:?}"))?);
        }
        if let Some((variable, value)) = header_assignment(&line) {
            headers.insert(variable, value);
        }
        if line.contains(LAST_LINE) {
            break;
        }
    }
    let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
    ensure!(methods == EXPECTED_METHODS, "printed calls: {methods:?}");
    for call in &calls {
        ensure!(call.target.starts_with("localhost:"), "target {:?}", call.target);
    }
    let [
        submit,
        proposals,
        provider_inbox,
        submit_unservable,
        coordinator_inbox,
        health,
    ] = <[Call; 6]>::try_from(calls).expect("six calls, checked above");

    let mut grpcurl = Grpcurl::new()?;
    ensure!(
        headers
            .get("CITY")
            .is_some_and(|h| h.starts_with("authorization: Bearer tsk_")),
        "the instructions print the city's key: {headers:?}"
    );
    grpcurl.headers = headers;
    // Without the printed key, the same call is refused.
    let anonymous = Call {
        header: None,
        ..submit.clone()
    };
    let refused = grpcurl.run(&anonymous).await;
    ensure!(
        refused
            .as_ref()
            .is_err_and(|error| format!("{error:#}").contains("Unauthenticated")
                || format!("{error:#}").contains("認証")),
        "a call without the key must be refused: {refused:?}"
    );

    // 1. Submit a need: ゴミ出し in the demo's daily-life area.
    let response = grpcurl.run(&submit).await?;
    let need_id = string_at(&response, "/need/id")?;
    ensure!(
        response.pointer("/need/category") == Some(&Value::from("life.garbage")),
        "SubmitNeed answered {response}"
    );

    // 2. Matching proposes the demo NPO's ゴミ出し resource for it.
    let request: Value = serde_json::from_str(&provider_inbox.json)?;
    let organization_id = string_at(&request, "/recipient/organization_id")?;
    let proposal = poll(&grpcurl, &proposals, "a proposal for the need", |response| {
        array_at(response, "/proposals")
            .find(|p| p.pointer("/needId") == Some(&Value::from(need_id.as_str())))
            .cloned()
    })
    .await?;
    ensure!(
        proposal.pointer("/category") == Some(&Value::from("life.garbage"))
            && proposal.pointer("/organizationId") == Some(&Value::from(organization_id.as_str())),
        "proposal {proposal} is not the demo NPO's ゴミ出し"
    );

    // 3. The provider's in-app notification.
    let notification = poll(
        &grpcurl,
        &provider_inbox,
        "the provider's ゴミ出し notification",
        |response| {
            array_at(response, "/notifications")
                .find(|n| n["title"].as_str().is_some_and(|t| t.contains("ゴミ出し")))
                .cloned()
        },
    )
    .await?;
    ensure!(
        notification.pointer("/needId") == Some(&Value::from(need_id.as_str())),
        "notification {notification} is about another need than {need_id}"
    );

    // A need nobody can serve goes to the coordinators of the municipality.
    let response = grpcurl.run(&submit_unservable).await?;
    let unservable_id = string_at(&response, "/need/id")?;
    ensure!(
        response.pointer("/need/category") == Some(&Value::from("life.outing")) && unservable_id != need_id,
        "second SubmitNeed answered {response}"
    );
    let notification = poll(
        &grpcurl,
        &coordinator_inbox,
        "the coordinators' 外出支援 notification",
        |response| {
            array_at(response, "/notifications")
                .find(|n| {
                    ["title", "body"]
                        .iter()
                        .any(|field| n[field].as_str().is_some_and(|t| t.contains("外出支援")))
                })
                .cloned()
        },
    )
    .await?;
    ensure!(
        notification.pointer("/needId") == Some(&Value::from(unservable_id.as_str())),
        "coordinators' notification {notification} is about another need than {unservable_id}"
    );

    // The demo lets a webhook reach a receiver on this machine over plain http://, as it says
    // (`tsunagu serve` refuses both unless the operator allows them).
    let local_webhook = Call {
        method: "tsunagu.notifications.v1.NotificationsService/CreateSubscription".into(),
        json: r#"{"subscription":{"municipality_code":"212024","recipient":{"municipality":"212024"},
            "subscriber_kind":"SUBSCRIBER_KIND_MUNICIPAL_SYSTEM","subscriber_name":"手元の受信テスト",
            "channel":"webhook","address":"http://127.0.0.1:9/hook","event_types":["need.unmatched"]}}"#
            .into(),
        ..provider_inbox.clone()
    };
    let response = grpcurl
        .run(&local_webhook)
        .await
        .context("the demo refused a webhook to a receiver on this machine")?;
    ensure!(
        response.pointer("/subscription/id").is_some(),
        "CreateSubscription answered {response}"
    );

    // Health.
    let response = grpcurl.run(&health).await?;
    ensure!(
        response.pointer("/status") == Some(&Value::from("SERVING")),
        "health check answered {response}"
    );

    // SIGTERM stops everything gracefully.
    let pid = child.id().context("tsunagu up already exited")?;
    let pid = libc::pid_t::try_from(pid)?;
    // SAFETY: kill(2) only sends a signal; the pid is our own child, not yet reaped.
    let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
    ensure!(sent == 0, "kill -TERM {pid}: {}", std::io::Error::last_os_error());
    let status = tokio::time::timeout(SHUTDOWN_TIMEOUT, child.wait())
        .await
        .with_context(|| format!("tsunagu up still running {SHUTDOWN_TIMEOUT:?} after SIGTERM"))??;
    ensure!(status.success(), "tsunagu up exited with {status} after SIGTERM");
    Ok(())
}

/// Runs `call` until `accept` finds what it waits for in the response, or gives up after
/// [`PROPAGATION_TIMEOUT`], naming the last response or error.
async fn poll<T>(
    grpcurl: &Grpcurl,
    call: &Call,
    what: &str,
    accept: impl Fn(&Value) -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + PROPAGATION_TIMEOUT;
    loop {
        let last = match grpcurl.run(call).await {
            Ok(response) => match accept(&response) {
                Some(found) => return Ok(found),
                None => response.to_string(),
            },
            Err(error) => format!("{error:#}"),
        };
        if Instant::now() > deadline {
            bail!(
                "no {what} within {PROPAGATION_TIMEOUT:?}; {} last answered: {last}",
                call.method
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn string_at(json: &Value, pointer: &str) -> anyhow::Result<String> {
    json.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .with_context(|| format!("no {pointer} in {json}"))
}

/// The elements of the array at `pointer`; none when proto3 JSON left an empty list out.
fn array_at<'a>(json: &'a Value, pointer: &str) -> impl Iterator<Item = &'a Value> {
    json.pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

type Captured = Arc<Mutex<Vec<String>>>;

/// Reads `stream` line by line until it closes: every line is kept (for the failure message)
/// and also sent on the returned channel. Reading on after the instructions keeps the pipe from
/// filling up, which would block the child's logging.
fn capture(
    stream: impl AsyncRead + Unpin + Send + 'static,
) -> (
    mpsc::UnboundedReceiver<String>,
    Captured,
    tokio::task::JoinHandle<()>,
) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let captured = Captured::default();
    let kept = captured.clone();
    let done = tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            kept.lock().unwrap().push(line.clone());
            let _ = sender.send(line);
        }
    });
    (receiver, captured, done)
}
