//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod aioquic;
pub mod kquic;
pub mod quinn_peer;

/// Runs `f` on a fresh multi-threaded tokio runtime, failing after `secs` seconds.
pub fn with_runtime<F, T>(secs: u64, f: F) -> T
where
    F: std::future::Future<Output = T>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(secs), f)
            .await
            .expect("test timed out")
    })
}
