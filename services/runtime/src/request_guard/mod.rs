//! The request guard: the one place that decides whether a request is well formed enough to be
//! read at all (issue 17). It sits behind authentication and in front of every handler, decodes
//! each unary request once more against the service's descriptors, and refuses with
//! INVALID_ARGUMENT — field by field, in Japanese and English, never repeating the value —
//! a request that
//!
//! - is not the message it claims to be (malformed protobuf, a string that is not UTF-8),
//!   which tonic would answer with INTERNAL;
//! - has a string or bytes field over its limit, or a repeated or map field with too many items
//!   (`rules.rs`: defaults, and the limits the protos declare);
//! - has a control character in a text field (line breaks and tabs only where the field is
//!   multi-line: NUL would reach PostgreSQL, which refuses it; ESC and BEL would be stored);
//! - names an enum value its enum does not have (proto3 would read 99 back as 99, and the
//!   handlers as "unspecified" or the first value);
//! - holds a non-finite number or a timestamp out of range.
//!
//! Checking here, before a handler authorises, also means a request that cannot be read learns
//! that, not a PERMISSION_DENIED. What needs the handler's knowledge (a municipality code's
//! check digit, an area that exists) stays with the handler, which reports every such problem
//! of a request at once.
//! Client streams pass through; their handlers check each item with [`check`].

mod check;
mod rules;

use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Full, Limited};
use prost_reflect::ReflectMessage;
use tower::{Layer, Service};

pub use check::{MAX_REPORTED, check, forbidden_control};
pub use rules::{
    DEFAULT_MAX_CHARS, DEFAULT_MAX_ITEMS, DEFAULT_MAX_MESSAGE_BYTES, FILE_MAX_MESSAGE_BYTES, Limits, Rules,
};

use crate::error::{FieldViolation, ServiceError};

/// The status a stream handler answers for an item the guard's rules refuse, or `Ok`.
pub fn check_item<M: prost::Message + prost::Name>(message: &M) -> Result<(), ServiceError> {
    let violations = check(message);
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::InvalidArgument(violations))
    }
}

#[derive(Clone, Copy, Default)]
pub struct RequestGuardLayer;

impl<S> Layer<S> for RequestGuardLayer {
    type Service = RequestGuard<S>;

    fn layer(&self, inner: S) -> RequestGuard<S> {
        RequestGuard { inner }
    }
}

#[derive(Clone)]
pub struct RequestGuard<S> {
    inner: S,
}

type Body = tonic::body::Body;

impl<S> Service<http::Request<Body>> for RequestGuard<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The service that was polled ready handles this call; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let rules = Rules::get();
            let is_grpc = request
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.starts_with("application/grpc"));
            let method = rules.method(request.uri().path()).cloned();
            let Some(method) = method.filter(|method| is_grpc && !method.is_client_streaming()) else {
                return inner.call(request).await;
            };
            let limit = rules.max_message_bytes(&method.input());
            let (parts, body) = request.into_parts();
            // The frame header (5 bytes) on top of the message; past that, the body is not read.
            let bytes = match Limited::new(body, limit + 5).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(error) => return Ok(refusal(body_error(error, limit))),
            };
            let message = match inspect(&method, &bytes) {
                Ok(message) => message,
                Err(violations) => {
                    tracing::info!(
                        method = method.name(),
                        problems = violations.len(),
                        "request refused by the request guard"
                    );
                    return Ok(refusal(tonic::Status::from(ServiceError::InvalidArgument(
                        violations,
                    ))));
                }
            };
            // A list's page tokens are bound to the list and its filters (`crate::page_token`).
            let binding = list_binding(parts.uri.path(), message);
            let call = inner.call(http::Request::from_parts(parts, Body::new(Full::new(bytes))));
            crate::page_token::bound(binding, call).await
        })
    }
}

fn refusal(status: tonic::Status) -> http::Response<Body> {
    status.into_http()
}

/// A body that could not be read whole: over the limit (the caller's error), or broken off.
fn body_error(error: Box<dyn std::error::Error + Send + Sync>, limit: usize) -> tonic::Status {
    if error.is::<http_body_util::LengthLimitError>() {
        let mib = limit / (1024 * 1024);
        tonic::Status::from(ServiceError::invalid(
            "",
            format!("リクエストが大きすぎます（{mib} MiB まで）/ the request is larger than {mib} MiB"),
        ))
    } else {
        tonic::Status::cancelled("リクエストを受け取れませんでした / the request body could not be read")
    }
}

