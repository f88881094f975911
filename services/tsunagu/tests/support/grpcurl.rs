//! A tiny stand-in for `grpcurl -plaintext -d '<json>' <host:port> <package.Service/Method>`
//! (grpcurl itself cannot be installed here): one unary call, JSON in and JSON out, typed by the
//! same descriptors the services serve through reflection.

use anyhow::Context;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::{Request, Status};

/// One printed `grpcurl -plaintext -d '<json>' <target> <method>` line.
#[derive(Debug, Clone)]
pub struct Call {
    pub json: String,
    /// `localhost:PORT`, as printed.
    pub target: String,
    /// Fully-qualified `package.Service/Method`.
    pub method: String,
    /// The shell variable of `-H "$VAR"`: the `name: value` header the call carries.
    pub header: Option<String>,
}

impl Call {
    const PREFIX: &str = "grpcurl -plaintext ";

    /// Parses a printed line; `None` for any line that is not such a call.
    pub fn parse(line: &str) -> Option<Call> {
        let mut rest = line.trim().strip_prefix(Self::PREFIX)?;
        let mut header = None;
        if let Some(after) = rest.strip_prefix("-H \"$") {
            let (variable, after) = after.split_once("\" ")?;
            header = Some(variable.to_string());
            rest = after;
        }
        let rest = rest.strip_prefix("-d '")?;
        let (json, rest) = rest.split_once('\'')?;
        let mut words = rest.split_whitespace();
        let (target, method) = (words.next()?, words.next()?);
        if words.next().is_some() {
            return None;
        }
        Some(Call {
            json: json.to_string(),
            target: target.to_string(),
            method: method.to_string(),
            header,
        })
    }
}

/// The `VAR='name: value'` lines the instructions print, by variable.
pub fn header_assignment(line: &str) -> Option<(String, String)> {
    let (variable, value) = line.trim().split_once("='")?;
    let value = value.strip_suffix('\'')?;
    let valid = !variable.is_empty() && variable.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
    valid.then(|| (variable.to_string(), value.to_string()))
}

/// Knows every message of the Tsunagu APIs and of `grpc.health.v1`.
pub struct Grpcurl {
    pool: DescriptorPool,
    /// The shell variables the instructions set, `CITY` → `authorization: Bearer …`.
    pub headers: std::collections::HashMap<String, String>,
}

impl Grpcurl {
    pub fn new() -> anyhow::Result<Grpcurl> {
        let mut pool = DescriptorPool::decode(tsunagu_proto::FILE_DESCRIPTOR_SET)?;
        pool.decode_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)?;
        Ok(Grpcurl {
            pool,
            headers: Default::default(),
        })
    }

    /// Runs `call` as grpcurl would and returns the response as proto3 JSON.
    pub async fn run(&self, call: &Call) -> anyhow::Result<serde_json::Value> {
        let header = match &call.header {
            Some(variable) => Some(
                self.headers
                    .get(variable)
                    .with_context(|| format!("${variable} was not printed"))?
                    .clone(),
            ),
            None => None,
        };
        let (service, method) = call
            .method
            .split_once('/')
            .with_context(|| format!("{:?} is not package.Service/Method", call.method))?;
        let method = self
            .pool
            .get_service_by_name(service)
            .and_then(|s| s.methods().find(|m| m.name() == method))
            .with_context(|| format!("no method {}", call.method))?;
        let request = DynamicMessage::deserialize(
            method.input(),
            &mut serde_json::Deserializer::from_str(&call.json),
        )
        .with_context(|| {
            format!(
                "request JSON {} does not fit {}",
                call.json,
                method.input().full_name()
            )
        })?;

        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", call.target))?
            .connect()
            .await
            .with_context(|| format!("connect to {}", call.target))?;
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await?;
        let path = PathAndQuery::try_from(format!("/{}", call.method))?;
        let mut request = Request::new(request);
        if let Some(header) = header {
            let (name, value) = header
                .split_once(": ")
                .with_context(|| format!("{header:?} is not name: value"))?;
            let name = tonic::metadata::MetadataKey::from_bytes(name.as_bytes())?;
            request.metadata_mut().insert(name, value.parse()?);
        }
        let response = grpc
            .unary(request, path, DynamicCodec(method.output()))
            .await
            .with_context(|| format!("{} {}", call.target, call.method))?;
        Ok(serde_json::to_value(response.get_ref())?)
    }
}

/// Encodes and decodes [`DynamicMessage`]s of one response type.
struct DynamicCodec(MessageDescriptor);

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> DynamicEncoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> DynamicDecoder {
        DynamicDecoder(self.0.clone())
    }
}

struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: DynamicMessage, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        prost::Message::encode(&item, buf).map_err(|error| Status::internal(error.to_string()))
    }
}

struct DynamicDecoder(MessageDescriptor);

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.0.clone(), buf)
            .map(Some)
            .map_err(|error| Status::internal(error.to_string()))
    }
}
