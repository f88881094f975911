//! One error type for every service boundary, mapped onto gRPC status codes.
//!
//! A restricted set on purpose (after quickwit): add a variant only when a caller must react
//! to it differently. Invalid input carries `google.rpc.BadRequest` field violations, so a
//! client can show the coordinator which field is wrong.

use tonic::Code;
use tonic_types::{ErrorDetails, FieldViolation as ProtoFieldViolation, StatusExt};

/// One invalid field: its path in the request (e.g. `coverage_area_ids[2]`) and what is wrong,
/// in Japanese first and English after, as the coordinator reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{0} not found")]
    NotFound(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    /// Optimistic concurrency: the caller edited a version that is no longer current.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The caller may not do this, or the object does not exist: the two are not told apart,
    /// so a refusal never reveals another tenant's data (issue 7).
    #[error("permission denied")]
    Denied,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> ServiceError {
        ServiceError::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    /// Names the fields of a nested message by their path in the request, e.g. `capacity`
    /// of `CreateResourceRequest.resource` becomes `resource.capacity`.
    pub fn prefixed(self, prefix: &str) -> ServiceError {
        match self {
            ServiceError::InvalidArgument(violations) => ServiceError::InvalidArgument(
                violations
                    .into_iter()
                    .map(|v| FieldViolation::new(format!("{prefix}{}", v.field), v.description))
                    .collect(),
            ),
            other => other,
        }
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                ServiceError::Unavailable("データベースに接続できません / database unreachable".into())
            }
            _ => ServiceError::Internal(error.into()),
        }
    }
}

impl From<anyhow::Error> for ServiceError {
    fn from(error: anyhow::Error) -> Self {
        ServiceError::Internal(error)
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(error: ServiceError) -> tonic::Status {
        match error {
            ServiceError::InvalidArgument(violations) => {
                let violations = bounded(violations);
                let message = format!(
                    "入力内容に誤りがあります / invalid argument: {}",
                    describe(&violations)
                );
                let details = ErrorDetails::with_bad_request(
                    violations
                        .into_iter()
                        .map(|v| ProtoFieldViolation::new(v.field, v.description))
                        .collect::<Vec<_>>(),
                );
                tonic::Status::with_error_details(Code::InvalidArgument, message, details)
            }
            ServiceError::NotFound(what) => {
                tonic::Status::not_found(format!("{what} が見つかりません / not found"))
            }
            ServiceError::AlreadyExists(what) => tonic::Status::already_exists(what),
            ServiceError::FailedPrecondition(what) => tonic::Status::failed_precondition(what),
            ServiceError::Conflict(what) => tonic::Status::aborted(what),
            ServiceError::Unavailable(what) => tonic::Status::unavailable(what),
            ServiceError::Denied => crate::auth::denied(),
            ServiceError::Internal(cause) => {
                // The cause chain goes to the log (and the trace), never to the caller.
                tracing::error!(error = format!("{cause:#}"), "internal error");
                tonic::Status::internal("内部エラーが発生しました / internal error")
            }
        }
    }
}

/// At most this many characters of a field's description reach the caller.
const MAX_DESCRIPTION_CHARS: usize = 300;

/// Violations as they may travel: gRPC carries them in metadata, which a client refuses past
/// a few KiB, so a description that quotes a huge value, or a thousand violations, would leave
/// the caller with nothing but "metadata size exceeds …". The first
/// [`crate::request_guard::MAX_REPORTED`] are kept, each cut short, and the rest counted.
fn bounded(violations: Vec<FieldViolation>) -> Vec<FieldViolation> {
    let total = violations.len();
    let keep = crate::request_guard::MAX_REPORTED + 1;
    let mut kept: Vec<FieldViolation> = violations
        .into_iter()
        .take(keep)
        .map(|v| {
            FieldViolation::new(
                shortened(&v.field, 200),
                shortened(&v.description, MAX_DESCRIPTION_CHARS),
            )
        })
        .collect();
    if total > keep {
        kept.push(FieldViolation::new(
            "",
            format!(
                "ほかに {} 件の誤りがあります / and {} more problems",
                total - keep,
                total - keep
            ),
        ));
    }
    kept
}

fn shortened(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max_chars).collect::<String>())
    }
}

