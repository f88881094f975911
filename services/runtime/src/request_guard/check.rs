//! The walk over one decoded request: every string, bytes, enum, repeated, map, number and
//! timestamp field against its limits. Each problem is named by its path in the request
//! (`resource.schedules[2].rrule`) and described without repeating the value: a refused
//! megabyte must not come back in the answer.

use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value,
};

use super::rules::{Limits, Rules};
use crate::error::FieldViolation;

/// More problems than this in one request are summed up in one last line: the answer must
/// stay small enough for the client to read it (gRPC metadata is limited to a few KiB).
pub const MAX_REPORTED: usize = 20;

/// The problems of a decoded request, in the order of its fields.
pub fn check_message(message: &DynamicMessage) -> Vec<FieldViolation> {
    let mut walk = Walk {
        rules: Rules::get(),
        found: Vec::new(),
        more: 0,
    };
    walk.message(message, "");
    if walk.more > 0 {
        walk.found.push(FieldViolation::new(
            "",
            format!(
                "ほかに {} 件の誤りがあります / and {} more problems",
                walk.more, walk.more
            ),
        ));
    }
    walk.found
}

/// Checks a message the service already holds in its generated type (a client stream's items,
/// which pass the guard undecoded), by the same rules.
pub fn check<M: prost::Message + prost::Name>(message: &M) -> Vec<FieldViolation> {
    let Some(descriptor) = Rules::get().pool().get_message_by_name(&M::full_name()) else {
        return Vec::new();
    };
    match DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()) {
        Ok(dynamic) => check_message(&dynamic),
        Err(error) => vec![undecodable(&error)],
    }
}

/// The violation of a request that is not the message it claims to be.
pub fn undecodable(error: &prost::DecodeError) -> FieldViolation {
    FieldViolation::new(
        "",
        format!(
            "リクエストを読み取れません（protobuf として解読できないか、文字列が UTF-8 ではありません）/ the request could not be decoded: {error}"
        ),
    )
}

/// The message descriptor a decoded request must have to be walked: the method's input.
pub fn decode(descriptor: MessageDescriptor, bytes: &[u8]) -> Result<DynamicMessage, FieldViolation> {
    DynamicMessage::decode(descriptor, bytes).map_err(|error| undecodable(&error))
}

struct Walk {
    rules: &'static Rules,
    found: Vec<FieldViolation>,
    more: usize,
}

impl Walk {
    fn report(&mut self, field: String, description: String) {
        if self.found.len() < MAX_REPORTED {
            self.found.push(FieldViolation::new(field, description));
        } else {
            self.more += 1;
        }
    }

    fn message(&mut self, message: &DynamicMessage, prefix: &str) {
        if message.descriptor().full_name() == "google.protobuf.Timestamp" {
            self.timestamp(message, prefix);
            return;
        }
        for (field, value) in message.fields() {
            let path = join(prefix, field.name());
            let limits = self.rules.limits(&field);
            match value {
                Value::List(items) => {
                    self.count(&path, items.len(), &limits);
                    for (index, item) in items.iter().enumerate() {
                        self.value(&field, item, &format!("{path}[{index}]"), &limits);
                    }
                }
                Value::Map(entries) => {
                    self.count(&path, entries.len(), &limits);
                    for (key, item) in entries {
                        let key_path = format!("{path}[{}]", key_label(key));
                        if let MapKey::String(key) = key {
                            self.text(&key_path, key, &limits);
                        }
                        self.value(&field, item, &key_path, &limits);
                    }
                }
                single => self.value(&field, single, &path, &limits),
            }
        }
    }

    fn value(&mut self, field: &FieldDescriptor, value: &Value, path: &str, limits: &Limits) {
        match value {
            Value::String(text) => self.text(path, text, limits),
            Value::Bytes(bytes) => {
                if let Some(max) = limits.max_length.filter(|max| bytes.len() > *max as usize) {
                    self.report(
                        path.to_string(),
                        format!(
                            "{max} バイト以内にしてください（{} バイトあります）/ at most {max} bytes ({} given)",
                            bytes.len(),
                            bytes.len()
                        ),
                    );
                }
            }
            Value::EnumNumber(number) => self.enum_value(field, path, *number),
            Value::F64(number) if !number.is_finite() => self.not_finite(path),
            Value::F32(number) if !number.is_finite() => self.not_finite(path),
            Value::Message(inner) => self.message(inner, path),
            _ => {}
        }
    }

