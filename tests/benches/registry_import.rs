//! The registry's bulk paths against the real services (issue 3): the official list of
//! 全国地方公共団体コード (1,788 rows) through `ImportOfficialAreas`, then a generated sheet of
//! 20,000 resources through `ImportResources` (a dry run, created, then re-imported unchanged
//! as CSV and as .xlsx), then `ExportResources`. Each figure is set against a plain bulk write
//! of the same rows into the same PostgreSQL from the same process (`COPY … FROM STDIN`, and
//! one `INSERT` per row), so it reads as a ratio that depends less on the machine than seconds
//! do. Besides wall time it reports the CPU time of this process (the four services and the
//! client) and of the PostgreSQL backends serving the test database (read from /proc: Linux,
//! PostgreSQL on the same machine), which says where the time goes.
//!
//! ```sh
//! cargo bench -p tsunagu-tests --bench registry_import
//! ```
//!
//! `TSUNAGU_BENCH_RESOURCES` (default 20000) changes the number of resources, for a quick
//! look. The figures of record are in `docs/benchmarks/registry-import.md`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures_util::TryStreamExt;
use sqlx::{Connection, PgConnection};
use tsunagu_proto::registry::v1 as pb;
use tsunagu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use tsunagu_runtime::ServiceName;
use tsunagu_tabular::Format;
use tsunagu_tests::{MUNICIPALITY, Options, TestSystem};

const BUNDLED_LIST: &[u8] = include_bytes!("../../services/runtime/data/municipalities.csv");
const OFFICIAL_ROWS: u32 = 1788;
const DEFAULT_RESOURCES: usize = 20_000;
/// Rows per `ImportResources` call when the whole sheet is over the message limit.
const PART_ROWS: usize = 2_000;
/// tonic's default limit on a decoded message: what the registry accepts, and what a client
/// that does not raise it (grpcurl's default is the same) can receive.
const DEFAULT_MESSAGE_LIMIT: usize = 4 * 1024 * 1024;
/// Room left in a request for its fields other than the sheet.
const REQUEST_OVERHEAD: usize = 4 * 1024;
/// Repetitions of each reference, before and after the imports (they are short, so the median
/// of a few is steadier), and of the official list's no-op re-import.
const REFERENCE_RUNS: usize = 3;
/// Seed of the generated sheet: every run imports the same rows.
const SEED: u64 = 0x7473_756e_6167_7521;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let resources: usize = match std::env::var("TSUNAGU_BENCH_RESOURCES") {
        Ok(value) => value
            .parse()
            .context("TSUNAGU_BENCH_RESOURCES is a number of rows")?,
        Err(_) => DEFAULT_RESOURCES,
    };
    let mut report = Report::default();
    report.note(format!(
        "started {}",
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S %z")
    ));
    report.note(format!("machine: {} cores, {}", cores(), cpu_model()));
    report.note(format!("load average at start: {}", load_average()));

    let started = Instant::now();
    let system = TestSystem::start_with(Options {
        seed_official_areas: false,
        env: vec![("TSUNAGU_RATE_LIMIT_PER_SECOND", "0".into())],
        ..Options::default()
    })
    .await;
    report.note(format!(
        "four services started on a fresh database in {}",
        human(started.elapsed())
    ));
    let outcome = bench(&system, resources, &mut report).await;
    system.shutdown().await;
    outcome?;
    report.note(format!("load average at end: {}", load_average()));
    print!("{}", report.render());
    Ok(())
}

