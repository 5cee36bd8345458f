//! Causerie's HTTP side (axum): the web client, XMPP over WebSocket and
//! host-meta, the health check and the ENT's incremental directory sync API.
//! The admin API (`admin`, `/admin/api`) serves the admin console; `upload` the files
//! shared with XEP-0363 (`/upload/…`); `sso` the portal's single sign-on (CAS, `/sso/…`);
//! `app_passwords` a user's own app passwords (`/api/app-passwords/…`, `/sso/app-passwords/…`).
//!
//! [`router`] builds the whole application; [`serve`] runs it on a listener
//! until a shutdown future completes, [`https::serve`] the same over TLS. Both hand
//! axum only connections that have spoken (HTTP: a first byte; HTTPS: a finished TLS
//! handshake) within the deadline before authentication, each counted meanwhile among
//! its address's unauthenticated connections (`causerie_server::preauth`).

pub mod admin;
pub mod app_passwords;
pub mod client;
pub mod directory_api;
mod download;
pub mod export;
mod header_deadline;
pub mod https;
mod portal_session;
pub mod sso;
pub mod upload;
pub mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use causerie_server::Server;
use tokio::net::TcpListener;

/// The `Host` the client reached us by, when it is a plain host name or address with
/// an optional port (anything else is ignored: it ends up in URLs and headers).
pub(crate) fn request_host(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
}

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
        .merge(sso::router())
        .route("/sso/export", axum::routing::post(export::export_portal))
        .merge(app_passwords::router())
        .route("/api/export", axum::routing::post(export::export))
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
    let tcp = TcpListener::bind(addr).await?;
    let local = tcp.local_addr()?;
    // A connection is unauthenticated until its first bytes: it holds a place among its
    // address's (`preauth`), and one that says nothing is closed at the deadline.
    let preauth = server.preauth().clone();
    let deadline = preauth.timeout();
    let (tx, ready) = tokio::sync::mpsc::channel(64);
    let accepting = tokio::spawn(async move {
        let mut backoff = causerie_server::preauth::Backoff::default();
        loop {
            let (socket, peer) = match tcp.accept().await {
                Ok(s) => {
                    backoff.reset();
                    s
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off, do not spin.
                    preauth.accept_failed("http", &e);
                    tokio::time::sleep(backoff.pause()).await;
                    continue;
                }
            };
            let Ok(ticket) = preauth.admit_http(peer.ip()) else {
                drop(socket);
                continue;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                // `peek`, not `readable` (which may say so before any byte came).
                let until = tokio::time::Instant::now() + deadline;
                let mut first = [0u8; 1];
                let spoke = tokio::time::timeout(deadline, socket.peek(&mut first)).await;
                if matches!(spoke, Ok(Ok(n)) if n > 0) {
                    // Its first request's headers, whole, by the same deadline; its place
                    // among its address's is kept until then (header_deadline.rs).
                    let conn = header_deadline::HeaderDeadline::new(socket, until, Some(ticket));
                    let _ = tx.send((conn, peer)).await;
                }
            });
        }
    });
    let listener = PlainListener { ready, local };
    let app = router(server)
        .layer(axum::middleware::map_request(plain_peer))
        .into_make_service_with_connect_info::<HttpPeer>();
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "HTTP server stopped");
        }
        accepting.abort();
    });
    Ok((local, task))
}

/// The HTTP listener's connections that have said something, for axum.
struct PlainListener {
    ready: tokio::sync::mpsc::Receiver<(
        header_deadline::HeaderDeadline<tokio::net::TcpStream>,
        SocketAddr,
    )>,
    local: SocketAddr,
}

impl axum::serve::Listener for PlainListener {
    type Io = header_deadline::HeaderDeadline<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accepting task ended (shutdown): nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The peer's address of a plain HTTP connection, as axum's connect info.
#[derive(Debug, Clone, Copy)]
struct HttpPeer(SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, PlainListener>>
    for HttpPeer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, PlainListener>) -> Self {
        HttpPeer(*stream.remote_addr())
    }
}

/// Gives handlers the peer's address as plain `ConnectInfo<SocketAddr>` (what they
/// extract on either listener).
async fn plain_peer(mut req: axum::extract::Request) -> axum::extract::Request {
    use axum::extract::ConnectInfo;
    if let Some(ConnectInfo(HttpPeer(peer))) = req.extensions().get::<ConnectInfo<HttpPeer>>() {
        let peer = *peer;
        req.extensions_mut().insert(ConnectInfo(peer));
    }
    req
}
