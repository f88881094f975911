//! The people of the 生活支援体制整備事業, served as `tsunagu.registry.v1.CommunityService`:
//! helpers (担い手), coordinators (生活支援コーディネーター) of the three layers, and councils
//! (協議体) with their meetings.
//!
//! The same split as the rest of the registry, one level down:
//! - `common`, `helpers`, `coordinators`, `councils`: validated inputs and the rules of each
//!   entity (status steps, what a layer asks for), never generated types;
//! - `store`: SQL; every write locks, checks the version, diffs the entity's snapshot into the
//!   field-level history and enqueues its event, in one transaction;
//! - `grpc`: the only part that touches `tsunagu_proto`.

pub(crate) mod common;
mod coordinators;
mod councils;
mod grpc;
pub(crate) mod helpers;
pub(crate) mod store;

pub use grpc::add_routes;