async fn bench(system: &TestSystem, resources: usize, report: &mut Report) -> anyhow::Result<()> {
    let mut registry = registry_client(system);
    let mut scratch = PgConnection::connect(&system.database_url).await?;
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut scratch)
        .await?;
    report.note(format!("PostgreSQL {version}, same machine"));
    let matching = system.database(ServiceName::Matching).await;
    let registry_db = system.database(ServiceName::Registry).await;

    // 1. The official list. References run before and after the import: the machine is
    // shared, and spreading them keeps one burst of other load from skewing the ratio.
    let mut official_copies = repeat(&mut scratch, async |c| copy_official(c).await).await?;
    let meter = Meter::start(&mut scratch).await?;
    let official = import_official(&mut registry).await?;
    let official_import = meter.stop(&mut scratch).await?;
    ensure!(
        official.rejected.is_empty() && official.created == OFFICIAL_ROWS,
        "the official list did not load whole: created {}, rejected {:?}",
        official.created,
        official.rejected.iter().take(5).collect::<Vec<_>>()
    );
    let official_propagated =
        settle(&registry_db, &matching, "area", OFFICIAL_ROWS as i64).await + official_import.wall;
    let mut agains = Vec::new();
    for _ in 0..REFERENCE_RUNS {
        let meter = Meter::start(&mut scratch).await?;
        let again = import_official(&mut registry).await?;
        agains.push(meter.stop(&mut scratch).await?);
        ensure!(
            again.unchanged == OFFICIAL_ROWS,
            "re-importing the official list changed something: {again:?}"
        );
    }
    official_copies.extend(repeat(&mut scratch, async |c| copy_official(c).await).await?);
    let official_copy = median(official_copies);
    let official_rows = OFFICIAL_ROWS as usize;
    let size = Some(BUNDLED_LIST.len());
    report.section("Official list (ImportOfficialAreas, bundled municipalities.csv)");
    report.line(
        "ImportOfficialAreas, empty registry: created 1,788",
        official_rows,
        size,
        &official_import,
        Some(&official_copy),
    );
    report.line(
        "ImportOfficialAreas again: unchanged 1,788 (median of 3)",
        official_rows,
        size,
        &median(agains),
        Some(&official_copy),
    );
    report.line(
        "reference: COPY of the same rows into a scratch table (median of 6)",
        official_rows,
        size,
        &official_copy,
        Some(&official_copy),
    );
    report.wall_line(
        "until matching's read model has all 1,788 areas (from the call)",
        official_rows,
        official_propagated,
    );

    // 2. What the resources refer to.
    let setup = Setup::create(&mut registry).await?;
    let areas = OFFICIAL_ROWS as i64 + DAILY_LIFE_AREAS.len() as i64;
    settle(&registry_db, &matching, "area", areas).await;

    // 3. The sheet, and what reading and writing it costs outside the database.
    let rows = generate_rows(resources, &setup);
    let sheet = Sheet::write(&rows)?;
    report_sheet(report, &mut registry, &sheet, resources).await?;

    // References before the imports (and again after them, below).
    let csv_body = sheet
        .csv
        .strip_prefix("\u{feff}".as_bytes())
        .unwrap_or(&sheet.csv)
        .to_vec();
    let mut copies = repeat(&mut scratch, async |c| copy_resources(c, &csv_body).await).await?;
    let mut inserts = repeat(&mut scratch, async |c| insert_resources(c, &rows, false).await).await?;
    let mut savepoints = repeat(&mut scratch, async |c| insert_resources(c, &rows, true).await).await?;

    // 4. Import, created: first as a dry run (the same statements, rolled back, so nothing is
    // published and matching stays idle: the registry's own cost), then for real (while the
    // relay publishes and matching consumes what each call committed, as in production).
    let (dry_run, dry_run_parts) =
        import_parts(&mut registry, &mut scratch, &sheet.csv_parts, Expect::WouldCreate).await?;
    let before = written_rows(&registry_db).await?;
    let (created, created_parts) =
        import_parts(&mut registry, &mut scratch, &sheet.csv_parts, Expect::Created).await?;
    let resources_propagated =
        settle(&registry_db, &matching, "resource", resources as i64).await + created.wall;
    let written: Vec<String> = written_rows(&registry_db)
        .await?
        .into_iter()
        .zip(before)
        .map(|((table, after), (_, before))| format!("{table} +{}", thousands((after - before) as u64)))
        .collect();

    // 5. Re-import, unchanged: the same CSV, then the same rows as .xlsx.
    let (unchanged_csv, unchanged_parts) =
        import_parts(&mut registry, &mut scratch, &sheet.csv_parts, Expect::Unchanged).await?;
    let (unchanged_xlsx, _) =
        import_parts(&mut registry, &mut scratch, &sheet.xlsx_parts, Expect::Unchanged).await?;

    // 6. Export.
    let small_client = system
        .registry()
        .export_resources(export_request(pb::SheetFormat::Csv))
        .await
        .map(|response| format!("OK, {}", bytes(response.into_inner().content.len())))
        .unwrap_or_else(|status| format!("{:?}: {}", status.code(), status.message()));
    let mut exports = Vec::new();
    for format in [pb::SheetFormat::Xlsx, pb::SheetFormat::Csv] {
        let meter = Meter::start(&mut scratch).await?;
        let export = registry
            .export_resources(export_request(format))
            .await
            .with_context(|| format!("ExportResources {format:?}"))?
            .into_inner();
        let measured = meter.stop(&mut scratch).await?;
        ensure!(
            export.row_count as usize == resources,
            "the {format:?} export has {} rows",
            export.row_count
        );
        exports.push((format, export.content.len(), measured));
    }

    // 7. References after the imports.
    copies.extend(repeat(&mut scratch, async |c| copy_resources(c, &csv_body).await).await?);
    inserts.extend(repeat(&mut scratch, async |c| insert_resources(c, &rows, false).await).await?);
    savepoints.extend(repeat(&mut scratch, async |c| insert_resources(c, &rows, true).await).await?);
    let copy_out = median(repeat(&mut scratch, async |c| copy_out_resources(c).await).await?);
    let copy = median(copies);

    let n = resources;
    let csv_size = Some(sheet.csv.len());
    let calls = |parts: &[Part]| match parts.len() {
        1 => "1 call".to_string(),
        many => format!("{many} calls"),
    };
    report.section("Resources (ImportResources, ExportResources)");
    report.line(
        &format!(
            "ImportResources CSV dry run, {}: would create {n} (the registry alone)",
            calls(&sheet.csv_parts)
        ),
        n,
        csv_size,
        &dry_run,
        Some(&copy),
    );
    report.line(
        &format!(
            "ImportResources CSV, {}: created {n} (matching consuming meanwhile)",
            calls(&sheet.csv_parts)
        ),
        n,
        csv_size,
        &created,
        Some(&copy),
    );
    report.line(
        &format!(
            "ImportResources CSV again, {}: unchanged {n}",
            calls(&sheet.csv_parts)
        ),
        n,
        csv_size,
        &unchanged_csv,
        Some(&copy),
    );
    report.line(
        &format!(
            "ImportResources .xlsx, {}: unchanged {n}",
            calls(&sheet.xlsx_parts)
        ),
        n,
        Some(sheet.xlsx.len()),
        &unchanged_xlsx,
        Some(&copy),
    );
    for (format, size, measured) in &exports {
        let name = match format {
            pb::SheetFormat::Csv => "CSV",
            _ => "XLSX",
        };
        report.line(
            &format!("ExportResources {name}"),
            n,
            Some(*size),
            measured,
            Some(&copy_out),
        );
    }
    report.line(
        "reference: COPY FROM STDIN of the same CSV into a scratch table (median of 6)",
        n,
        Some(csv_body.len()),
        &copy,
        Some(&copy),
    );
    report.line(
        "reference: one INSERT per row, one transaction (median of 6)",
        n,
        None,
        &median(inserts),
        Some(&copy),
    );
    report.line(
        "reference: one INSERT per row, each in SAVEPOINT … RELEASE (median of 6)",
        n,
        None,
        &median(savepoints),
        Some(&copy),
    );
    report.line(
        "reference (export): COPY resource TO STDOUT (median of 3)",
        n,
        None,
        &copy_out,
        Some(&copy_out),
    );
    report.wall_line(
        &format!("until matching's read model has all {n} resources (from the first call)"),
        n,
        resources_propagated,
    );
    report.note(format!(
        "a client with tonic's default 4 MiB limit asking for the CSV export: {small_client}"
    ));
    report.note(format!(
        "rows the created import wrote in the registry's schema: {}",
        written.join(", ")
    ));

    report.section("Per call");
    report.part_table("dry run", &dry_run_parts);
    report.part_table("created", &created_parts);
    report.part_table("unchanged", &unchanged_parts);
    Ok(())
}

