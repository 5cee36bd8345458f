//! The HTTPS listener (`[listen] https`, usually port 5443): the same
//! application as the HTTP listener — web client, XMPP over secure WebSocket
//! (`wss://…/xmpp-websocket`), host-meta, admin console — over TLS with the
//! server's certificate (the configured one, or the generated one).
//!
//! axum serves any [`axum::serve::Listener`]; this one hands it connections
//! whose TLS handshake is done. Handshakes run in their own tasks under the
//! deadline before authentication, each holding a place among its address's
//! unauthenticated connections (`preauth`), so a client that opens a socket and
//! says nothing does not hold up the others. Requests that came this way carry [`OverTls`], which
//! the WebSocket endpoint reads (a confidential channel: PLAIN is offered, and
//! host-meta advertises `wss`).

use crate::header_deadline::HeaderDeadline;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request};
use axum::serve::IncomingStream;
use causerie_server::Server;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Marks a request that came over the HTTPS listener.
#[derive(Debug, Clone, Copy)]
pub struct OverTls;

/// Connections whose TLS handshake completed, for axum.
struct TlsListener {
    ready: mpsc::Receiver<(HeaderDeadline<TlsStream<TcpStream>>, SocketAddr)>,
    local: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = HeaderDeadline<TlsStream<TcpStream>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accepting task ended (shutdown): nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The peer's address of a TLS connection, as axum's connect info.
#[derive(Debug, Clone, Copy)]
struct TlsPeer(SocketAddr);

impl Connected<IncomingStream<'_, TlsListener>> for TlsPeer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        TlsPeer(*stream.remote_addr())
    }
}

/// Gives handlers the peer's address as plain `ConnectInfo<SocketAddr>` (what
/// they extract on either listener) and marks the request [`OverTls`].
async fn mark(mut req: Request) -> Request {
    if let Some(ConnectInfo(TlsPeer(peer))) = req.extensions().get::<ConnectInfo<TlsPeer>>() {
        let peer = *peer;
        req.extensions_mut().insert(ConnectInfo(peer));
    }
    req.extensions_mut().insert(OverTls);
    req
}

/// Binds `addr` and serves the application over TLS until `shutdown`
/// completes; returns the bound address and the serving task.
pub async fn serve(
    server: Arc<Server>,
    addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let tcp = TcpListener::bind(addr).await?;
    let local = tcp.local_addr()?;
    // HTTP/1.1 only (WebSocket upgrades), said in ALPN so that browsers agree.
    let mut config = (**server.tls()).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    // The TLS handshake is before authentication: the shorter deadline, and a place
    // among the unauthenticated connections (`preauth`), given back once done.
    let preauth = server.preauth().clone();
    let deadline = preauth.timeout();
    let (tx, ready) = mpsc::channel(64);
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
                    preauth.accept_failed("https", &e);
                    tokio::time::sleep(backoff.pause()).await;
                    continue;
                }
            };
            let Ok(ticket) = preauth.admit_http(peer.ip()) else {
                drop(socket);
                continue;
            };
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let until = tokio::time::Instant::now() + deadline;
                let handshake = tokio::time::timeout(deadline, acceptor.accept(socket)).await;
                match handshake {
                    Ok(Ok(tls)) => {
                        // Its first request's headers, whole, by the same deadline; its
                        // place among its address's is kept until then.
                        let conn = HeaderDeadline::new(tls, until, Some(ticket));
                        let _ = tx.send((conn, peer)).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "HTTPS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "HTTPS handshake timed out"),
                }
            });
        }
    });
    let app = crate::router(server)
        .layer(axum::middleware::map_request(mark))
        .into_make_service_with_connect_info::<TlsPeer>();
    let listener = TlsListener { ready, local };
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "HTTPS server stopped");
        }
        accepting.abort();
    });
    Ok((local, task))
}
