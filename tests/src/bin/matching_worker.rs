//! A matching worker as a process of its own, configured from the environment like
//! `tsunagu serve matching`. The fault tests start it to do what cannot be done to a worker
//! inside the test's process: kill it with SIGKILL in the middle of its work, and give it a
//! broker connection of its own (through a slow proxy).

use std::sync::Arc;

use tsunagu_runtime::{Config, shutdown};

fn main() -> anyhow::Result<()> {
    let config = Arc::new(Config::from_env()?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let running = tsunagu_matching::start(config, shutdown::on_signal()).await?;
        running.wait().await
    })
}
