use chrono::{NaiveDate, NaiveTime};

use super::cursor::normalize;
use crate::{Recurrence, ScheduleEntry};

/// A compact, comparable summary of an entry: rule, times, then flags and dates when set.
fn summary(e: &ScheduleEntry) -> String {
    let mut out = format!(
        "{} {}-{}",
        e.rrule,
        e.opens_at.format("%H:%M"),
        e.closes_at.format("%H:%M")
    );
    if e.except_holidays {
        out.push_str(" ex");
    }
    if e.include_holidays {
        out.push_str(" in");
    }
    if let Some(from) = e.valid_from {
        out.push_str(&format!(" from={from}"));
    }
    if let Some(to) = e.valid_to {
        out.push_str(&format!(" to={to}"));
    }
    if !e.description.is_empty() {
        out.push_str(&format!(" note={}", e.description));
    }
    out
}

fn parsed(phrase: &str) -> ScheduleEntry {
    ScheduleEntry::parse_japanese(phrase).unwrap_or_else(|e| panic!("{phrase}: {e}"))
}

const READ: &[(&str, &str)] = &[
    // The brief's examples.
    (
        "第2・第4水曜 10:00〜12:00",
        "FREQ=MONTHLY;BYDAY=2WE,4WE 10:00-12:00",
    ),
    (
        "毎週火・金曜 9時〜11時（祝日を除く）",
        "FREQ=WEEKLY;BYDAY=TU,FR 09:00-11:00 ex",
    ),
    (
        "平日 9:00-17:00",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR 09:00-17:00 ex",
    ),
    ("毎月15日 13:30〜15:00", "FREQ=MONTHLY;BYMONTHDAY=15 13:30-15:00"),
    ("毎日", "FREQ=DAILY 00:00-23:59"),
    // Days.
    ("毎日 9:00〜17:00", "FREQ=DAILY 09:00-17:00"),
    ("終日 毎日", "FREQ=DAILY 00:00-23:59"),
    ("土日 10:00〜16:00", "FREQ=WEEKLY;BYDAY=SA,SU 10:00-16:00"),
    ("週末 10:00〜16:00", "FREQ=WEEKLY;BYDAY=SA,SU 10:00-16:00"),
    ("土日祝 10:00〜16:00", "FREQ=WEEKLY;BYDAY=SA,SU 10:00-16:00 in"),
    (
        "土・日・祝日 10時〜16時",
        "FREQ=WEEKLY;BYDAY=SA,SU 10:00-16:00 in",
    ),
    ("日曜・祝日 10:00〜12:00", "FREQ=WEEKLY;BYDAY=SU 10:00-12:00 in"),
    ("毎週水曜 10:00〜12:00", "FREQ=WEEKLY;BYDAY=WE 10:00-12:00"),
    ("水曜日 10:00〜12:00", "FREQ=WEEKLY;BYDAY=WE 10:00-12:00"),
    ("水・金曜 10:00〜12:00", "FREQ=WEEKLY;BYDAY=WE,FR 10:00-12:00"),
    (
        "月曜日・木曜日 10:00〜12:00",
        "FREQ=WEEKLY;BYDAY=MO,TH 10:00-12:00",
    ),
    ("火曜と金曜 10:00〜12:00", "FREQ=WEEKLY;BYDAY=TU,FR 10:00-12:00"),
    ("月水金 9:00〜12:00", "FREQ=WEEKLY;BYDAY=MO,WE,FR 09:00-12:00"),
    (
        "月〜金 9:00〜17:00",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR 09:00-17:00",
    ),
    ("月-金 9:00-17:00", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR 09:00-17:00"),
    (
        "月～金 9:00～17:00",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR 09:00-17:00",
    ),
    (
        "月曜〜金曜 9:00〜17:00",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR 09:00-17:00",
    ),
    (
        "月曜日から金曜日まで 9時から17時まで",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR 09:00-17:00",
    ),
    ("金〜月 10:00〜12:00", "FREQ=WEEKLY;BYDAY=MO,FR,SA,SU 10:00-12:00"),
    (
        "月〜水・金 10:00〜12:00",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,FR 10:00-12:00",
    ),
    (
        "平日・土曜 9:00〜12:00",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA 09:00-12:00 ex",
    ),
    (
        "第1・第3月曜日 13:00〜15:00",
        "FREQ=MONTHLY;BYDAY=1MO,3MO 13:00-15:00",
    ),
    ("最終金曜 18:00〜20:00", "FREQ=MONTHLY;BYDAY=-1FR 18:00-20:00"),
    ("毎月第2水曜日 10時〜12時", "FREQ=MONTHLY;BYDAY=2WE 10:00-12:00"),
    (
        "第２・第４水曜　１０：００〜１２：００",
        "FREQ=MONTHLY;BYDAY=2WE,4WE 10:00-12:00",
    ),
    (
        "第2・4水曜 10:00〜12:00",
        "FREQ=MONTHLY;BYDAY=2WE,4WE 10:00-12:00",
    ),
    (
        "第2、第4水曜日 10:00〜12:00",
        "FREQ=MONTHLY;BYDAY=2WE,4WE 10:00-12:00",
    ),
    ("第二水曜 10:00〜12:00", "FREQ=MONTHLY;BYDAY=2WE 10:00-12:00"),
    ("第2週の水曜日 10:00〜12:00", "FREQ=MONTHLY;BYDAY=2WE 10:00-12:00"),
    ("第2(水) 10:00〜12:00", "FREQ=MONTHLY;BYDAY=2WE 10:00-12:00"),
    (
        "第１・第３（土） 10:00〜12:00",
        "FREQ=MONTHLY;BYDAY=1SA,3SA 10:00-12:00",
    ),
    (
        "第1月曜・第3水曜 10:00〜12:00",
        "FREQ=MONTHLY;BYDAY=1MO,3WE 10:00-12:00",
    ),
    (
        "第2水・金曜 10:00〜12:00",
        "FREQ=MONTHLY;BYDAY=2WE,2FR 10:00-12:00",
    ),
    (
        "第2・最終金曜 10:00〜12:00",
        "FREQ=MONTHLY;BYDAY=2FR,-1FR 10:00-12:00",
    ),
    ("最後の金曜 10:00〜12:00", "FREQ=MONTHLY;BYDAY=-1FR 10:00-12:00"),
    (
        "最終週の金曜日 10:00〜12:00",
        "FREQ=MONTHLY;BYDAY=-1FR 10:00-12:00",
    ),
    (
        "最後から2番目の金曜 10:00〜12:00",
        "FREQ=MONTHLY;BYDAY=-2FR 10:00-12:00",
    ),
    ("最終日曜 10:00〜12:00", "FREQ=MONTHLY;BYDAY=-1SU 10:00-12:00"),
    (
        "毎月第2水曜・祝日 10:00〜12:00",
        "FREQ=MONTHLY;BYDAY=2WE 10:00-12:00 in",
    ),
    (
        "毎月1日・15日 10:00〜12:00",
        "FREQ=MONTHLY;BYMONTHDAY=1,15 10:00-12:00",
    ),
    (
        "毎月1・15日 10:00〜12:00",
        "FREQ=MONTHLY;BYMONTHDAY=1,15 10:00-12:00",
    ),
    ("毎月末 10:00〜12:00", "FREQ=MONTHLY;BYMONTHDAY=-1 10:00-12:00"),
    ("月末 10:00〜12:00", "FREQ=MONTHLY;BYMONTHDAY=-1 10:00-12:00"),
    ("毎月末日 10:00〜12:00", "FREQ=MONTHLY;BYMONTHDAY=-1 10:00-12:00"),
    (
        "毎月最終日 10:00〜12:00",
        "FREQ=MONTHLY;BYMONTHDAY=-1 10:00-12:00",
    ),
    (
        "毎月1日・月末 10:00〜12:00",
        "FREQ=MONTHLY;BYMONTHDAY=1,-1 10:00-12:00",
    ),
    (
        "毎月末日の1日前 10:00〜12:00",
        "FREQ=MONTHLY;BYMONTHDAY=-2 10:00-12:00",
    ),
    (
        "毎月 15日に 10:00〜12:00",
        "FREQ=MONTHLY;BYMONTHDAY=15 10:00-12:00",
    ),
    // Intervals, anchored at the start date.
    (
        "隔週水曜 10:00〜12:00（2025年4月2日から）",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE 10:00-12:00 from=2025-04-02",
    ),
    (
        "3週ごと 水曜 10:00〜12:00 2025/4/2から",
        "FREQ=WEEKLY;INTERVAL=3;BYDAY=WE 10:00-12:00 from=2025-04-02",
    ),
    (
        "隔月 第2水曜 10:00〜12:00 2025年4月1日から",
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=2WE 10:00-12:00 from=2025-04-01",
    ),
    (
        "3か月ごと15日 2025年4月1日から",
        "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15 00:00-23:59 from=2025-04-01",
    ),
    (
        "3ヶ月ごと 15日 2025年4月1日から",
        "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15 00:00-23:59 from=2025-04-01",
    ),
    (
        "隔日 9:00〜10:00 2025年4月1日から",
        "FREQ=DAILY;INTERVAL=2 09:00-10:00 from=2025-04-01",
    ),
    (
        "3日ごと 9:00〜10:00 2025年4月1日から",
        "FREQ=DAILY;INTERVAL=3 09:00-10:00 from=2025-04-01",
    ),
    // Times.
    ("水曜 10時30分〜12時", "FREQ=WEEKLY;BYDAY=WE 10:30-12:00"),
    ("水曜 10時〜12時30分", "FREQ=WEEKLY;BYDAY=WE 10:00-12:30"),
    ("水曜 午前10時〜午後3時", "FREQ=WEEKLY;BYDAY=WE 10:00-15:00"),
    ("水曜 午後1時〜3時", "FREQ=WEEKLY;BYDAY=WE 13:00-15:00"),
    ("水曜 午前10時〜3時", "FREQ=WEEKLY;BYDAY=WE 10:00-15:00"),
    ("水曜 午前9時〜11時半", "FREQ=WEEKLY;BYDAY=WE 09:00-11:30"),
    ("水曜 10時半〜正午", "FREQ=WEEKLY;BYDAY=WE 10:30-12:00"),
    ("水曜 10〜12時", "FREQ=WEEKLY;BYDAY=WE 10:00-12:00"),
    ("水曜 9:00~17:00", "FREQ=WEEKLY;BYDAY=WE 09:00-17:00"),
    ("水曜 10:00–12:00", "FREQ=WEEKLY;BYDAY=WE 10:00-12:00"),
    ("水曜 10:00—12:00", "FREQ=WEEKLY;BYDAY=WE 10:00-12:00"),
    ("水曜 10:00ー12:00", "FREQ=WEEKLY;BYDAY=WE 10:00-12:00"),
    ("水曜 10 : 00 - 12 : 00", "FREQ=WEEKLY;BYDAY=WE 10:00-12:00"),
    (
        "水曜 ＰＭ１：００〜ＰＭ３：００",
        "FREQ=WEEKLY;BYDAY=WE 13:00-15:00",
    ),
    ("水曜 22:00〜24:00", "FREQ=WEEKLY;BYDAY=WE 22:00-23:59"),
    ("水曜 午後10時〜午後12時", "FREQ=WEEKLY;BYDAY=WE 22:00-23:59"),
    ("水曜日の10時から12時まで", "FREQ=WEEKLY;BYDAY=WE 10:00-12:00"),
    ("10:00〜12:00 毎週水曜", "FREQ=WEEKLY;BYDAY=WE 10:00-12:00"),
    // Holidays.
    (
        "水曜 10:00〜12:00 祝日休み",
        "FREQ=WEEKLY;BYDAY=WE 10:00-12:00 ex",
    ),
    (
        "水曜 10:00〜12:00 祝日は休み",
        "FREQ=WEEKLY;BYDAY=WE 10:00-12:00 ex",
    ),
    (
        "水曜 10:00〜12:00（祝祭日を除く）",
        "FREQ=WEEKLY;BYDAY=WE 10:00-12:00 ex",
    ),
    (
        "水曜 10:00〜12:00【祝日の場合はお休み】",
        "FREQ=WEEKLY;BYDAY=WE 10:00-12:00 ex",
    ),
    (
        "月〜金曜祝日を除く 9:00〜17:00",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR 09:00-17:00 ex",
    ),
    (
        "平日（祝日を除く）",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR 00:00-23:59 ex",
    ),
    // Validity, count, until, week start, note.
    (
        "水曜 10:00〜12:00（2025年4月1日から2026年3月31日まで）",
        "FREQ=WEEKLY;BYDAY=WE 10:00-12:00 from=2025-04-01 to=2026-03-31",
    ),
    (
        "水曜 10:00〜12:00 2026年3月31日まで",
        "FREQ=WEEKLY;BYDAY=WE 10:00-12:00 to=2026-03-31",
    ),
    (
        "水曜 10:00〜12:00 2025/4/1〜2026/3/31",
        "FREQ=WEEKLY;BYDAY=WE 10:00-12:00 from=2025-04-01 to=2026-03-31",
    ),
    (
        "水曜 10:00〜12:00 2025年4月1日以降 2026年3月31日まで",
        "FREQ=WEEKLY;BYDAY=WE 10:00-12:00 from=2025-04-01 to=2026-03-31",
    ),
    (
        "水曜 10:00〜12:00（2025年4月2日から）（全10回）",
        "FREQ=WEEKLY;BYDAY=WE;COUNT=10 10:00-12:00 from=2025-04-02",
    ),
    (
        "水曜 10:00〜12:00（繰り返しは2026年3月31日まで）",
        "FREQ=WEEKLY;BYDAY=WE;UNTIL=20260331 10:00-12:00",
    ),
    (
        "水曜 10:00〜12:00（繰り返しは2026年3月31日 23:59:59まで）",
        "FREQ=WEEKLY;BYDAY=WE;UNTIL=20260331T145959Z 10:00-12:00",
    ),
    (
        "隔週 土日 2025年4月5日から（週の始まり: 日曜）",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=SA,SU;WKST=SU 00:00-23:59 from=2025-04-05",
    ),
    (
        "第2水曜 10:00〜12:00 ※雨天中止（小雨決行）",
        "FREQ=MONTHLY;BYDAY=2WE 10:00-12:00 note=雨天中止（小雨決行）",
    ),
    (
        "水曜 ※ 要予約：０３−１２３４ ",
        "FREQ=WEEKLY;BYDAY=WE 00:00-23:59 note=要予約：０３−１２３４",
    ),
];

#[test]
fn reads_the_supported_phrasings() {
    for (phrase, expected) in READ {
        assert_eq!(summary(&parsed(phrase)), *expected, "{phrase}");
    }
}

#[test]
fn writes_the_canonical_form() {
    let cases = [
        (
            "第2・第4水曜 10:00〜12:00（祝日を除く）",
            "毎月 第2・第4水曜 10:00〜12:00（祝日を除く）",
        ),
        ("毎週火・金曜 9時〜11時", "毎週 火・金曜 9:00〜11:00"),
        ("毎日 9:00-17:00", "毎日 9:00〜17:00"),
        ("毎日", "毎日"),
        ("平日 9:00-17:00", "平日 9:00〜17:00"),
        ("月〜金 9:00-17:00", "毎週 月〜金曜 9:00〜17:00"),
        (
            "月〜木 9:00-17:00 祝日休み",
            "毎週 月〜木曜 9:00〜17:00（祝日を除く）",
        ),
        ("毎月15日 13:30〜15:00", "毎月15日 13:30〜15:00"),
        ("毎月1・15日・末日", "毎月1日・15日・末日"),
        ("土日祝 10:00〜16:00", "土日祝 10:00〜16:00"),
        ("日・祝 10:00〜16:00", "毎週 日曜・祝日 10:00〜16:00"),
        ("第1月曜・第2・最終金曜", "毎月 第1月曜・第2・最終金曜"),
        ("最後から2番目の金曜", "毎月 最後から2番目の金曜"),
        (
            "隔週水曜 10:00〜12:00 2025年4月2日から ※要予約",
            "隔週 水曜 10:00〜12:00（2025年4月2日から） ※要予約",
        ),
        ("22:00〜24:00 毎日", "毎日 22:00〜23:59"),
        ("毎日 2025年4月1日から 全3回", "毎日（2025年4月1日から）（全3回）"),
    ];
    for (phrase, expected) in cases {
        assert_eq!(parsed(phrase).to_japanese(), expected, "{phrase}");
    }
}

#[test]
fn every_phrase_round_trips() {
    for (phrase, _) in READ {
        let entry = parsed(phrase);
        let written = entry.to_japanese();
        assert_eq!(parsed(&written), entry, "{phrase} → {written}");
    }
}

#[test]
fn entries_built_from_rrules_round_trip() {
    let rules = [
        "FREQ=DAILY",
        "FREQ=DAILY;INTERVAL=2",
        "FREQ=DAILY;INTERVAL=10",
        "FREQ=WEEKLY;BYDAY=MO",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU",
        "FREQ=WEEKLY;BYDAY=SA,SU",
        "FREQ=WEEKLY;BYDAY=MO,WE,TH,FR,SU",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE",
        "FREQ=WEEKLY;INTERVAL=4;BYDAY=SA,SU;WKST=SU",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR;WKST=TH",
        "FREQ=MONTHLY;BYDAY=2WE,4WE",
        "FREQ=MONTHLY;BYDAY=1MO,3WE,2FR,-1FR,-5SU",
        "FREQ=MONTHLY;BYDAY=-3TH,-2TH",
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=5SA",
        "FREQ=MONTHLY;INTERVAL=6;BYMONTHDAY=1",
        "FREQ=MONTHLY;BYMONTHDAY=1,15,31,-1,-2,-31",
        "FREQ=WEEKLY;BYDAY=TU;UNTIL=20260331",
        "FREQ=WEEKLY;BYDAY=TU;UNTIL=20260331T150000Z",
        "FREQ=WEEKLY;BYDAY=TU;UNTIL=20251231T235959Z",
        "FREQ=MONTHLY;BYMONTHDAY=10;COUNT=12",
    ];
    let times = [
        (0, 0, 23, 59),
        (9, 0, 17, 0),
        (10, 30, 11, 45),
        (0, 5, 23, 59),
        (13, 0, 23, 58),
    ];
    let mut checked = 0;
    for (i, rule) in rules.iter().enumerate() {
        for (j, &(oh, om, ch, cm)) in times.iter().enumerate() {
            for variant in 0..6 {
                let mut e = ScheduleEntry {
                    rrule: Recurrence::parse(rule).unwrap(),
                    opens_at: NaiveTime::from_hms_opt(oh, om, 0).unwrap(),
                    closes_at: NaiveTime::from_hms_opt(ch, cm, 0).unwrap(),
                    valid_from: Some(NaiveDate::from_ymd_opt(2025, 4, 1).unwrap()),
                    valid_to: None,
                    except_holidays: variant % 3 == 1,
                    include_holidays: variant % 3 == 2 && !rule.contains("COUNT"),
                    description: if variant >= 3 {
                        format!("メモ{i}-{j} (Note) ※続き")
                    } else {
                        String::new()
                    },
                };
                if variant == 4 {
                    e.valid_to = Some(NaiveDate::from_ymd_opt(2027, 12, 31).unwrap());
                }
                if variant == 5 && e.rrule.parts().interval == 1 && e.rrule.parts().count.is_none() {
                    e.valid_from = None;
                }
                e.validate().unwrap_or_else(|err| panic!("{rule}: {err}"));
                let written = e.to_japanese();
                assert_eq!(
                    ScheduleEntry::parse_japanese(&written),
                    Ok(e.clone()),
                    "{rule} → {written}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, rules.len() * times.len() * 6);
}

fn error_part(phrase: &str) -> &'static str {
    match ScheduleEntry::parse_japanese(phrase) {
        Ok(e) => panic!("{phrase} should be refused, got {}", summary(&e)),
        Err(e) => {
            assert!(e.message.contains(" / "), "bilingual: {}", e.message);
            e.part
        }
    }
}

#[test]
fn refuses_with_the_right_part() {
    let cases = [
        ("", "phrase"),
        ("   ", "phrase"),
        ("※メモだけ", "phrase"),
        ("毎週水曜 10:00〜12:00 雨天中止", "phrase"),
        ("毎週水曜 10:00〜12:00（8月は休み）", "phrase"),
        ("毎週水曜 10じ〜12じ", "opens_at"),
        ("毎週水曜 10:00", "closes_at"),
        ("毎週水曜 10:00から", "closes_at"),
        ("毎週水曜 25:00〜26:00", "opens_at"),
        ("毎週水曜 10:60〜11:00", "opens_at"),
        ("毎週水曜 24:00〜24:00", "opens_at"),
        ("毎週水曜 午後13時〜15時", "opens_at"),
        ("毎週水曜 10〜12", "opens_at"),
        ("毎週水曜 10:00:30〜12:00", "opens_at"),
        ("毎週水曜 10:00〜12:00・13:00〜15:00", "opens_at"),
        ("毎週水曜 12:00〜10:00", "closes_at"),
        ("毎週水曜 22:00〜2:00", "closes_at"),
        ("毎週水曜 10:00〜10:00", "closes_at"),
        ("毎週水曜 10:00〜25:00", "closes_at"),
        ("隔週水曜 10:00〜12:00", "valid_from"),
        ("隔月15日", "valid_from"),
        ("毎週水曜 全3回", "valid_from"),
        ("4月1日から 毎週水曜", "valid_from"),
        ("2025年2月30日から 毎週水曜", "valid_from"),
        ("2025年4月1日 毎週水曜", "valid_from"),
        ("2025年4月1日から 毎週水曜 2025年5月1日から", "valid_from"),
        ("毎週水曜（2026年3月31日から2025年4月1日まで）", "valid_to"),
        ("毎週水曜（2025年4月1日から2026年2月30日まで）", "valid_to"),
        ("平日・祝日", "except_holidays"),
        ("土日祝（祝日を除く）", "except_holidays"),
        ("第6水曜", "rrule"),
        ("第0水曜", "rrule"),
        ("第2", "rrule"),
        ("第2 10:00〜12:00", "rrule"),
        ("第2祝日", "rrule"),
        ("第2平日", "rrule"),
        ("毎月32日", "rrule"),
        ("毎月0日", "rrule"),
        ("毎月15 10:00〜12:00", "rrule"),
        ("15日 10:00〜12:00", "rrule"),
        ("毎月", "rrule"),
        ("毎週", "rrule"),
        ("毎月水曜", "rrule"),
        ("毎週第2水曜", "rrule"),
        ("毎週15日", "rrule"),
        ("毎日 水曜", "rrule"),
        ("第2水曜・15日", "rrule"),
        ("毎月第2水曜・15日", "rrule"),
        ("第2水曜・金曜", "rrule"),
        ("毎週水曜 毎週金曜", "rrule"),
        ("水曜 10:00〜12:00 金曜", "rrule"),
        ("祝日 10:00〜12:00", "rrule"),
        ("10:00〜12:00", "rrule"),
        ("月〜", "rrule"),
        ("0週ごと 水曜", "rrule"),
        ("99999999999999999999週ごと 水曜", "rrule"),
        ("第99999999999999999999水曜", "rrule"),
        ("毎月99999999999999999999日", "rrule"),
        ("毎月末日の31日前", "rrule"),
        ("毎週水曜 全0回 2025年4月1日から", "rrule"),
        ("毎週水曜 全3回 全4回 2025年4月1日から", "rrule"),
        (
            "毎週水曜 全3回 繰り返しは2026年3月31日まで 2025年4月1日から",
            "rrule",
        ),
        ("毎週水曜 繰り返しは2026年3月31日", "rrule"),
        ("隔週水曜 2025年4月1日から 週の始まり: 祝", "rrule"),
    ];
    for (phrase, part) in cases {
        assert_eq!(error_part(phrase), part, "{phrase}");
    }
}

#[test]
fn error_messages_quote_the_input() {
    let e = ScheduleEntry::parse_japanese("毎週水曜 10じ〜12じ").unwrap_err();
    assert_eq!(
        e.message,
        "時刻が読み取れません（入力: 10じ〜12じ） / could not read the time"
    );
    let e = ScheduleEntry::parse_japanese("毎週水曜 10:00〜12:00 雨天中止").unwrap_err();
    assert!(e.message.contains("（入力: 雨天中止）"), "{}", e.message);
    let long = format!("水曜 {}", "あ".repeat(100));
    let e = ScheduleEntry::parse_japanese(&long).unwrap_err();
    assert!(e.message.chars().count() < 120, "{}", e.message);
}

#[test]
fn normalises_widths_dashes_and_spaces() {
    let text: String = normalize("　第２・第４（水）　１０：００～１２：００  ＡＢＣ ")
        .into_iter()
        .collect();
    assert_eq!(text, "第2・第4(水) 10:00〜12:00 abc");
    let dashes: String = normalize("-–—ー−‐―~～〜").into_iter().collect();
    assert_eq!(dashes, "〜".repeat(10));
}

#[test]
fn garbage_never_panics() {
    let inputs = [
        "😀",
        "\u{0}",
        "\u{FF01}\u{FF5E}",
        "第",
        "第・",
        "最後から",
        "最後から9番目の金曜",
        "月末の",
        "月末の99999999999999999999日前",
        "〜〜〜",
        "::::",
        "午前",
        "午後正午",
        "全",
        "全回",
        "繰り返しは",
        "繰り返しは2026年",
        "繰り返しは2026年3月31日 99:99:99まで",
        "繰り返しは0000年1月1日 0:00:00まで 水曜",
        "週の始まり",
        "2025年",
        "2025/",
        "2025/4/",
        "99999999999年1月1日から 水曜",
        "((((",
        "毎月1・",
        "水・",
        "第2・",
        "隔週",
        "1",
        "1日",
        "1:",
        "1:00〜",
        "1:00〜2:",
        "か月ごと",
        "1か月",
        "毎月毎月",
        "水曜水曜",
        "※※※",
        "土日祝祭日",
    ];
    for input in inputs {
        let _ = ScheduleEntry::parse_japanese(input);
    }
    let huge = "第2・".repeat(10_000) + "第4水曜";
    assert!(ScheduleEntry::parse_japanese(&huge).is_ok());
}

/// Random phrases from a vocabulary of real fragments: nothing panics, and whatever is
/// accepted is valid and comes back unchanged through `to_japanese` and through its RRULE.
#[test]
fn random_phrases_round_trip_when_accepted() {
    const WORDS: [&str; 44] = [
        "毎週",
        "隔週",
        "毎月",
        "隔月",
        "毎日",
        "隔日",
        "第2",
        "第4",
        "・",
        "最終",
        "水曜",
        "金",
        "土日",
        "祝",
        "平日",
        "月〜金",
        "15日",
        "1日",
        "末日",
        "10:00〜12:00",
        "9時〜11時半",
        "午後1時〜3時",
        "（祝日を除く）",
        "祝日休み",
        "2025年4月1日から",
        "2026年3月31日まで",
        "全5回",
        "繰り返しは2026年3月31日まで",
        "週の始まり: 日曜",
        "※メモ",
        " ",
        "3週ごと",
        "2か月ごと",
        "〜",
        "、",
        "(",
        ")",
        "24:00",
        "終日",
        "最後から2番目の",
        "日",
        "月",
        "10",
        "時",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut accepted = 0;
    for _ in 0..20_000 {
        let n = 1 + next() % 6;
        let phrase: String = (0..n)
            .map(|_| WORDS[(next() % WORDS.len() as u64) as usize])
            .collect();
        if let Ok(entry) = ScheduleEntry::parse_japanese(&phrase) {
            accepted += 1;
            entry.validate().unwrap_or_else(|e| panic!("{phrase}: {e}"));
            let written = entry.to_japanese();
            assert_eq!(
                ScheduleEntry::parse_japanese(&written).as_ref(),
                Ok(&entry),
                "{phrase} → {written}"
            );
            assert_eq!(
                Recurrence::parse(&entry.rrule.to_string()).as_ref(),
                Ok(&entry.rrule),
                "{phrase}"
            );
        }
    }
    assert!(accepted > 500, "only {accepted} accepted");
}