async fn import_official(
    registry: &mut RegistryServiceClient<tsunagu_tests::KeyedChannel>,
) -> anyhow::Result<pb::ImportOfficialAreasResponse> {
    Ok(registry
        .import_official_areas(pb::ImportOfficialAreasRequest {
            csv: BUNDLED_LIST.to_vec(),
            dry_run: false,
        })
        .await
        .context("ImportOfficialAreas")?
        .into_inner())
}

/// The generated rows as files, whole and in the parts `ImportResources` takes them in.
struct Sheet {
    csv: Vec<u8>,
    xlsx: Vec<u8>,
    csv_parts: Vec<Part>,
    xlsx_parts: Vec<Part>,
    write_csv: Duration,
    write_xlsx: Duration,
}

impl Sheet {
    fn write(rows: &[Vec<String>]) -> anyhow::Result<Sheet> {
        let clock = Instant::now();
        let csv = tsunagu_tabular::write_csv(&HEADERS, rows);
        let write_csv = clock.elapsed();
        let clock = Instant::now();
        let xlsx = tsunagu_tabular::write_xlsx("地域資源", &HEADERS, rows)?;
        let write_xlsx = clock.elapsed();
        let in_parts = |whole: &Vec<u8>, format| match whole.len() + REQUEST_OVERHEAD <= DEFAULT_MESSAGE_LIMIT
        {
            true => Ok(vec![Part::whole(whole.clone(), rows.len())]),
            false => parts(rows, PART_ROWS, format),
        };
        Ok(Sheet {
            csv_parts: in_parts(&csv, Format::Csv)?,
            xlsx_parts: in_parts(&xlsx, Format::Xlsx)?,
            csv,
            xlsx,
            write_csv,
            write_xlsx,
        })
    }
}

