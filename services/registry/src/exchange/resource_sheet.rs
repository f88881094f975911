//! The resource sheet as coordinators keep it in Excel: one row per resource, Japanese
//! headers (English aliases accepted), one cell per field in words people type — 「無料」,
//! 「300円/1回」, 「要支援1、要支援2」, 「第2・第4水曜 10:00〜12:00」.
//!
//! Reading and writing are inverse: a written row reads back to the same fields, which is
//! what makes export → edit → import safe.

use std::collections::HashMap;

use tsunagu_calendar::ScheduleEntry;
use tsunagu_runtime::text;
use uuid::Uuid;

use super::common;
use crate::resource::input::{RawFee, RawResource, RawSchedule};
use crate::resource::model::{Eligibility, Fee, Gender, ResourceFields, ResourceKind, ResourceStatus};

/// One column: its header, the aliases an import also accepts, and the field it fills (the
/// prefix of the field violations it answers for).
pub struct Column {
    pub header: &'static str,
    pub aliases: &'static [&'static str],
    pub field: &'static str,
}

pub const ID: &str = "ID";
pub const ORGANIZATION_NAME: &str = "事業主体名";

pub const COLUMNS: &[Column] = &[
    Column {
        header: ID,
        aliases: &["id", "資源ID"],
        field: "id",
    },
    Column {
        header: "外部ID",
        aliases: &["external_id", "管理番号"],
        field: "external_id",
    },
    Column {
        header: "資源名",
        aliases: &["name", "名称"],
        field: "name",
    },
    Column {
        header: "読み",
        aliases: &["name_kana", "よみがな", "ふりがな", "カナ"],
        field: "name_kana",
    },
    Column {
        header: "事業主体ID",
        aliases: &["organization_id"],
        field: "organization_id",
    },
    Column {
        header: ORGANIZATION_NAME,
        aliases: &["organization", "事業主体", "運営団体"],
        field: "organization_id",
    },
    Column {
        header: "カテゴリ",
        aliases: &["category", "分類"],
        field: "category",
    },
    Column {
        header: "種類",
        aliases: &["kind"],
        field: "kind",
    },
    Column {
        header: "対象区域",
        aliases: &["coverage", "対象地域", "圏域"],
        field: "coverage_area_ids",
    },
    Column {
        header: "定員",
        aliases: &["capacity", "受け入れ可能数"],
        field: "capacity.maximum",
    },
    Column {
        header: "空き",
        aliases: &["available", "空き数"],
        field: "capacity.available",
    },
    Column {
        header: "単位",
        aliases: &["capacity_unit"],
        field: "capacity.unit",
    },
    Column {
        header: "料金",
        aliases: &["fee", "利用料"],
        field: "fee",
    },
    Column {
        header: "対象者",
        aliases: &["eligibility"],
        field: "eligibility",
    },
    Column {
        header: "下限年齢",
        aliases: &["min_age"],
        field: "min_age",
    },
    Column {
        header: "上限年齢",
        aliases: &["max_age"],
        field: "max_age",
    },
    Column {
        header: "日程",
        aliases: &["schedule", "schedules", "開催日", "実施日時"],
        field: "schedules",
    },
    Column {
        header: "車いす対応車両",
        aliases: &["wheelchair_vehicle"],
        field: "capabilities.wheelchair_vehicle",
    },
    Column {
        header: "対応言語",
        aliases: &["languages"],
        field: "capabilities.languages",
    },
    Column {
        header: "担い手の性別",
        aliases: &["helper_genders"],
        field: "capabilities.helper_genders",
    },
    Column {
        header: "状態",
        aliases: &["status"],
        field: "status",
    },
    Column {
        header: "状態の説明",
        aliases: &["status_note"],
        field: "status_note",
    },
    Column {
        header: "住所",
        aliases: &["address", "所在地"],
        field: "location.address",
    },
    Column {
        header: "緯度",
        aliases: &["latitude"],
        field: "location.point",
    },
    Column {
        header: "経度",
        aliases: &["longitude"],
        field: "location.point",
    },
    Column {
        header: "住所非公開",
        aliases: &["confidential"],
        field: "location.confidential",
    },
    Column {
        header: "URL",
        aliases: &["url", "ホームページ"],
        field: "url",
    },
    Column {
        header: "説明",
        aliases: &["description", "内容", "備考"],
        field: "description",
    },
];

