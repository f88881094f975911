//! Sheets of needs and of area issues, as coordinators and survey teams keep them, read into
//! submissions row by row. A row with a problem is reported by its row number, its column and
//! the reason, in the words of the sheet; the other rows go on. Pure: no I/O.

use chrono::{NaiveTime, TimeZone};
use tsunagu_runtime::error::{FieldViolation, ServiceError};
use tsunagu_runtime::{text, weekly};
use tsunagu_tabular::{Row, Sheet};

use crate::area_issues::{AreaIssueInput, NewAreaIssue, Source};
use crate::consent::{ConsentGiver, ConsentMethod, RawConsent, Scopes};
use crate::domain::{NeedInput, NewNeed, RawDetails, RawNeed, Urgency, parse_date};
use crate::need_fields::{Channel, Eligibility, Frequency, Gender};

/// One column a sheet may have: its Japanese header, English aliases, and the request field
/// (or field prefix) it fills, so that a field violation can name the column.
pub struct Column {
    pub header: &'static str,
    pub aliases: &'static [&'static str],
    pub field: &'static str,
}

const fn column(header: &'static str, aliases: &'static [&'static str], field: &'static str) -> Column {
    Column {
        header,
        aliases,
        field,
    }
}

pub const REQUEST_ID: &str = "受付番号";

pub const NEED_COLUMNS: &[Column] = &[
    column(REQUEST_ID, &["request_id", "受付ID"], "request_id"),
    column("区域ID", &["area_id"], "area_id"),
    column("カテゴリ", &["category", "困りごと"], "category"),
    column("緊急度", &["urgency"], "urgency"),
    column("利用者ID", &["resident_id"], "resident_id"),
    column("頻度", &["frequency"], "details.frequency"),
    column(
        "希望日時",
        &["time_windows", "希望曜日・時間"],
        "details.time_windows",
    ),
    column("開始日", &["start_date"], "details.start_date"),
    column("期限", &["deadline"], "details.deadline"),
    column("対象者区分", &["eligibility", "要介護度"], "details.eligibility"),
    column(
        "負担できる料金",
        &["max_fee_yen", "料金上限"],
        "details.max_fee_yen",
    ),
    column(
        "車いす対応車両",
        &["wheelchair_vehicle"],
        "details.requirements.wheelchair_vehicle",
    ),
    column(
        "担い手の性別",
        &["helper_gender"],
        "details.requirements.helper_gender",
    ),
    column("言語", &["languages"], "details.requirements.languages"),
    column(
        "なじみの担い手ID",
        &["preferred_helper_id"],
        "details.requirements.preferred_helper_id",
    ),
    column("緯度", &["latitude"], "details.location"),
    column("経度", &["longitude"], "details.location"),
    column("経路", &["channel", "相談経路"], "channel"),
    column("紹介者", &["referrer", "referrer_name"], "referrer.name"),
    column(
        "紹介者の団体ID",
        &["referrer_organization_id"],
        "referrer.organization_id",
    ),
    column("紹介者連絡先", &["referrer_contact"], "referrer.contact"),
    column("備考", &["notes"], "notes"),
    column("同意", &["consent", "同意の範囲"], "consent.scopes"),
    column("同意者", &["consent_given_by"], "consent.given_by"),
    column("同意方法", &["consent_method"], "consent.method"),
    column(
        "同意日",
        &["consent_date", "consented_at"],
        "consent.consented_at",
    ),
];

pub const AREA_ISSUE_COLUMNS: &[Column] = &[
    column(REQUEST_ID, &["request_id", "受付ID"], "request_id"),
    column("出典", &["source", "出所"], "source"),
    column("区域ID", &["area_id"], "area_id"),
    column("カテゴリ", &["category", "困りごと"], "category"),
    column("件数", &["count", "人数"], "count"),
    column("推計", &["estimated"], "estimated"),
    column("期間開始", &["period_from"], "period_from"),
    column("期間終了", &["period_to"], "period_to"),
    column("備考", &["notes"], "notes"),
];

/// A rejected row: the spreadsheet's row number, the column at fault ("" for the whole row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub row: u32,
    pub column: String,
    pub reason: String,
}

