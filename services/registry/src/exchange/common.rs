//! What the organisation and helper sheets share: the columns a sheet has (found by header
//! or alias, any order, any subset), the ID and 外部ID cells, the contact cells
//! (「0584-78-1111（事務局）、0584-78-2222」), and the bookkeeping of one row in its savepoint.
//!
//! The resource sheet came first and keeps its own layout; its `Column` and `CellProblem`
//! are the shared vocabulary.

use sqlx::PgConnection;
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use tsunagu_runtime::text;
use tsunagu_tabular::{Row, Sheet};
use uuid::Uuid;

use super::resource_sheet::{CellProblem, Column};
use super::{ImportReport, RowProblem};
use crate::contact::{ContactKind, ContactPoint};

pub const ID: &str = "ID";
pub const EXTERNAL_ID: &str = "外部ID";

/// The columns a sheet has: column index per known header.
pub struct Layout {
    columns: &'static [Column],
    positions: Vec<(usize, &'static Column)>,
    pub ignored_headers: Vec<String>,
}

impl Layout {
    pub fn of(sheet: &Sheet, columns: &'static [Column]) -> Layout {
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
                !header.trim().is_empty() && !positions.iter().any(|(position, _)| position == index)
            })
            .map(|(_, header)| header.clone())
            .collect();
        Layout {
            columns,
            positions,
            ignored_headers,
        }
    }

    pub fn has(&self, header: &str) -> bool {
        self.positions.iter().any(|(_, column)| column.header == header)
    }

    /// The row's cells the API would refuse in `message`'s fields (see [`guard_cell`]).
    pub fn guard(&self, message: &str, row: &Row) -> Vec<(String, String)> {
        guard_row(message, &self.positions, row)
    }

    /// The row's cell under `header`, if the sheet has that column.
    pub fn cell<'r>(&self, row: &'r Row, header: &str) -> Option<&'r str> {
        self.positions
            .iter()
            .find(|(_, column)| column.header == header)
            .map(|(index, _)| row.cell(*index))
    }

    /// The row's cells of the columns the sheet has, as (header, cell), in sheet order of
    /// the column table.
    pub fn cells<'r>(&self, row: &'r Row) -> Vec<(&'static str, &'r str)> {
        self.positions
            .iter()
            .map(|(index, column)| (column.header, row.cell(*index)))
            .collect()
    }

    /// The column that answers for a field violation, e.g. `training_records[1].hours` → 研修:
    /// a column the sheet has, else the column that would have held the field.
    pub fn column_for_field(&self, field: &str) -> String {
        let header_of = |prefix: &str| {
            let mut candidates = self.columns.iter().filter(|column| column.field == prefix);
            let present = candidates.clone().find(|column| self.has(column.header));
            present
                .or_else(|| candidates.next())
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

    /// The field a column fills, e.g. 所属団体名 → `organization_id`.
    pub fn field_of(&self, header: &str) -> Option<&'static str> {
        self.columns
            .iter()
            .find(|column| column.header == header)
            .map(|column| column.field)
    }

    /// The row's ID cell, if the sheet has that column and the cell is filled.
    pub fn id(&self, row: &Row) -> Result<Option<Uuid>, CellProblem> {
        match self.cell(row, ID).map(str::trim).filter(|cell| !cell.is_empty()) {
            None => Ok(None),
            Some(cell) => cell.parse().map(Some).map_err(|_| CellProblem {
                column: ID.into(),
                reason: format!("IDの形式が不正です（入力: {cell:?}） / not a UUID"),
            }),
        }
    }

    pub fn external_id(&self, row: &Row) -> Option<String> {
        self.cell(row, EXTERNAL_ID)
            .map(|cell| text::nfkc(cell).trim().to_string())
            .filter(|cell| !cell.is_empty())
    }
}

/// What one row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowDone {
    Created,
    Updated,
    Unchanged,
}

/// A row applied, or its problems as (column, reason).
pub type RowOutcome = Result<RowDone, Vec<(String, String)>>;

/// Opens the row's savepoint: whatever the row writes is undone if it is rejected.
pub async fn begin_row(tx: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("SAVEPOINT import_row").execute(&mut *tx).await?;
    Ok(())
}