/// Separators coordinators use between items in one cell.
pub(crate) fn items(cell: &str) -> Vec<String> {
    cell.split(['、', ',', '，', ';', '；', '\n'])
        .map(|item| text::nfkc(item).trim().to_string())
        .filter(|item| !item.is_empty())
        .collect()
}

pub fn parse_bool(cell: &str) -> Result<bool, String> {
    match text::nfkc(cell).trim().to_lowercase().as_str() {
        "" | "×" | "いいえ" | "なし" | "無" | "false" | "0" | "no" => Ok(false),
        "○" | "〇" | "◯" | "はい" | "あり" | "有" | "true" | "1" | "yes" => Ok(true),
        other => Err(format!(
            "「○」か空欄で入力してください（入力: {other:?}） / use ○ or leave blank"
        )),
    }
}

fn parse_count(cell: &str) -> Result<u32, String> {
    let normalised = text::nfkc(cell).trim().replace(',', "");
    if normalised.is_empty() {
        return Ok(0);
    }
    normalised
        .trim_end_matches(['人', '名', '歳'])
        .parse::<u32>()
        .map_err(|_| format!("0以上の整数で入力してください（入力: {normalised:?}） / not a whole number"))
}

pub fn kind_label(kind: ResourceKind) -> &'static str {
    kind.label()
}

fn parse_kind(cell: &str) -> Result<Option<ResourceKind>, String> {
    let wanted = text::nfkc(cell).trim().to_string();
    if wanted.is_empty() {
        return Ok(None);
    }
    ResourceKind::ALL
        .into_iter()
        .find(|kind| kind.label() == wanted || kind.as_str() == wanted)
        .map(Some)
        .ok_or_else(|| format!("「利用する資源」「参加する資源」「場所・拠点」のいずれかです（入力: {wanted:?}） / unknown kind"))
}

fn parse_status(cell: &str) -> Result<Option<ResourceStatus>, String> {
    let wanted = text::nfkc(cell).trim().to_string();
    if wanted.is_empty() {
        return Ok(None);
    }
    ResourceStatus::ALL
        .into_iter()
        .find(|status| status.label() == wanted || status.as_str() == wanted)
        .map(Some)
        .ok_or_else(|| {
            format!(
                "「実施中」「休止」「一時休止」「廃止」のいずれかです（入力: {wanted:?}） / unknown status"
            )
        })
}

fn parse_eligibility(cell: &str) -> Result<Vec<Option<Eligibility>>, String> {
    items(cell)
        .into_iter()
        .map(|item| {
            Eligibility::ALL
                .into_iter()
                .find(|e| e.label() == item || e.as_str() == item)
                .map(Some)
                .ok_or_else(|| {
                    format!("対象者は 一般高齢者・事業対象者・要支援1〜2・要介護1〜5 です（入力: {item:?}） / unknown eligibility")
                })
        })
        .collect()
}

fn parse_genders(cell: &str) -> Result<Vec<Option<Gender>>, String> {
    items(cell)
        .into_iter()
        .map(|item| match item.as_str() {
            "女性" | "女" | "female" => Ok(Some(Gender::Female)),
            "男性" | "男" | "male" => Ok(Some(Gender::Male)),
            other => Err(format!(
                "「女性」「男性」で入力してください（入力: {other:?}） / unknown gender"
            )),
        })
        .collect()
}