/// The columns a sheet has, found by header or alias.
pub struct Layout {
    columns: &'static [Column],
    positions: Vec<(usize, &'static Column)>,
    pub ignored_headers: Vec<String>,
}

impl Layout {
    /// The layout, or the problem that makes the whole sheet unreadable (no 受付番号 column).
    pub fn of(sheet: &Sheet, columns: &'static [Column]) -> Result<Layout, String> {
        let mut positions = Vec::new();
        for column in columns {
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
                !header.trim().is_empty() && !positions.iter().any(|(at, _)| at == index)
            })
            .map(|(_, header)| header.clone())
            .collect();
        let layout = Layout {
            columns,
            positions,
            ignored_headers,
        };
        if !layout
            .positions
            .iter()
            .any(|(_, column)| column.header == REQUEST_ID)
        {
            return Err(format!(
                "「{REQUEST_ID}」の列がありません。各行を一度だけ取り込むために必要です / the sheet needs a {REQUEST_ID} (request id) column"
            ));
        }
        Ok(layout)
    }

    fn cell<'r>(&self, row: &'r Row, header: &str) -> &'r str {
        self.positions
            .iter()
            .find(|(_, column)| column.header == header)
            .map_or("", |(index, _)| row.cell(*index))
    }

    /// The column that answers for a field violation: the most specific column whose field
    /// is a prefix of it; the violation's own path when no column fills it.
    fn column_for(&self, field: &str) -> String {
        self.columns
            .iter()
            .filter(|column| {
                field == column.field
                    || field.starts_with(&format!("{}.", column.field))
                    || field.starts_with(&format!("{}[", column.field))
            })
            .max_by_key(|column| column.field.len())
            .map_or_else(|| field.to_string(), |column| column.header.to_string())
    }

    fn problems(&self, row: &Row, violations: Vec<FieldViolation>) -> Vec<RowProblem> {
        violations
            .into_iter()
            .map(|v| RowProblem {
                row: row.number as u32,
                column: self.column_for(&v.field),
                reason: v.description,
            })
            .collect()
    }
}

/// Cell problems found while reading a row's cells, before the row is validated as a whole.
struct Cells<'a> {
    layout: &'a Layout,
    row: &'a Row,
    problems: Vec<RowProblem>,
}

impl<'a> Cells<'a> {
    fn text(&self, header: &str) -> &'a str {
        self.layout.cell(self.row, header)
    }

    fn read<T>(&mut self, header: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        match parse(self.text(header)) {
            Ok(value) => Some(value),
            Err(reason) => {
                self.problems.push(RowProblem {
                    row: self.row.number as u32,
                    column: header.to_string(),
                    reason,
                });
                None
            }
        }
    }
}

fn blank(cell: &str) -> bool {
    text::nfkc(cell).trim().is_empty()
}

/// 「○」「はい」「要」「true」… as yes; empty as no.
fn yes(cell: &str) -> Result<bool, String> {
    match text::nfkc(cell).trim().to_lowercase().as_str() {
        "" | "×" | "いいえ" | "不要" | "false" | "no" | "0" | "-" => Ok(false),
        "○" | "〇" | "◯" | "はい" | "要" | "必要" | "true" | "yes" | "1" => Ok(true),
        other => Err(format!(
            "「○」か空欄で入力してください（入力: {other:?}） / write ○ or leave empty"
        )),
    }
}

fn urgency(cell: &str) -> Result<Option<Urgency>, String> {
    match text::nfkc(cell).trim() {
        "" => Ok(None),
        "緊急" | "至急" | "urgent" => Ok(Some(Urgency::Urgent)),
        "通常" | "routine" => Ok(Some(Urgency::Routine)),
        other => Err(format!(
            "緊急度は「緊急」か「通常」です（入力: {other:?}） / urgent or routine"
        )),
    }
}

