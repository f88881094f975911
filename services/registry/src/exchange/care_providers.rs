//! Imports the 自治体標準オープンデータセット「介護サービス事業所一覧」: one organisation
//! (介護サービス事業所, found again by its 介護保険事業所番号) and one resource per row (found
//! again by the external id `kaigo-<事業所番号>`). Municipalities publish this CSV; importing
//! it puts every care provider on the resource map without typing.

use sqlx::PgPool;
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use tsunagu_runtime::tenant::MunicipalityCode;
use tsunagu_runtime::text;
use tsunagu_tabular::{Row, Sheet};
use uuid::Uuid;

use super::RowProblem;
use crate::categories::CategoryIndex;
use crate::contact::ContactKind;
use crate::history::ChangeAuthor;
use crate::identifiers::CareProviderNumber;
use crate::organization::input::RawOrganization;
use crate::organization::store as organization_store;
use crate::resource::input::{RawCapacity, RawLocation, RawResource};
use crate::resource::model::ResourceKind;
use crate::resource::store::{self as resource_store, Applied};

/// The standard dataset's columns, with the spellings municipalities actually publish.
const MUNICIPALITY: &[&str] = &[
    "都道府県コード又は市区町村コード",
    "市区町村コード",
    "地方公共団体コード",
];
const NAME: &[&str] = &["名称", "事業所名", "事業所名称"];
// 事業所名_カナ is the current template's spelling (with 事業所名); it was read by none of these
// and the kana went missing without a word.
const KANA: &[&str] = &[
    "名称_カナ",
    "事業所名_カナ",
    "事業所名称_カナ",
    "名称カナ",
    "事業所名カナ",
    "カナ",
];
const SERVICE: &[&str] = &["実施サービス", "サービス種類", "サービスの種類", "サービス種別"];
const ADDRESS: &[&str] = &["住所", "所在地", "所在地_連結表記"];
const ADDRESS_EXTRA: &[&str] = &["方書"];
const LATITUDE: &[&str] = &["緯度"];
const LONGITUDE: &[&str] = &["経度"];
const PHONE: &[&str] = &["電話番号"];
const FAX: &[&str] = &["FAX番号", "ファックス番号"];
const CORPORATE_NUMBER: &[&str] = &["法人番号"];
const PROVIDER_NUMBER: &[&str] = &["事業所番号", "介護保険事業所番号"];
const DAYS: &[&str] = &["利用可能曜日"];
const DAYS_NOTE: &[&str] = &["利用可能曜日特記事項"];
const CAPACITY: &[&str] = &["定員"];
const URL: &[&str] = &["URL", "ホームページ"];
const NOTE: &[&str] = &["備考"];

