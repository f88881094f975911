//! What each request field may hold: the defaults every field has, and the exceptions the
//! protos declare with `(tsunagu.common.v1.limits)` (proto/tsunagu/common/v1/limits.proto).
//! docs/limits.md lists both; `tests/tests/system/request_guard.rs` keeps that page in step
//! with the protos.

use std::collections::HashMap;
use std::sync::OnceLock;

use prost_reflect::{
    DescriptorPool, ExtensionDescriptor, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
};

/// A string on one line: enough for any name, id, code or address anyone types, far below
/// what would let a caller store a page of text where a name belongs.
pub const DEFAULT_MAX_CHARS: u32 = 1_000;
/// Items of a repeated or map field.
pub const DEFAULT_MAX_ITEMS: u32 = 1_000;
/// A unary request's message, as tonic's own default decoding limit.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// A request that carries a sheet or a file (a `bytes` field): the registry's and intake's
/// servers accept 64 MiB.
pub const FILE_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// The limits in force for one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Characters of a string, bytes of a bytes field; `None` for bytes without a declared
    /// limit (the message size bounds them).
    pub max_length: Option<u32>,
    pub multiline: bool,
    pub max_items: u32,
}

/// The descriptors of every Tsunagu API, with the limits extension resolved once.
pub struct Rules {
    pool: DescriptorPool,
    limits_extension: ExtensionDescriptor,
    methods: HashMap<String, MethodDescriptor>,
    /// Every field's limits, worked out once: reading a field's options decodes them anew
    /// each time, which cost more than the rest of a request's walk together.
    by_field: HashMap<String, Limits>,
}

impl Rules {
    /// The rules of `tsunagu_proto::FILE_DESCRIPTOR_SET`, built on first use.
    pub fn get() -> &'static Rules {
        static RULES: OnceLock<Rules> = OnceLock::new();
        RULES.get_or_init(|| {
            let pool = DescriptorPool::decode(tsunagu_proto::FILE_DESCRIPTOR_SET)
                .expect("the descriptor set built by tsunagu-proto decodes");
            Rules::new(pool)
        })
    }

    fn new(pool: DescriptorPool) -> Rules {
        let limits_extension = pool
            .get_extension_by_name("tsunagu.common.v1.limits")
            .expect("proto/tsunagu/common/v1/limits.proto is compiled into the descriptor set");
        let methods = pool
            .services()
            .flat_map(|service| service.methods().collect::<Vec<_>>())
            .map(|method| {
                (
                    format!("/{}/{}", method.parent_service().full_name(), method.name()),
                    method,
                )
            })
            .collect();
        let mut rules = Rules {
            pool,
            limits_extension,
            methods,
            by_field: HashMap::new(),
        };
        let by_field = rules
            .pool
            .all_messages()
            .flat_map(|message| message.fields().collect::<Vec<_>>())
            .map(|field| (field.full_name().to_string(), rules.declared_limits(&field)))
            .collect();
        rules.by_field = by_field;
        rules
    }

    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// The method a request path (`/tsunagu.intake.v1.IntakeService/SubmitNeed`) names, if it
    /// is one of Tsunagu's.
    pub fn method(&self, path: &str) -> Option<&MethodDescriptor> {
        self.methods.get(path)
    }

    /// Every method of every Tsunagu service, for the tests that must cover them all.
    pub fn methods(&self) -> impl Iterator<Item = &MethodDescriptor> {
        self.methods.values()
    }

    /// The limits of `field`: its own declaration over the defaults.
    pub fn limits(&self, field: &FieldDescriptor) -> Limits {
        match self.by_field.get(field.full_name()) {
            Some(limits) => *limits,
            None => self.declared_limits(field),
        }
    }

    fn declared_limits(&self, field: &FieldDescriptor) -> Limits {
        let declared = field.options();
        let declared = declared.get_extension(&self.limits_extension);
        let number = |name: &str| {
            declared
                .as_message()
                .and_then(|message| message.get_field_by_name(name))
                .and_then(|value| value.as_u32())
                .filter(|n| *n > 0)
        };
        let multiline = declared
            .as_message()
            .and_then(|message| message.get_field_by_name("multiline"))
            .and_then(|value| value.as_bool())
            .unwrap_or(false);
        let is_bytes = matches!(field.kind(), Kind::Bytes);
        Limits {
            max_length: number("max_length").or((!is_bytes).then_some(DEFAULT_MAX_CHARS)),
            multiline,
            max_items: number("max_items").unwrap_or(DEFAULT_MAX_ITEMS),
        }
    }

    /// How large a request of this method may be: files travel in `bytes` fields.
    pub fn max_message_bytes(&self, input: &MessageDescriptor) -> usize {
        if carries_bytes(input, &mut Vec::new()) {
            FILE_MAX_MESSAGE_BYTES
        } else {
            DEFAULT_MAX_MESSAGE_BYTES
        }
    }
}

