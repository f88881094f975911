//! Helpers of the `tsunagu` integration tests.

pub mod grpcurl;