/// 実施サービス → taxonomy code. Names not listed fall back to the taxonomy's own names and
/// aliases, then to その他の介護保険サービス.
const SERVICE_CATEGORIES: &[(&str, &str)] = &[
    ("訪問介護", "care.home-visit"),
    ("訪問看護", "care.home-nursing"),
    ("訪問入浴介護", "care.home-bathing"),
    ("訪問リハビリテーション", "care.home-rehab"),
    ("通所介護", "care.day"),
    ("地域密着型通所介護", "care.day"),
    ("認知症対応型通所介護", "care.day"),
    ("通所リハビリテーション", "care.day-rehab"),
    ("短期入所生活介護", "care.short-stay"),
    ("短期入所療養介護", "care.short-stay"),
    ("居宅介護支援", "care.care-management"),
    ("小規模多機能型居宅介護", "care.small-multi"),
    ("看護小規模多機能型居宅介護", "care.small-multi"),
    ("認知症対応型共同生活介護", "care.dementia-group-home"),
    ("福祉用具貸与", "care.welfare-equipment"),
    ("特定福祉用具販売", "care.welfare-equipment"),
    ("介護老人福祉施設", "care.facility"),
    ("地域密着型介護老人福祉施設入所者生活介護", "care.facility"),
    ("介護老人保健施設", "care.facility"),
    ("介護医療院", "care.facility"),
    ("第1号訪問事業", "sogo.visit.current"),
    ("第一号訪問事業", "sogo.visit.current"),
    ("第1号通所事業", "sogo.day.current"),
    ("第一号通所事業", "sogo.day.current"),
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CareProviderReport {
    pub organizations_created: u32,
    pub organizations_updated: u32,
    pub resources_created: u32,
    pub resources_updated: u32,
    pub unchanged: u32,
    /// Problems by row, and first (row 1, the header row) each column the list carries that
    /// this import does not take: ImportCareProvidersResponse has no `ignored_headers` field
    /// of its own, and a column dropped without a word is how the kana went missing.
    pub rejected: Vec<RowProblem>,
}

/// The API field (message, dotted path) each column of the list fills, so a cell is checked
/// as the API checks that field (see `common::guard_cell`).
fn api_field(column: &str) -> (&'static str, &'static str) {
    const RESOURCE: &str = super::common::RESOURCE_MESSAGE;
    const ORGANIZATION: &str = super::common::ORGANIZATION_MESSAGE;
    match column {
        "都道府県コード又は市区町村コード" => (RESOURCE, "municipality_code"),
        "名称" => (RESOURCE, "name"),
        "名称_カナ" => (RESOURCE, "name_kana"),
        "実施サービス" => (RESOURCE, "category"),
        "住所" | "方書" => (RESOURCE, "location.address"),
        "緯度" | "経度" => (RESOURCE, "location.point"),
        "電話番号" | "FAX番号" => (ORGANIZATION, "contact_points"),
        "法人番号" => (ORGANIZATION, "corporate_number"),
        "事業所番号" => (ORGANIZATION, "corporate_number"),
        "定員" => (RESOURCE, "capacity.maximum"),
        "URL" => (RESOURCE, "url"),
        // 利用可能曜日, its note and 備考 go into the description, a multi-line field.
        _ => (RESOURCE, "description"),
    }
}

struct Columns {
    positions: Vec<(&'static str, Option<usize>)>,
    ignored_headers: Vec<String>,
    /// The sheet's own headers, so a problem names the column as the list spells it.
    headers: Vec<String>,
}

impl Columns {
    fn of(sheet: &Sheet) -> Columns {
        let all: [&[&str]; 17] = [
            MUNICIPALITY,
            NAME,
            KANA,
            SERVICE,
            ADDRESS,
            ADDRESS_EXTRA,
            LATITUDE,
            LONGITUDE,
            PHONE,
            FAX,
            CORPORATE_NUMBER,
            PROVIDER_NUMBER,
            DAYS,
            DAYS_NOTE,
            CAPACITY,
            URL,
            NOTE,
        ];
        let positions: Vec<(&'static str, Option<usize>)> =
            all.iter().map(|names| (names[0], sheet.column(names))).collect();
        let ignored_headers = sheet
            .headers
            .iter()
            .enumerate()
            .filter(|(index, header)| {
                !header.trim().is_empty() && !positions.iter().any(|(_, position)| *position == Some(*index))
            })
            .map(|(_, header)| header.clone())
            .collect();
        Columns {
            positions,
            ignored_headers,
            headers: sheet.headers.clone(),
        }
    }

    /// The list's own header of the column known as `canonical` (e.g. 事業所名 for 名称).
    fn header_of(&self, canonical: &str) -> String {
        self.positions
            .iter()
            .find(|(name, _)| *name == canonical)
            .and_then(|(_, index)| self.headers.get((*index)?))
            .cloned()
            .unwrap_or_else(|| canonical.to_string())
    }

    /// The row's cells the API would refuse, as (column, reason).
    fn guard(&self, row: &Row) -> Problems {
        self.positions
            .iter()
            .filter_map(|(name, index)| {
                let (message, field) = api_field(name);
                let reason = super::common::guard_cell(message, field, row.cell((*index)?))?;
                Some((name.to_string(), reason))
            })
            .collect()
    }

    fn has(&self, names: &[&str]) -> bool {
        self.positions
            .iter()
            .any(|(name, index)| *name == names[0] && index.is_some())
    }

    /// The NFKC-normalised, trimmed cell of a column, "" when the sheet lacks it.
    fn get(&self, row: &Row, names: &[&str]) -> String {
        self.positions
            .iter()
            .find(|(name, _)| *name == names[0])
            .and_then(|(_, index)| *index)
            .map(|index| text::nfkc(row.cell(index)).trim().to_string())
            .unwrap_or_default()
    }
}

fn category_of(service: &str, categories: &CategoryIndex) -> String {
    let service = service.trim_start_matches("介護予防").trim();
    SERVICE_CATEGORIES
        .iter()
        .find(|(name, _)| *name == service)
        .map(|(_, code)| code.to_string())
        .or_else(|| categories.resolve(service).ok().map(|entry| entry.code.clone()))
        .unwrap_or_else(|| "care.other".to_string())
}

pub struct CareProviderImport<'a> {
    pub municipality: &'a MunicipalityCode,
    /// Areas each resource covers; empty means the municipality's own area.
    pub coverage_area_ids: &'a [Uuid],
    pub dry_run: bool,
    pub author: ChangeAuthor<'a>,
}

pub async fn import(
    pool: &PgPool,
    sheet: &Sheet,
    options: CareProviderImport<'_>,
) -> ServiceResult<CareProviderReport> {
    let columns = Columns::of(sheet);
    for required in [NAME, PROVIDER_NUMBER] {
        if !columns.has(required) {
            return Err(ServiceError::invalid(
                "content",
                format!(
                    "見出し「{}」の列がありません / the sheet has no {} column",
                    required[0], required[0]
                ),
            ));
        }
    }
    let code = options.municipality.as_str();
    let mut tx = pool.begin().await?;
    let categories = CategoryIndex::load(&mut tx, Some(code)).await?;
    let coverage: Vec<String> = if options.coverage_area_ids.is_empty() {
        let area: Option<Uuid> = sqlx::query_scalar("SELECT id FROM area WHERE code = $1")
            .bind(code)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(area) = area else {
            return Err(ServiceError::FailedPrecondition(format!(
                "市区町村 {code} の区域が登録されていません。先に区域を登録するか coverage_area_ids を指定してください / the municipality has no area"
            )));
        };
        vec![area.to_string()]
    } else {
        options.coverage_area_ids.iter().map(Uuid::to_string).collect()
    };
    let mut report = CareProviderReport {
        rejected: columns
            .ignored_headers
            .iter()
            .map(|header| RowProblem {
                row: 1,
                column: header.clone(),
                reason: "この列は取り込みません（読まれていません） / this column is not imported".into(),
            })
            .collect(),
        ..CareProviderReport::default()
    };
    for row in &sheet.rows {
        sqlx::query("SAVEPOINT care_row").execute(&mut *tx).await?;
        let outcome = import_row(
            &mut tx,
            &columns,
            row,
            code,
            &categories,
            &coverage,
            options.author,
        )
        .await?;
        match outcome {
            Ok(counts) => {
                sqlx::query("RELEASE SAVEPOINT care_row")
                    .execute(&mut *tx)
                    .await?;
                report.organizations_created += counts.organization_created as u32;
                report.organizations_updated += counts.organization_updated as u32;
                report.resources_created += counts.resource_created as u32;
                report.resources_updated += counts.resource_updated as u32;
                report.unchanged += counts.unchanged() as u32;
            }
            Err(problems) => {
                sqlx::query("ROLLBACK TO SAVEPOINT care_row")
                    .execute(&mut *tx)
                    .await?;
                report
                    .rejected
                    .extend(problems.into_iter().map(|(column, reason)| RowProblem {
                        row: row.number,
                        column: columns.header_of(&column),
                        reason,
                    }));
            }
        }
    }
    if options.dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(report)
}

#[derive(Default)]
struct RowCounts {
    organization_created: bool,
    organization_updated: bool,
    resource_created: bool,
    resource_updated: bool,
}

impl RowCounts {
    fn unchanged(&self) -> bool {
        !(self.organization_created
            || self.organization_updated
            || self.resource_created
            || self.resource_updated)
    }
}

type Problems = Vec<(String, String)>;

fn violations_as_problems(
    error: ServiceError,
    column_of: impl Fn(&str) -> &'static str,
) -> Result<Problems, ServiceError> {
    match error {
        ServiceError::InvalidArgument(violations) => Ok(violations
            .into_iter()
            .map(|v| (column_of(&v.field).to_string(), v.description))
            .collect()),
        other => Err(other),
    }
}

async fn import_row(
    tx: &mut sqlx::PgConnection,
    columns: &Columns,
    row: &Row,
    municipality_code: &str,
    categories: &CategoryIndex,
    coverage: &[String],
    author: ChangeAuthor<'_>,
) -> ServiceResult<Result<RowCounts, Problems>> {
    // Before anything reads the row: a cell the API would refuse never reaches the database.
    let guarded = columns.guard(row);
    if !guarded.is_empty() {
        return Ok(Err(guarded));
    }
    let mut problems: Problems = Vec::new();
    let row_municipality = columns.get(row, MUNICIPALITY);
    if !row_municipality.is_empty()
        && row_municipality != municipality_code
        && !municipality_code.starts_with(&row_municipality)
    {
        problems.push((
            MUNICIPALITY[0].into(),
            format!("この行は {row_municipality} のものです（取り込み先: {municipality_code}） / the row belongs to another municipality"),
        ));
    }
    let number = match CareProviderNumber::parse(&columns.get(row, PROVIDER_NUMBER)) {
        Ok(number) => Some(number.as_str().to_string()),
        Err(reason) => {
            problems.push((PROVIDER_NUMBER[0].into(), reason));
            None
        }
    };
    let name = columns.get(row, NAME);
    let capacity = columns.get(row, CAPACITY).replace(['人', '名'], "");
    let maximum = match capacity.parse::<u32>() {
        Ok(maximum) => maximum,
        Err(_) if capacity.is_empty() => 0,
        Err(_) => {
            problems.push((
                CAPACITY[0].into(),
                format!("定員は整数で入力してください（入力: {capacity:?}） / not a whole number"),
            ));
            0
        }
    };
    // A coordinate that is not a number is the cell's problem (it used to drop the point
    // silently); the range is the API's to check (GeoPoint), reported under 緯度.
    let mut coordinate = |names: &[&str]| {
        let cell = columns.get(row, names);
        if cell.is_empty() {
            return None;
        }
        match cell.parse::<f64>() {
            Ok(value) if value.is_finite() => Some(value),
            _ => {
                problems.push((
                    names[0].into(),
                    format!("数値で入力してください（入力: {cell:?}） / not a number"),
                ));
                None
            }
        }
    };
    let point = match (coordinate(LATITUDE), coordinate(LONGITUDE)) {
        (Some(latitude), Some(longitude)) => Some((latitude, longitude)),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            if !problems
                .iter()
                .any(|(column, _)| column == LATITUDE[0] || column == LONGITUDE[0])
            {
                problems.push((
                    LATITUDE[0].into(),
                    "緯度と経度は両方入力してください / give both latitude and longitude".into(),
                ));
            }
            None
        }
    };
    let Some(number) = number else {
        return Ok(Err(problems));
    };
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let address = [columns.get(row, ADDRESS), columns.get(row, ADDRESS_EXTRA)]
        .join(" ")
        .trim()
        .to_string();
    let url = columns.get(row, URL);
    let mut contacts = Vec::new();
    for (kind, value) in [
        (ContactKind::Phone, columns.get(row, PHONE)),
        (ContactKind::Fax, columns.get(row, FAX)),
        (ContactKind::Url, url.clone()),
        (ContactKind::Address, address.clone()),
    ] {
        if !value.is_empty() {
            contacts.push((Some(kind), value, String::new()));
        }
    }

    // The organisation: found by its 事業所番号, else created.
    let mut counts = RowCounts::default();
    let existing_organization = organization_store::lock_by_care_provider_number(tx, &number).await?;
    let mut raw_organization = existing_organization
        .as_ref()
        .map(|row| RawOrganization::from_fields(&row.fields()))
        .unwrap_or_else(|| RawOrganization {
            kind: Some("care_provider".into()),
            care_provider_numbers: vec![number.clone()],
            ..RawOrganization::default()
        });
    raw_organization.name = name.clone();
    raw_organization.name_kana = columns.get(row, KANA);
    raw_organization.corporate_number = columns.get(row, CORPORATE_NUMBER);
    raw_organization.contact_points = contacts;
    let organization_column = |field: &str| -> &'static str {
        match field.split(['.', '[']).next().unwrap_or(field) {
            "name" => NAME[0],
            "corporate_number" => CORPORATE_NUMBER[0],
            "contact_points" => PHONE[0],
            _ => NAME[0],
        }
    };
    let organization_fields = match raw_organization.parse() {
        Ok(fields) => fields,
        Err(error) => return Ok(Err(violations_as_problems(error, organization_column)?)),
    };
    let organization_id = match &existing_organization {
        Some(current) => {
            match organization_store::apply_change(tx, current, &organization_fields, author).await {
                Ok(Some(_)) => counts.organization_updated = true,
                Ok(None) => {}
                Err(error) => return Ok(Err(violations_as_problems(error, organization_column)?)),
            }
            current.id
        }
        None => match organization_store::insert(tx, municipality_code, &organization_fields, author).await {
            Ok(created) => {
                counts.organization_created = true;
                created.id
            }
            Err(error) => return Ok(Err(violations_as_problems(error, organization_column)?)),
        },
    };

    // The resource: found by its external id, else created.
    let external_id = format!("kaigo-{number}");
    let existing_resource = resource_store::lock_by_external_id(tx, municipality_code, &external_id).await?;
    let mut raw = existing_resource
        .as_ref()
        .map(|record| RawResource::from_fields(&record.fields))
        .unwrap_or_default();
    raw.organization_id = organization_id.to_string();
    raw.name = name;
    raw.name_kana = columns.get(row, KANA);
    raw.category = category_of(&columns.get(row, SERVICE), categories);
    raw.kind = Some(ResourceKind::Use);
    if existing_resource.is_none() {
        raw.coverage_area_ids = coverage.to_vec();
    }
    raw.capacity = RawCapacity {
        available: raw.capacity.available.min(maximum),
        maximum,
        unit: if maximum > 0 { "人".into() } else { String::new() },
    };
    raw.location = RawLocation {
        address,
        point,
        confidential: false,
    };
    raw.url = url;
    raw.external_id = external_id;
    let notes: Vec<String> = [
        ("利用可能曜日", columns.get(row, DAYS)),
        ("", columns.get(row, DAYS_NOTE)),
        ("", columns.get(row, NOTE)),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .map(|(label, value)| {
        if label.is_empty() {
            value
        } else {
            format!("{label}: {value}")
        }
    })
    .collect();
    raw.description = notes.join("\n");
    let resource_column = |field: &str| -> &'static str {
        match field.split(['.', '[']).next().unwrap_or(field) {
            "name" => NAME[0],
            "name_kana" => KANA[0],
            "capacity" => CAPACITY[0],
            "location" if field.starts_with("location.point") => LATITUDE[0],
            "location" => ADDRESS[0],
            "url" => URL[0],
            "category" => SERVICE[0],
            _ => NAME[0],
        }
    };
    let fields = match raw.parse(categories) {
        Ok(fields) => fields,
        Err(error) => return Ok(Err(violations_as_problems(error, resource_column)?)),
    };
    let written = match &existing_resource {
        Some(current) => resource_store::apply_change(tx, current, &fields, author)
            .await
            .map(|(_, applied)| (applied == Applied::Changed, false)),
        None => resource_store::insert(tx, municipality_code, &fields, author)
            .await
            .map(|_| (false, true)),
    };
    match written {
        Ok((updated, created)) => {
            counts.resource_updated = updated;
            counts.resource_created = created;
            Ok(Ok(counts))
        }
        Err(error) => Ok(Err(violations_as_problems(error, resource_column)?)),
    }
}