/// Sizes, the message limit, and the client-side cost of writing and reading the sheet.
async fn report_sheet(
    report: &mut Report,
    registry: &mut RegistryServiceClient<tsunagu_tests::KeyedChannel>,
    sheet: &Sheet,
    resources: usize,
) -> anyhow::Result<()> {
    let clock = Instant::now();
    let read_back = tsunagu_tabular::read(&sheet.csv, Format::Csv)?;
    let read_csv = clock.elapsed();
    ensure!(read_back.rows.len() == resources, "the CSV reads back whole");
    let clock = Instant::now();
    let read_back = tsunagu_tabular::read(&sheet.xlsx, Format::Xlsx)?;
    let read_xlsx = clock.elapsed();
    ensure!(read_back.rows.len() == resources, "the .xlsx reads back whole");

    report.section(&format!(
        "The sheet: {resources} generated resources (seed {SEED:#x})"
    ));
    report.note(format!(
        "CSV {} ({} per row), .xlsx {}; tonic's default message limit is {}",
        bytes(sheet.csv.len()),
        bytes(sheet.csv.len() / resources.max(1)),
        bytes(sheet.xlsx.len()),
        bytes(DEFAULT_MESSAGE_LIMIT)
    ));
    if sheet.csv_parts.len() > 1 {
        // What a client that sends the whole file in one call is told.
        let refused = registry
            .import_resources(import_request(sheet.csv.clone(), 0, true))
            .await
            .map(|_| ())
            .err()
            .map(|status| format!("{:?}: {}", status.code(), status.message()))
            .unwrap_or_else(|| "accepted".into());
        report.note(format!(
            "the whole CSV in one ImportResources call: {refused}; so it goes in {} parts of {PART_ROWS} rows with row_offset",
            sheet.csv_parts.len()
        ));
    }
    report.note(format!(
        "the .xlsx goes in {}",
        match sheet.xlsx_parts.len() {
            1 => "one call".to_string(),
            n => format!("{n} parts of {PART_ROWS} rows"),
        }
    ));
    let lines = [
        ("write_csv (client side)", sheet.csv.len(), sheet.write_csv),
        ("write_xlsx (client side)", sheet.xlsx.len(), sheet.write_xlsx),
        (
            "tsunagu_tabular::read of the CSV (what the registry does first)",
            sheet.csv.len(),
            read_csv,
        ),
        ("tsunagu_tabular::read of the .xlsx", sheet.xlsx.len(), read_xlsx),
    ];
    for (what, size, wall) in lines {
        report.line(what, resources, Some(size), &Measured::wall(wall), None);
    }
    Ok(())
}

/// A client that sends and receives messages larger than tonic's default.
fn registry_client(system: &TestSystem) -> RegistryServiceClient<tsunagu_tests::KeyedChannel> {
    system
        .registry()
        .max_decoding_message_size(256 * 1024 * 1024)
        .max_encoding_message_size(256 * 1024 * 1024)
}

fn import_request(content: Vec<u8>, row_offset: usize, dry_run: bool) -> pb::ImportResourcesRequest {
    pb::ImportResourcesRequest {
        municipality_code: MUNICIPALITY.into(),
        content,
        dry_run,
        imported_by: "ベンチマーク".into(),
        row_offset: u32::try_from(row_offset).expect("row offset fits"),
        ..Default::default()
    }
}

fn export_request(format: pb::SheetFormat) -> pb::ExportResourcesRequest {
    pb::ExportResourcesRequest {
        municipality_code: MUNICIPALITY.into(),
        format: format.into(),
        include_confidential: true,
    }
}

// ---------------------------------------------------------------------------------------------
// The areas and organisations the sheet names, and the sheet.

const DAILY_LIFE_AREAS: [&str; 8] = [
    "西部圏域",
    "東部圏域",
    "南部圏域",
    "北部圏域",
    "中部圏域",
    "赤坂・荒崎圏域",
    "上石津圏域",
    "墨俣圏域",
];

const ORGANIZATIONS: [(&str, &str, pb::OrganizationKind); 3] = [
    (
        "社会福祉法人 大垣市社会福祉協議会",
        "オオガキシシャカイフクシキョウギカイ",
        pb::OrganizationKind::Shakyo,
    ),
    (
        "NPO法人 ささえあい大垣",
        "ササエアイオオガキ",
        pb::OrganizationKind::Npo,
    ),
    (
        "大垣市シルバー人材センター",
        "オオガキシシルバージンザイセンター",
        pb::OrganizationKind::SilverHrCenter,
    ),
];

struct Setup {
    organization_names: Vec<&'static str>,
}

impl Setup {
    /// 大垣市 (loaded with the official list), its daily-life areas, and the organisations.
    async fn create(
        registry: &mut RegistryServiceClient<tsunagu_tests::KeyedChannel>,
    ) -> anyhow::Result<Setup> {
        let ogaki = registry
            .get_area(pb::GetAreaRequest {
                id: String::new(),
                code: MUNICIPALITY.into(),
            })
            .await
            .context("GetArea 212024")?
            .into_inner()
            .area
            .context("大垣市")?;
        for name in DAILY_LIFE_AREAS {
            registry
                .create_area(pb::CreateAreaRequest {
                    kind: pb::AreaKind::DailyLifeArea.into(),
                    name: name.into(),
                    parent_id: ogaki.id.clone(),
                    ..Default::default()
                })
                .await
                .with_context(|| format!("CreateArea {name}"))?;
        }
        for (name, kana, kind) in ORGANIZATIONS {
            registry
                .create_organization(pb::CreateOrganizationRequest {
                    municipality_code: MUNICIPALITY.into(),
                    name: name.into(),
                    name_kana: kana.into(),
                    kind: kind.into(),
                    area_ids: vec![ogaki.id.clone()],
                    ..Default::default()
                })
                .await
                .with_context(|| format!("CreateOrganization {name}"))?;
        }
        Ok(Setup {
            organization_names: ORGANIZATIONS.iter().map(|(name, _, _)| *name).collect(),
        })
    }
}

const HEADERS: [&str; 13] = [
    "外部ID",
    "資源名",
    "読み",
    "事業主体名",
    "カテゴリ",
    "対象区域",
    "定員",
    "空き",
    "料金",
    "対象者",
    "日程",
    "状態",
    "住所",
];

