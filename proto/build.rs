//! Compiles every `.proto` under `tsunagu/` with protox (pure Rust), so a fresh machine
//! builds without a system `protoc`, and writes the descriptor set used by server reflection.

use std::path::{Path, PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut proto_files = Vec::new();
    collect_protos(&proto_root.join("tsunagu"), &mut proto_files)?;
    proto_files.sort();

    // tonic-prost-build does not emit rerun-if-changed for every file: say it ourselves.
    println!("cargo:rerun-if-changed=tsunagu");
    for file in &proto_files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let file_descriptors = protox::compile(&proto_files, [proto_root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("tsunagu_descriptor.bin"),
        file_descriptors.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(file_descriptors)?;
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
