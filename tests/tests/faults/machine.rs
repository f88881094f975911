//! The machine's own RabbitMQ and PostgreSQL, which these tests stop and start. Every other
//! test binary shares them too, so this one runs alone (cargo runs test binaries one after
//! another) and its tests take turns ([`exclusive`]). Whatever happens to a test, the services
//! are running again when it ends ([`Restore`]).

use std::process::Command;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, MutexGuard};
use tsunagu_tests::{POSTGRES_URL, RABBITMQ_URL, eventually};

static MACHINE: Mutex<()> = Mutex::const_new(());

/// How long a restarted service may take to accept connections again.
const RESTART_DEADLINE: Duration = Duration::from_secs(120);

/// The machine for one test: no other fault test runs meanwhile, and when the guard goes —
/// after a pass or a panic — RabbitMQ and PostgreSQL are started again if they are down.
pub struct Exclusive {
    _turn: MutexGuard<'static, ()>,
}

pub async fn exclusive() -> Exclusive {
    Exclusive {
        _turn: MACHINE.lock().await,
    }
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        // The same script CI runs first: starts whichever of the two is down and waits for it.
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/ensure-services.sh");
        match Command::new("bash").arg(script).output() {
            Ok(output) if output.status.success() => {}
            Ok(output) => eprintln!(
                "could not restore RabbitMQ and PostgreSQL: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
            Err(error) => eprintln!("could not run {script}: {error}"),
        }
    }
}

/// How long the service was away.
#[derive(Debug, Clone, Copy)]
pub struct Restart {
    /// When it was asked to stop.
    pub stopping_at: Instant,
    /// When it accepted connections again.
    pub back_at: Instant,
}

impl Restart {
    pub fn outage(&self) -> Duration {
        self.back_at - self.stopping_at
    }
}

/// Stops the RabbitMQ node (`rabbitmqctl shutdown`: every connection is closed, every queue
/// stops) and starts it again, as an operator or a crash and a supervisor would; returns once
/// AMQP connections are accepted again.
pub async fn restart_rabbitmq() -> Restart {
    let stopping_at = Instant::now();
    run("rabbitmqctl", &["shutdown"]).await;
    run("rabbitmq-server", &["-detached"]).await;
    let back_at = eventually(
        "RabbitMQ to accept AMQP connections",
        RESTART_DEADLINE,
        || async {
            let connection = tsunagu_runtime::amqp::connect(RABBITMQ_URL, "tsunagu-fault-probe")
                .await
                .ok()?;
            let at = Instant::now();
            let _ = connection.close(200, "probe".into()).await;
            Some(at)
        },
    )
    .await;
    Restart { stopping_at, back_at }
}

/// Restarts the PostgreSQL cluster (`pg_ctlcluster … restart`, fast shutdown: every session is
/// terminated, open transactions roll back); returns once it accepts connections again.
pub async fn restart_postgres() -> Restart {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("PostgreSQL is installed from Debian's packages")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .max_by_key(|name| name.parse::<u32>().unwrap_or(0))
        .expect("one cluster version");
    let stopping_at = Instant::now();
    run(
        "pg_ctlcluster",
        &["--skip-systemctl-redirect", &version, "main", "restart"],
    )
    .await;
    let url = format!("{POSTGRES_URL}/postgres");
    let back_at = eventually("PostgreSQL to accept connections", RESTART_DEADLINE, || async {
        use sqlx::Connection;
        let connection = sqlx::PgConnection::connect(&url).await.ok()?;
        let at = Instant::now();
        let _ = connection.close().await;
        Some(at)
    })
    .await;
    Restart { stopping_at, back_at }
}

async fn run(program: &str, args: &[&str]) {
    let output = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .unwrap_or_else(|error| panic!("{program} cannot be run: {error}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