/// (カテゴリ as typed, name, reading, weight).
const CATEGORIES: [(&str, &str, &str, usize); 10] = [
    ("ゴミ出し", "ゴミ出しお助け隊", "ゴミダシオタスケタイ", 14),
    ("買い物支援", "買い物お手伝い便", "カイモノオテツダイビン", 14),
    ("交流サロン", "ふれあいサロン", "フレアイサロン", 18),
    ("配食・見守り", "まごころ配食", "マゴコロハイショク", 10),
    (
        "訪問型サービスB（住民主体）",
        "ちょこっと生活支援",
        "チョコットセイカツシエン",
        10,
    ),
    ("通いの場", "いきいき百歳体操", "イキイキヒャクサイタイソウ", 12),
    ("見守り", "声かけ見守り隊", "コエカケミマモリタイ", 8),
    ("家事援助", "家事お助けサービス", "カジオタスケサービス", 6),
    ("外出支援", "おでかけ送迎", "オデカケソウゲイ", 4),
    ("認知症カフェ", "オレンジカフェ", "オレンジカフェ", 4),
];

/// 地区 of 大垣市 a resource is named after, with their readings.
const PLACES: [(&str, &str); 18] = [
    ("西", "ニシ"),
    ("東", "ヒガシ"),
    ("南", "ミナミ"),
    ("北", "キタ"),
    ("中川", "ナカガワ"),
    ("興文", "コウブン"),
    ("宇留生", "ウルショウ"),
    ("赤坂", "アカサカ"),
    ("荒崎", "アラサキ"),
    ("墨俣", "スノマタ"),
    ("上石津", "カミイシヅ"),
    ("静里", "シズサト"),
    ("綾里", "アヤサト"),
    ("川並", "カワナミ"),
    ("安井", "ヤスイ"),
    ("日新", "ニッシン"),
    ("三城", "ミシロ"),
    ("江東", "コウトウ"),
];

const TOWNS: [&str; 10] = [
    "丸の内",
    "郭町",
    "高屋町",
    "林町",
    "築捨町",
    "南頬町",
    "藤江町",
    "室本町",
    "寺内町",
    "小野",
];

const FEES: [&str; 7] = [
    "無料",
    "300円/1回",
    "",
    "100円/1回",
    "500円/月",
    "無料（材料費のみ実費）",
    "実費",
];

const ELIGIBILITY: [&str; 6] = [
    "一般高齢者、要支援1",
    "一般高齢者",
    "要支援1、要支援2",
    "事業対象者、要支援1、要支援2",
    "",
    "一般高齢者、事業対象者",
];

const SCHEDULES: [&str; 8] = [
    "毎週 火・金曜 9:00〜11:00",
    "毎月 第2・第4水曜 10:00〜12:00（祝日を除く）",
    "毎週水曜 10:00〜12:00",
    "平日 9:00〜17:00",
    "毎月15日 13:30〜15:00",
    "毎週 月・木曜 7:00〜8:30",
    "",
    "毎週 火・金曜 9:00〜11:00\n毎月 第1土曜 13:00〜15:00",
];

/// xorshift64*: deterministic, good enough to vary cells.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }
}

fn generate_rows(count: usize, setup: &Setup) -> Vec<Vec<String>> {
    let mut rng = Rng(SEED);
    let total_weight: usize = CATEGORIES.iter().map(|c| c.3).sum();
    (0..count)
        .map(|index| {
            let mut roll = rng.below(total_weight);
            let &(category, stem, stem_kana, _) = CATEGORIES
                .iter()
                .find(|c| {
                    let hit = roll < c.3;
                    roll = roll.saturating_sub(c.3);
                    hit
                })
                .expect("weights cover the roll");
            let (place, place_kana) = *rng.pick(&PLACES);
            let mut name = format!("{place}{stem}");
            if rng.percent(30) {
                let _ = write!(name, "（第{}）", 1 + rng.below(5));
            }
            let kana = match rng.percent(80) {
                true => format!("{place_kana}{stem_kana}"),
                false => String::new(),
            };
            let coverage = match rng.below(100) {
                0..70 => rng.pick(&DAILY_LIFE_AREAS).to_string(),
                70..85 => {
                    let first = rng.below(DAILY_LIFE_AREAS.len());
                    let second = (first + 1 + rng.below(DAILY_LIFE_AREAS.len() - 1)) % DAILY_LIFE_AREAS.len();
                    format!("{}、{}", DAILY_LIFE_AREAS[first], DAILY_LIFE_AREAS[second])
                }
                _ => MUNICIPALITY.to_string(),
            };
            let (maximum, available) = match rng.percent(15) {
                true => (String::new(), String::new()),
                false => {
                    let maximum = 1 + rng.below(30);
                    (maximum.to_string(), rng.below(maximum + 1).to_string())
                }
            };
            let address = match rng.percent(60) {
                true => format!(
                    "大垣市{}{}丁目{}-{}",
                    rng.pick(&TOWNS),
                    1 + rng.below(5),
                    1 + rng.below(30),
                    1 + rng.below(20)
                ),
                false => String::new(),
            };
            vec![
                format!("OGK-{:05}", index + 1),
                name,
                kana,
                rng.pick(&setup.organization_names).to_string(),
                category.to_string(),
                coverage,
                maximum,
                available,
                rng.pick(&FEES).to_string(),
                rng.pick(&ELIGIBILITY).to_string(),
                rng.pick(&SCHEDULES).to_string(),
                "実施中".to_string(),
                address,
            ]
        })
        .collect()
}

