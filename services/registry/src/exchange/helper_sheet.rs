//! The helper sheet (担い手名簿): one row per helper, Japanese headers (English aliases
//! accepted), and cells in words people type — skills by their names (ゴミ出し、買い物支援),
//! 「火 9:00〜12:00、金 13:00〜15:00」, 「8回」, 「活動中」, one training course per line
//! (「生活支援サポーター養成講座 2025-06-14 12時間（大垣市社会福祉協議会）」). A written row reads
//! back to the same helper.

use tsunagu_runtime::{taxonomy, text, weekly};
use tsunagu_tabular::Row;

use super::common::{
    EXTERNAL_ID, ID, Layout, check_contacts, contact_kind_of, contacts_cell, merge_contacts, parse_contacts,
};
use super::resource_sheet::{AreaNames, CellProblem, Column, OrganizationNames, items};
use crate::community::common::{ContactInput, TimeWindow, Weekday, WindowInput};
use crate::community::helpers::{
    Gender, Helper, HelperInput, HelperKind, HelperStatus, LoadInput, LoadUnit, MonthlyLoad, TrainingInput,
    TrainingRecord,
};
use crate::community::store::Stored;
use crate::contact::ContactKind;

pub const NAME: &str = "氏名";
pub const ORGANIZATION_ID: &str = "所属団体ID";
pub const ORGANIZATION_NAME: &str = "所属団体名";
pub const STATUS: &str = "状態";
const PHONE: &str = "電話";
const EMAIL: &str = "メール";

pub const COLUMNS: &[Column] = &[
    Column {
        header: ID,
        aliases: &["id", "担い手ID"],
        field: "id",
    },
    Column {
        header: EXTERNAL_ID,
        aliases: &["external_id", "管理番号", "登録番号"],
        field: "external_id",
    },
    Column {
        header: NAME,
        aliases: &["name", "名前", "氏名・団体名"],
        field: "name",
    },
    Column {
        header: "読み",
        aliases: &["name_kana", "よみがな", "ふりがな", "フリガナ", "カナ"],
        field: "name_kana",
    },
    Column {
        header: "種類",
        aliases: &["kind", "個人・グループ"],
        field: "kind",
    },
    Column {
        header: ORGANIZATION_ID,
        aliases: &["organization_id"],
        field: "organization_id",
    },
    Column {
        header: ORGANIZATION_NAME,
        aliases: &["organization", "所属団体", "所属"],
        field: "organization_id",
    },
    Column {
        header: "技能",
        aliases: &["skills", "できること", "活動内容"],
        field: "skills",
    },
    Column {
        header: "活動区域",
        aliases: &["area_ids", "areas", "活動地域"],
        field: "area_ids",
    },
    Column {
        header: "活動できる時間",
        aliases: &["availability", "活動可能時間", "活動できる曜日・時間"],
        field: "availability",
    },
    Column {
        header: "月の上限",
        aliases: &["monthly_load", "月の活動上限"],
        field: "monthly_load",
    },
    Column {
        header: "性別",
        aliases: &["gender"],
        field: "gender",
    },
    Column {
        header: "言語",
        aliases: &["languages", "対応言語"],
        field: "languages",
    },
    Column {
        header: STATUS,
        aliases: &["status"],
        field: "status",
    },
    Column {
        header: "研修",
        aliases: &["training_records", "養成研修", "研修歴"],
        field: "training_records",
    },
    Column {
        header: PHONE,
        aliases: &["phone", "電話番号", "TEL"],
        field: "contact_points",
    },
    Column {
        header: EMAIL,
        aliases: &["email", "メールアドレス", "e-mail"],
        field: "contact_points",
    },
];

/// A helper's fields as a sheet gives them, owned, for a [`HelperInput`] to borrow.
#[derive(Debug, Clone, Default)]
pub struct HelperCells {
    pub organization_id: String,
    pub name: String,
    pub name_kana: String,
    pub kind: Option<HelperKind>,
    pub skills: Vec<String>,
    pub area_ids: Vec<String>,
    pub availability: Vec<WindowInput>,
    pub monthly_load: Option<(u32, LoadUnit)>,
    pub gender: Option<Gender>,
    pub languages: Vec<String>,
    /// (course name, completed on, hours, organiser).
    pub training_records: Vec<(String, String, f64, String)>,
    pub contact_points: Vec<(ContactKind, String, String)>,
    pub status: Option<HelperStatus>,
    pub external_id: String,
}

