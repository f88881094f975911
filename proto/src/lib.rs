//! Generated gRPC and message types for every Tsunagu API, one module per proto package.
//!
//! Only the `grpc` modules of the services touch these types: the domain code of each service
//! converts at the edge and never sees generated types.

/// Encoded `FileDescriptorSet` of every Tsunagu proto, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tsunagu_descriptor.bin"));

pub mod common {
    pub mod v1 {
        tonic::include_proto!("tsunagu.common.v1");
    }
}

pub mod audit {
    pub mod v1 {
        tonic::include_proto!("tsunagu.audit.v1");
    }
}

pub mod access {
    pub mod v1 {
        tonic::include_proto!("tsunagu.access.v1");
    }
}

pub mod registry {
    pub mod v1 {
        tonic::include_proto!("tsunagu.registry.v1");
    }
}

pub mod intake {
    pub mod v1 {
        tonic::include_proto!("tsunagu.intake.v1");
    }
}

pub mod matching {
    pub mod v1 {
        tonic::include_proto!("tsunagu.matching.v1");
    }
}

pub mod notifications {
    pub mod v1 {
        tonic::include_proto!("tsunagu.notifications.v1");
    }
}
