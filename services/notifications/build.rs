// `sqlx::migrate!` embeds ./migrations when the crate compiles, but cargo does not know the
// macro read that folder: without this, a new migration is left out of an incremental build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
