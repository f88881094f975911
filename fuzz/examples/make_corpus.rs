//! Writes the seeds that are easier made by the code than by hand: .xlsx workbooks from
//! tsunagu-tabular's own writer, and a request for every method the request guard knows, in
//! the request_guard target's input format. Run from the repository root:
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example make_corpus
//! ```
//!
//! The other seeds (schedule phrases, RRULEs, CSVs, GeoJSON, the official list, masks, page
//! tokens, envelopes) were written once and are kept as they are in `fuzz/corpus/`.

use std::fs;
use std::path::Path;

use prost::Message;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, Value};
use tsunagu_runtime::request_guard::Rules;
use tsunagu_tabular::write_xlsx;

fn put(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("fuzz/corpus").join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
}

fn strings(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|row| row.iter().map(|cell| cell.to_string()).collect())
        .collect()
}

fn workbooks() {
    let roster = strings(&[
        &["0123456789012", "大垣市社協, 本所", "0584-78-1234"],
        &["", "", ""],
        &["7000012050002", "=HYPERLINK(\"x\")", "'0123"],
    ]);
    put(
        "tabular_xlsx",
        "roster.xlsx",
        &write_xlsx("名簿", &["法人番号", "名称", "電話番号"], &roster).unwrap(),
    );
    put(
        "tabular_xlsx",
        "one_cell.xlsx",
        &write_xlsx("Sheet1", &["a"], &strings(&[&["1"]])).unwrap(),
    );
    put("tabular_xlsx", "empty.xlsx", &write_xlsx("空", &[], &[]).unwrap());
    let long = strings(&[&["北地区", "3", "0.5"], &["南地区", "-12", "1E+20"]]);
    put(
        "tabular_xlsx",
        "counts.xlsx",
        &write_xlsx("集計[1]", &["地区", "件数", "割合"], &long).unwrap(),
    );
}

/// A value for every field of `descriptor`, nested messages `depth` levels down.
fn filled(descriptor: MessageDescriptor, depth: usize) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    if depth == 0 {
        return message;
    }
    for field in descriptor.fields() {
        let single = match field.kind() {
            Kind::String => Value::String("大垣市 北地区 ゴミ出し".into()),
            Kind::Bytes => Value::Bytes(b"\x00\x01tsunagu".to_vec().into()),
            Kind::Bool => Value::Bool(true),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(3),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(1_700_000_000),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(3),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(3),
            Kind::Float => Value::F32(1.5),
            Kind::Double => Value::F64(35.36),
            Kind::Enum(kind) => Value::EnumNumber(kind.values().last().map_or(0, |v| v.number())),
            Kind::Message(kind) => Value::Message(filled(kind, depth - 1)),
        };
        if field.is_map() {
            continue;
        }
        let value = if field.is_list() {
            Value::List(vec![single])
        } else {
            single
        };
        message.set_field(&field, value);
    }
    message
}

fn requests() {
    let rules = Rules::get();
    let mut methods: Vec<_> = rules
        .methods()
        .filter(|method| !method.is_client_streaming())
        .map(|method| {
            let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
            (path, method.input())
        })
        .collect();
    methods.sort_by(|a, b| a.0.cmp(&b.0));
    for (index, (path, input)) in methods.iter().enumerate() {
        // The target picks the method by the first byte, modulo the count (below 128).
        let selector = u8::try_from(index % 128).unwrap();
        let name = path.trim_start_matches('/').replace('/', "_");
        for (suffix, message) in [
            ("empty", DynamicMessage::new(input.clone())),
            ("filled", filled(input.clone(), 3)),
        ] {
            let mut bytes = vec![selector];
            bytes.extend(message.encode_to_vec());
            put("request_guard", &format!("{name}_{suffix}"), &bytes);
        }
    }
    println!("{} methods", methods.len());
}

fn main() {
    workbooks();
    requests();
}
