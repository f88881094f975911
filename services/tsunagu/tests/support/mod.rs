//! Helpers of the `tsunagu` integration tests.

pub mod cleanup;
pub mod grpcurl;