/// One `ImportResources` call's worth of the sheet.
struct Part {
    content: Vec<u8>,
    rows: usize,
    /// Data rows of the file before this part.
    offset: usize,
}

impl Part {
    fn whole(content: Vec<u8>, rows: usize) -> Part {
        Part {
            content,
            rows,
            offset: 0,
        }
    }
}

/// The sheet in parts of `size` rows, each with the header row.
fn parts(rows: &[Vec<String>], size: usize, format: Format) -> anyhow::Result<Vec<Part>> {
    rows.chunks(size)
        .enumerate()
        .map(|(index, chunk)| {
            let content = match format {
                Format::Csv => tsunagu_tabular::write_csv(&HEADERS, chunk),
                Format::Xlsx => tsunagu_tabular::write_xlsx("地域資源", &HEADERS, chunk)?,
            };
            ensure!(
                content.len() + REQUEST_OVERHEAD <= DEFAULT_MESSAGE_LIMIT,
                "a part of {size} rows is {} and over the message limit",
                bytes(content.len())
            );
            Ok(Part {
                content,
                rows: chunk.len(),
                offset: index * size,
            })
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// A dry run of rows that are not there yet.
    WouldCreate,
    Created,
    Unchanged,
}

struct PartFigure {
    rows: usize,
    size: usize,
    measured: Measured,
}

/// Imports the parts one after the other, checking each report; aborts on any rejected row.
async fn import_parts(
    registry: &mut RegistryServiceClient<tsunagu_tests::KeyedChannel>,
    scratch: &mut PgConnection,
    parts: &[Part],
    expect: Expect,
) -> anyhow::Result<(Measured, Vec<PartFigure>)> {
    let total = Meter::start(scratch).await?;
    let mut figures = Vec::new();
    for part in parts {
        let meter = Meter::start(scratch).await?;
        let response = registry
            .import_resources(import_request(
                part.content.clone(),
                part.offset,
                expect == Expect::WouldCreate,
            ))
            .await
            .with_context(|| format!("ImportResources, rows from {}", part.offset + 2))?
            .into_inner();
        let measured = meter.stop(scratch).await?;
        if !response.rejected.is_empty() {
            let first: Vec<String> = response
                .rejected
                .iter()
                .take(10)
                .map(|p| format!("row {} {}: {}", p.row, p.column, p.reason))
                .collect();
            bail!(
                "ImportResources rejected {} problems (expected none); first: {first:#?}",
                response.rejected.len()
            );
        }
        let counts = (response.created, response.updated, response.unchanged);
        let rows = part.rows as u32;
        let wanted = match expect {
            Expect::WouldCreate | Expect::Created => (rows, 0, 0),
            Expect::Unchanged => (0, 0, rows),
        };
        ensure!(
            counts == wanted,
            "ImportResources ({expect:?}) reported created/updated/unchanged {counts:?}, expected {wanted:?}"
        );
        figures.push(PartFigure {
            rows: part.rows,
            size: part.content.len(),
            measured,
        });
    }
    Ok((total.stop(scratch).await?, figures))
}

/// Waits until the registry's outbox is empty and matching's read model holds `expected` rows
/// of `table`; returns how long that took from now.
async fn settle(registry: &sqlx::PgPool, matching: &sqlx::PgPool, table: &str, expected: i64) -> Duration {
    let started = Instant::now();
    let count = format!("SELECT count(*) FROM {table}");
    tsunagu_tests::eventually(
        &format!("matching to have {expected} rows in {table}"),
        Duration::from_secs(600),
        || async {
            let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(registry)
                .await
                .ok()?;
            let known: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count.clone()))
                .fetch_one(matching)
                .await
                .ok()?;
            (pending == 0 && known == expected).then_some(())
        },
    )
    .await;
    started.elapsed()
}

/// Rows in the registry's tables, to show what the import writes per resource.
async fn written_rows(registry: &sqlx::PgPool) -> anyhow::Result<Vec<(&'static str, i64)>> {
    let mut counts = Vec::new();
    for table in ["resource", "resource_coverage", "change_history", "outbox"] {
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(registry)
            .await?;
        counts.push((table, count));
    }
    Ok(counts)
}

// ---------------------------------------------------------------------------------------------
// References: the same rows written the plainest way, into a scratch schema of the same database.

async fn reset(scratch: &mut PgConnection, table: &str, columns: &str) -> anyhow::Result<()> {
    sqlx::query("CREATE SCHEMA IF NOT EXISTS bench_reference")
        .execute(&mut *scratch)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP TABLE IF EXISTS bench_reference.{table}"
    )))
    .execute(&mut *scratch)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE bench_reference.{table} ({columns})"
    )))
    .execute(&mut *scratch)
    .await?;
    Ok(())
}

