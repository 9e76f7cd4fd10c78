//! Waiting for SIGINT (Ctrl-C) or SIGTERM, for the commands that run until
//! told to stop (`up`, `serve`) and for a clean stop mid-run.

use std::future::Future;

/// Resolves on SIGINT or SIGTERM (Ctrl-C elsewhere). The handlers are
/// installed when this is called, so a signal that comes before the future
/// is polled still stops the server cleanly.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
