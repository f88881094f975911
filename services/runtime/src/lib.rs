//! The plumbing every Tsunagu service shares, so that no service re-implements it.
//!
//! - [`config`]: settings from the environment, validated at start;
//! - [`telemetry`]: logs, OTLP traces, W3C trace-context propagation;
//! - [`db`]: the pool pinned to the service's schema, migrations;
//! - [`amqp`]: RabbitMQ topology, envelope, confirmed publishing;
//! - [`outbox`] and [`consumer`]: the transactional outbox relay and the inbox consumer;
//! - [`grpc`], [`health`], [`service`]: gRPC scaffolding, health, the service host;
//! - [`error`]: one error type mapped onto gRPC status codes;
//! - [`request_guard`]: every request checked against its fields' limits before a handler runs;
//! - [`tenant`], [`text`], [`taxonomy`]: municipality codes, Japanese text normalisation, the
//!   bundled life-support taxonomy;
//! - [`events`]: the event contract between services.

pub mod amqp;
pub mod audit;
pub mod auth;
pub mod backoff;
pub mod config;
pub mod consumer;
pub mod db;
pub mod error;
pub mod events;
pub mod field_mask;
pub mod grpc;
pub mod health;
pub mod metrics;
pub mod outbox;
pub mod page_token;
pub mod partitions;
pub mod request_guard;
pub mod service;
pub mod shutdown;
pub mod supervisor;
pub mod taxonomy;
pub mod telemetry;
pub mod tenant;
pub mod text;
pub mod weekly;

pub use config::{Config, ServiceName};
pub use error::{ServiceError, ServiceResult};
pub use tenant::MunicipalityCode;
