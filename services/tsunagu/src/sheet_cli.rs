//! `tsunagu import …` and `tsunagu export …`: what a coordinator or the IT team runs against a
//! running registry, for resources, organisations and helpers (担い手), and against a running
//! intake, for needs (個別ニーズ) and area issues (地域課題, e.g. survey results). A long sheet
//! goes in parts, with a progress bar on the terminal; every rejected row is reported with its
//! row number in the original file.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_proto::registry::v1::community_service_client::CommunityServiceClient;
use tsunagu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use tsunagu_runtime::grpc::{PropagateTrace, TracedChannel};

pub const DEFAULT_REGISTRY: &str = "http://127.0.0.1:50051";
pub const DEFAULT_INTAKE: &str = "http://127.0.0.1:50052";
const DEFAULT_BATCH_ROWS: usize = 500;
/// gRPC messages are capped at 4 MiB by default; exports of large municipalities exceed that.
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// What a sheet lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SheetKind {
    Resources,
    Organizations,
    Helpers,
    /// Imported into intake; not exported (needs hold personal references).
    Needs,
    AreaIssues,
}

impl SheetKind {
    fn parse(word: &str) -> Option<SheetKind> {
        match word {
            "resources" => Some(SheetKind::Resources),
            "organizations" | "organisations" => Some(SheetKind::Organizations),
            "helpers" => Some(SheetKind::Helpers),
            "needs" => Some(SheetKind::Needs),
            "area-issues" => Some(SheetKind::AreaIssues),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            SheetKind::Resources => "地域資源 / resources",
            SheetKind::Organizations => "団体 / organisations",
            SheetKind::Helpers => "担い手 / helpers",
            SheetKind::Needs => "個別ニーズ / needs",
            SheetKind::AreaIssues => "地域課題 / area issues",
        }
    }