/// Keeps the row's writes and counts it, or undoes them and reports its problems.
pub async fn end_row(
    tx: &mut PgConnection,
    report: &mut ImportReport,
    row_number: usize,
    outcome: RowOutcome,
) -> sqlx::Result<()> {
    match outcome {
        Ok(done) => {
            sqlx::query("RELEASE SAVEPOINT import_row")
                .execute(&mut *tx)
                .await?;
            match done {
                RowDone::Created => report.created += 1,
                RowDone::Updated => report.updated += 1,
                RowDone::Unchanged => report.unchanged += 1,
            }
        }
        Err(problems) => {
            sqlx::query("ROLLBACK TO SAVEPOINT import_row")
                .execute(&mut *tx)
                .await?;
            report
                .rejected
                .extend(problems.into_iter().map(|(column, reason)| RowProblem {
                    row: row_number,
                    column,
                    reason,
                }));
        }
    }
    Ok(())
}

/// Adds the field violations of `error` to the row's cell problems, each under its column; a
/// field that already has a cell problem (in any of its columns, e.g. 所属団体名 for
/// `organization_id`) is not reported twice. Other errors pass through.
pub fn add_violations(
    mut problems: Vec<(String, String)>,
    error: ServiceError,
    layout: &Layout,
) -> ServiceResult<Vec<(String, String)>> {
    let ServiceError::InvalidArgument(violations) = error else {
        return Err(error);
    };
    let reported_fields: Vec<&str> = problems
        .iter()
        .filter_map(|(column, _)| layout.field_of(column))
        .collect();
    let mut added = Vec::new();
    for violation in violations {
        let column = layout.column_for_field(&violation.field);
        let field = layout.field_of(&column);
        if !field.is_some_and(|field| reported_fields.contains(&field)) {
            added.push((column, violation.description));
        }
    }
    problems.extend(added);
    Ok(problems)
}

/// The API message each sheet's columns fill: a cell is checked as the request guard checks
/// the field its column fills (`Column::field`) in this message.
pub const RESOURCE_MESSAGE: &str = "tsunagu.registry.v1.Resource";
pub const ORGANIZATION_MESSAGE: &str = "tsunagu.registry.v1.Organization";
pub const HELPER_MESSAGE: &str = "tsunagu.registry.v1.Helper";

/// What the request guard would refuse in `cell` were it sent as `field` (a dotted path, e.g.
/// `location.address`) of `message` through the API: a control character (line breaks and
/// tabs only where the field is multi-line, or a list the sheet writes one item per line),
/// or more characters than the field takes. This is the one check every cell of every sheet
/// import passes before anything else reads it — without it a NUL reached PostgreSQL, which
/// refuses it, and the whole import failed as INTERNAL.
///
/// An id field's cell is not held to the id's length: it may hold a name (事業主体名) that
/// the import resolves, and an unresolvable one is reported as such.
pub fn guard_cell(message: &str, field: &str, cell: &str) -> Option<String> {
    let rules = tsunagu_runtime::request_guard::Rules::get();
    let mut descriptor = rules.pool().get_message_by_name(message);
    let mut found = None;
    for part in field.split('.') {
        let Some(current) = descriptor.take() else {
            found = None;
            break;
        };
        found = current.get_field_by_name(part);
        descriptor = found.as_ref().and_then(|f| f.kind().as_message().cloned());
    }
    // A column without an API field (none today) still may not hold control characters.
    let (multiline, max_length, list) = match &found {
        Some(found) => {
            let limits = rules.limits(found);
            (limits.multiline, limits.max_length, found.is_list())
        }
        None => (false, None, false),
    };
    let counted_limit = max_length.filter(|_| !list && !field.ends_with("_id") && field != "id");
    if let Some(max) = counted_limit {
        // Counting stops past the limit: a megabyte is not counted to say it is too long.
        let counted = cell.chars().take(max as usize + 1).count();
        if counted > max as usize {
            return Some(format!(
                "{max} 文字以内で入力してください（{} 文字あります）/ at most {max} characters ({} given)",
                cell.chars().count(),
                cell.chars().count()
            ));
        }
    }
    let (position, control) = tsunagu_runtime::request_guard::forbidden_control(cell, multiline || list)?;
    let code = format!("U+{:04X}", u32::from(control));
    Some(if matches!(control, '\n' | '\r' | '\t') {
        format!(
            "改行やタブは使えません（{position} 文字目）。1 行で入力してください / line breaks and tabs are not allowed here ({code} at character {position})"
        )
    } else {
        format!(
            "制御文字 {code} は使えません（{position} 文字目）/ control character {code} is not allowed (at character {position})"
        )
    })
}