fn carries_bytes(message: &MessageDescriptor, seen: &mut Vec<String>) -> bool {
    if seen.iter().any(|name| name == message.full_name()) {
        return false;
    }
    seen.push(message.full_name().to_string());
    message.fields().any(|field| match field.kind() {
        Kind::Bytes => true,
        Kind::Message(inner) => carries_bytes(&inner, seen),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(message: &str, name: &str) -> FieldDescriptor {
        Rules::get()
            .pool()
            .get_message_by_name(message)
            .unwrap_or_else(|| panic!("{message}"))
            .get_field_by_name(name)
            .unwrap_or_else(|| panic!("{message}.{name}"))
    }

    #[test]
    fn declared_limits_override_the_defaults() {
        let rules = Rules::get();
        let notes = rules.limits(&field("tsunagu.intake.v1.SubmitNeedRequest", "notes"));
        assert_eq!(notes.max_length, Some(10_000));
        assert!(notes.multiline);
        let name = rules.limits(&field("tsunagu.registry.v1.CreateAreaRequest", "name"));
        assert_eq!(name.max_length, Some(200));
        assert!(!name.multiline);
        let category = rules.limits(&field("tsunagu.intake.v1.SubmitNeedRequest", "category"));
        assert_eq!(category.max_length, Some(DEFAULT_MAX_CHARS));
        assert_eq!(category.max_items, DEFAULT_MAX_ITEMS);
    }

    #[test]
    fn requests_with_files_may_be_larger() {
        let rules = Rules::get();
        let sheet = rules
            .method("/tsunagu.registry.v1.RegistryService/ImportResources")
            .unwrap();
        assert_eq!(rules.max_message_bytes(&sheet.input()), FILE_MAX_MESSAGE_BYTES);
        let submit = rules
            .method("/tsunagu.intake.v1.IntakeService/SubmitNeed")
            .unwrap();
        assert_eq!(
            rules.max_message_bytes(&submit.input()),
            DEFAULT_MAX_MESSAGE_BYTES
        );
    }
}

/// docs/limits.md lists every declared limit, generated from the descriptors by this test;
/// run it with `TSUNAGU_WRITE_DOCS=1` to bring the page up to date after a proto changed.
#[cfg(test)]
mod documented {
    use super::*;

    const MARKER: &str = "<!-- generated from the protos by services/runtime/src/request_guard/rules.rs; do not edit below -->";

    fn declared_table() -> String {
        let rules = Rules::get();
        let mut rows = Vec::new();
        for message in rules.pool().all_messages() {
            if !message.full_name().starts_with("tsunagu.") {
                continue;
            }
            for field in message.fields() {
                let options = field.options();
                if !options.has_extension(&rules.limits_extension) {
                    continue;
                }
                let limits = rules.limits(&field);
                let length = limits.max_length.map(group_digits).unwrap_or_default();
                let unit = if matches!(field.kind(), Kind::Bytes) {
                    "bytes"
                } else {
                    "characters"
                };
                rows.push(format!(
                    "| `{}` | {length} {unit} | {} | {} |",
                    field.full_name(),
                    if limits.multiline { "yes" } else { "" },
                    if limits.max_items != DEFAULT_MAX_ITEMS {
                        group_digits(limits.max_items)
                    } else {
                        String::new()
                    },
                ));
            }
        }
        rows.sort();
        format!(
            "{MARKER}\n\n| field | at most | line breaks | items |\n| --- | --- | --- | --- |\n{}\n",
            rows.join("\n")
        )
    }

    fn group_digits(n: u32) -> String {
        let digits = n.to_string();
        let mut out = String::new();
        for (index, c) in digits.chars().enumerate() {
            if index > 0 && (digits.len() - index).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    #[test]
    fn the_limits_page_lists_every_declared_limit() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/limits.md");
        let page = std::fs::read_to_string(path).expect("docs/limits.md");
        let (head, _) = page
            .split_once(MARKER)
            .expect("docs/limits.md has the generated part's marker");
        let expected = format!("{head}{}", declared_table());
        if std::env::var_os("TSUNAGU_WRITE_DOCS").is_some() {
            std::fs::write(path, &expected).expect("write docs/limits.md");
            return;
        }
        assert!(
            page == expected,
            "docs/limits.md is behind the protos: run `TSUNAGU_WRITE_DOCS=1 cargo test -p tsunagu-runtime the_limits_page`"
        );
    }
}
