//! The request guard (issue 17) on every method of every service, not a sample: for each
//! method, a body that is not protobuf; for each string field the method's request reaches
//! (nested messages, repeated items and map values included), a NUL, a value one character
//! over its limit and bytes that are not UTF-8; for each enum field a value the enum does not
//! name; for each repeated field one item too many; for each timestamp one past 9999 and for each floating-point number NaN. Every one
//! must come back INVALID_ARGUMENT naming the field — never INTERNAL, never the value itself —
//! before any handler or authorisation sees it.

use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use prost::Message;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, MethodDescriptor, Value,
};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic_types::StatusExt;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::request_guard::{Limits, Rules};
use tsunagu_tests::{KeyedChannel, TestSystem};

/// A case: what was sent, and the field the answer must name ("" for the whole request).
struct Case {
    what: String,
    body: Bytes,
    field: String,
    /// Text the answer must not contain (the refused value, or a long run of it).
    never_echoed: Option<String>,
}

#[tokio::test]
async fn every_method_refuses_every_kind_of_malformed_field() {
    // Two thousand calls in a few seconds: the per-key rate limit would answer most of them.
    let system = TestSystem::start_with(tsunagu_tests::Options {
        env: vec![("TSUNAGU_RATE_LIMIT_PER_SECOND", "0".into())],
        ..Default::default()
    })
    .await;
    let rules = Rules::get();
    let mut methods: Vec<&MethodDescriptor> = rules.methods().collect();
    methods.sort_by_key(|method| method.full_name().to_string());
    let mut calls = 0usize;
    let mut failures = Vec::new();
    for method in &methods {
        if method.is_client_streaming() {
            continue;
        }
        let cases = cases_for(&method.input());
        for service in services_of(method) {
            let channel = system.grpc_channel(service);
            for case in &cases {
                calls += 1;
                let outcome = call_raw(channel.clone(), method, case.body.clone()).await;
                if let Some(problem) = judge(&outcome, case) {
                    failures.push(format!(
                        "{} on {service}: {}: {problem}",
                        method.full_name(),
                        case.what
                    ));
                }
            }
        }
    }
    println!(
        "request guard matrix: {calls} calls over {} methods",
        methods.len()
    );
    assert!(calls > 1_000, "the matrix is smaller than the API: {calls} calls");
    assert!(
        failures.is_empty(),
        "{} of {calls} calls were not refused as they must be:\n{}",
        failures.len(),
        failures.join("\n")
    );
    system.shutdown().await;
}

/// A client stream's items are checked one by one by the same rules: a bad item is reported
/// by its index, the good ones are accepted.
#[tokio::test]
async fn a_need_stream_reports_its_malformed_items_and_keeps_the_rest() {
    use tsunagu_proto::intake::v1 as pb;
    let system = TestSystem::start().await;
    let fixture = tsunagu_tests::Fixture::create(&system, 5).await;
    let good = |request_id: &str| pb::SubmitNeedRequest {
        request_id: request_id.into(),
        municipality_code: tsunagu_tests::MUNICIPALITY.into(),
        area_id: fixture.daily_life_area_id.clone(),
        category: "ゴミ出し".into(),
        consent: Some(tsunagu_tests::consent_to_share()),
        ..Default::default()
    };
    let mut with_nul = good("stream-2");
    with_nul.submitted_by = "佐藤\u{0}".into();
    let mut unknown_urgency = good("stream-3");
    unknown_urgency.urgency = 99;
    let items = vec![good("stream-1"), with_nul, unknown_urgency, good("stream-4")];
    let report = system
        .intake()
        .import_need_stream(tokio_stream::iter(items))
        .await
        .expect("the stream is answered")
        .into_inner();
    assert_eq!(report.accepted, 2, "{report:?}");
    let rejected: Vec<(u32, Vec<String>)> = report
        .rejected
        .iter()
        .map(|r| {
            let fields = r
                .error
                .as_ref()
                .map(|e| e.field_violations.iter().map(|v| v.field.clone()).collect())
                .unwrap_or_default();
            (r.index, fields)
        })
        .collect();
    assert_eq!(
        rejected,
        [
            (1, vec!["submitted_by".to_string()]),
            (2, vec!["urgency".to_string()])
        ]
    );
    system.shutdown().await;
}