/// The guard's problems with the cells of `positions` (index, column) in `row`, as
/// (header, reason).
pub fn guard_row(message: &str, positions: &[(usize, &'static Column)], row: &Row) -> Vec<(String, String)> {
    positions
        .iter()
        .filter_map(|(index, column)| {
            guard_cell(message, column.field, row.cell(*index)).map(|reason| problem(column.header, reason))
        })
        .collect()
}

/// A problem with one cell, as the import reports it.
pub fn problem(column: &str, reason: impl Into<String>) -> (String, String) {
    (column.to_string(), reason.into())
}

/// The characters that separate contact points of `kind` in one cell, besides a line break.
/// An address may contain 「、」 or commas, so addresses go one per line.
fn contact_separators(kind: ContactKind) -> &'static [char] {
    match kind {
        ContactKind::Phone | ContactKind::Fax | ContactKind::Email => &['、', ',', ';'],
        ContactKind::Url => &['、'],
        ContactKind::Address => &[],
    }
}

/// Splits `cell` at `separators` outside brackets, so a label may hold any of them.
fn split_outside_brackets(cell: &str, separators: &[char]) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for c in cell.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 && (c == '\n' || separators.contains(&c)) {
            items.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    items.push(current);
    items
}

/// Splits 「0584-78-1111(事務局)」 into its value and the label in the last (balanced)
/// brackets; 「value()」 is a value without a label that itself ends in a bracket.
fn split_label(item: &str) -> (String, String) {
    let item = item.trim();
    if !item.ends_with(')') {
        return (item.to_string(), String::new());
    }
    let mut depth = 0usize;
    for (at, c) in item.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return (
                        item[..at].trim().to_string(),
                        item[at + 1..item.len() - 1].trim().to_string(),
                    );
                }
            }
            _ => {}
        }
    }
    (item.to_string(), String::new())
}

/// The contact points of one kind in a cell: 「0584-78-1111（事務局）、0584-78-2222」, one per
/// line also accepted (and the only way for addresses). Values and labels are NFKC.
pub fn parse_contacts(cell: &str, kind: ContactKind) -> Vec<(String, String)> {
    let cell = text::nfkc(cell).replace('\r', "");
    // A cell with line breaks has one value per line, whatever else the values hold.
    let separators = if cell.contains('\n') {
        &[]
    } else {
        contact_separators(kind)
    };
    split_outside_brackets(&cell, separators)
        .iter()
        .map(|item| split_label(item))
        .filter(|(value, label)| !value.is_empty() || !label.is_empty())
        .collect()
}

/// The cell of the contact points of `kind`, read back by [`parse_contacts`] to the same
/// values and labels.
pub fn contacts_cell(points: &[ContactPoint], kind: ContactKind) -> String {
    let items: Vec<String> = points
        .iter()
        .filter(|point| point.kind == kind)
        .map(|point| {
            if !point.label.is_empty() {
                format!("{}（{}）", point.value, point.label)
            } else if point.value.ends_with(')') {
                // Empty brackets, so the value's own bracket is not read as a label.
                format!("{}（）", point.value)
            } else {
                point.value.clone()
            }
        })
        .collect();
    let separators = contact_separators(kind);
    let ambiguous = items
        .iter()
        .any(|item| split_outside_brackets(&text::nfkc(item), separators).len() > 1);
    match (kind, ambiguous) {
        (ContactKind::Address, _) => items.join("\n"),
        // A value holding a separator: one per line, and a line break even after a lone one.
        (_, true) if items.len() == 1 => format!("{}\n", items[0]),
        (_, true) => items.join("\n"),
        (_, false) => items.join("、"),
    }
}

/// The contact points after a sheet's contact columns are applied to `base`: the kinds the
/// sheet has take the sheet's values, in the places their old values had (so an unchanged
/// sheet keeps the stored order); other kinds are kept; extra values go at the end.
pub fn merge_contacts(
    base: &[(ContactKind, String, String)],
    given: Vec<(ContactKind, Vec<(String, String)>)>,
) -> Vec<(ContactKind, String, String)> {
    let mut queues: Vec<(ContactKind, std::collections::VecDeque<(String, String)>)> = given
        .into_iter()
        .map(|(kind, items)| (kind, items.into()))
        .collect();
    let mut merged = Vec::new();
    for (kind, value, label) in base {
        match queues.iter_mut().find(|(given_kind, _)| given_kind == kind) {
            None => merged.push((*kind, value.clone(), label.clone())),
            Some((_, queue)) => {
                if let Some((value, label)) = queue.pop_front() {
                    merged.push((*kind, value, label));
                }
            }
        }
    }
    for (kind, queue) in queues {
        merged.extend(queue.into_iter().map(|(value, label)| (kind, value, label)));
    }
    merged
}