impl HelperCells {
    /// What a new helper starts from: an individual, not trained yet.
    pub fn new_helper() -> HelperCells {
        HelperCells {
            kind: Some(HelperKind::Individual),
            status: Some(HelperStatus::Prospective),
            ..HelperCells::default()
        }
    }

    pub fn of(helper: &Helper) -> HelperCells {
        HelperCells {
            organization_id: helper.organization_id.to_string(),
            name: helper.name.clone(),
            name_kana: helper.name_kana.clone(),
            kind: Some(helper.kind),
            skills: helper.skills.clone(),
            area_ids: helper.area_ids.iter().map(ToString::to_string).collect(),
            availability: helper
                .availability
                .iter()
                .map(|window| WindowInput {
                    weekday: Some(window.weekday),
                    start_minute: window.start_minute,
                    end_minute: window.end_minute,
                })
                .collect(),
            monthly_load: helper.monthly_load.map(|load| (load.amount, load.unit)),
            gender: helper.gender,
            languages: helper.languages.clone(),
            training_records: helper
                .training_records
                .iter()
                .map(|record| {
                    (
                        record.course_name.clone(),
                        record.completed_on.to_string(),
                        record.hours,
                        record.organiser.clone(),
                    )
                })
                .collect(),
            contact_points: helper
                .contact_points
                .iter()
                .map(|point| (point.kind, point.value.clone(), point.label.clone()))
                .collect(),
            status: Some(helper.status),
            external_id: helper.external_id.clone().unwrap_or_default(),
        }
    }

    pub fn input(&self) -> HelperInput<'_> {
        HelperInput {
            organization_id: &self.organization_id,
            name: &self.name,
            name_kana: &self.name_kana,
            kind: self.kind,
            skills: &self.skills,
            area_ids: &self.area_ids,
            availability: self.availability.clone(),
            monthly_load: self.monthly_load.map(|(amount, unit)| LoadInput {
                amount,
                unit: Some(unit),
            }),
            gender: Ok(self.gender),
            languages: &self.languages,
            training_records: self
                .training_records
                .iter()
                .map(|(course_name, completed_on, hours, organiser)| TrainingInput {
                    course_name,
                    completed_on,
                    hours: *hours,
                    organiser,
                })
                .collect(),
            contact_points: self
                .contact_points
                .iter()
                .map(|(kind, value, label)| -> ContactInput<'_> { (Some(*kind), value, label) })
                .collect(),
            status: self.status,
            external_id: &self.external_id,
        }
    }
}

/// Overlays the row's columns on `cells` (the stored helper's, or a new helper's). Returns
/// the cell problems and the fields the sheet's columns name (the update's mask).
pub fn overlay(
    layout: &Layout,
    row: &Row,
    cells: &mut HelperCells,
    areas: &AreaNames,
    organizations: &OrganizationNames,
) -> (Vec<CellProblem>, Vec<&'static str>) {
    let mut problems = Vec::new();
    let mut note = |column: &str, result: Result<(), String>| {
        if let Err(reason) = result {
            problems.push(CellProblem {
                column: column.into(),
                reason,
            });
        }
    };
    let mut fields: Vec<&'static str> = Vec::new();
    let mut contacts = Vec::new();
    let organization_id_given = layout
        .cell(row, ORGANIZATION_ID)
        .is_some_and(|cell| !cell.trim().is_empty());
    for (header, cell) in layout.cells(row) {
        if let Some(column) = COLUMNS.iter().find(|column| column.header == header)
            && column.field != "id"
            && !fields.contains(&column.field)
        {
            fields.push(column.field);
        }
        match header {
            EXTERNAL_ID => cells.external_id = cell.to_string(),
            NAME => cells.name = cell.to_string(),
            "読み" => cells.name_kana = cell.to_string(),
            "種類" => note(
                header,
                parse_kind(cell).map(|kind| cells.kind = kind.or(cells.kind)),
            ),
            ORGANIZATION_ID if organization_id_given => cells.organization_id = cell.trim().to_string(),
            ORGANIZATION_NAME if !organization_id_given && !cell.trim().is_empty() => note(
                header,
                organizations
                    .resolve(&text::nfkc(cell))
                    .map(|id| cells.organization_id = id),
            ),
            "技能" => cells.skills = items(cell),
            "活動区域" => {
                let mut ids = Vec::new();
                for item in items(cell) {
                    match areas.resolve(&item) {
                        Ok(id) => ids.push(id),
                        Err(reason) => note(header, Err(reason)),
                    }
                }
                cells.area_ids = ids;
            }
            "活動できる時間" => note(
                header,
                parse_availability(cell).map(|windows| cells.availability = windows),
            ),
            "月の上限" => note(
                header,
                parse_monthly_load(cell).map(|load| cells.monthly_load = load),
            ),
            "性別" => note(header, parse_gender(cell).map(|gender| cells.gender = gender)),
            "言語" => cells.languages = items(cell),
            STATUS => note(
                header,
                parse_status(cell).map(|status| cells.status = status.or(cells.status)),
            ),
            "研修" => note(
                header,
                parse_training(cell).map(|records| cells.training_records = records),
            ),
            _ => {
                if let Some(kind) = contact_kind_of(header) {
                    let given = parse_contacts(cell, kind);
                    note(header, check_contacts(kind, &given));
                    contacts.push((kind, given));
                }
            }
        }
    }
    if !contacts.is_empty() {
        cells.contact_points = merge_contacts(&cells.contact_points, contacts);
    }
    (problems, fields)
}

