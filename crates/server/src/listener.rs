//! Accept loops: one task per listener, one task per connection, a global
//! connection limit, and a clean shutdown that tells every stream to close
//! and waits for the connection tasks (the mini-redis shape). The external components'
//! listener (XEP-0114, `component`) is one more, bound only when components are
//! configured; its connections count against the same limit.
//!
//! Before serving a connection, each loop asks `preauth` for a ticket (the
//! per-address cap of unauthenticated connections, the descriptor reserve); a refused
//! connection is closed at once. A failed `accept` (out of descriptors) backs off,
//! doubling from 5 ms to one second, and is logged once per interval; the same task
//! that ends each interval of the refusals' log runs beside the accept loops.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::preauth::Backoff;
use crate::{Server, StartError, c2s, component};

/// The accept tasks and what they need to stop.
pub struct Listeners {
    server: Arc<Server>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    limit: Arc<Semaphore>,
}

impl Listeners {
    /// Binds every configured listener and starts accepting.
    pub async fn bind(
        server: Arc<Server>,
    ) -> Result<(Listeners, Vec<(&'static str, SocketAddr)>), StartError> {
        let (stop, stop_rx) = watch::channel(false);
        let limit = Arc::new(Semaphore::new(server.config.limits.max_connections));
        let mut tasks = JoinSet::new();
        let mut addresses = Vec::new();
        let listen = server.config.listen.clone();
        let components = listen.component.filter(|_| server.components.any());
        for (what, addr, kind) in [
            ("c2s", listen.c2s, Kind::C2s),
            ("c2s_tls", listen.c2s_tls, Kind::C2sTls),
            ("component", components, Kind::Component),
        ] {
            let Some(addr) = addr else { continue };
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { what, addr, source })?;
            let local =
                listener
                    .local_addr()
                    .map_err(|source| StartError::Bind { what, addr, source })?;
            info!(listener = what, address = %local, "listening");
            addresses.push((what, local));
            tasks.spawn(accept_loop(
                server.clone(),
                listener,
                kind,
                limit.clone(),
                stop_rx.clone(),
            ));
        }
        let interval = Duration::from_secs(server.config.limits.refusal_log_interval_secs);
        let (preauth, mut stopping) = (server.preauth.clone(), stop_rx.clone());
        tasks.spawn(async move {
            let mut tick =
                tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            loop {
                tokio::select! {
                    _ = tick.tick() => preauth.flush_log(interval),
                    _ = stopping.changed() => return,
                }
            }
        });
        Ok((
            Listeners {
                server,
                stop,
                tasks,
                limit,
            },
            addresses,
        ))
    }

    /// See [`crate::Running::shutdown`].
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        self.server.sessions.stop_all("system-shutdown");
        self.server.components.stop_all("system-shutdown");
        // Every TCP connection holds a permit: all permits back means all
        // ended. Sessions on other transports (WebSocket) are counted by the
        // registry; both must be done before the store closes.
        let total = self.server.config.limits.max_connections as u32;
        let sessions = &self.server.sessions;
        let components = &self.server.components;
        let all_closed = async {
            let _ = self.limit.acquire_many(total).await;
            while sessions.count() > 0 || components.count() > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        if tokio::time::timeout(grace, all_closed).await.is_err() {
            warn!("some connections did not close in time");
        }
    }
}

/// What a listener serves.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Clients, STARTTLS.
    C2s,
    /// Clients, direct TLS.
    C2sTls,
    /// External components (XEP-0114).
    Component,
}

async fn accept_loop(
    server: Arc<Server>,
    listener: TcpListener,
    kind: Kind,
    limit: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let what = match kind {
        Kind::C2s => "c2s",
        Kind::C2sTls => "c2s_tls",
        Kind::Component => "component",
    };
    let mut backoff = Backoff::default();
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stop.changed() => return,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => {
                    backoff.reset();
                    x
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    server.preauth.accept_failed(what, &e);
                    let pause = backoff.pause();
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => continue,
                        _ = stop.changed() => return,
                    }
                }
            },
            _ = stop.changed() => return,
        };
        // Refused (logged by preauth): the socket is closed here, before any byte.
        let Ok(ticket) = server.preauth.admit(peer.ip()) else {
            drop(tcp);
            continue;
        };
        let server = server.clone();
        tokio::spawn(async move {
            match kind {
                Kind::C2s => c2s::serve(server, tcp, peer, false, ticket).await,
                Kind::C2sTls => c2s::serve(server, tcp, peer, true, ticket).await,
                Kind::Component => component::serve(server, tcp, peer, ticket).await,
            }
            drop(permit);
        });
    }
}