    /// Needs and area issues go to intake; everything else to the registry.
    fn goes_to_intake(self) -> bool {
        matches!(self, SheetKind::Needs | SheetKind::AreaIssues)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SheetCommand {
    Import(SheetKind, ImportOptions),
    ImportCareProviders(ImportOptions),
    Export(SheetKind, ExportOptions),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    pub file: PathBuf,
    pub municipality_code: String,
    pub registry: String,
    pub intake: String,
    pub dry_run: bool,
    pub batch_rows: usize,
    pub imported_by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Xlsx,
    Csv,
    Hsds,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    pub municipality_code: String,
    pub registry: String,
    pub format: ExportFormat,
    pub output: Option<PathBuf>,
    pub include_confidential: bool,
}

/// Parses `import …` / `export …` arguments (after the command word).
pub fn parse(args: &[&str]) -> Result<SheetCommand, String> {
    let (what, rest) = match args {
        ["import", what, rest @ ..] => (format!("import {what}"), rest),
        ["export", what, rest @ ..] => (format!("export {what}"), rest),
        _ => {
            return Err(
                "expected `import resources|organizations|helpers|care-providers|needs|area-issues <file>` \
                 or `export resources|organizations|helpers`"
                    .into(),
            );
        }
    };
    let mut positional = Vec::new();
    let mut municipality_code = None;
    let mut registry = DEFAULT_REGISTRY.to_string();
    let mut intake = DEFAULT_INTAKE.to_string();
    let mut dry_run = false;
    let mut batch_rows = DEFAULT_BATCH_ROWS;
    let mut imported_by = std::env::var("USER").unwrap_or_else(|_| "tsunagu import".into());
    let mut format = ExportFormat::Xlsx;
    let mut output = None;
    let mut include_confidential = false;
    let mut iter = rest.iter();
    while let Some(arg) = iter.next() {
        let mut value = |name: &str| {
            iter.next()
                .map(|v| v.to_string())
                .ok_or(format!("{name} needs a value"))
        };
        match *arg {
            "--municipality" => municipality_code = Some(value("--municipality")?),
            "--registry" => registry = value("--registry")?,
            "--intake" => intake = value("--intake")?,
            "--dry-run" => dry_run = true,
            "--batch" => {
                batch_rows = value("--batch")?
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("--batch needs a positive number of rows")?
            }
            "--by" => imported_by = value("--by")?,
            "--format" => {
                format = match value("--format")?.as_str() {
                    "xlsx" => ExportFormat::Xlsx,
                    "csv" => ExportFormat::Csv,
                    "hsds" => ExportFormat::Hsds,
                    other => return Err(format!("unknown format {other:?}: xlsx, csv or hsds")),
                }
            }
            "--output" | "-o" => output = Some(PathBuf::from(value("--output")?)),
            "--include-confidential" => include_confidential = true,
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            other => positional.push(other.to_string()),
        }
    }
    let municipality_code = municipality_code.ok_or("--municipality <全国地方公共団体コード> is required")?;
    let import = |positional: Vec<String>| -> Result<ImportOptions, String> {
        let [file] =
            <[String; 1]>::try_from(positional).map_err(|_| "give exactly one file to import".to_string())?;
        Ok(ImportOptions {
            file: PathBuf::from(file),
            municipality_code: municipality_code.clone(),
            registry: registry.clone(),
            intake: intake.clone(),
            dry_run,
            batch_rows,
            imported_by: imported_by.clone(),
        })
    };
    let (verb, noun) = what.split_once(' ').unwrap_or((what.as_str(), ""));
    match (verb, noun, SheetKind::parse(noun)) {
        ("import", "care-providers", _) => Ok(SheetCommand::ImportCareProviders(import(positional)?)),
        ("import", _, Some(kind)) => Ok(SheetCommand::Import(kind, import(positional)?)),
        ("export", _, Some(kind)) if kind.goes_to_intake() => Err(format!(
            "{} cannot be exported: list them with IntakeService/ListNeeds or ListAreaIssues",
            kind.label()
        )),
        ("export", _, Some(kind)) if positional.is_empty() => {
            if format == ExportFormat::Hsds && kind != SheetKind::Resources {
                return Err("--format hsds is for resources only".into());
            }
            Ok(SheetCommand::Export(
                kind,
                ExportOptions {
                    municipality_code,
                    registry,
                    format,
                    output,
                    include_confidential,
                },
            ))
        }
        ("export", _, Some(_)) => Err(format!("unexpected arguments {positional:?}")),
        _ => Err(format!("unknown command {what:?}")),
    }
}

/// The registry's services share one connection: `RegistryService` for resources and
/// organisations, `CommunityService` for helpers. Every call carries the API key of
/// `TSUNAGU_API_KEY` (an environment variable rather than a flag, so the key stays out of shell
/// history and process lists).
#[derive(Clone)]
struct Registry(TracedChannel);

impl Registry {
    async fn connect(registry: &str) -> anyhow::Result<Registry> {
        let key = std::env::var("TSUNAGU_API_KEY").map_err(|_| {
            anyhow::anyhow!(
                "TSUNAGU_API_KEY is not set: the import and export commands call Tsunagu with an API key \
                 of the municipality (see README.md, \"Access\")"
            )
        })?;
        let channel = Channel::from_shared(registry.to_string())
            .with_context(|| format!("not a URL: {registry}"))?
            .connect()
            .await
            .with_context(|| format!("cannot reach {registry}"))?;
        let credentials = PropagateTrace::with_token(key.trim()).context("TSUNAGU_API_KEY")?;
        Ok(Registry(InterceptedService::new(channel, credentials)))
    }

    fn registry(&self) -> RegistryServiceClient<TracedChannel> {
        RegistryServiceClient::new(self.0.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    fn community(&self) -> CommunityServiceClient<TracedChannel> {
        CommunityServiceClient::new(self.0.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// The same connection, when it leads to intake instead.
    fn intake(&self) -> IntakeServiceClient<TracedChannel> {
        IntakeServiceClient::new(self.0.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }
}

/// Runs the command; `Ok(false)` when rows were rejected (the exit code says so to scripts).
pub async fn run(command: SheetCommand) -> anyhow::Result<bool> {
    match command {
        SheetCommand::Import(kind, options) => import_sheet(kind, options).await,
        SheetCommand::ImportCareProviders(options) => import_care_providers(options).await,
        SheetCommand::Export(kind, options) => export(kind, options).await.map(|()| true),
    }
}

#[derive(Default)]
struct Totals {
    created: u32,
    updated: u32,
    unchanged: u32,
    rejected_rows: std::collections::BTreeSet<u32>,
    problems: Vec<pb::RowProblem>,
}

/// A one-line progress bar on a terminal; one line per part otherwise (logs, CI).
struct Progress {
    total: usize,
    terminal: bool,
    started: Instant,
}

impl Progress {
    fn show(&self, done: usize, totals: &Totals) {
        let ratio = if self.total == 0 {
            1.0
        } else {
            done as f64 / self.total as f64
        };
        let filled = (ratio * 30.0).round() as usize;
        let bar: String = "█".repeat(filled) + &"░".repeat(30 - filled);
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let line = format!(
            "[{bar}] {:>3}% {done}/{} 行  作成 {} / 更新 {} / 変更なし {} / エラー {}  ({rate:.0} 行/秒)",
            (ratio * 100.0).round(),
            self.total,
            totals.created,
            totals.updated,
            totals.unchanged,
            totals.rejected_rows.len(),
        );
        let mut stderr = std::io::stderr();
        if self.terminal {
            let _ = write!(stderr, "\r{line}");
            if done == self.total {
                let _ = writeln!(stderr);
            }
        } else {
            let _ = writeln!(stderr, "{line}");
        }
        let _ = stderr.flush();
    }
}

/// What the registry answered for one part of a sheet.
struct PartReport {
    created: u32,
    updated: u32,
    unchanged: u32,
    rejected: Vec<pb::RowProblem>,
    ignored_headers: Vec<String>,
}

/// Sends one part (a CSV of its own) to the import of `kind`.
async fn import_part(
    kind: SheetKind,
    registry: &Registry,
    options: &ImportOptions,
    content: Vec<u8>,
) -> anyhow::Result<PartReport> {
    let refused =
        |status: tonic::Status| anyhow::anyhow!("the server refused the import: {}", status.message());
    let (municipality_code, format, dry_run, imported_by) = (
        options.municipality_code.clone(),
        pb::SheetFormat::Csv.into(),
        options.dry_run,
        options.imported_by.clone(),
    );
    // The three import responses have the same fields but are different generated types.
    macro_rules! part_report {
        ($response:expr) => {{
            let response = $response;
            PartReport {
                created: response.created,
                updated: response.updated,
                unchanged: response.unchanged,
                rejected: response.rejected,
                ignored_headers: response.ignored_headers,
            }
        }};
    }
    Ok(match kind {
        SheetKind::Resources => {
            let response = registry
                .registry()
                .import_resources(pb::ImportResourcesRequest {
                    municipality_code,
                    content,
                    format,
                    dry_run,
                    imported_by,
                    ..Default::default()
                })
                .await
                .map_err(refused)?
                .into_inner();
            part_report!(response)
        }
        SheetKind::Organizations => {
            let response = registry
                .registry()
                .import_organizations(pb::ImportOrganizationsRequest {
                    municipality_code,
                    content,
                    format,
                    dry_run,
                    imported_by,
                    ..Default::default()
                })
                .await
                .map_err(refused)?
                .into_inner();
            part_report!(response)
        }
        SheetKind::Helpers => {
            let response = registry
                .community()
                .import_helpers(pb::ImportHelpersRequest {
                    municipality_code,
                    content,
                    format,
                    dry_run,
                    imported_by,
                    ..Default::default()
                })
                .await
                .map_err(refused)?
                .into_inner();
            part_report!(response)
        }
        SheetKind::Needs | SheetKind::AreaIssues => {
            let client = &mut registry.intake();
            let response = if kind == SheetKind::Needs {
                client
                    .import_needs_sheet(intake_pb::ImportNeedsSheetRequest {
                        municipality_code,
                        content,
                        format,
                        dry_run,
                        imported_by,
                        ..Default::default()
                    })
                    .await
            } else {
                client
                    .import_area_issues_sheet(intake_pb::ImportAreaIssuesSheetRequest {
                        municipality_code,
                        content,
                        format,
                        dry_run,
                        imported_by,
                        ..Default::default()
                    })
                    .await
            }
            .map_err(refused)?
            .into_inner();
            // Intake creates or leaves unchanged (by 受付番号); it never updates from a sheet.
            PartReport {
                created: response.created,
                updated: 0,
                unchanged: response.unchanged,
                rejected: response
                    .rejected
                    .into_iter()
                    .map(|p| pb::RowProblem {
                        row: p.row,
                        column: p.column,
                        reason: p.reason,
                    })
                    .collect(),
                ignored_headers: response.ignored_headers,
            }
        }
    })
}

async fn import_sheet(kind: SheetKind, options: ImportOptions) -> anyhow::Result<bool> {
    let bytes =
        std::fs::read(&options.file).with_context(|| format!("cannot read {}", options.file.display()))?;
    let sheet = tsunagu_tabular::read(&bytes, tsunagu_tabular::Format::detect(&bytes))
        .map_err(|error| anyhow::anyhow!("{}: {error}", options.file.display()))?;
    let server = if kind.goes_to_intake() {
        &options.intake
    } else {
        &options.registry
    };
    let registry = Registry::connect(server).await?;
    let headers: Vec<&str> = sheet.headers.iter().map(String::as_str).collect();
    let progress = Progress {
        total: sheet.rows.len(),
        terminal: std::io::stderr().is_terminal(),
        started: Instant::now(),
    };
    let mut totals = Totals::default();
    let mut done = 0;
    for part in sheet.rows.chunks(options.batch_rows) {
        // Each part travels as a CSV of its own; the registry numbers its rows from 2, so a
        // reported row is mapped back to the row number of the original file.
        let cells: Vec<Vec<String>> = part.iter().map(|row| row.cells.clone()).collect();
        let content = tsunagu_tabular::write_csv(&headers, &cells);
        let response = import_part(kind, &registry, &options, content).await?;
        totals.created += response.created;
        totals.updated += response.updated;
        totals.unchanged += response.unchanged;
        for mut problem in response.rejected {
            let index = (problem.row as usize).saturating_sub(2);
            problem.row = part.get(index).map_or(problem.row, |row| row.number as u32);
            totals.rejected_rows.insert(problem.row);
            totals.problems.push(problem);
        }
        done += part.len();
        progress.show(done, &totals);
        if done == part.len() && !response.ignored_headers.is_empty() {
            eprintln!(
                "読み込まなかった列 / ignored columns: {}",
                response.ignored_headers.join(", ")
            );
        }
    }
    if sheet.rows.is_empty() {
        progress.show(0, &totals);
    }
    print_summary(&options, &totals);
    Ok(totals.problems.is_empty())
}

async fn import_care_providers(options: ImportOptions) -> anyhow::Result<bool> {
    let bytes =
        std::fs::read(&options.file).with_context(|| format!("cannot read {}", options.file.display()))?;
    let registry = Registry::connect(&options.registry).await?;
    let started = Instant::now();
    let response = registry
        .registry()
        .import_care_providers(pb::ImportCareProvidersRequest {
            municipality_code: options.municipality_code.clone(),
            content: bytes,
            dry_run: options.dry_run,
            imported_by: options.imported_by.clone(),
            coverage_area_ids: vec![],
        })
        .await
        .map_err(|status| anyhow::anyhow!("the registry refused the import: {}", status.message()))?
        .into_inner();
    println!(
        "{}事業主体 作成 {} / 更新 {}、地域資源 作成 {} / 更新 {}、変更なし {}、エラー {} 件（{:.1} 秒）",
        if options.dry_run {
            "【確認のみ・書き込みなし】"
        } else {
            ""
        },
        response.organizations_created,
        response.organizations_updated,
        response.resources_created,
        response.resources_updated,
        response.unchanged,
        response.rejected.len(),
        started.elapsed().as_secs_f64()
    );
    for problem in &response.rejected {
        println!("  {}行目 「{}」: {}", problem.row, problem.column, problem.reason);
    }
    Ok(response.rejected.is_empty())
}

fn print_summary(options: &ImportOptions, totals: &Totals) {
    println!(
        "{}{}: 作成 {} / 更新 {} / 変更なし {} / エラー {} 行",
        if options.dry_run {
            "【確認のみ・書き込みなし】"
        } else {
            ""
        },
        options.file.display(),
        totals.created,
        totals.updated,
        totals.unchanged,
        totals.rejected_rows.len(),
    );
    for problem in &totals.problems {
        println!("  {}行目 「{}」: {}", problem.row, problem.column, problem.reason);
    }
}

/// What an export answered: the file and how many rows it holds.
struct ExportedFile {
    content: Vec<u8>,
    file_name: String,
    row_count: u32,
}

async fn export(kind: SheetKind, options: ExportOptions) -> anyhow::Result<()> {
    let registry = Registry::connect(&options.registry).await?;
    let format = if options.format == ExportFormat::Csv {
        pb::SheetFormat::Csv
    } else {
        pb::SheetFormat::Xlsx
    }
    .into();
    let failed = |status: tonic::Status| anyhow::anyhow!("{}", status.message());
    let (content, default_name) = match (kind, options.format) {
        (_, ExportFormat::Hsds) => {
            let response = registry
                .registry()
                .export_resources_hsds(pb::ExportResourcesHsdsRequest {
                    municipality_code: options.municipality_code.clone(),
                })
                .await
                .map_err(failed)?
                .into_inner();
            (
                response.json.into_bytes(),
                format!("hsds_{}.json", options.municipality_code),
            )
        }
        (kind, _) => {
            let municipality_code = options.municipality_code.clone();
            let file = match kind {
                SheetKind::Resources => {
                    let response = registry
                        .registry()
                        .export_resources(pb::ExportResourcesRequest {
                            municipality_code,
                            format,
                            include_confidential: options.include_confidential,
                        })
                        .await
                        .map_err(failed)?
                        .into_inner();
                    ExportedFile {
                        content: response.content,
                        file_name: response.file_name,
                        row_count: response.row_count,
                    }
                }
                SheetKind::Organizations => {
                    let response = registry
                        .registry()
                        .export_organizations(pb::ExportOrganizationsRequest {
                            municipality_code,
                            format,
                        })
                        .await
                        .map_err(failed)?
                        .into_inner();
                    ExportedFile {
                        content: response.content,
                        file_name: response.file_name,
                        row_count: response.row_count,
                    }
                }
                SheetKind::Helpers => {
                    let response = registry
                        .community()
                        .export_helpers(pb::ExportHelpersRequest {
                            municipality_code,
                            format,
                            include_contact_points: options.include_confidential,
                        })
                        .await
                        .map_err(failed)?
                        .into_inner();
                    ExportedFile {
                        content: response.content,
                        file_name: response.file_name,
                        row_count: response.row_count,
                    }
                }
                SheetKind::Needs | SheetKind::AreaIssues => bail!("{} are not exported", kind.label()),
            };
            eprintln!(
                "{} 件を書き出しました / exported {} rows ({})",
                file.row_count,
                file.row_count,
                kind.label()
            );
            (file.content, file.file_name)
        }
    };
    let path = options.output.unwrap_or_else(|| PathBuf::from(default_name));
    if path.as_os_str() == "-" {
        std::io::stdout().write_all(&content)?;
        return Ok(());
    }
    if path.exists() && path.is_dir() {
        bail!("{} is a directory", path.display());
    }
    std::fs::write(&path, content).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_arguments() {
        let command = parse(&[
            "import",
            "resources",
            "a.xlsx",
            "--municipality",
            "212024",
            "--dry-run",
            "--batch",
            "100",
        ]);
        let SheetCommand::Import(SheetKind::Resources, options) = command.unwrap() else {
            panic!()
        };
        assert_eq!(
            (options.file, options.dry_run, options.batch_rows),
            (PathBuf::from("a.xlsx"), true, 100)
        );
        assert_eq!(options.registry, DEFAULT_REGISTRY);
    }

    #[test]
    fn needs_and_area_issues_go_into_intake_only() {
        let command = parse(&["import", "needs", "ニーズ.xlsx", "--municipality", "212024"]).unwrap();
        let SheetCommand::Import(SheetKind::Needs, options) = command else {
            panic!()
        };
        assert_eq!(options.intake, DEFAULT_INTAKE);
        let command = parse(&[
            "import",
            "area-issues",
            "調査.csv",
            "--municipality",
            "212024",
            "--intake",
            "http://intake:50052",
        ])
        .unwrap();
        let SheetCommand::Import(SheetKind::AreaIssues, options) = command else {
            panic!()
        };
        assert_eq!(options.intake, "http://intake:50052");
        assert!(parse(&["export", "needs", "--municipality", "212024"]).is_err());
    }

    #[test]
    fn organisations_and_helpers_go_in_and_out_too() {
        let command = parse(&["import", "helpers", "担い手.xlsx", "--municipality", "212024"]).unwrap();
        assert!(matches!(command, SheetCommand::Import(SheetKind::Helpers, _)));
        let command = parse(&["import", "organizations", "団体.csv", "--municipality", "212024"]).unwrap();
        assert!(matches!(
            command,
            SheetCommand::Import(SheetKind::Organizations, _)
        ));
        let command = parse(&[
            "export",
            "helpers",
            "--municipality",
            "212024",
            "--format",
            "csv",
            "--include-confidential",
        ])
        .unwrap();
        let SheetCommand::Export(SheetKind::Helpers, options) = command else {
            panic!("{command:?}")
        };
        assert_eq!(
            (options.format, options.include_confidential),
            (ExportFormat::Csv, true)
        );
        assert!(
            parse(&[
                "export",
                "organizations",
                "--municipality",
                "1",
                "--format",
                "hsds"
            ])
            .unwrap_err()
            .contains("resources only")
        );
        assert!(
            parse(&["import", "coordinators", "a.csv", "--municipality", "1"])
                .unwrap_err()
                .contains("unknown command")
        );
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        assert!(
            parse(&["import", "resources", "a.csv"])
                .unwrap_err()
                .contains("--municipality")
        );
        assert!(
            parse(&["import", "resources", "--municipality", "212024"])
                .unwrap_err()
                .contains("one file")
        );
        assert!(
            parse(&["export", "resources", "--municipality", "1", "--format", "pdf"])
                .unwrap_err()
                .contains("pdf")
        );
        assert!(
            parse(&[
                "import",
                "resources",
                "a.csv",
                "--municipality",
                "1",
                "--batch",
                "0"
            ])
            .is_err()
        );
    }
}