/// What a list request asks for apart from its page: the method and the request with every
/// `PageRequest` cleared. Requests without a page are not lists, and bind to nothing.
fn list_binding(path: &str, message: Option<prost_reflect::DynamicMessage>) -> [u8; 32] {
    let Some(mut message) = message else {
        return [0; 32];
    };
    let pages: Vec<_> = message
        .descriptor()
        .fields()
        .filter(|field| {
            matches!(field.kind(), prost_reflect::Kind::Message(kind) if kind.full_name() == "tsunagu.common.v1.PageRequest")
        })
        .collect();
    if pages.is_empty() {
        return [0; 32];
    }
    for page in &pages {
        message.clear_field(page);
    }
    crate::page_token::binding(path, &prost::Message::encode_to_vec(&message))
}

/// The one message of a unary gRPC request body, checked; `None` when it is not ours to judge.
fn inspect(
    method: &prost_reflect::MethodDescriptor,
    body: &[u8],
) -> Result<Option<prost_reflect::DynamicMessage>, Vec<FieldViolation>> {
    let mut frame = body;
    if frame.len() < 5 {
        return Err(vec![FieldViolation::new(
            "",
            "リクエストにメッセージがありません / the request carries no message",
        )]);
    }
    let compressed = frame.get_u8() == 1;
    let length = frame.get_u32() as usize;
    if compressed {
        // Not one of ours to judge: tonic answers a compression it was not configured for.
        return Ok(None);
    }
    if frame.len() != length {
        return Err(vec![FieldViolation::new(
            "",
            "リクエストの長さが正しくありません / the request frame is malformed",
        )]);
    }
    let message = check::decode(method.input(), frame).map_err(|violation| vec![violation])?;
    let violations = check::check_message(&message);
    if violations.is_empty() {
        Ok(Some(message))
    } else {
        Err(violations)
    }
}

/// What the guard finds wrong with a unary request body (`bytes`, framed as on the wire) for
/// the method at `method_path`: the violations it would refuse the call with, none when it
/// passes or when the method or the frame is not the guard's to judge. A byte-level entry for
/// fuzzing the decoder and the walk (`fuzz/`), which the service path reaches only over HTTP.
pub fn check_bytes(method_path: &str, bytes: &[u8]) -> Vec<FieldViolation> {
    let Some(method) = Rules::get().method(method_path) else {
        return Vec::new();
    };
    inspect(method, bytes).err().unwrap_or_default()
}

/// The request's bytes as a stream item would arrive (for tests of the framing).
pub fn frame(message: &[u8]) -> Bytes {
    let mut framed = Vec::with_capacity(message.len() + 5);
    framed.push(0);
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(message);
    Bytes::from(framed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn submit_need() -> prost_reflect::MethodDescriptor {
        Rules::get()
            .method("/tsunagu.intake.v1.IntakeService/SubmitNeed")
            .cloned()
            .unwrap()
    }

    #[test]
    fn a_framed_sound_request_passes_and_a_broken_frame_does_not() {
        let request = tsunagu_proto::intake::v1::SubmitNeedRequest {
            category: "ゴミ出し".into(),
            ..Default::default()
        }
        .encode_to_vec();
        assert!(inspect(&submit_need(), &frame(&request)).is_ok());
        let mut cut = frame(&request).to_vec();
        cut.pop();
        assert!(inspect(&submit_need(), &cut).is_err());
        assert!(inspect(&submit_need(), &[]).is_err());
    }

    #[test]
    fn check_bytes_answers_what_the_guard_would() {
        let path = "/tsunagu.intake.v1.IntakeService/SubmitNeed";
        let request = tsunagu_proto::intake::v1::SubmitNeedRequest {
            category: "ゴミ出し".into(),
            ..Default::default()
        }
        .encode_to_vec();
        assert!(check_bytes(path, &frame(&request)).is_empty());
        assert_eq!(check_bytes(path, &frame(&[0x0a, 0x05, 0xff])).len(), 1);
        assert!(check_bytes("/tsunagu.nothing.v1.Nowhere/Nothing", b"").is_empty());
    }
}