/// 「無料」, 「無料（材料費のみ実費）」, 「300円/1回」, 「1,000円/月（送迎込み）」, or a
/// description alone (「実費」); empty means not stated.
pub fn parse_fee(cell: &str) -> Result<Option<RawFee>, String> {
    let normalised = text::nfkc(cell).trim().to_string();
    if normalised.is_empty() {
        return Ok(None);
    }
    let (main, description) = split_note(&normalised);
    if let Some(rest) = main.strip_prefix("無料") {
        if !rest.trim().is_empty() {
            return Err(format!(
                "「無料」の後は（）で説明を書いてください（入力: {normalised:?}） / put notes in brackets"
            ));
        }
        return Ok(Some(RawFee {
            free: true,
            description,
            ..RawFee::default()
        }));
    }
    if let Some((amount, rest)) = main.split_once('円') {
        let amount_digits = amount.trim().replace(',', "");
        // The API's amount is a whole number of yen (uint32): 「-300円」 or 「300.5円」 is a
        // mistake to report, not a description to keep (it was kept as 「実費」-like text).
        let signed_or_fractional = amount_digits
            .trim_start_matches(['-', '−', '+', '▲', '△'])
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.')
            && amount_digits.chars().any(|c| c.is_ascii_digit())
            && !amount_digits.chars().all(|c| c.is_ascii_digit());
        if signed_or_fractional {
            return Err(format!(
                "金額は0以上の整数（円）で入力してください（入力: {normalised:?}） / the amount must be a whole number of yen, not negative"
            ));
        }
        if !amount_digits.is_empty() && amount_digits.chars().all(|c| c.is_ascii_digit()) {
            let amount_yen = amount_digits
                .parse::<u32>()
                .map_err(|_| format!("金額が大きすぎます（入力: {normalised:?}） / amount too large"))?;
            let unit = rest.trim().trim_start_matches(['/', '／']).trim().to_string();
            return Ok(Some(RawFee {
                free: false,
                amount_yen,
                unit,
                description,
            }));
        }
    }
    Ok(Some(RawFee {
        free: false,
        amount_yen: 0,
        unit: String::new(),
        description: normalised,
    }))
}

/// Splits 「本文（注記）」 into its main part and the note in the last brackets.
fn split_note(cell: &str) -> (String, String) {
    match (cell.rfind('('), cell.ends_with(')')) {
        (Some(open), true) => (
            cell[..open].trim().to_string(),
            cell[open + 1..cell.len() - 1].trim().to_string(),
        ),
        _ => (cell.to_string(), String::new()),
    }
}

pub fn fee_cell(fee: &Fee) -> String {
    let with_note = |main: String, description: &str| {
        if description.is_empty() {
            main
        } else {
            format!("{main}（{description}）")
        }
    };
    match fee {
        Fee::Unknown => String::new(),
        Fee::Free { description } => with_note("無料".into(), description),
        Fee::Paid {
            amount_yen: 0,
            description,
            ..
        } => description.clone(),
        Fee::Paid {
            amount_yen,
            unit,
            description,
        } => {
            let main = if unit.is_empty() {
                format!("{amount_yen}円")
            } else {
                format!("{amount_yen}円/{unit}")
            };
            with_note(main, description)
        }
    }
}

/// One schedule per line, in its canonical Japanese rendering (a note follows 「※」).
pub fn schedules_cell(schedules: &[ScheduleEntry]) -> String {
    schedules
        .iter()
        .map(ScheduleEntry::to_japanese)
        .collect::<Vec<_>>()
        .join("\n")
}

fn parse_schedules(cell: &str) -> Vec<RawSchedule> {
    cell.split('\n')
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| RawSchedule {
            text: line.to_string(),
            ..RawSchedule::default()
        })
        .collect()
}

/// How the coverage cell names areas: official codes, names of the municipality's own areas,
/// or ids. Built per import/export from the areas the municipality can see.
pub struct AreaNames {
    /// Folded name → ids of the municipality's areas with that name.
    by_name: HashMap<String, Vec<Uuid>>,
    by_code: HashMap<String, Uuid>,
    /// id → how an export writes it.
    label: HashMap<Uuid, String>,
}

#[derive(Debug, Clone)]
pub struct AreaForNames {
    pub id: Uuid,
    pub name: String,
    pub code: Option<String>,
    pub municipality_code: String,
}

impl AreaNames {
    /// `areas`: the municipality's areas and any other area its resources cover.
    pub fn new(municipality_code: &str, areas: &[AreaForNames]) -> AreaNames {
        let mut by_name: HashMap<String, Vec<Uuid>> = HashMap::new();
        let mut by_code = HashMap::new();
        for area in areas {
            if let Some(code) = &area.code {
                by_code.insert(code.clone(), area.id);
            }
            if area.municipality_code == municipality_code {
                by_name
                    .entry(text::search_fold(&area.name))
                    .or_default()
                    .push(area.id);
            }
        }
        let label = areas
            .iter()
            .map(|area| {
                let unique_name = by_name
                    .get(&text::search_fold(&area.name))
                    .is_some_and(|ids| ids.len() == 1 && ids[0] == area.id);
                let label = match &area.code {
                    Some(code) => code.clone(),
                    None if unique_name => area.name.clone(),
                    None => area.id.to_string(),
                };
                (area.id, label)
            })
            .collect();
        AreaNames {
            by_name,
            by_code,
            label,
        }
    }

