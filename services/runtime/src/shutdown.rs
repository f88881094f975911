//! Graceful shutdown: the first SIGTERM or Ctrl-C cancels the token, every part drains
//! (the gRPC server finishes in-flight calls, the relay its batch, consumers their message),
//! and the process flushes its traces; a second signal exits at once.

use tokio_util::sync::CancellationToken;

/// Cancels the returned token on the first SIGTERM/SIGINT, exits the process on the second.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received, draining");
        trigger.cancel();
        wait_for_signal().await;
        tracing::warn!("second shutdown signal, exiting without draining");
        std::process::exit(130);
    });
    token
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = match signal(SignalKind::terminate()) {
            Ok(stream) => stream,
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM; only Ctrl-C will stop");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