    fn count(&mut self, path: &str, items: usize, limits: &Limits) {
        let max = limits.max_items;
        if items > max as usize {
            self.report(
                path.to_string(),
                format!(
                    "{max} 件以内にしてください（{items} 件あります）/ at most {max} items ({items} given)"
                ),
            );
        }
    }

    fn text(&mut self, path: &str, text: &str, limits: &Limits) {
        if let Some(max) = limits.max_length {
            // Counting stops past the limit: a megabyte is not counted to say it is too long.
            let counted = text.chars().take(max as usize + 1).count();
            if counted > max as usize {
                self.report(
                    path.to_string(),
                    format!(
                        "{max} 文字以内で入力してください（{} 文字あります）/ at most {max} characters ({} given)",
                        text.chars().count(),
                        text.chars().count()
                    ),
                );
                return;
            }
        }
        if let Some((position, control)) = forbidden_control(text, limits.multiline) {
            let code = format!("U+{:04X}", u32::from(control));
            let description = if matches!(control, '\n' | '\r' | '\t') {
                format!(
                    "改行やタブは使えません（{position} 文字目）。1 行で入力してください / line breaks and tabs are not allowed here ({code} at character {position})"
                )
            } else {
                format!(
                    "制御文字 {code} は使えません（{position} 文字目）/ control character {code} is not allowed (at character {position})"
                )
            };
            self.report(path.to_string(), description);
        }
    }

    fn enum_value(&mut self, field: &FieldDescriptor, path: &str, number: i32) {
        let Kind::Enum(descriptor) = field.kind() else {
            return;
        };
        if descriptor.get_value(number).is_some() {
            return;
        }
        let names: Vec<String> = descriptor
            .values()
            .map(|value| value.name().to_string())
            .collect();
        self.report(
            path.to_string(),
            format!(
                "{number} は {} の値ではありません（{}）/ {number} is not a value of {}",
                descriptor.name(),
                names.join(", "),
                descriptor.full_name()
            ),
        );
    }

    fn not_finite(&mut self, path: &str) {
        self.report(
            path.to_string(),
            "数値を入力してください（NaN や無限大は使えません）/ must be a finite number".to_string(),
        );
    }