/// Collects field violations while a request is validated, so the caller learns every
/// problem of a request at once instead of one per attempt.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Violations::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// Keeps the value when `result` is Ok, records the violation and returns None otherwise.
    /// How many violations were collected so far (to tell whether a sub-part added any).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldViolation> {
        self.0.iter()
    }

    pub fn check<T, E: std::fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error.to_string());
                None
            }
        }
    }

    /// Keeps the value of another validation, or takes over its field violations, so a
    /// request validated in parts still reports every bad field at once.
    pub fn absorb<T>(&mut self, result: ServiceResult<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(ServiceError::InvalidArgument(violations)) => {
                self.0.extend(violations);
                None
            }
            // Validations only fail with InvalidArgument; anything else still stops the request.
            Err(other) => {
                self.add("", other.to_string());
                None
            }
        }
    }

    pub fn into_result(self) -> ServiceResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::InvalidArgument(self.0))
        }
    }
}

/// Both results, or every field violation of both: a request validated in two parts still
/// reports all its bad fields at once.
pub fn both<A, B>(a: ServiceResult<A>, b: ServiceResult<B>) -> ServiceResult<(A, B)> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(ServiceError::InvalidArgument(mut first)), Err(ServiceError::InvalidArgument(second))) => {
            first.extend(second);
            Err(ServiceError::InvalidArgument(first))
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_every_field_violation() {
        let mut violations = Violations::new();
        violations.add("municipality_code", "bad code");
        violations.add("category", "empty");
        let status: tonic::Status = violations.into_result().unwrap_err().into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad_request = details.bad_request().expect("BadRequest details");
        let fields: Vec<&str> = bad_request
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["municipality_code", "category"]);
    }

    #[test]
    fn both_collects_the_violations_of_both_parts() {
        let a: ServiceResult<()> = Err(ServiceError::invalid("name", "empty"));
        let b: ServiceResult<()> = Err(ServiceError::invalid("location", "off the earth"));
        let Err(ServiceError::InvalidArgument(violations)) = both(a, b) else {
            panic!()
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["name", "location"]);
        assert_eq!(both::<u8, u8>(Ok(1), Ok(2)).unwrap(), (1, 2));
    }

    #[test]
    fn absorb_takes_over_the_violations_of_another_validation() {
        let mut violations = Violations::new();
        assert_eq!(violations.absorb::<u8>(Ok(7)), Some(7));
        assert_eq!(
            violations.absorb::<u8>(Err(ServiceError::invalid("area_id", "not a UUID"))),
            None
        );
        let Err(ServiceError::InvalidArgument(all)) = violations.into_result() else {
            panic!()
        };
        assert_eq!(all, [FieldViolation::new("area_id", "not a UUID")]);
    }

    #[test]
    fn a_refusal_never_repeats_a_huge_value_nor_lists_a_thousand_problems() {
        let huge = "x".repeat(1_048_576);
        let mut violations = Violations::new();
        violations.add("name", format!("{huge} is not a name"));
        for index in 0..1_000 {
            violations.add(format!("ids[{index}]"), "not a UUID");
        }
        let status: tonic::Status = violations.into_result().unwrap_err().into();
        assert!(status.message().len() < 16 * 1024, "{}", status.message().len());
        let details = status.get_error_details();
        let bad_request = details.bad_request().expect("BadRequest details");
        assert!(bad_request.field_violations.len() <= crate::request_guard::MAX_REPORTED + 2);
        assert!(
            bad_request
                .field_violations
                .last()
                .unwrap()
                .description
                .contains("980")
        );
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let status: tonic::Status = ServiceError::Internal(anyhow::anyhow!("password=hunter2")).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }
}