/// What is wrong with the answer to `case`, if anything.
fn judge(outcome: &Result<(), tonic::Status>, case: &Case) -> Option<String> {
    let status = match outcome {
        Ok(()) => return Some("accepted".into()),
        Err(status) => status,
    };
    if status.code() != Code::InvalidArgument {
        return Some(format!("{:?}: {}", status.code(), short(status.message())));
    }
    if let Some(echo) = &case.never_echoed
        && (status.message().contains(echo.as_str())
            || format!("{:?}", status.details()).contains(echo.as_str()))
    {
        return Some("the refused value is repeated in the answer".into());
    }
    let details = status.get_error_details();
    let fields: Vec<&str> = details
        .bad_request()
        .map(|bad| bad.field_violations.iter().map(|v| v.field.as_str()).collect())
        .unwrap_or_default();
    if !fields.contains(&case.field.as_str()) {
        return Some(format!(
            "names {fields:?}, not {:?}: {}",
            case.field,
            short(status.message())
        ));
    }
    None
}

fn short(text: &str) -> String {
    text.chars().take(200).collect()
}

/// The services that serve a method: the audit trail is served by every one.
fn services_of(method: &MethodDescriptor) -> Vec<ServiceName> {
    match method.parent_service().package_name() {
        "tsunagu.registry.v1" | "tsunagu.access.v1" => vec![ServiceName::Registry],
        "tsunagu.intake.v1" => vec![ServiceName::Intake],
        "tsunagu.matching.v1" => vec![ServiceName::Matching],
        "tsunagu.notifications.v1" => vec![ServiceName::Notifications],
        "tsunagu.audit.v1" => vec![
            ServiceName::Registry,
            ServiceName::Intake,
            ServiceName::Matching,
            ServiceName::Notifications,
        ],
        other => panic!("a method of an unknown package {other}: add it to the matrix"),
    }
}

/// One place in a request: the fields from the top to a leaf.
#[derive(Clone)]
struct Slot {
    fields: Vec<FieldDescriptor>,
}