/// 「300円」「300」「無料のみ」「0」; empty means any fee.
fn fee(cell: &str) -> Result<Option<u32>, String> {
    let compact: String = text::nfkc(cell)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ',')
        .collect();
    match compact.as_str() {
        "" | "問わない" => Ok(None),
        "無料" | "無料のみ" => Ok(Some(0)),
        other => other
            .strip_suffix('円')
            .unwrap_or(other)
            .parse::<u32>()
            .map(Some)
            .map_err(|_| {
                format!(
                    "料金は「300円」「無料のみ」のように入力してください（入力: {cell:?}） / write e.g. 300円"
                )
            }),
    }
}

/// 「女性」 is a preference, 「女性（必須）」 a requirement.
fn helper_gender(cell: &str) -> Result<(Option<Gender>, bool), String> {
    let cell = text::nfkc(cell);
    let cell = cell.trim();
    if cell.is_empty() {
        return Ok((None, false));
    }
    let (gender, required) = match cell.strip_suffix("(必須)") {
        Some(gender) => (gender, true),
        None => (cell, false),
    };
    Gender::parse_label(gender)
        .map(|gender| (Some(gender), required))
        .ok_or_else(|| {
            format!(
                "性別は「女性」「男性」（必須なら「女性（必須）」）です（入力: {cell:?}） / female or male"
            )
        })
}

