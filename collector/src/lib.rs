//! batchwire's reference collector: an ingestion server that speaks the three wire contracts of
//! `docs/PROTOCOLS.md` exactly (`/v1-batch`, Amplitude `/2/httpapi` and `/batch`), with the limits,
//! error bodies and headers an SDK must handle, plus fault injection and control endpoints so the
//! SDK's tests can provoke every branch of its retry policy on purpose.
//!
//! Embed it with [`serve`] (or run the `collector` binary). The server keeps everything in
//! memory; it is a test and demo server, not a production store.

pub mod amplitude;
pub mod body;
pub mod client;
pub mod clock;
pub mod config;
pub mod control;
pub mod cors;
pub mod faults;
pub mod ingest;
pub mod limits;
pub mod server;
pub mod state;
pub mod v1_batch;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

pub use clock::Clock;
pub use config::{Config, Limits};
pub use faults::FaultSettings;
use state::AppState;

/// The router. Served by [`serve`], every feature works; served by anything else, drop faults
/// answer 503 and control endpoints refuse (they need the peer address `serve` attaches).
pub fn app(config: Config) -> Router {
    router(AppState::new(config))
}

fn router(st: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1-batch", post(ingest::v1))
        .route("/2/httpapi", post(ingest::amp_v2))
        .route("/batch", post(ingest::amp_batch))
        .route("/", get(control::health))
        .route("/_health", get(control::health))
        .route("/_stats", get(control::stats))
        .route("/_events", get(control::events))
        .route("/_reset", post(control::reset))
        .route(
            "/_faults",
            get(control::get_faults).post(control::post_faults),
        )
        .route(
            "/_config",
            get(control::get_config).post(control::post_config),
        )
        .fallback(control::not_found)
        .method_not_allowed_fallback(control::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            st.clone(),
            cors::layer,
        ))
        .with_state(st)
}

/// Serves `config` on `listener` until the returned future is dropped.
pub async fn serve(listener: TcpListener, config: Config) {
    server::accept_loop(listener, app(config)).await
}