    pub(crate) fn resolve(&self, item: &str) -> Result<String, String> {
        if let Ok(id) = item.parse::<Uuid>() {
            return Ok(id.to_string());
        }
        if let Some(id) = self.by_code.get(item) {
            return Ok(id.to_string());
        }
        match self.by_name.get(&text::search_fold(item)).map(Vec::as_slice) {
            Some([id]) => Ok(id.to_string()),
            Some(_) => Err(format!(
                "「{item}」という区域が複数あります。区域IDで指定してください / ambiguous area name"
            )),
            None => Err(format!(
                "「{item}」という区域はありません（区域名、団体コード、区域IDのいずれか） / unknown area"
            )),
        }
    }

    pub fn cell(&self, ids: &[Uuid]) -> String {
        ids.iter()
            .map(|id| self.label.get(id).cloned().unwrap_or_else(|| id.to_string()))
            .collect::<Vec<_>>()
            .join("、")
    }
}

/// Organisations a sheet may name instead of giving their id.
pub struct OrganizationNames {
    by_name: HashMap<String, Vec<Uuid>>,
    name_of: HashMap<Uuid, String>,
}

impl OrganizationNames {
    pub fn new(organizations: &[(Uuid, String)]) -> OrganizationNames {
        let mut by_name: HashMap<String, Vec<Uuid>> = HashMap::new();
        for (id, name) in organizations {
            by_name.entry(text::search_fold(name)).or_default().push(*id);
        }
        OrganizationNames {
            by_name,
            name_of: organizations.iter().cloned().collect(),
        }
    }

    pub(crate) fn resolve(&self, name: &str) -> Result<String, String> {
        match self.by_name.get(&text::search_fold(name)).map(Vec::as_slice) {
            Some([id]) => Ok(id.to_string()),
            Some(_) => Err(format!(
                "「{name}」という事業主体が複数あります。事業主体IDで指定してください / ambiguous organization name"
            )),
            None => Err(format!(
                "事業主体「{name}」は登録されていません / unknown organization"
            )),
        }
    }

    pub fn name_of(&self, id: Uuid) -> &str {
        self.name_of.get(&id).map_or("", String::as_str)
    }

    /// Records an organisation created or renamed during an import, so later rows may name it.
    pub fn set(&mut self, id: Uuid, name: &str) {
        if let Some(old) = self.name_of.insert(id, name.to_string())
            && let Some(ids) = self.by_name.get_mut(&text::search_fold(&old))
        {
            ids.retain(|known| *known != id);
        }
        self.by_name.entry(text::search_fold(name)).or_default().push(id);
    }
}

/// A problem with one cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellProblem {
    pub column: String,
    pub reason: String,
}

/// The columns a sheet has: column index per known header.
pub struct Layout {
    positions: Vec<(usize, &'static Column)>,
    pub ignored_headers: Vec<String>,
}

impl Layout {
    pub fn of(sheet: &tsunagu_tabular::Sheet) -> Layout {
        let mut positions = Vec::new();
        for column in COLUMNS {
            let mut names = vec![column.header];
            names.extend(column.aliases);
            if let Some(index) = sheet.column(&names) {
                positions.push((index, column));
            }
        }
        let ignored_headers = sheet
            .headers
            .iter()
            .enumerate()
            .filter(|(index, header)| {
                !header.trim().is_empty() && !positions.iter().any(|(position, _)| position == index)
            })
            .map(|(_, header)| header.clone())
            .collect();
        Layout {
            positions,
            ignored_headers,
        }
    }

    pub fn has(&self, header: &str) -> bool {
        self.positions.iter().any(|(_, column)| column.header == header)
    }

    /// The row's cells the API would refuse in a resource (see [`common::guard_cell`]).
    pub fn guard(&self, row: &tsunagu_tabular::Row) -> Vec<(String, String)> {
        common::guard_row(common::RESOURCE_MESSAGE, &self.positions, row)
    }

