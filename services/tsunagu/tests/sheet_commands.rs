//! `tsunagu import resources` and `tsunagu export resources` against a registry started with
//! `tsunagu serve registry`: a 1,201-row sheet goes in three parts, the one bad row is reported
//! with its row number in the original file (a blank line before it included), the exit code
//! tells a script that rows were rejected, and an export imports back with nothing changed.
//! Organisations and helpers take the same path; needs and survey results go into a running
//! intake (`tsunagu serve intake`) the same way, each row once by its 受付番号.

#[path = "support/cleanup.rs"]
mod cleanup;

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, ensure};
use cleanup::{POSTGRES_URL, RABBITMQ_URL, clean_up};
use tokio::process::Command;
use tokio::time::Instant;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tsunagu_proto::access::v1 as access_pb;
use tsunagu_proto::access::v1::access_service_client::AccessServiceClient;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_proto::registry::v1::registry_service_client::RegistryServiceClient;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// The secret the served processes present to each other (any 32+ characters will do here).
const INTERNAL_TOKEN: &str = "sheet-commands-test-internal-token-0123456789";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One service started with `tsunagu serve`, on a database and a namespace of its own.
struct Served {
    process: tokio::process::Child,
    database_name: String,
    namespace: String,
    url: String,
    directory: std::path::PathBuf,
}

/// Starts `tsunagu serve <service>` on a fresh database, listening on a free port.
async fn serve(service: &str, extra_env: &[(&str, &str)]) -> Served {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let database_name = format!("tsunagu_cli_{suffix}");
    let namespace = format!("tsunagu-cli-{suffix}");
    let port = free_port();
    // `serve` expects its database to exist, as in a deployment (`up` creates its own).
    let admin = sqlx::PgPool::connect(&format!("{POSTGRES_URL}/postgres"))
        .await
        .expect("postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE \"{database_name}\""
    )))
    .execute(&admin)
    .await
    .expect("create database");
    admin.close().await;
    let mut command = Command::new(env!("CARGO_BIN_EXE_tsunagu"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TSUNAGU_") || key.starts_with("OTEL_") {
            command.env_remove(key);
        }
    }
    command
        .args(["serve", service])
        .env("TSUNAGU_DATABASE_URL", format!("{POSTGRES_URL}/{database_name}"))
        .env("TSUNAGU_AMQP_URL", RABBITMQ_URL)
        .env("TSUNAGU_AMQP_NAMESPACE", &namespace)
        .env(
            format!("TSUNAGU_{}_LISTEN", service.to_uppercase()),
            format!("127.0.0.1:{port}"),
        )
        .env("TSUNAGU_DATABASE_MAX_CONNECTIONS", "4")
        .env("TSUNAGU_INTERNAL_TOKEN", INTERNAL_TOKEN)
        .env("RUST_LOG", "warn")
        .envs(extra_env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let process = command.spawn().expect("spawn tsunagu serve");
    let directory = std::env::temp_dir().join(format!("tsunagu-cli-{suffix}"));
    std::fs::create_dir_all(&directory).unwrap();
    Served {
        process,
        database_name,
        namespace,
        url: format!("http://127.0.0.1:{port}"),
        directory,
    }
}

