//! Schedules as coordinators write them in Japanese, read and written.
//!
//! Reading is strict on purpose: every piece of the text must be understood, and anything left
//! over is an error quoting it. A lenient reader would drop "8月は休み" and send residents to a
//! closed door; a free note goes after `※` instead, and is kept as given.
//!
//! The text is first normalised the way NFKC would for what matters here (full-width ASCII to
//! ASCII, every dash and wave to `〜`, spaces collapsed), then read clause by clause with a
//! cursor. Clauses can come in any order: days, time, holiday handling, validity, note.
//!
//! - `cursor`: normalisation and the cursor;
//! - `reader`: the clauses (with `days` and `times`) and their assembly into an entry;
//! - `writer`: the canonical form.

mod cursor;
mod reader;
#[cfg(test)]
mod tests;
mod writer;

use chrono::Weekday;

use crate::entry::ScheduleEntry;
use crate::error::ScheduleError;

/// The weekday kanji, in `Weekday::num_days_from_monday` order (kanji_of relies on it).
const WEEKDAY_KANJI: [(char, Weekday); 7] = [
    ('月', Weekday::Mon),
    ('火', Weekday::Tue),
    ('水', Weekday::Wed),
    ('木', Weekday::Thu),
    ('金', Weekday::Fri),
    ('土', Weekday::Sat),
    ('日', Weekday::Sun),
];

/// 平日 (Monday to Friday), in rule order.
const WEEKDAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];
/// 土日, in rule order.
const WEEKEND: [Weekday; 2] = [Weekday::Sat, Weekday::Sun];

fn weekday_of(c: char) -> Option<Weekday> {
    WEEKDAY_KANJI.iter().find(|(k, _)| *k == c).map(|(_, w)| *w)
}

fn kanji_of(w: Weekday) -> char {
    WEEKDAY_KANJI[w.num_days_from_monday() as usize].0
}

impl ScheduleEntry {
    /// Reads a schedule written in Japanese, such as `第2・第4水曜 10:00〜12:00（祝日を除く）`.
    ///
    /// Days: 毎日, 隔日, N日ごと; 平日 (月〜金, and closed on holidays, as the word means),
    /// 土日, 土日祝, 週末, weekday lists and ranges (火・金曜, 月水金, 月〜金, 月曜日から金曜日まで)
    /// after an optional 毎週, 隔週 or N週ごと; 第N曜日 lists (第2・第4水曜, 第1月曜・第3水曜, 最終金曜,
    /// 第二水曜, 最後から2番目の金曜) after an optional 毎月, 隔月 or Nか月ごと; days of the month after
    /// 毎月 (毎月15日, 毎月1日・15日, 毎月末, 月末, 末日の1日前); 祝 in a list adds the holidays.
    ///
    /// Time: 10:00〜12:00 with any dash or wave, 10時〜12時, 10時30分, 10時半, 午前10時〜午後3時,
    /// 午後1時〜3時, 正午, 10〜12時, から…まで; 24:00 as closing means the end of the day; no time
    /// (or 終日) means all day.
    ///
    /// Also: 祝日を除く / 祝日休み / 祝日は休み and similar; 2025年4月1日から, 2026年3月31日まで,
    /// 2025/4/1〜2026/3/31; 全10回 (COUNT); 繰り返しは2026年3月31日まで (UNTIL); 週の始まり: 日曜
    /// (WKST). Everything after `※` is the description, kept as given (trimmed).
    ///
    /// Full-width digits and letters, any dash, spaces and brackets are accepted. Every day
    /// pattern with an interval (隔週…) needs a start date as its anchor, and the error says so.
    pub fn parse_japanese(input: &str) -> Result<ScheduleEntry, ScheduleError> {
        reader::parse(input)
    }

    /// The canonical Japanese form, which [`ScheduleEntry::parse_japanese`] reads back to an
    /// equal entry: `毎月 第2・第4水曜 10:00〜12:00（祝日を除く）`, `毎週 火・金曜 9:00〜11:00`,
    /// `平日 9:00〜17:00`, `毎日`. (A description with surrounding spaces comes back trimmed.)
    pub fn to_japanese(&self) -> String {
        writer::write(self)
    }
}