async fn copy_official(scratch: &mut PgConnection) -> anyhow::Result<Measured> {
    reset(
        scratch,
        "official_area",
        "id UUID PRIMARY KEY DEFAULT gen_random_uuid(), code TEXT NOT NULL UNIQUE, prefecture TEXT NOT NULL,
         city TEXT, prefecture_kana TEXT NOT NULL, city_kana TEXT",
    )
    .await?;
    let meter = Meter::start(scratch).await?;
    let mut copy = scratch
        .copy_in_raw(
            "COPY bench_reference.official_area (code, prefecture, city, prefecture_kana, city_kana)
             FROM STDIN (FORMAT csv, HEADER true)",
        )
        .await?;
    copy.send(BUNDLED_LIST).await?;
    let copied = copy.finish().await?;
    ensure!(copied == u64::from(OFFICIAL_ROWS), "COPY wrote {copied} areas");
    meter.stop(scratch).await
}

const RESOURCE_COLUMNS: &str = "id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    municipality_code TEXT NOT NULL DEFAULT '212024', external_id TEXT, name TEXT NOT NULL,
    name_kana TEXT, organization_name TEXT, category TEXT NOT NULL, coverage TEXT, capacity INTEGER,
    available INTEGER, fee TEXT, eligibility TEXT, schedule TEXT, status TEXT, address TEXT,
    UNIQUE (municipality_code, external_id)";
const RESOURCE_COLUMN_LIST: &str = "external_id, name, name_kana, organization_name, category, coverage,
    capacity, available, fee, eligibility, schedule, status, address";

async fn copy_resources(scratch: &mut PgConnection, csv: &[u8]) -> anyhow::Result<Measured> {
    reset(scratch, "resource", RESOURCE_COLUMNS).await?;
    let meter = Meter::start(scratch).await?;
    let mut copy = scratch
        .copy_in_raw(&format!(
            "COPY bench_reference.resource ({RESOURCE_COLUMN_LIST}) FROM STDIN (FORMAT csv, HEADER true)"
        ))
        .await?;
    copy.send(csv).await?;
    copy.finish().await?;
    meter.stop(scratch).await
}