impl Served {
    async fn stop(mut self) {
        let _ = self.process.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.process.wait()).await;
        clean_up(&self.database_name, &self.namespace).await;
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_sheet_imports_in_parts_reports_its_bad_row_and_round_trips() {
    let served = serve("registry", &[]).await;
    let result = async {
        wait_serving(&served.url).await?;
        let key = municipal_key(&served).await?;
        exercise(&served.url, &served.directory, &key).await
    }
    .await;
    served.stop().await;
    if let Err(error) = result {
        panic!("{error:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn needs_and_survey_results_go_into_intake_row_by_row() {
    // Intake checks keys with the registry, which holds them.
    let registry = serve("registry", &[]).await;
    // Intake hears the registry's areas over the same broker namespace: it takes a need only
    // in an area the registry knows.
    let served = serve(
        "intake",
        &[
            (
                "TSUNAGU_INTAKE_ENCRYPTION_KEYS",
                "cli-1:KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=",
            ),
            ("TSUNAGU_REGISTRY_URL", &registry.url),
            ("TSUNAGU_AMQP_NAMESPACE", &registry.namespace),
        ],
    )
    .await;
    let result = async {
        wait_serving(&registry.url).await?;
        let key = municipal_key(&registry).await?;
        let area = daily_life_area(&registry, &key).await?;
        import_into_intake(&served.url, &served.directory, &key, &area).await
    }
    .await;
    served.stop().await;
    registry.stop().await;
    if let Err(error) = result {
        panic!("{error:#}");
    }
}

/// A municipal admin key of 大垣市, made as an operator would: `tsunagu bootstrap-admin` on the
/// registry's database prints the prefecture admin's key, which creates the city's key
/// through `AccessService/CreateApiKey`.
async fn municipal_key(registry: &Served) -> anyhow::Result<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_tsunagu"))
        .args(["bootstrap-admin", "210005"])
        .env(
            "TSUNAGU_DATABASE_URL",
            format!("{POSTGRES_URL}/{}", registry.database_name),
        )
        .env("TSUNAGU_INTERNAL_TOKEN", INTERNAL_TOKEN)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .context("run tsunagu bootstrap-admin")?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    ensure!(
        output.status.success(),
        "bootstrap-admin failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let admin = stdout
        .split_whitespace()
        .find(|word| word.starts_with("tsk_"))
        .context("the bootstrap prints the key")?
        .to_string();
    // A second bootstrap refuses: the prefecture has a live admin key.
    let again = Command::new(env!("CARGO_BIN_EXE_tsunagu"))
        .args(["bootstrap-admin", "210005"])
        .env(
            "TSUNAGU_DATABASE_URL",
            format!("{POSTGRES_URL}/{}", registry.database_name),
        )
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await?;
    ensure!(!again.status.success(), "a second bootstrap must refuse");
    let channel = tonic::transport::Channel::from_shared(registry.url.clone())?
        .connect()
        .await?;
    let mut access = AccessServiceClient::with_interceptor(channel, bearer(&admin));
    let created = access
        .create_api_key(access_pb::CreateApiKeyRequest {
            name: "大垣市 管理者".into(),
            role: access_pb::Role::MunicipalAdmin.into(),
            scope_code: "212024".into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    Ok(created.key)
}

/// Adds `authorization: Bearer <key>` to every call.
fn bearer(key: &str) -> impl FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone {
    let value: tonic::metadata::MetadataValue<tonic::metadata::Ascii> =
        format!("Bearer {key}").parse().expect("a key is ASCII");
    move |mut request: tonic::Request<()>| {
        request.metadata_mut().insert("authorization", value.clone());
        Ok(request)
    }
}

/// Waits until the service at `url` reports SERVING.
async fn wait_serving(url: &str) -> anyhow::Result<tonic::transport::Channel> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Ok(channel) = tonic::transport::Channel::from_shared(url.to_string())?
            .connect()
            .await
        {
            let status = HealthClient::new(channel.clone())
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(|r| r.into_inner().status());
            if status.ok() == Some(ServingStatus::Serving) {
                return Ok(channel);
            }
        }
        ensure!(
            Instant::now() < deadline,
            "{url} did not become SERVING in {STARTUP_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A daily-life area of 大垣市, made through the registry as a coordinator would.
async fn daily_life_area(registry: &Served, key: &str) -> anyhow::Result<String> {
    let channel = tonic::transport::Channel::from_shared(registry.url.clone())?
        .connect()
        .await?;
    let mut client = RegistryServiceClient::with_interceptor(channel, bearer(key));
    let city = client
        .search_areas(pb::SearchAreasRequest {
            query: "大垣市".into(),
            municipality_code: "212024".into(),
            kind: pb::AreaKind::Municipality.into(),
            page: None,
        })
        .await?
        .into_inner()
        .areas
        .into_iter()
        .next()
        .context("the official list has 大垣市")?;
    let area = client
        .create_area(pb::CreateAreaRequest {
            kind: pb::AreaKind::DailyLifeArea.into(),
            name: "西部圏域".into(),
            parent_id: city.id,
            ..Default::default()
        })
        .await?
        .into_inner()
        .area
        .context("the created area")?;
    Ok(area.id)
}

async fn import_into_intake(
    url: &str,
    directory: &std::path::Path,
    key: &str,
    area: &str,
) -> anyhow::Result<()> {
    wait_serving(url).await?;
    // 600 needs, a blank line, a bad row, 100 more: two parts, the bad row is line 603.
    let mut csv = String::from("受付番号,区域ID,カテゴリ,頻度,希望日時,備考,同意,同意者,同意方法\n");
    let row =
        |i: usize| format!("N-{i},{area},ゴミ出し,週1回,火 9:00〜10:00,玄関前,提供者への共有,本人,書面\n");
    (0..600).for_each(|i| csv.push_str(&row(i)));
    csv.push('\n');
    csv.push_str(&format!("N-bad,{area},ゴミ出し,ときどき,,,,,\n"));
    (600..700).for_each(|i| csv.push_str(&row(i)));
    let sheet = directory.join("needs.csv");
    std::fs::write(&sheet, csv)?;
    let args = |file: &str, kind: &'static str| {
        vec![
            "import".to_string(),
            kind.into(),
            file.to_string(),
            "--municipality".into(),
            "212024".into(),
            "--intake".into(),
            url.to_string(),
        ]
    };
    let needs = args(sheet.to_str().unwrap(), "needs");
    let needs: Vec<&str> = needs.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = run_cli(&needs, key).await?;
    ensure!(code == 3, "exit code {code}\n{stdout}\n{stderr}");
    ensure!(
        stdout.contains("作成 700 / 更新 0 / 変更なし 0 / エラー 1 行"),
        "{stdout}"
    );
    ensure!(stdout.contains("603行目 「頻度」"), "{stdout}");
    // Again: every row already imported, nothing created twice.
    let (code, stdout, stderr) = run_cli(&needs, key).await?;
    ensure!(code == 3, "exit code {code}\n{stdout}\n{stderr}");
    ensure!(
        stdout.contains("作成 0 / 更新 0 / 変更なし 700 / エラー 1 行"),
        "{stdout}"
    );

    let survey = directory.join("survey.csv");
    std::fs::write(
        &survey,
        format!(
            "受付番号,出典,区域ID,カテゴリ,件数,期間開始,期間終了\nS-1,ニーズ調査,{area},買い物支援,42,2026-04-01,2026-09-30\n"
        ),
    )?;
    let issues = args(survey.to_str().unwrap(), "area-issues");
    let issues: Vec<&str> = issues.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = run_cli(&issues, key).await?;
    ensure!(code == 0, "exit code {code}\n{stdout}\n{stderr}");
    ensure!(
        stdout.contains("作成 1 / 更新 0 / 変更なし 0 / エラー 0 行"),
        "{stdout}"
    );
    Ok(())
}

async fn run_cli(args: &[&str], key: &str) -> anyhow::Result<(i32, String, String)> {
    let output = Command::new(env!("CARGO_BIN_EXE_tsunagu"))
        .args(args)
        .env("TSUNAGU_API_KEY", key)
        .stdin(Stdio::null())
        .output()
        .await
        .context("run tsunagu")?;
    Ok((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

async fn exercise(url: &str, directory: &std::path::Path, key: &str) -> anyhow::Result<()> {
    let url = url.to_string();
    // Wait for SERVING: migrations and the official list load first.
    let channel = wait_serving(&url).await?;
    RegistryServiceClient::with_interceptor(channel, bearer(key))
        .create_organization(pb::CreateOrganizationRequest {
            municipality_code: "212024".into(),
            name: "NPO法人 ささえあい".into(),
            kind: pb::OrganizationKind::Npo.into(),
            ..Default::default()
        })
        .await?;

    // 700 rows, a blank line, the bad row (no name), 500 rows: the bad row is line 703.
    let mut csv = String::from("外部ID,資源名,事業主体名,カテゴリ,対象区域,定員,日程\n");
    let row = |i: usize| {
        format!("r-{i},見守り隊{i},NPO法人 ささえあい,安否確認・見守り,212024,3,毎週 月曜 10:00〜11:00\n")
    };
    (0..700).for_each(|i| csv.push_str(&row(i)));
    csv.push('\n');
    csv.push_str("bad,,NPO法人 ささえあい,安否確認・見守り,212024,3,\n");
    (700..1200).for_each(|i| csv.push_str(&row(i)));
    let sheet = directory.join("resources.csv");
    std::fs::write(&sheet, csv)?;
    let sheet_path = sheet.to_str().unwrap();

    let (code, stdout, stderr) = run_cli(
        &[
            "import",
            "resources",
            sheet_path,
            "--municipality",
            "212024",
            "--registry",
            &url,
            "--batch",
            "500",
        ],
        key,
    )
    .await?;
    ensure!(
        code == 3,
        "exit code {code} (3 = some rows rejected)\n{stdout}\n{stderr}"
    );
    ensure!(
        stdout.contains("作成 1200 / 更新 0 / 変更なし 0 / エラー 1 行"),
        "{stdout}"
    );
    ensure!(stdout.contains("703行目 「資源名」"), "{stdout}");
    ensure!(
        stderr.matches("行/秒").count() == 3,
        "one progress line per part: {stderr}"
    );

    let exported = directory.join("export.csv");
    let exported = exported.to_str().unwrap();
    let (code, stdout, stderr) = run_cli(
        &[
            "export",
            "resources",
            "--municipality",
            "212024",
            "--registry",
            &url,
            "--format",
            "csv",
            "-o",
            exported,
        ],
        key,
    )
    .await?;
    ensure!(code == 0, "export exit code {code}\n{stdout}\n{stderr}");
    let bytes = std::fs::read(exported)?;
    let sheet = tsunagu_tabular::read(&bytes, tsunagu_tabular::Format::Csv)?;
    ensure!(sheet.rows.len() == 1200, "{} rows exported", sheet.rows.len());

    let (code, stdout, stderr) = run_cli(
        &[
            "import",
            "resources",
            exported,
            "--municipality",
            "212024",
            "--registry",
            &url,
        ],
        key,
    )
    .await?;
    ensure!(code == 0, "re-import exit code {code}\n{stdout}\n{stderr}");
    ensure!(
        stdout.contains("作成 0 / 更新 0 / 変更なし 1200 / エラー 0 行"),
        "{stdout}"
    );

    // Organisations in two parts: a parent named by a row above it, a bad row in the second
    // part reported by its row in the file.
    let organizations = directory.join("organizations.csv");
    std::fs::write(
        &organizations,
        "外部ID,団体名,種類,親団体名\n\
         o-1,大垣市社会福祉協議会,社会福祉協議会,\n\
         o-2,西地区社協,地区社協,大垣市社会福祉協議会\n\
         bad,名無しの会,秘密結社,\n",
    )?;
    let (code, stdout, stderr) = run_cli(
        &[
            "import",
            "organizations",
            organizations.to_str().unwrap(),
            "--municipality",
            "212024",
            "--registry",
            &url,
            "--batch",
            "2",
        ],
        key,
    )
    .await?;
    ensure!(code == 3, "organisations: exit code {code}\n{stdout}\n{stderr}");
    ensure!(
        stdout.contains("作成 2 / 更新 0 / 変更なし 0 / エラー 1 行") && stdout.contains("4行目 「種類」"),
        "{stdout}"
    );

    // Helpers in, out as .xlsx, and in again unchanged.
    let helpers = directory.join("helpers.csv");
    std::fs::write(
        &helpers,
        "外部ID,氏名,所属団体名,技能,活動できる時間,状態,研修\n\
         h-1,山田 花子,西地区社協,ゴミ出し,火 9:00〜12:00,養成済,生活支援サポーター養成講座 2025-06-14 12時間\n\
         h-2,田中 三郎,大垣市社会福祉協議会,買い物支援,,養成前,\n",
    )?;
    let (code, stdout, stderr) = run_cli(
        &[
            "import",
            "helpers",
            helpers.to_str().unwrap(),
            "--municipality",
            "212024",
            "--registry",
            &url,
        ],
        key,
    )
    .await?;
    ensure!(code == 0, "helpers: exit code {code}\n{stdout}\n{stderr}");
    ensure!(stdout.contains("作成 2 / 更新 0"), "{stdout}");
    let helpers_out = directory.join("helpers.xlsx");
    let helpers_out = helpers_out.to_str().unwrap();
    let (code, stdout, stderr) = run_cli(
        &[
            "export",
            "helpers",
            "--municipality",
            "212024",
            "--registry",
            &url,
            "-o",
            helpers_out,
        ],
        key,
    )
    .await?;
    ensure!(code == 0, "helpers export: exit code {code}\n{stdout}\n{stderr}");
    let (code, stdout, stderr) = run_cli(
        &[
            "import",
            "helpers",
            helpers_out,
            "--municipality",
            "212024",
            "--registry",
            &url,
        ],
        key,
    )
    .await?;
    ensure!(
        code == 0,
        "helpers re-import: exit code {code}\n{stdout}\n{stderr}"
    );
    ensure!(
        stdout.contains("作成 0 / 更新 0 / 変更なし 2 / エラー 0 行"),
        "{stdout}"
    );

    // Without a key, or with a wrong one, nothing is imported and the operator is told why.
    let args = [
        "export",
        "resources",
        "--municipality",
        "212024",
        "--registry",
        &url,
    ];
    let output = Command::new(env!("CARGO_BIN_EXE_tsunagu"))
        .args(args)
        .env_remove("TSUNAGU_API_KEY")
        .stdin(Stdio::null())
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        !output.status.success() && stderr.contains("TSUNAGU_API_KEY"),
        "{stderr}"
    );
    let wrong = "tsk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let (code, _, stderr) = run_cli(&args, wrong).await?;
    ensure!(code != 0 && stderr.contains("APIキーが無効"), "{code} {stderr}");

    // Bad arguments are usage errors, not panics.
    let (code, _, stderr) = run_cli(&["import", "resources", sheet_path], key).await?;
    ensure!(code == 2 && stderr.contains("--municipality"), "{code} {stderr}");
    Ok(())
}