fn parse_kind(cell: &str) -> Result<Option<HelperKind>, String> {
    match text::nfkc(cell).trim().to_lowercase().as_str() {
        "" => Ok(None),
        "個人" | "individual" => Ok(Some(HelperKind::Individual)),
        "グループ" | "団体" | "group" => Ok(Some(HelperKind::Group)),
        other => Err(format!(
            "「個人」か「グループ」で入力してください（入力: {other:?}） / kind is individual or group"
        )),
    }
}

fn kind_label(kind: HelperKind) -> &'static str {
    match kind {
        HelperKind::Individual => "個人",
        HelperKind::Group => "グループ",
    }
}

fn parse_gender(cell: &str) -> Result<Option<Gender>, String> {
    match text::nfkc(cell).trim().to_lowercase().as_str() {
        "" => Ok(None),
        "女性" | "女" | "female" => Ok(Some(Gender::Female)),
        "男性" | "男" | "male" => Ok(Some(Gender::Male)),
        "その他" | "other" => Ok(Some(Gender::Other)),
        other => Err(format!(
            "「女性」「男性」「その他」のいずれか、または空欄です（入力: {other:?}） / unknown gender"
        )),
    }
}

fn gender_label(gender: Gender) -> &'static str {
    match gender {
        Gender::Female => "女性",
        Gender::Male => "男性",
        Gender::Other => "その他",
    }
}

/// A status by its label (養成前, 養成済, 活動中, 休止), a word people use for it, or its
/// code; empty is `None` (the helper keeps its status).
fn parse_status(cell: &str) -> Result<Option<HelperStatus>, String> {
    use HelperStatus::*;
    let wanted = text::nfkc(cell).trim().to_lowercase();
    if wanted.is_empty() {
        return Ok(None);
    }
    let aliases: &[(&str, HelperStatus)] = &[
        ("見込み", Prospective),
        ("登録希望", Prospective),
        ("研修修了", Trained),
        ("養成研修修了", Trained),
        ("修了", Trained),
        ("活動", Active),
        ("休止・退会", Inactive),
        ("退会", Inactive),
    ];
    [Prospective, Trained, Active, Inactive]
        .into_iter()
        .find(|status| status.label() == wanted || status.as_str() == wanted)
        .or_else(|| {
            aliases
                .iter()
                .find(|(alias, _)| *alias == wanted)
                .map(|(_, status)| *status)
        })
        .map(Some)
        .ok_or_else(|| {
            format!(
                "状態は「養成前」「養成済」「活動中」「休止」のいずれかです（入力: {wanted:?}） / unknown status"
            )
        })
}

/// 「火 9:00〜12:00、金 13:00〜15:00」, read by the shared weekly-window reader.
pub fn parse_availability(cell: &str) -> Result<Vec<WindowInput>, String> {
    Ok(weekly::parse_windows(cell)?
        .into_iter()
        .map(|window| WindowInput {
            weekday: Some(Weekday::from_chrono(window.weekday)),
            start_minute: window.start_minute,
            end_minute: window.end_minute,
        })
        .collect())
}

pub fn availability_cell(windows: &[TimeWindow]) -> String {
    let windows: Vec<weekly::WeeklyWindow> = windows
        .iter()
        .map(|window| weekly::WeeklyWindow {
            weekday: window.weekday.to_chrono(),
            start_minute: window.start_minute,
            end_minute: window.end_minute,
        })
        .collect();
    weekly::windows_text(&windows)
}

