//! A matching worker as a process of its own (`src/bin/matching_worker.rs`), configured with
//! the test system's settings, so that a test can kill it with SIGKILL.

use std::process::Stdio;

use std::time::Duration;

use tokio::process::{Child, Command};
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::partitions::partition_holders;
use tsunagu_tests::{TestSystem, eventually};

/// Starts a worker with the system's settings; `overrides` win over them. The worker dies
/// with the handle.
pub fn spawn(system: &TestSystem, overrides: &[(&str, String)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_matching_worker"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    // The first of a name wins in the settings; a later `env` call replaces an earlier one.
    for (name, value) in system.settings.iter().rev() {
        command.env(name, value);
    }
    for (name, value) in overrides {
        command.env(name, value);
    }
    command.spawn().expect("the matching worker starts")
}

/// SIGKILL: no draining, no closing of connections; the kernel drops its sockets.
pub async fn kill(mut worker: Child) {
    worker.start_kill().expect("the worker can be killed");
    worker.wait().await.expect("the worker is gone");
}

/// Waits until one worker holds the one partition (the systems of
/// `flow::one_partition_with_worker_processes`).
pub async fn wait_for_partition_holder(matching: &sqlx::PgPool) {
    eventually(
        "a worker to hold the partition",
        Duration::from_secs(60),
        || async {
            let holders = partition_holders(matching, ServiceName::Matching).await.ok()?;
            (holders == [1]).then_some(())
        },
    )
    .await;
}