impl Slot {
    fn path(&self) -> String {
        self.fields
            .iter()
            .map(|field| {
                if field.is_list() {
                    format!("{}[0]", field.name())
                } else if field.is_map() {
                    format!("{}[\"k\"]", field.name())
                } else {
                    field.name().to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The path of the last field itself (a repeated field's count is its own violation).
    fn container_path(&self) -> String {
        let mut path = Slot {
            fields: self.fields[..self.fields.len() - 1].to_vec(),
        }
        .path();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(self.fields.last().expect("a slot has a field").name());
        path
    }

    fn leaf(&self) -> &FieldDescriptor {
        self.fields.last().expect("a slot has a field")
    }

    /// The request with `value` at this slot (the leaf's single value: an item of a list, a
    /// map entry's value) and every message on the way created.
    fn request(&self, input: &MessageDescriptor, value: Value) -> DynamicMessage {
        let mut top = DynamicMessage::new(input.clone());
        place(&mut top, &self.fields, value);
        top
    }
}

fn place(message: &mut DynamicMessage, fields: &[FieldDescriptor], value: Value) {
    let field = &fields[0];
    let inner = if fields.len() == 1 {
        value
    } else {
        let Kind::Message(descriptor) = field.kind() else {
            unreachable!("only messages have fields below them")
        };
        let mut child = DynamicMessage::new(descriptor);
        place(&mut child, &fields[1..], value);
        Value::Message(child)
    };
    let wrapped = if field.is_list() {
        Value::List(vec![inner])
    } else if field.is_map() {
        let mut map = std::collections::HashMap::new();
        map.insert(MapKey::String("k".into()), inner);
        Value::Map(map)
    } else {
        inner
    };
    message.set_field(field, wrapped);
}

/// Every field reachable from `input`, down nested messages (a message type is not entered
/// twice on one path, so recursive types end).
fn slots(input: &MessageDescriptor) -> Vec<Slot> {
    fn walk(
        message: &MessageDescriptor,
        prefix: &[FieldDescriptor],
        seen: &mut Vec<String>,
        found: &mut Vec<Slot>,
    ) {
        for field in message.fields() {
            let mut fields = prefix.to_vec();
            fields.push(field.clone());
            // A map's value stands at the map field itself.
            let kind = if field.is_map() {
                let Kind::Message(entry) = field.kind() else {
                    unreachable!()
                };
                entry.map_entry_value_field().kind()
            } else {
                field.kind()
            };
            found.push(Slot {
                fields: fields.clone(),
            });
            if let Kind::Message(inner) = kind
                && !field.is_map()
                && inner.full_name() != "google.protobuf.Timestamp"
                && !seen.contains(&inner.full_name().to_string())
            {
                seen.push(inner.full_name().to_string());
                walk(&inner, &fields, seen, found);
                seen.pop();
            }
        }
    }
    let mut found = Vec::new();
    walk(input, &[], &mut vec![input.full_name().to_string()], &mut found);
    found
}

fn value_kind(field: &FieldDescriptor) -> Kind {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            unreachable!()
        };
        entry.map_entry_value_field().kind()
    } else {
        field.kind()
    }
}

fn cases_for(input: &MessageDescriptor) -> Vec<Case> {
    let rules = Rules::get();
    let mut cases = vec![Case {
        what: "a body that is not protobuf".into(),
        body: Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x0f]),
        field: String::new(),
        never_echoed: None,
    }];
    let encode = |message: &DynamicMessage| Bytes::from(message.encode_to_vec());
    for slot in slots(input) {
        let leaf = slot.leaf();
        let limits: Limits = rules.limits(leaf);
        let path = slot.path();
        match value_kind(leaf) {
            Kind::String => {
                cases.push(Case {
                    what: format!("a NUL in {path}"),
                    body: encode(&slot.request(input, Value::String("a\u{0}b".into()))),
                    field: path.clone(),
                    never_echoed: None,
                });
                let max = limits.max_length.expect("every string has a limit") as usize;
                // Japanese characters count as one each though they take three bytes; a field
                // of megabytes is filled with ASCII, to stay within the message size.
                let letter = if max > 100_000 { "a" } else { "あ" };
                cases.push(Case {
                    what: format!("{} characters in {path}", max + 1),
                    body: encode(&slot.request(input, Value::String(letter.repeat(max + 1)))),
                    field: path.clone(),
                    never_echoed: Some(letter.repeat(50.min(max + 1))),
                });
                // Same length as the marker, so every length prefix stays right.
                let marker = "zq9MARKq";
                let mut bytes = encode(&slot.request(input, Value::String(marker.into()))).to_vec();
                let at = bytes
                    .windows(marker.len())
                    .position(|window| window == marker.as_bytes())
                    .expect("the marker is in the encoding");
                bytes[at..at + marker.len()]
                    .copy_from_slice(&[0xc3, 0x28, 0xc3, 0x28, 0xc3, 0x28, 0xc3, 0x28]);
                cases.push(Case {
                    what: format!("bytes that are not UTF-8 in {path}"),
                    body: Bytes::from(bytes),
                    field: String::new(),
                    never_echoed: None,
                });
            }
            Kind::Enum(descriptor) => {
                let unknown = (99..)
                    .find(|n| descriptor.get_value(*n).is_none())
                    .expect("a free number");
                cases.push(Case {
                    what: format!("enum value {unknown} in {path}"),
                    body: encode(&slot.request(input, Value::EnumNumber(unknown))),
                    field: path.clone(),
                    never_echoed: None,
                });
            }
            Kind::Double => cases.push(Case {
                what: format!("NaN in {path}"),
                body: encode(&slot.request(input, Value::F64(f64::NAN))),
                field: path.clone(),
                never_echoed: None,
            }),
            Kind::Float => cases.push(Case {
                what: format!("NaN in {path}"),
                body: encode(&slot.request(input, Value::F32(f32::NAN))),
                field: path.clone(),
                never_echoed: None,
            }),
            Kind::Message(descriptor) if descriptor.full_name() == "google.protobuf.Timestamp" => {
                let mut late = DynamicMessage::new(descriptor);
                late.set_field_by_name("seconds", Value::I64(253_402_300_800));
                cases.push(Case {
                    what: format!("a timestamp after 9999 in {path}"),
                    body: encode(&slot.request(input, Value::Message(late))),
                    field: path.clone(),
                    never_echoed: None,
                });
            }
            _ => {}
        }
        if leaf.is_list() {
            let item = match leaf.kind() {
                Kind::Message(descriptor) => Value::Message(DynamicMessage::new(descriptor)),
                Kind::Enum(descriptor) => Value::EnumNumber(descriptor.default_value().number()),
                Kind::String => Value::String("a".into()),
                Kind::Bytes => Value::Bytes(Bytes::from_static(b"a")),
                Kind::Bool => Value::Bool(false),
                Kind::Double => Value::F64(0.0),
                Kind::Float => Value::F32(0.0),
                Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(0),
                Kind::Uint64 | Kind::Fixed64 => Value::U64(0),
                Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(0),
                Kind::Uint32 | Kind::Fixed32 => Value::U32(0),
            };
            let too_many = limits.max_items as usize + 1;
            let mut request = slot.request(input, item.clone());
            // Put the whole list where the one item stands.
            set_list(&mut request, &slot.fields, vec![item; too_many]);
            cases.push(Case {
                what: format!("{too_many} items in {}", slot.container_path()),
                body: encode(&request),
                field: slot.container_path(),
                never_echoed: None,
            });
        }
    }
    cases
}

fn set_list(message: &mut DynamicMessage, fields: &[FieldDescriptor], items: Vec<Value>) {
    let field = &fields[0];
    if fields.len() == 1 {
        message.set_field(field, Value::List(items));
        return;
    }
    let value = message.get_field_mut(field);
    let child = match value {
        Value::List(list) => list[0].as_message_mut(),
        other => other.as_message_mut(),
    }
    .expect("the way down was created by Slot::request");
    set_list(child, &fields[1..], items);
}

async fn call_raw(
    channel: KeyedChannel,
    method: &MethodDescriptor,
    body: Bytes,
) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| tonic::Status::unavailable(error.to_string()))?;
    let path = PathAndQuery::try_from(format!(
        "/{}/{}",
        method.parent_service().full_name(),
        method.name()
    ))
    .expect("a method path");
    if method.is_server_streaming() {
        let mut stream = grpc
            .server_streaming(tonic::Request::new(body), path, RawCodec)
            .await?
            .into_inner();
        stream.message().await?;
        Ok(())
    } else {
        grpc.unary(tonic::Request::new(body), path, RawCodec)
            .await
            .map(|_| ())
    }
}