/// Checks each contact point of a cell against its kind, as the cell's problem.
pub fn check_contacts(kind: ContactKind, items: &[(String, String)]) -> Result<(), String> {
    for (value, label) in items {
        ContactPoint::parse(kind, value, label).map_err(|(_, reason)| reason)?;
    }
    Ok(())
}

/// A contact column: its header and the kind it holds.
pub fn contact_kind_of(header: &str) -> Option<ContactKind> {
    match header {
        "電話" => Some(ContactKind::Phone),
        "FAX" => Some(ContactKind::Fax),
        "メール" => Some(ContactKind::Email),
        "URL" => Some(ContactKind::Url),
        "住所" => Some(ContactKind::Address),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(kind: ContactKind, value: &str, label: &str) -> ContactPoint {
        ContactPoint {
            kind,
            value: value.into(),
            label: label.into(),
        }
    }

    fn round_trip(points: &[ContactPoint], kind: ContactKind) -> Vec<(String, String)> {
        parse_contacts(&contacts_cell(points, kind), kind)
    }

    fn pairs(points: &[ContactPoint], kind: ContactKind) -> Vec<(String, String)> {
        points
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| (p.value.clone(), p.label.clone()))
            .collect()
    }

    #[test]
    fn contact_cells_read_as_typed() {
        assert_eq!(
            parse_contacts(
                "０５８４－７８－１１１１（事務局）、0584-78-2222, 090-1234-5678 (夜間、休日)",
                ContactKind::Phone
            ),
            [
                ("0584-78-1111".to_string(), "事務局".to_string()),
                ("0584-78-2222".into(), "".into()),
                ("090-1234-5678".into(), "夜間、休日".into()),
            ]
        );
        assert_eq!(
            parse_contacts(
                "大垣市丸の内1-1、市役所3階\n大垣市東2-2（分室）",
                ContactKind::Address
            ),
            [
                ("大垣市丸の内1-1、市役所3階".to_string(), "".to_string()),
                ("大垣市東2-2".into(), "分室".into()),
            ]
        );
        assert!(parse_contacts(" 、 ", ContactKind::Phone).is_empty());
    }

    #[test]
    fn contact_cells_round_trip() {
        let points = [
            point(ContactKind::Phone, "0584-78-1111", "事務局"),
            point(ContactKind::Phone, "0584-78-2222", ""),
            point(ContactKind::Phone, "090-0000-0000", "夜間(休日も)"),
            point(ContactKind::Email, "info@example.jp", "代表、問合せ"),
            point(ContactKind::Url, "https://ja.wikipedia.org/wiki/X_(Y)", ""),
            point(ContactKind::Url, "https://example.jp/a,b;c", "資料"),
            point(ContactKind::Address, "大垣市丸の内1-1、市役所3階", "本部"),
            point(ContactKind::Address, "大垣市東2-2(分室)", ""),
        ];
        for kind in [
            ContactKind::Phone,
            ContactKind::Fax,
            ContactKind::Email,
            ContactKind::Url,
            ContactKind::Address,
        ] {
            assert_eq!(round_trip(&points, kind), pairs(&points, kind), "{kind:?}");
        }
        assert_eq!(
            contacts_cell(&points, ContactKind::Phone),
            "0584-78-1111（事務局）、0584-78-2222、090-0000-0000（夜間(休日も)）"
        );
        // A lone value holding a separator still reads back as one.
        let odd = [point(ContactKind::Email, "a,b@example.jp", "")];
        assert_eq!(
            round_trip(&odd, ContactKind::Email),
            pairs(&odd, ContactKind::Email)
        );
    }

    #[test]
    fn merged_contacts_keep_their_places() {
        let base = vec![
            (ContactKind::Phone, "1".to_string(), String::new()),
            (ContactKind::Email, "e".to_string(), String::new()),
            (ContactKind::Phone, "2".to_string(), String::new()),
        ];
        let same = merge_contacts(
            &base,
            vec![(
                ContactKind::Phone,
                vec![("1".into(), "".into()), ("2".into(), "".into())],
            )],
        );
        assert_eq!(same, base);
        let fewer = merge_contacts(&base, vec![(ContactKind::Phone, vec![("3".into(), "".into())])]);
        assert_eq!(
            fewer,
            [
                (ContactKind::Phone, "3".to_string(), String::new()),
                (ContactKind::Email, "e".to_string(), String::new()),
            ]
        );
        let more = merge_contacts(
            &base,
            vec![(
                ContactKind::Email,
                vec![("e".into(), "".into()), ("f".into(), "x".into())],
            )],
        );
        assert_eq!(more.len(), 4);
        assert_eq!(more[3], (ContactKind::Email, "f".to_string(), "x".to_string()));
    }
}
