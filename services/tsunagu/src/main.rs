//! `tsunagu up` runs the whole system on one machine with a demo data set;
//! `tsunagu serve <service>` runs one service, as a deployment does;
//! `tsunagu import|export …` moves sheets of resources, organisations and helpers in and out of
//! a running registry, and sheets of needs and area issues into a running intake.

mod demo;
mod preflight;
mod sheet_cli;

use std::sync::Arc;

use tsunagu_runtime::service::RunningService;
use tsunagu_runtime::{Config, ServiceName, shutdown, telemetry};

const USAGE: &str = "\
使い方 / usage:
  tsunagu up                 run all four services with demo data (ports 50051–50054)
  tsunagu serve <service>    run one service: registry | intake | matching | notifications
                             (every service needs the same TSUNAGU_INTERNAL_TOKEN)
  tsunagu bootstrap-admin <prefecture code>
                             the first key of a deployment: a prefecture admin (printed once),
                             made only when the prefecture has no live admin key
  tsunagu import resources|organizations|helpers <file.xlsx|file.csv> --municipality <code>
                             [--dry-run] [--registry http://127.0.0.1:50051] [--batch 500] [--by <name>]
                             upsert from a sheet (progress bar; rejected rows listed, exit code 3)
  tsunagu import care-providers <介護サービス事業所一覧.csv> --municipality <code> [--dry-run]
  tsunagu import needs|area-issues <file.xlsx|file.csv> --municipality <code>
                             [--dry-run] [--intake http://127.0.0.1:50052] [--batch 500] [--by <name>]
                             needs (個別ニーズ) and area issues (地域課題) into intake, each row once
                             by its 受付番号 (rejected rows listed, exit code 3)
  tsunagu export resources|organizations|helpers --municipality <code> [--format xlsx|csv|hsds]
                             [-o <file>|-] [--include-confidential]
                             (hsds: resources only; --include-confidential: the confidential
                             addresses of resources, the phones and e-mails of helpers)
  tsunagu help               this text

Configuration comes from the environment; see README.md (TSUNAGU_DATABASE_URL, TSUNAGU_AMQP_URL, …).";

enum Command {
    Up,
    Serve(ServiceName),
    BootstrapAdmin(String),
    Sheet(sheet_cli::SheetCommand),
}

fn parse_args() -> Result<Command, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["up"] => Ok(Command::Up),
        ["serve", name] => ServiceName::parse(name).map(Command::Serve).ok_or_else(|| {
            format!("unknown service {name:?}: expected registry, intake, matching or notifications")
        }),
        ["bootstrap-admin", code] => Ok(Command::BootstrapAdmin(code.to_string())),
        ["import", ..] | ["export", ..] => {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            sheet_cli::parse(&args).map(Command::Sheet)
        }
        ["help"] | ["--help"] | ["-h"] => {
            println!("{USAGE}");
            std::process::exit(0);
        }
        _ => Err(format!("unexpected arguments {args:?}")),
    }
}