/// 「8回」「10時間」 (also 「月8回」「10時間/月」); empty means not stated.
pub fn parse_monthly_load(cell: &str) -> Result<Option<(u32, LoadUnit)>, String> {
    let normalised: String = text::nfkc(cell).chars().filter(|c| !c.is_whitespace()).collect();
    if normalised.is_empty() {
        return Ok(None);
    }
    let bare = normalised.strip_prefix('月').unwrap_or(&normalised);
    let bare = bare.strip_suffix("まで").unwrap_or(bare);
    let bare = bare.strip_suffix("/月").unwrap_or(bare);
    let digits_end = bare.find(|c: char| !c.is_ascii_digit()).unwrap_or(bare.len());
    let (amount, unit) = bare.split_at(digits_end);
    let unit = match unit {
        "回" => Some(LoadUnit::Visits),
        "時間" | "h" => Some(LoadUnit::Hours),
        _ => None,
    };
    match (amount.parse::<u32>(), unit) {
        (Ok(amount), Some(unit)) => Ok(Some((amount, unit))),
        _ => Err(format!(
            "「8回」「10時間」のように数と単位（回・時間）で書いてください（入力: {normalised:?}） / e.g. 8回 or 10時間"
        )),
    }
}

pub fn monthly_load_cell(load: Option<MonthlyLoad>) -> String {
    match load {
        None => String::new(),
        Some(MonthlyLoad {
            amount,
            unit: LoadUnit::Visits,
        }) => format!("{amount}回"),
        Some(MonthlyLoad {
            amount,
            unit: LoadUnit::Hours,
        }) => format!("{amount}時間"),
    }
}

const TRAINING_FORMAT: &str = "研修は1行に1件、「講座名 2025-06-14 12時間（主催者）」の形で書いてください（時間と主催者は省略可） / one course per line: name, date, hours, (organiser)";

/// 「2025-06-14」「2025/6/14」「2025年6月14日」 as 2025-06-14; `None` if it is no date.
fn normalise_date(token: &str) -> Option<String> {
    let token = token.replace(['年', '月', '/'], "-");
    let token = token.strip_suffix('日').unwrap_or(&token);
    let parts: Vec<&str> = token.split('-').collect();
    let [year, month, day] = parts[..] else {
        return None;
    };
    let numeric = |part: &str| {
        (!part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
            .then(|| part.parse::<u32>().ok())
            .flatten()
    };
    match (numeric(year), numeric(month), numeric(day)) {
        (Some(year), Some(month), Some(day)) if year >= 1000 => {
            Some(format!("{year:04}-{month:02}-{day:02}"))
        }
        _ => None,
    }
}

/// One course per line: 「講座名 2025-06-14 12時間（主催者）」; the hours and the organiser may
/// be left out. The date is checked by the helper's rules (a real date, not in the future).
pub fn parse_training(cell: &str) -> Result<Vec<(String, String, f64, String)>, String> {
    let mut records = Vec::new();
    for line in text::nfkc(cell).lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (rest, organiser) = split_trailing_brackets(line);
        let mut rest = rest.trim_end();
        let mut hours = 0.0;
        if let Some((before, last)) = rest.rsplit_once(char::is_whitespace)
            && let Some(number) = last.strip_suffix("時間").or_else(|| last.strip_suffix('h'))
        {
            hours = number.parse::<f64>().map_err(|_| {
                format!(
                    "研修時間は「12時間」のように数字で書いてください（入力: {last:?}） / hours as a number"
                )
            })?;
            rest = before.trim_end();
        }
        let (course, date) = rest
            .rsplit_once(char::is_whitespace)
            .and_then(|(course, date)| normalise_date(date).map(|date| (course.trim(), date)))
            .ok_or_else(|| format!("{TRAINING_FORMAT}（入力: {line:?}）"))?;
        records.push((course.to_string(), date, hours, organiser));
    }
    Ok(records)
}

/// 「本文（注記）」 → (本文, 注記) when the line ends with balanced brackets, else (line, "").
fn split_trailing_brackets(line: &str) -> (&str, String) {
    if !line.ends_with(')') {
        return (line, String::new());
    }
    let mut depth = 0usize;
    for (at, c) in line.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return (&line[..at], line[at + 1..line.len() - 1].trim().to_string());
                }
            }
            _ => {}
        }
    }
    (line, String::new())
}

