//! Compiles every `.proto` under `tsunagu/` with protox (pure Rust), so a fresh machine
//! builds without a system `protoc`, and writes the descriptor set used by server reflection.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not baked in with env!(): cargo reuses a build script compiled for
    // a checkout in another folder (CI's clone, a worktree) when the target directory is
    // shared, and a baked-in path would compile the other checkout's protos.
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.as_path();
    let mut proto_files = Vec::new();
    collect_protos(&proto_root.join("tsunagu"), &mut proto_files)?;
    proto_files.sort();

    // tonic-prost-build does not emit rerun-if-changed for every file: say it ourselves.
    println!("cargo:rerun-if-changed=tsunagu");
    for file in &proto_files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let mut compiler = protox::Compiler::new([proto_root])?;
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(&proto_files)?;
    // The descriptor set is written as protox encodes it: a `prost_types` round trip would
    // drop the custom options (`tsunagu.common.v1.limits`) the request guard reads.
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("tsunagu_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    let file_descriptors = compiler.file_descriptor_set();

    // Type names (`prost::Name`) let the request guard find a message's descriptor from its
    // generated type (tsunagu-runtime's `request_guard::check`).
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds_with_config(file_descriptors, config)?;
    Ok(())
}

fn collect_protos(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, found)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            found.push(path);
        }
    }
    Ok(())
}