fn main() -> std::process::ExitCode {
    let command = match parse_args() {
        Ok(command) => command,
        Err(message) => {
            eprintln!("{message}\n\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Command::Sheet(sheet_command) = command {
        return run_sheet_command(sheet_command);
    }
    let config = match Config::from_env() {
        Ok(config) => Arc::new(config),
        Err(error) => {
            eprintln!("{error}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let service_name = match &command {
            Command::Serve(service) => format!("tsunagu-{service}"),
            _ => "tsunagu".to_string(),
        };
        let telemetry = telemetry::init(&service_name, &config)?;
        if let (Some(address), Command::Up | Command::Serve(_)) = (config.metrics_listen, &command) {
            let bound =
                tsunagu_runtime::metrics::serve(address, tokio_util::sync::CancellationToken::new()).await?;
            tracing::info!(%bound, "serving Prometheus metrics at /metrics");
        }
        let metrics_export = tokio_util::sync::CancellationToken::new();
        let exporting = match (&config.otlp_endpoint, &command) {
            (Some(endpoint), Command::Up | Command::Serve(_)) if config.metrics_over_otlp => {
                Some(tokio::spawn(tsunagu_runtime::metrics::otlp::run(
                    endpoint.clone(),
                    service_name.clone(),
                    config.metrics_export_interval,
                    metrics_export.clone(),
                )))
            }
            _ => None,
        };
        let result = match command {
            Command::Up => up(config).await,
            Command::Serve(service) => serve(config, service).await,
            Command::BootstrapAdmin(code) => bootstrap_admin(&config, &code).await,
            Command::Sheet(_) => unreachable!("handled before the configuration is read"),
        };
        metrics_export.cancel();
        if let Some(exporting) = exporting {
            let _ = exporting.await; // the last export, with the final counts
        }
        telemetry.shutdown();
        result
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn start_service(
    config: Arc<Config>,
    service: ServiceName,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<RunningService> {
    match service {
        ServiceName::Registry => tsunagu_registry::start(config, shutdown).await,
        ServiceName::Intake => tsunagu_intake::start(config, shutdown).await,
        ServiceName::Matching => tsunagu_matching::start(config, shutdown).await,
        ServiceName::Notifications => tsunagu_notifications::start(config, shutdown).await,
    }
}

async fn serve(config: Arc<Config>, service: ServiceName) -> anyhow::Result<()> {
    let shutdown = shutdown::on_signal();
    let running = start_service(config, service, shutdown).await?;
    running.wait().await
}

/// The first prefecture admin key, written straight into the registry's database.
async fn bootstrap_admin(config: &Config, prefecture_code: &str) -> anyhow::Result<()> {
    let code = tsunagu_runtime::MunicipalityCode::parse_known(prefecture_code)
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    if !code.official().is_some_and(|entry| entry.is_prefecture()) {
        anyhow::bail!(
            "{prefecture_code} は都道府県のコードではありません / not a prefecture's code (e.g. 210005 for 岐阜県)"
        );
    }
    let registry = config.service(ServiceName::Registry);
    let pool =
        tsunagu_runtime::db::connect(&registry.database_url, ServiceName::Registry.as_str(), 1).await?;
    tsunagu_registry::migrate(&pool).await?;
    match tsunagu_registry::access::bootstrap_prefecture_admin(
        &pool,
        code.as_str(),
        "tsunagu bootstrap-admin",
    )
    .await?
    {
        Some(key) => {
            println!("{}", demo::key_instructions(code.as_str(), &key));
            Ok(())
        }
        None => anyhow::bail!(
            "{} already has a live prefecture admin key: use it to create more (AccessService/CreateApiKey), \
             or revoke it first",
            code.as_str()
        ),
    }
}

async fn up(config: Arc<Config>) -> anyhow::Result<()> {
    preflight::check(&config).await?;
    // One process: the services share a token made for this run unless one was configured.
    let config = if config.internal_token.is_some() {
        config
    } else {
        let mut with_token = Config::clone(&config);
        with_token.internal_token = Some(tsunagu_runtime::auth::random_internal_token());
        Arc::new(with_token)
    };
    let shutdown = shutdown::on_signal();
    let registry = start_service(config.clone(), ServiceName::Registry, shutdown.clone()).await?;
    // The others reach the registry where it actually listens: with TSUNAGU_REGISTRY_LISTEN on
    // port 0 the URL derived from the configuration would point at port 0.
    let config = if config.registry_url_configured {
        config
    } else {
        let mut with_registry = Config::clone(&config);
        with_registry.registry_url = registry.url();
        Arc::new(with_registry)
    };
    let mut running = vec![registry];
    for service in ServiceName::ALL
        .into_iter()
        .filter(|s| *s != ServiceName::Registry)
    {
        let started = match service {
            ServiceName::Notifications => {
                let (config, destinations) = demo_webhooks(&config)?;
                tsunagu_notifications::start_with(config, destinations, shutdown.clone()).await?
            }
            _ => start_service(config.clone(), service, shutdown.clone()).await?,
        };
        running.push(started);
    }
    preflight::wait_until_serving(&config, &running).await?;
    let keys = demo::session_keys(&config).await?;
    let demo = demo::load(&config, &running, &keys).await?;
    println!("{}", demo::instructions(&running, &demo, &keys));
    for service in running {
        service.wait().await?;
    }
    Ok(())
}

/// What `up` opens for a newcomer trying webhooks with a receiver on this machine, where the
/// environment leaves it unset: `http://` webhooks (`TSUNAGU_WEBHOOK_ALLOW_HTTP`), and this
/// machine's own addresses (`TSUNAGU_WEBHOOK_ALLOWED_DESTINATIONS`: 127.0.0.1, ::1,
/// localhost). `serve`, which a deployment runs, keeps both closed unless the operator opens
/// them; the README's configuration table says so, and `up` prints it.
fn demo_webhooks(
    config: &Arc<Config>,
) -> anyhow::Result<(Arc<Config>, tsunagu_notifications::DestinationPolicy)> {
    let mut demo = Config::clone(config);
    if std::env::var_os("TSUNAGU_WEBHOOK_ALLOW_HTTP").is_none() {
        demo.notifications.webhook_allow_http = true;
    }
    let destinations = tsunagu_notifications::DestinationPolicy::from_lookup(|key| {
        std::env::var(key)
            .ok()
            .or_else(|| (key == DEMO_DESTINATIONS.0).then(|| DEMO_DESTINATIONS.1.to_string()))
    })?;
    Ok((Arc::new(demo), destinations))
}

/// The webhook destinations `up` allows when the operator named none: this machine.
const DEMO_DESTINATIONS: (&str, &str) = ("TSUNAGU_WEBHOOK_ALLOWED_DESTINATIONS", "127.0.0.1,::1,localhost");

/// Import and export talk to a running registry and need none of the services' configuration.
fn run_sheet_command(command: sheet_cli::SheetCommand) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(sheet_cli::run(command)) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        // Some rows were rejected: the report is printed, and scripts see a distinct code.
        Ok(false) => std::process::ExitCode::from(3),
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