    /// A timestamp must be one the rest of the system can store and show: from year 1 to
    /// 9999 (RFC 3339), with nanoseconds below one second.
    fn timestamp(&mut self, message: &DynamicMessage, path: &str) {
        const MIN_SECONDS: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
        const MAX_SECONDS: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
        let seconds = message
            .get_field_by_name("seconds")
            .and_then(|value| value.as_i64())
            .unwrap_or(0);
        let nanos = message
            .get_field_by_name("nanos")
            .and_then(|value| value.as_i32())
            .unwrap_or(0);
        if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) || !(0..1_000_000_000).contains(&nanos) {
            self.report(
                path.to_string(),
                "日時が範囲外です（0001-01-01 から 9999-12-31 まで）/ timestamp out of range (0001-01-01 to 9999-12-31)".to_string(),
            );
        }
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// A map key in a field path, shortened: the path is part of the answer.
fn key_label(key: &MapKey) -> String {
    let text = match key {
        MapKey::String(text) => format!("{text:?}"),
        other => format!("{other:?}"),
    };
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

/// The first control character a field may not hold, with its 1-based position: line breaks
/// and tabs only where the field is multi-line; NUL, ESC, BEL, DEL and the C1 controls never.
pub fn forbidden_control(text: &str, multiline: bool) -> Option<(usize, char)> {
    text.chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
        .map(|(index, c)| (index + 1, c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use tsunagu_proto::intake::v1 as intake;
    use tsunagu_proto::registry::v1 as registry;

    fn fields(violations: &[FieldViolation]) -> Vec<&str> {
        violations.iter().map(|v| v.field.as_str()).collect()
    }

    #[test]
    fn a_sound_request_passes() {
        let request = registry::CreateAreaRequest {
            name: "西部圏域".into(),
            ..Default::default()
        };
        assert!(check(&request).is_empty());
    }

    #[test]
    fn over_long_text_is_refused_without_repeating_it() {
        let huge = "あ".repeat(1_048_576);
        let request = registry::CreateAreaRequest {
            name: huge.clone(),
            ..Default::default()
        };
        let violations = check(&request);
        assert_eq!(fields(&violations), ["name"]);
        assert!(violations[0].description.contains("200"));
        assert!(
            violations[0].description.len() < 300,
            "{}",
            violations[0].description
        );
    }

    #[test]
    fn control_characters_are_refused_and_line_breaks_only_where_multiline() {
        let request = intake::SubmitNeedRequest {
            category: "ゴミ\u{0}出し".into(),
            submitted_by: "佐藤\u{1b}[31m".into(),
            notes: "一行目\n二行目\tタブ".into(),
            request_id: "a\nb".into(),
            ..Default::default()
        };
        let violations = check(&request);
        assert_eq!(fields(&violations), ["request_id", "category", "submitted_by"]);
        assert!(violations[1].description.contains("U+0000"));
        assert!(violations[2].description.contains("U+001B"));
    }

    #[test]
    fn unknown_enum_values_are_refused() {
        let request = intake::SubmitNeedRequest {
            urgency: 99,
            ..Default::default()
        };
        let violations = check(&request);
        assert_eq!(fields(&violations), ["urgency"]);
        assert!(violations[0].description.contains("URGENCY_ROUTINE"));
    }

    #[test]
    fn nested_and_repeated_fields_are_named_by_their_path() {
        let request = registry::CreateResourceRequest {
            resource: Some(registry::Resource {
                coverage_area_ids: vec!["x".into(), "y\u{7}".into()],
                schedules: vec![registry::Schedule {
                    rrule: "FREQ=WEEKLY;".repeat(100),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            fields(&check(&request)),
            ["resource.coverage_area_ids[1]", "resource.schedules[0].rrule"]
        );
    }

    #[test]
    fn too_many_items_are_refused_and_the_report_stays_short() {
        let request = registry::BatchGetResourcesRequest {
            ids: (0..1_500).map(|i| format!("{i}\u{0}")).collect(),
            ..Default::default()
        };
        let violations = check(&request);
        assert_eq!(violations[0].field, "ids");
        assert_eq!(violations.len(), MAX_REPORTED + 1);
        assert!(violations.last().unwrap().description.contains("1481"));
    }

    #[test]
    fn undecodable_bytes_and_invalid_utf8_are_the_callers_error() {
        let descriptor = Rules::get()
            .pool()
            .get_message_by_name("tsunagu.registry.v1.CreateAreaRequest")
            .unwrap();
        assert!(decode(descriptor.clone(), &[0xff, 0xff, 0xff]).is_err());
        // Field 3 (`name`, a string) with two bytes that are not UTF-8.
        let invalid_utf8 = [0x1a, 0x02, 0xc3, 0x28];
        let refused = decode(descriptor.clone(), &invalid_utf8).unwrap_err();
        assert!(refused.description.contains("UTF-8"), "{}", refused.description);
        let sound = registry::CreateAreaRequest {
            name: "西部".into(),
            ..Default::default()
        }
        .encode_to_vec();
        assert!(decode(descriptor, &sound).is_ok());
    }

    #[test]
    fn timestamps_out_of_range_and_non_finite_numbers_are_refused() {
        let request = intake::RecordConsentRequest {
            consent: Some(intake::ConsentInput {
                consented_at: Some(prost_types::Timestamp {
                    seconds: 253_402_300_800,
                    nanos: 0,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(fields(&check(&request)), ["consent.consented_at"]);
        let nowhere = registry::CreateAreaRequest {
            location: Some(tsunagu_proto::common::v1::GeoPoint {
                latitude: f64::NAN,
                longitude: f64::INFINITY,
            }),
            ..Default::default()
        };
        assert_eq!(
            fields(&check(&nowhere)),
            ["location.latitude", "location.longitude"]
        );
    }
}
