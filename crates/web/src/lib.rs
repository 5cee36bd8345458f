//! Causerie's HTTP side (axum): the web client, XMPP over WebSocket and
//! host-meta, the health check and the ENT's incremental directory sync API.
//! The admin API (`admin`, `/admin/api`) serves the admin console; `upload` the files
//! shared with XEP-0363 (`/upload/…`).
//!
//! [`router`] builds the whole application; [`serve`] runs it on a listener
//! until a shutdown future completes, [`https::serve`] the same over TLS.

pub mod admin;
pub mod client;
pub mod directory_api;
pub mod https;
pub mod upload;
pub mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use causerie_server::Server;
use tokio::net::TcpListener;

/// The HTTP application.
pub fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/xmpp-websocket", get(websocket::upgrade))
        .route("/ws", get(websocket::upgrade))
        .route("/.well-known/host-meta", get(websocket::host_meta))
        .route(
            "/.well-known/host-meta.json",
            get(websocket::host_meta_json),
        )
        .nest(
            "/api/v1/directory",
            directory_api::router().layer(axum::middleware::from_fn_with_state(
                server.clone(),
                directory_api::record,
            )),
        )
        .nest("/admin/api", admin::router())
        .route(
            "/upload/{id}/{name}",
            get(upload::get)
                .put(upload::put)
                .options(upload::preflight)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/", get(client::index))
        .route("/demo-portal", get(client::demo_portal))
        .route("/admin", get(client::admin))
        .route("/admin/", get(client::admin))
        .route("/client.json", get(client::client_json))
        .fallback(client::asset)
        .with_state(server)
}

/// Binds `addr` and serves until `shutdown` completes; returns the bound
/// address and the serving task.
pub async fn serve(
    server: Arc<Server>,
    addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(server).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "HTTP server stopped");
        }
    });
    Ok((local, task))
}