    fn cell<'r>(&self, row: &'r tsunagu_tabular::Row, header: &str) -> Option<&'r str> {
        self.positions
            .iter()
            .find(|(_, column)| column.header == header)
            .map(|(index, _)| row.cell(*index))
    }

    /// The column that answers for a field violation, e.g. `schedules[1].text` → 日程.
    pub fn column_for_field(&self, field: &str) -> String {
        let header_of = |prefix: &str| {
            COLUMNS
                .iter()
                .filter(|column| column.field == prefix)
                .find(|column| self.has(column.header))
                .map(|column| column.header.to_string())
        };
        let mut prefix = field.to_string();
        loop {
            if let Some(header) = header_of(&prefix) {
                return header;
            }
            let shorter = prefix
                .rfind(['.', '['])
                .map(|at| prefix[..at].to_string())
                .filter(|shorter| !shorter.is_empty());
            match shorter {
                Some(shorter) => prefix = shorter,
                None => return field.to_string(),
            }
        }
    }

    /// The row's id cell, if the sheet has that column and the cell is filled.
    pub fn id(&self, row: &tsunagu_tabular::Row) -> Result<Option<Uuid>, CellProblem> {
        match self.cell(row, ID).map(str::trim).filter(|cell| !cell.is_empty()) {
            None => Ok(None),
            Some(cell) => cell.parse().map(Some).map_err(|_| CellProblem {
                column: ID.into(),
                reason: format!("IDの形式が不正です（入力: {cell:?}） / not a UUID"),
            }),
        }
    }

    pub fn external_id(&self, row: &tsunagu_tabular::Row) -> Option<String> {
        self.cell(row, "外部ID")
            .map(|cell| text::nfkc(cell).trim().to_string())
            .filter(|cell| !cell.is_empty())
    }

    /// Overlays the row's columns on `base` (the stored resource, or an empty one): a column
    /// the sheet does not have leaves its field as it was, so a sheet of a few columns
    /// updates just those.
    pub fn overlay(
        &self,
        row: &tsunagu_tabular::Row,
        base: &mut RawResource,
        areas: &AreaNames,
        organizations: &OrganizationNames,
    ) -> Vec<CellProblem> {
        let mut problems = Vec::new();
        let mut note = |column: &str, result: Result<(), String>| {
            if let Err(reason) = result {
                problems.push(CellProblem {
                    column: column.into(),
                    reason,
                });
            }
        };
        let mut point = base.location.point;
        let mut point_touched = false;
        for (index, column) in &self.positions {
            let cell = row.cell(*index);
            let header = column.header;
            match header {
                "外部ID" => base.external_id = cell.to_string(),
                "資源名" => base.name = cell.to_string(),
                "読み" => base.name_kana = cell.to_string(),
                "事業主体ID" if !cell.trim().is_empty() => base.organization_id = cell.trim().to_string(),
                "事業主体名" => {
                    let id_given = self
                        .cell(row, "事業主体ID")
                        .is_some_and(|id| !id.trim().is_empty());
                    if !id_given && !cell.trim().is_empty() {
                        note(
                            header,
                            organizations
                                .resolve(&text::nfkc(cell))
                                .map(|id| base.organization_id = id),
                        );
                    }
                }
                "カテゴリ" => base.category = cell.to_string(),
                "種類" => note(header, parse_kind(cell).map(|kind| base.kind = kind)),
                "対象区域" => {
                    let mut ids = Vec::new();
                    for item in items(cell) {
                        match areas.resolve(&item) {
                            Ok(id) => ids.push(id),
                            Err(reason) => note(header, Err(reason)),
                        }
                    }
                    base.coverage_area_ids = ids;
                }
                "定員" => note(header, parse_count(cell).map(|n| base.capacity.maximum = n)),
                "空き" => note(header, parse_count(cell).map(|n| base.capacity.available = n)),
                "単位" => base.capacity.unit = cell.to_string(),
                "料金" => note(header, parse_fee(cell).map(|fee| base.fee = fee)),
                "対象者" => note(header, parse_eligibility(cell).map(|e| base.eligibility = e)),
                "下限年齢" => note(header, parse_count(cell).map(|n| base.min_age = n)),
                "上限年齢" => note(header, parse_count(cell).map(|n| base.max_age = n)),
                "日程" => base.schedules = parse_schedules(cell),
                "車いす対応車両" => note(
                    header,
                    parse_bool(cell).map(|b| base.capabilities.wheelchair_vehicle = b),
                ),
                "対応言語" => base.capabilities.languages = items(cell),
                "担い手の性別" => note(
                    header,
                    parse_genders(cell).map(|g| base.capabilities.helper_genders = g),
                ),
                "状態" => note(header, parse_status(cell).map(|s| base.status = s)),
                "状態の説明" => base.status_note = cell.to_string(),
                "住所" => base.location.address = cell.to_string(),
                "緯度" | "経度" => {
                    point_touched = true;
                    let normalised = text::nfkc(cell).trim().to_string();
                    if normalised.is_empty() {
                        point = None;
                        continue;
                    }
                    match normalised.parse::<f64>() {
                        Ok(value) => {
                            let (mut latitude, mut longitude) = point.unwrap_or((f64::NAN, f64::NAN));
                            if header == "緯度" {
                                latitude = value;
                            } else {
                                longitude = value;
                            }
                            point = Some((latitude, longitude));
                        }
                        Err(_) => note(
                            header,
                            Err(format!(
                                "数値で入力してください（入力: {normalised:?}） / not a number"
                            )),
                        ),
                    }
                }
                "住所非公開" => note(header, parse_bool(cell).map(|b| base.location.confidential = b)),
                "URL" => base.url = cell.to_string(),
                "説明" => base.description = cell.to_string(),
                _ => {}
            }
        }
        // A latitude or longitude already reported as not a number is the row's one problem
        // with the point, not also a missing half of it.
        let point_reported = problems
            .iter()
            .any(|problem| problem.column == "緯度" || problem.column == "経度");
        if point_touched && !point_reported {
            match point {
                Some((latitude, longitude)) if latitude.is_nan() || longitude.is_nan() => {
                    problems.push(CellProblem {
                        column: "緯度".into(),
                        reason: "緯度と経度は両方入力してください / give both latitude and longitude".into(),
                    })
                }
                _ => base.location.point = point,
            }
        }
        problems
    }
}