pub fn training_cell(records: &[TrainingRecord]) -> String {
    records
        .iter()
        .map(|record| {
            let mut line = format!("{} {}", record.course_name, record.completed_on);
            if record.hours != 0.0 {
                line.push_str(&format!(" {}時間", record.hours));
            }
            if !record.organiser.is_empty() {
                line.push_str(&format!("（{}）", record.organiser));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A skill code by its Japanese name when the name reads back to the same code.
fn skill_label(code: &str) -> String {
    taxonomy::bundled()
        .iter()
        .find(|category| category.code == code)
        .filter(|category| taxonomy::resolve_bundled(&category.name).is_some_and(|found| found.code == code))
        .map_or_else(|| code.to_string(), |category| category.name.clone())
}

/// The headers an export writes, in order; contact columns only when asked for.
pub fn export_headers(include_contact_points: bool) -> Vec<&'static str> {
    COLUMNS
        .iter()
        .map(|column| column.header)
        .filter(|header| include_contact_points || contact_kind_of(header).is_none())
        .collect()
}

pub fn export_row(
    helper: &Stored<Helper>,
    areas: &AreaNames,
    organizations: &OrganizationNames,
    include_contact_points: bool,
) -> Vec<String> {
    let state = &helper.state;
    export_headers(include_contact_points)
        .into_iter()
        .map(|header| match header {
            ID => helper.meta.id.to_string(),
            EXTERNAL_ID => state.external_id.clone().unwrap_or_default(),
            NAME => state.name.clone(),
            "読み" => state.name_kana.clone(),
            "種類" => kind_label(state.kind).to_string(),
            ORGANIZATION_ID => state.organization_id.to_string(),
            ORGANIZATION_NAME => organizations.name_of(state.organization_id).to_string(),
            "技能" => state
                .skills
                .iter()
                .map(|code| skill_label(code))
                .collect::<Vec<_>>()
                .join("、"),
            "活動区域" => areas.cell(&state.area_ids),
            "活動できる時間" => availability_cell(&state.availability),
            "月の上限" => monthly_load_cell(state.monthly_load),
            "性別" => state.gender.map(gender_label).unwrap_or_default().to_string(),
            "言語" => state.languages.join("、"),
            STATUS => state.status.label().to_string(),
            "研修" => training_cell(&state.training_records),
            header => match contact_kind_of(header) {
                Some(kind) => contacts_cell(&state.contact_points, kind),
                None => unreachable!("column {header} has no export"),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn window(weekday: Weekday, start_minute: u32, end_minute: u32) -> TimeWindow {
        TimeWindow {
            weekday,
            start_minute,
            end_minute,
        }
    }

    fn as_windows(inputs: Vec<WindowInput>) -> Vec<TimeWindow> {
        inputs
            .into_iter()
            .map(|input| window(input.weekday.unwrap(), input.start_minute, input.end_minute))
            .collect()
    }

    #[test]
    fn time_windows_read_as_typed() {
        assert_eq!(
            as_windows(parse_availability("火 9:00〜12:00、金 13:00〜15:00").unwrap()),
            [
                window(Weekday::Tuesday, 540, 720),
                window(Weekday::Friday, 780, 900)
            ]
        );
        assert_eq!(
            as_windows(parse_availability("月曜日・水曜 ９：３０～１１：００\n土日 9時〜12時").unwrap()),
            [
                window(Weekday::Monday, 570, 660),
                window(Weekday::Wednesday, 570, 660),
                window(Weekday::Saturday, 540, 720),
                window(Weekday::Sunday, 540, 720),
            ]
        );
        assert_eq!(parse_availability("月〜金 9:00-10:00").unwrap().len(), 5);
        assert_eq!(parse_availability("金〜月 18:00〜24:00").unwrap().len(), 4);
        assert!(parse_availability(" ").unwrap().is_empty());
        assert!(parse_availability("午前中").is_err());
        assert!(parse_availability("火 9:00").unwrap_err().contains("終わり"));
        assert!(parse_availability("祝 9:00〜10:00").unwrap_err().contains("祝"));
        assert!(parse_availability("火 9:75〜10:00").is_err());
        assert!(parse_availability("火 23:00〜25:00").is_err());
    }

    #[test]
    fn time_windows_round_trip() {
        let windows = [
            window(Weekday::Monday, 0, 30),
            window(Weekday::Tuesday, 540, 720),
            window(Weekday::Tuesday, 780, 1440),
            window(Weekday::Sunday, 605, 615),
        ];
        let cell = availability_cell(&windows);
        assert_eq!(
            cell,
            "月 0:00〜0:30、火 9:00〜12:00、火 13:00〜24:00、日 10:05〜10:15"
        );
        assert_eq!(as_windows(parse_availability(&cell).unwrap()), windows);
    }

    #[test]
    fn monthly_loads_read_as_typed_and_round_trip() {
        assert_eq!(parse_monthly_load("8回"), Ok(Some((8, LoadUnit::Visits))));
        assert_eq!(parse_monthly_load("月１０時間"), Ok(Some((10, LoadUnit::Hours))));
        assert_eq!(parse_monthly_load("10時間/月"), Ok(Some((10, LoadUnit::Hours))));
        assert_eq!(parse_monthly_load(""), Ok(None));
        assert!(parse_monthly_load("8").is_err());
        assert!(parse_monthly_load("たくさん").is_err());
        for load in [
            None,
            Some(MonthlyLoad {
                amount: 8,
                unit: LoadUnit::Visits,
            }),
            Some(MonthlyLoad {
                amount: 744,
                unit: LoadUnit::Hours,
            }),
        ] {
            let back = parse_monthly_load(&monthly_load_cell(load)).unwrap();
            assert_eq!(back, load.map(|load| (load.amount, load.unit)));
        }
    }

    #[test]
    fn training_cells_read_as_typed() {
        assert_eq!(
            parse_training(
                "生活支援サポーター養成講座 2025-06-14 12時間\n\n認知症サポーター 養成講座 2024/4/1（大垣市）"
            )
            .unwrap(),
            [
                (
                    "生活支援サポーター養成講座".to_string(),
                    "2025-06-14".to_string(),
                    12.0,
                    String::new()
                ),
                (
                    "認知症サポーター 養成講座".into(),
                    "2024-04-01".into(),
                    0.0,
                    "大垣市".into()
                ),
            ]
        );
        assert_eq!(parse_training("講座 2025年6月14日 1.5時間").unwrap()[0].2, 1.5);
        assert!(parse_training("講座のみ").is_err());
        assert!(parse_training("講座 2025-06-14 十二時間").is_err());
    }

    #[test]
    fn training_cells_round_trip() {
        let record = |course: &str, date: (i32, u32, u32), hours: f64, organiser: &str| TrainingRecord {
            course_name: course.into(),
            completed_on: NaiveDate::from_ymd_opt(date.0, date.1, date.2).unwrap(),
            hours,
            organiser: organiser.into(),
        };
        let records = [
            record(
                "生活支援サポーター養成講座",
                (2025, 6, 14),
                12.0,
                "大垣市社会福祉協議会",
            ),
            record("講座 2020-01-01 (旧)", (2025, 7, 1), 0.0, ""),
            record("入門", (2025, 8, 1), 1.5, "NPO(ささえあい)"),
            record("短時間", (2025, 8, 2), 0.1 + 0.2, ""),
        ];
        let cell = training_cell(&records);
        assert!(cell.starts_with("生活支援サポーター養成講座 2025-06-14 12時間（大垣市社会福祉協議会）\n"));
        let back: Vec<TrainingRecord> = parse_training(&cell)
            .unwrap()
            .into_iter()
            .map(|(course, date, hours, organiser)| TrainingRecord {
                course_name: course,
                completed_on: date.parse().unwrap(),
                hours,
                organiser,
            })
            .collect();
        assert_eq!(back, records);
    }

    #[test]
    fn words_for_kind_gender_and_status() {
        assert_eq!(parse_kind("グループ"), Ok(Some(HelperKind::Group)));
        assert_eq!(parse_kind(""), Ok(None));
        assert_eq!(parse_gender("女性"), Ok(Some(Gender::Female)));
        assert_eq!(parse_status("活動中"), Ok(Some(HelperStatus::Active)));
        assert_eq!(parse_status("研修修了"), Ok(Some(HelperStatus::Trained)));
        assert_eq!(parse_status("見込み"), Ok(Some(HelperStatus::Prospective)));
        assert!(parse_status("引退").is_err());
        for status in [
            HelperStatus::Prospective,
            HelperStatus::Trained,
            HelperStatus::Active,
            HelperStatus::Inactive,
        ] {
            assert_eq!(parse_status(status.label()), Ok(Some(status)));
        }
        for code in ["life.garbage", "life.shopping"] {
            assert_eq!(taxonomy::resolve_bundled(&skill_label(code)).unwrap().code, code);
        }
    }
}