fn items(cell: &str) -> Vec<String> {
    text::nfkc(cell)
        .split(['、', ',', ';', '\n'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

fn consent_scopes(cell: &str) -> Result<Scopes, String> {
    let mut scopes = Scopes::default();
    for item in items(cell) {
        match item.as_str() {
            "提供者への共有" | "ニーズの共有" | "共有" => scopes.share_need = true,
            "連絡先の共有" | "受諾後の連絡先の共有" => scopes.share_contact = true,
            other => {
                return Err(format!(
                    "同意の範囲は「提供者への共有」「連絡先の共有」です（入力: {other:?}） / unknown consent scope"
                ));
            }
        }
    }
    Ok(scopes)
}

fn windows(cell: &str) -> Result<Vec<(u8, u32, u32)>, String> {
    Ok(weekly::parse_windows(cell)?
        .into_iter()
        .map(|w| (w.weekday.number_from_monday() as u8, w.start_minute, w.end_minute))
        .collect())
}

fn location(latitude: &str, longitude: &str) -> Result<Option<(f64, f64)>, String> {
    let number = |cell: &str| text::nfkc(cell).trim().parse::<f64>();
    match (blank(latitude), blank(longitude)) {
        (true, true) => Ok(None),
        (false, false) => match (number(latitude), number(longitude)) {
            (Ok(latitude), Ok(longitude)) => Ok(Some((latitude, longitude))),
            _ => Err("緯度・経度は数値で入力してください / latitude and longitude must be numbers".into()),
        },
        _ => Err("緯度と経度は両方入力してください / give both latitude and longitude".into()),
    }
}

fn lookup<T>(cell: &str, parse: impl Fn(&str) -> Option<T>, hint: &str) -> Result<Option<T>, String> {
    if blank(cell) {
        return Ok(None);
    }
    parse(cell)
        .map(Some)
        .ok_or_else(|| format!("{hint}（入力: {:?}）", cell.trim()))
}

/// Reads one row of a needs sheet into a submission, or the row's problems.
pub fn need_row(
    layout: &Layout,
    row: &Row,
    municipality_code: &str,
    imported_by: &str,
) -> Result<NewNeed, Vec<RowProblem>> {
    let mut cells = Cells {
        layout,
        row,
        problems: Vec::new(),
    };
    let urgency = cells.read("緊急度", urgency).flatten();
    let frequency = cells.read("頻度", Frequency::parse_japanese).flatten();
    let time_windows = cells.read("希望日時", windows).unwrap_or_default();
    let eligibility = cells
        .read("対象者区分", |cell| {
            lookup(
                cell,
                Eligibility::parse_label,
                "対象者区分は「要支援1」「事業対象者」などです / unknown eligibility",
            )
        })
        .flatten();
    let max_fee_yen = cells.read("負担できる料金", fee).flatten();
    let wheelchair_vehicle = cells.read("車いす対応車両", yes).unwrap_or(false);
    let (helper_gender, helper_gender_required) =
        cells.read("担い手の性別", helper_gender).unwrap_or((None, false));
    let (latitude, longitude) = (cells.text("緯度"), cells.text("経度"));
    let location = cells.read("緯度", |_| location(latitude, longitude)).flatten();
    let channel = cells
        .read("経路", |cell| {
            lookup(
                cell,
                Channel::parse_label,
                "経路は「地域包括支援センター」「ケアマネジャー」「民生委員」などです / unknown channel",
            )
        })
        .flatten();
    let scopes = cells.read("同意", consent_scopes).unwrap_or_default();
    let given_by = cells
        .read("同意者", |cell| {
            lookup(
                cell,
                ConsentGiver::parse_label,
                "同意者は「本人」「家族」「成年後見人等」です / unknown consent giver",
            )
        })
        .flatten();
    let method = cells
        .read("同意方法", |cell| {
            lookup(
                cell,
                ConsentMethod::parse_label,
                "同意方法は「書面」「口頭」「電子」です / unknown consent method",
            )
        })
        .flatten();
    // A date of consent is midnight of that day, Japan time.
    let consented_at = cells
        .read("同意日", parse_date)
        .flatten()
        .and_then(|date| {
            chrono::FixedOffset::east_opt(9 * 3600)
                .and_then(|jst| jst.from_local_datetime(&date.and_time(NaiveTime::MIN)).single())
        })
        .map(|at| at.with_timezone(&chrono::Utc));
    let any_consent_cell = ["同意", "同意者", "同意方法", "同意日"]
        .iter()
        .any(|h| !blank(cells.text(h)));
    if !cells.problems.is_empty() {
        return Err(cells.problems);
    }
    let raw = RawNeed {
        area_id: cells.text("区域ID").to_string(),
        category: cells.text("カテゴリ").to_string(),
        urgency,
        resident_id: cells.text("利用者ID").to_string(),
        details: RawDetails {
            location,
            time_windows,
            frequency: frequency.map(|f| (f.times, Some(f.per))),
            start_date: cells.text("開始日").to_string(),
            deadline: cells.text("期限").to_string(),
            eligibility,
            max_fee_yen,
            wheelchair_vehicle,
            helper_gender,
            helper_gender_required,
            languages: items(cells.text("言語")),
            preferred_helper_id: cells.text("なじみの担い手ID").to_string(),
        },
        channel,
        referrer_name: cells.text("紹介者").to_string(),
        referrer_organization_id: cells.text("紹介者の団体ID").to_string(),
        referrer_contact: cells.text("紹介者連絡先").to_string(),
        notes: cells.text("備考").to_string(),
    };
    NewNeed::parse(NeedInput {
        request_id: cells.text(REQUEST_ID),
        municipality_code,
        need: raw,
        consent: any_consent_cell.then_some(RawConsent {
            given_by,
            method,
            scopes,
            unknown_scope: false,
            consented_at,
            unreadable_time: false,
        }),
        submitted_by: imported_by,
        draft: false,
    })
    .map_err(|error| row_error(layout, row, error))
}

/// A refusal of a row's content as the row's problems.
pub fn row_error(layout: &Layout, row: &Row, error: ServiceError) -> Vec<RowProblem> {
    match error {
        ServiceError::InvalidArgument(violations) => layout.problems(row, violations),
        ServiceError::AlreadyExists(reason) => vec![RowProblem {
            row: row.number as u32,
            column: REQUEST_ID.into(),
            reason,
        }],
        other => vec![RowProblem {
            row: row.number as u32,
            column: String::new(),
            reason: tonic_message(other),
        }],
    }
}

fn tonic_message(error: ServiceError) -> String {
    tonic::Status::from(error).message().to_string()
}

/// 「ニーズ調査」「地域ケア会議」「予防プランの検証」「つぶやき」, or the stored names.
fn source(cell: &str) -> Option<Source> {
    let cell = text::nfkc(cell);
    let cell = cell.trim();
    match cell {
        "ニーズ調査" | "日常生活圏域ニーズ調査" => Some(Source::NeedsSurvey),
        "地域ケア会議" => Some(Source::CommunityCareMeeting),
        "予防プランの検証" | "ケアプラン点検" => Some(Source::CarePlanReview),
        "つぶやき" | "住民のつぶやき" => Some(Source::Remark),
        other => Source::parse(other),
    }
}

/// Reads one row of an area-issue sheet, or the row's problems.
pub fn area_issue_row(
    layout: &Layout,
    row: &Row,
    municipality_code: &str,
) -> Result<NewAreaIssue, Vec<RowProblem>> {
    let mut cells = Cells {
        layout,
        row,
        problems: Vec::new(),
    };
    let source = cells
        .read("出典", |cell| {
            lookup(
                cell,
                source,
                "出典は「ニーズ調査」「地域ケア会議」「予防プランの検証」「つぶやき」です / unknown source",
            )
        })
        .flatten();
    let count = cells.read("件数", |cell| {
        let compact: String = text::nfkc(cell)
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ',')
            .collect();
        let digits = compact.trim_end_matches(['件', '人', '世', '帯']);
        digits
            .parse::<u32>()
            .map_err(|_| format!("件数は数で入力してください（入力: {cell:?}） / count must be a number"))
    });
    let estimated = cells.read("推計", yes).unwrap_or(false);
    let period_from = cells
        .read("期間開始", parse_date)
        .flatten()
        .map(|d| d.to_string())
        .unwrap_or_default();
    let period_to = cells
        .read("期間終了", parse_date)
        .flatten()
        .map(|d| d.to_string())
        .unwrap_or_default();
    if !cells.problems.is_empty() {
        return Err(cells.problems);
    }
    NewAreaIssue::parse(AreaIssueInput {
        request_id: cells.text(REQUEST_ID),
        municipality_code,
        source,
        area_id: cells.text("区域ID"),
        category: cells.text("カテゴリ"),
        count: count.unwrap_or(0),
        estimated,
        period_from: &period_from,
        period_to: &period_to,
        notes: cells.text("備考"),
    })
    .map_err(|error| row_error(layout, row, error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsunagu_tabular::{Format, read};

    const AREA: &str = "0192f0c4-0000-7000-8000-000000000001";

    fn sheet(csv: &str) -> Sheet {
        read(csv.as_bytes(), Format::Csv).unwrap()
    }

    #[test]
    fn a_need_row_reads_as_coordinators_write_it() {
        let sheet = sheet(&format!(
            "受付番号,区域ID,カテゴリ,頻度,希望日時,対象者区分,負担できる料金,担い手の性別,経路,同意,同意者,同意方法,同意日\n\
             R-1,{AREA},ゴミ出し,週2回,火・金 9:00〜12:00,要支援１,300円,女性（必須）,包括,提供者への共有、連絡先の共有,本人,書面,2026/4/1\n"
        ));
        let layout = Layout::of(&sheet, NEED_COLUMNS).unwrap();
        let need = need_row(&layout, &sheet.rows[0], "212024", "取込").unwrap();
        let details = &need.content.details;
        assert_eq!(need.content.category, "life.garbage");
        assert_eq!(
            details.frequency,
            Some(Frequency {
                times: 2,
                per: crate::need_fields::FrequencyUnit::Week
            })
        );
        assert_eq!(details.time_windows.len(), 2);
        assert_eq!(details.eligibility, Some(Eligibility::Support1));
        assert_eq!(details.max_fee_yen, Some(300));
        assert!(details.requirements.helper_gender_required);
        assert_eq!(need.content.channel, Some(Channel::CommunitySupportCenter));
        let consent = need.consent.unwrap();
        assert!(consent.scopes.share_contact && consent.scopes.share_need);
        assert_eq!(
            consent.consented_at.unwrap().to_rfc3339(),
            "2026-03-31T15:00:00+00:00"
        );
    }

    #[test]
    fn problems_name_the_row_and_the_column() {
        let sheet = sheet(&format!(
            "受付番号,区域ID,カテゴリ,頻度,期限,開始日\n\
             R-2,{AREA},ゴミ出し,ときどき,,\n\
             R-3,?,,,2026-01-01,2026-02-01\n"
        ));
        let layout = Layout::of(&sheet, NEED_COLUMNS).unwrap();
        let first = need_row(&layout, &sheet.rows[0], "212024", "").unwrap_err();
        assert_eq!((first[0].row, first[0].column.as_str()), (2, "頻度"));
        let second = need_row(&layout, &sheet.rows[1], "212024", "").unwrap_err();
        let columns: Vec<_> = second.iter().map(|p| (p.row, p.column.as_str())).collect();
        assert_eq!(columns, [(3, "区域ID"), (3, "カテゴリ"), (3, "期限")]);
    }

    #[test]
    fn a_consent_date_in_the_future_is_refused_by_row_and_column() {
        let sheet = sheet(&format!(
            "受付番号,区域ID,カテゴリ,同意,同意者,同意方法,同意日\n\
             R-4,{AREA},ゴミ出し,提供者への共有,本人,書面,9999-12-31\n\
             R-5,{AREA},ゴミ出し,提供者への共有,本人,書面,1999/12/31\n"
        ));
        let layout = Layout::of(&sheet, NEED_COLUMNS).unwrap();
        for (at, number) in [(0, 2), (1, 3)] {
            let problems = need_row(&layout, &sheet.rows[at], "212024", "").unwrap_err();
            let columns: Vec<_> = problems.iter().map(|p| (p.row, p.column.as_str())).collect();
            assert_eq!(columns, [(number, "同意日")]);
        }
    }

    #[test]
    fn a_sheet_without_request_ids_is_refused_whole() {
        let sheet = sheet("区域ID,カテゴリ\nx,y\n");
        let Err(reason) = Layout::of(&sheet, NEED_COLUMNS) else {
            panic!("a sheet without 受付番号 was read")
        };
        assert!(reason.contains(REQUEST_ID));
    }

    #[test]
    fn an_area_issue_row_reads_as_surveys_report_it() {
        let sheet = sheet(&format!(
            "受付番号,出典,区域ID,カテゴリ,件数,推計,期間開始,期間終了,メモ\n\
             S-1,ニーズ調査,{AREA},買い物支援,42人,○,2026-04-01,2026-09-30,x\n\
             S-2,回覧板,{AREA},買い物支援,たくさん,,2026-04-01,2026-03-01,\n"
        ));
        let layout = Layout::of(&sheet, AREA_ISSUE_COLUMNS).unwrap();
        assert_eq!(layout.ignored_headers, ["メモ"]);
        let issue = area_issue_row(&layout, &sheet.rows[0], "212024").unwrap();
        assert_eq!(
            (issue.count, issue.estimated, issue.source),
            (42, true, Source::NeedsSurvey)
        );
        let problems = area_issue_row(&layout, &sheet.rows[1], "212024").unwrap_err();
        let columns: Vec<_> = problems.iter().map(|p| p.column.as_str()).collect();
        assert_eq!(columns, ["出典", "件数"]);
    }
}