/// The headers an export writes, in order.
pub fn export_headers() -> Vec<&'static str> {
    COLUMNS.iter().map(|column| column.header).collect()
}

/// One exported row; `include_confidential` decides whether confidential addresses are
/// written (an export for the public leaves them out).
pub fn export_row(
    id: Uuid,
    fields: &ResourceFields,
    category_name: &str,
    areas: &AreaNames,
    organizations: &OrganizationNames,
    include_confidential: bool,
) -> Vec<String> {
    let hide = fields.location.confidential && !include_confidential;
    let join = |values: Vec<&str>| values.join("、");
    COLUMNS
        .iter()
        .map(|column| match column.header {
            "ID" => id.to_string(),
            "外部ID" => fields.external_id.clone().unwrap_or_default(),
            "資源名" => fields.name.clone(),
            "読み" => fields.name_kana.clone(),
            "事業主体ID" => fields.organization_id.to_string(),
            "事業主体名" => organizations.name_of(fields.organization_id).to_string(),
            "カテゴリ" => {
                if category_name.is_empty() {
                    fields.category.clone()
                } else {
                    category_name.to_string()
                }
            }
            "種類" => kind_label(fields.kind).to_string(),
            "対象区域" => areas.cell(&fields.coverage_area_ids),
            "定員" => fields.capacity.maximum.to_string(),
            "空き" => fields.capacity.available.to_string(),
            "単位" => fields.capacity.unit.clone(),
            "料金" => fee_cell(&fields.fee),
            "対象者" => join(fields.eligibility.iter().map(|e| e.label()).collect()),
            "下限年齢" => fields.min_age.map(|age| age.to_string()).unwrap_or_default(),
            "上限年齢" => fields.max_age.map(|age| age.to_string()).unwrap_or_default(),
            "日程" => schedules_cell(&fields.schedules),
            "車いす対応車両" => if fields.capabilities.wheelchair_vehicle {
                "○"
            } else {
                ""
            }
            .to_string(),
            "対応言語" => join(fields.capabilities.languages.iter().map(String::as_str).collect()),
            "担い手の性別" => join(
                fields
                    .capabilities
                    .helper_genders
                    .iter()
                    .map(|g| g.label())
                    .collect(),
            ),
            "状態" => fields.status.label().to_string(),
            "状態の説明" => fields.status_note.clone(),
            "住所" if hide => String::new(),
            "住所" => fields.location.address.clone(),
            "緯度" if hide => String::new(),
            "緯度" => fields
                .location
                .point
                .map(|p| p.latitude.to_string())
                .unwrap_or_default(),
            "経度" if hide => String::new(),
            "経度" => fields
                .location
                .point
                .map(|p| p.longitude.to_string())
                .unwrap_or_default(),
            "住所非公開" => if fields.location.confidential { "○" } else { "" }.to_string(),
            "URL" => fields.url.clone(),
            "説明" => fields.description.clone(),
            other => unreachable!("column {other} has no export"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_read_back_as_written() {
        let fees = [
            Fee::Unknown,
            Fee::Free {
                description: String::new(),
            },
            Fee::Free {
                description: "材料費のみ実費".into(),
            },
            Fee::Paid {
                amount_yen: 300,
                unit: "1回".into(),
                description: String::new(),
            },
            Fee::Paid {
                amount_yen: 1000,
                unit: "月".into(),
                description: "送迎込み".into(),
            },
            Fee::Paid {
                amount_yen: 0,
                unit: String::new(),
                description: "実費".into(),
            },
        ];
        for fee in fees {
            let cell = fee_cell(&fee);
            let raw = parse_fee(&cell).unwrap();
            let back = match raw {
                None => Fee::Unknown,
                Some(raw) if raw.free => Fee::Free {
                    description: raw.description,
                },
                Some(raw) => Fee::Paid {
                    amount_yen: raw.amount_yen,
                    unit: raw.unit,
                    description: raw.description,
                },
            };
            assert_eq!(back, fee, "cell {cell:?}");
        }
    }

    #[test]
    fn fee_cells_as_typed() {
        let raw = parse_fee("１，０００円／月").unwrap().unwrap();
        assert_eq!((raw.free, raw.amount_yen, raw.unit.as_str()), (false, 1000, "月"));
        assert!(parse_fee("無料です").is_err());
        for wrong in ["-300円/1回", "－300円/1回", "▲300円", "300.5円/回", "+300円"] {
            assert!(parse_fee(wrong).is_err(), "{wrong}");
        }
        // A price inside a description is still a description.
        assert_eq!(parse_fee("実費（500円程度）").unwrap().unwrap().amount_yen, 0);
    }

    #[test]
    fn booleans_accept_what_people_type() {
        assert_eq!(parse_bool("○"), Ok(true));
        assert_eq!(parse_bool(" "), Ok(false));
        assert!(parse_bool("たぶん").is_err());
    }

    #[test]
    fn eligibility_by_label() {
        assert_eq!(
            parse_eligibility("要支援1、要支援２").unwrap(),
            [Some(Eligibility::Support1), Some(Eligibility::Support2)]
        );
        assert!(parse_eligibility("要介護6").is_err());
    }

    #[test]
    fn area_names_prefer_codes_then_unique_names_then_ids() {
        let city = Uuid::now_v7();
        let west = Uuid::now_v7();
        let twin_a = Uuid::now_v7();
        let twin_b = Uuid::now_v7();
        let area = |id, name: &str, code: Option<&str>| AreaForNames {
            id,
            name: name.into(),
            code: code.map(str::to_string),
            municipality_code: "212024".into(),
        };
        let names = AreaNames::new(
            "212024",
            &[
                area(city, "大垣市", Some("212024")),
                area(west, "西部圏域", None),
                area(twin_a, "本町", None),
                area(twin_b, "本町", None),
            ],
        );
        assert_eq!(names.cell(&[city, west]), "212024、西部圏域");
        assert_eq!(names.cell(&[twin_a]), twin_a.to_string());
        assert_eq!(names.resolve("西部圏域"), Ok(west.to_string()));
        assert!(names.resolve("本町").unwrap_err().contains("複数"));
    }
}