async fn insert_resources(
    scratch: &mut PgConnection,
    rows: &[Vec<String>],
    savepoints: bool,
) -> anyhow::Result<Measured> {
    reset(scratch, "resource", RESOURCE_COLUMNS).await?;
    let meter = Meter::start(scratch).await?;
    let statement = format!(
        "INSERT INTO bench_reference.resource ({RESOURCE_COLUMN_LIST})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    );
    let mut tx = scratch.begin().await?;
    for row in rows {
        if savepoints {
            sqlx::query("SAVEPOINT row").execute(&mut *tx).await?;
        }
        let number = |cell: &String| cell.parse::<i32>().ok();
        sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
            .bind(&row[0])
            .bind(&row[1])
            .bind(&row[2])
            .bind(&row[3])
            .bind(&row[4])
            .bind(&row[5])
            .bind(number(&row[6]))
            .bind(number(&row[7]))
            .bind(&row[8])
            .bind(&row[9])
            .bind(&row[10])
            .bind(&row[11])
            .bind(&row[12])
            .execute(&mut *tx)
            .await?;
        if savepoints {
            sqlx::query("RELEASE SAVEPOINT row").execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    meter.stop(scratch).await
}

async fn copy_out_resources(scratch: &mut PgConnection) -> anyhow::Result<Measured> {
    let meter = Meter::start(scratch).await?;
    let mut size = 0;
    {
        let mut stream = scratch
            .copy_out_raw(
                "COPY (SELECT id, external_id, name, name_kana, organization_id, category, capacity, status, details
                       FROM registry.resource WHERE municipality_code = '212024' ORDER BY id)
                 TO STDOUT (FORMAT csv, HEADER true)",
            )
            .await?;
        while let Some(chunk) = stream.try_next().await? {
            size += chunk.len();
        }
    }
    ensure!(size > 0, "COPY TO STDOUT wrote nothing");
    meter.stop(scratch).await
}

/// Runs `measure` [`REFERENCE_RUNS`] times.
async fn repeat(
    scratch: &mut PgConnection,
    mut measure: impl AsyncFnMut(&mut PgConnection) -> anyhow::Result<Measured>,
) -> anyhow::Result<Vec<Measured>> {
    let mut all = Vec::new();
    for _ in 0..REFERENCE_RUNS {
        all.push(measure(&mut *scratch).await?);
    }
    Ok(all)
}

/// The run of median wall time.
fn median(mut runs: Vec<Measured>) -> Measured {
    runs.sort_by_key(|m| m.wall);
    runs.swap_remove(runs.len() / 2)
}

// ---------------------------------------------------------------------------------------------
// Measuring: wall time, CPU time of this process (the services and the client), and CPU time
// of the PostgreSQL backends serving this database.

#[derive(Clone, Copy, Debug)]
struct Measured {
    wall: Duration,
    process_cpu: Option<Duration>,
    postgres_cpu: Option<Duration>,
}

impl Measured {
    /// CPU time of this process and of the database's backends together.
    fn cpu(&self) -> Option<Duration> {
        Some(self.process_cpu? + self.postgres_cpu?)
    }

    fn wall(wall: Duration) -> Measured {
        Measured {
            wall,
            process_cpu: None,
            postgres_cpu: None,
        }
    }
}

struct Meter {
    started: Instant,
    process_cpu: Duration,
    backends: Vec<(u32, Duration)>,
}

impl Meter {
    async fn start(scratch: &mut PgConnection) -> anyhow::Result<Meter> {
        let backends = backend_cpu(scratch).await?;
        Ok(Meter {
            process_cpu: process_cpu("self").unwrap_or_default(),
            backends,
            started: Instant::now(),
        })
    }

    async fn stop(self, scratch: &mut PgConnection) -> anyhow::Result<Measured> {
        let wall = self.started.elapsed();
        let process_cpu = process_cpu("self")
            .unwrap_or_default()
            .saturating_sub(self.process_cpu);
        let before: std::collections::HashMap<u32, Duration> = self.backends.into_iter().collect();
        let postgres_cpu = backend_cpu(scratch)
            .await?
            .into_iter()
            .map(|(pid, cpu)| cpu.saturating_sub(before.get(&pid).copied().unwrap_or_default()))
            .sum();
        Ok(Measured {
            wall,
            process_cpu: Some(process_cpu),
            postgres_cpu: Some(postgres_cpu),
        })
    }
}

/// CPU time (user + system) of a process, from /proc (Linux; clock ticks of 1/100 s).
fn process_cpu(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// CPU time of every backend connected to this database (the four services' pools and the
/// scratch connection).
async fn backend_cpu(scratch: &mut PgConnection) -> anyhow::Result<Vec<(u32, Duration)>> {
    let pids: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'",
    )
    .fetch_all(&mut *scratch)
    .await?;
    let unique: HashSet<i32> = pids.into_iter().collect();
    Ok(unique
        .into_iter()
        .filter_map(|pid| Some((pid as u32, process_cpu(&pid.to_string())?)))
        .collect())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|model| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|load| load.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

// ---------------------------------------------------------------------------------------------
// The report, as Markdown on stdout.

#[derive(Default)]
struct Report {
    text: String,
    in_table: bool,
}

impl Report {
    fn note(&mut self, note: String) {
        if std::mem::take(&mut self.in_table) {
            self.text.push('\n');
        }
        let _ = writeln!(self.text, "- {note}");
    }

    fn section(&mut self, title: &str) {
        self.in_table = false;
        let _ = write!(self.text, "\n### {title}\n");
    }

    fn line(
        &mut self,
        what: &str,
        rows: usize,
        size: Option<usize>,
        measured: &Measured,
        reference: Option<&Measured>,
    ) {
        if !self.in_table {
            self.in_table = true;
            let _ = writeln!(
                self.text,
                "\n| what | rows | size | time | rows/s | × reference (time) | CPU: bench process | CPU: PostgreSQL | × reference (CPU) |"
            );
            let _ = writeln!(self.text, "|---|--:|--:|--:|--:|--:|--:|--:|--:|");
        }
        let wall_ratio = reference.map_or(String::new(), |r| {
            format!("{:.1}×", measured.wall.as_secs_f64() / r.wall.as_secs_f64())
        });
        let cpu_ratio = match (measured.cpu(), reference.and_then(Measured::cpu)) {
            (Some(cpu), Some(reference)) if !reference.is_zero() => {
                format!("{:.1}×", cpu.as_secs_f64() / reference.as_secs_f64())
            }
            _ => String::new(),
        };
        let cpu = |cpu: Option<Duration>| cpu.map_or(String::new(), human);
        let _ = writeln!(
            self.text,
            "| {what} | {} | {} | {} | {} | {wall_ratio} | {} | {} | {cpu_ratio} |",
            thousands(rows as u64),
            size.map_or(String::new(), bytes),
            human(measured.wall),
            thousands(rate(rows, measured.wall)),
            cpu(measured.process_cpu),
            cpu(measured.postgres_cpu),
        );
    }

    fn wall_line(&mut self, what: &str, rows: usize, wall: Duration) {
        self.line(what, rows, None, &Measured::wall(wall), None);
    }

    fn part_table(&mut self, label: &str, parts: &[PartFigure]) {
        for (index, part) in parts.iter().enumerate() {
            self.line(
                &format!("{label}: call {} of {}", index + 1, parts.len()),
                part.rows,
                Some(part.size),
                &part.measured,
                None,
            );
        }
    }

    fn render(&self) -> String {
        format!("## Registry import benchmark\n\n{}", self.text)
    }
}

fn rate(rows: usize, wall: Duration) -> u64 {
    (rows as f64 / wall.as_secs_f64()).round() as u64
}

fn human(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds >= 10.0 {
        format!("{seconds:.1} s")
    } else if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else {
        format!("{:.1} ms", seconds * 1000.0)
    }
}

fn bytes(size: usize) -> String {
    match size {
        0..1024 => format!("{size} B"),
        1024..1_048_576 => format!("{:.0} KiB", size as f64 / 1024.0),
        _ => format!("{:.2} MiB", size as f64 / 1_048_576.0),
    }
}

fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