/// Sends bytes as they are, as a client with another idea of the message would.
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, buf: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        buf.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining())))
    }
}

/// A page token continues only the list, with the filters, it was issued for: another list's
/// token, the same list's with other filters, or an id put in its place is refused.
#[tokio::test]
async fn page_tokens_are_bound_to_their_list_and_filters() {
    use tsunagu_proto::common::v1::PageRequest;
    use tsunagu_proto::registry::v1 as pb;
    let system = TestSystem::start().await;
    let fixture = tsunagu_tests::Fixture::create(&system, 5).await;
    let mut registry = system.registry();
    for name in ["二つ目", "三つ目"] {
        registry
            .create_resource(tsunagu_tests::new_resource(
                &fixture.organization_id,
                name,
                "ゴミ出し",
                &[&fixture.municipality_id],
                3,
            ))
            .await
            .expect("a resource");
    }
    let page = |token: &str| {
        Some(PageRequest {
            page_size: 1,
            page_token: token.into(),
        })
    };
    let resources = |token: &str, category: &str| pb::ListResourcesRequest {
        municipality_code: tsunagu_tests::MUNICIPALITY.into(),
        category: category.into(),
        page: page(token),
        ..Default::default()
    };
    let first = registry
        .list_resources(resources("", ""))
        .await
        .expect("the first page")
        .into_inner();
    assert!(!first.next_page_token.is_empty());
    let second = registry
        .list_resources(resources(&first.next_page_token, ""))
        .await
        .expect("the second page with its token")
        .into_inner();
    assert_ne!(first.resources[0].id, second.resources[0].id);

    let refused = |result: Result<tonic::Response<pb::ListResourcesResponse>, tonic::Status>, what: &str| {
        let status = result.expect_err(what);
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        let details = status.get_error_details();
        let fields: Vec<String> = details
            .bad_request()
            .map(|bad| bad.field_violations.iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["page.page_token"], "{what}");
    };
    refused(
        registry
            .list_resources(resources(&first.next_page_token, "ゴミ出し"))
            .await,
        "the same list with another filter",
    );
    // A second organisation, so that a page of one has a next page.
    registry
        .create_organization(pb::CreateOrganizationRequest {
            municipality_code: tsunagu_tests::MUNICIPALITY.into(),
            name: "二つ目の団体".into(),
            kind: pb::OrganizationKind::Npo.into(),
            ..Default::default()
        })
        .await
        .expect("a second organisation");
    let organization_token = registry
        .list_organizations(pb::ListOrganizationsRequest {
            municipality_code: tsunagu_tests::MUNICIPALITY.into(),
            page: page(""),
            ..Default::default()
        })
        .await
        .expect("organisations")
        .into_inner()
        .next_page_token;
    assert!(!organization_token.is_empty());
    refused(
        registry.list_resources(resources(&organization_token, "")).await,
        "another list's token",
    );
    refused(
        registry
            .list_resources(resources(&fixture.organization_id, ""))
            .await,
        "an id given as a token",
    );
    system.shutdown().await;
}
