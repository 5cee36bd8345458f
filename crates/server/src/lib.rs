//! Causerie's server: listeners, client streams, the services (the session registry, the
//! gate, the directory view, contacts, rooms), the router and the features, over the store
//! (`causerie-store`), the school's rules (`causerie-ent`) and the pure protocol code
//! (`causerie-proto`).
//!
//! The layers, lowest first: [`stanza`], [`outbound`], [`mailbox`] and [`session`] (the
//! shared vocabulary); [`services`] (owned state, and the gate); [`server`] (what
//! everything shares); [`features`] (one file per feature), [`router`] (the choke point)
//! and [`c2s`] (client streams), [`component`] (external components, XEP-0114); [`changes`] (one way to change the school, for every
//! door); [`cluster`] (this node's link to the others, through NATS, with several nodes); [`enforce`] (a new directory generation applied to what is open); [`preauth`] (connections before authentication); [`listener`]. This file only wires them: [`start`] binds the configured
//! listeners and returns a [`Running`] handle whose [`Running::shutdown`] stops
//! accepting, closes every session with `<system-shutdown/>` and waits for them.

pub mod admin;
pub mod app_password_sessions;
pub mod app_passwords;
pub mod auth;
pub mod c2s;
pub mod changes;
pub mod cluster;
pub mod component;
pub mod config;
pub mod detached;
pub mod enforce;
pub mod export;
pub mod features;
pub mod listener;
pub mod mailbox;
pub mod moderation;
pub mod outbound;
pub mod preauth;
pub mod router;
pub mod sasl2;
pub mod server;
pub mod services;
pub mod session;
pub mod sso;
pub mod stanza;
pub mod stream_mgmt;
pub mod tls;
pub mod transport;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use causerie_store::Store;

pub use config::Config;
pub use server::Server;
pub use services::policy::{Applied, signal_change, wait_applied};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("file sharing: {path}: {source}")]
    Upload {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("database: {0}")]
    Store(#[from] causerie_store::StoreError),
    #[error("cluster: {0}")]
    Cluster(#[from] cluster::ClusterError),
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The running server: its bound addresses and its shutdown.
pub struct Running {
    pub server: Arc<Server>,
    /// Bound address of each listener, by name (`c2s`, `c2s_tls`, `component`).
    pub addresses: Vec<(&'static str, SocketAddr)>,
    listeners: listener::Listeners,
    /// This node's place among several (`[cluster]`).
    membership: Option<cluster::Membership>,
}

/// Opens the store (creating the data directory), loads TLS and the directory, starts the
/// directory poller and its enforcement, binds the listeners and starts accepting.
pub async fn start(config: Config) -> Result<Running, StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let store = Store::connect(&config.storage_url()).await?;
    tls::install_process_provider();
    let tls = tls::load_bound(&config)?;
    let uploads = if config.upload.enabled {
        let dir = config.upload_dir();
        Some(
            services::uploads::Uploads::open(
                &config.data_dir,
                dir.clone(),
                config.upload_url_base(),
            )
            .map_err(|source| StartError::Upload { path: dir, source })?,
        )
    } else {
        None
    };
    let server = Arc::new(Server::new(config, store, tls, uploads));
    server.policy.refresh().await;
    server.blocking.load().await?;
    enforce::start(&server);
    features::muc::start(&server).await;
    features::mam::start(&server).await;
    features::push::start(&server);
    features::quiet::start(&server);
    let membership = cluster::join(&server).await?;
    let (listeners, addresses) = listener::Listeners::bind(server.clone()).await?;
    Ok(Running {
        server,
        addresses,
        listeners,
        membership,
    })
}

impl Server {
    /// See [`start`].
    pub async fn start(config: Config) -> Result<Running, StartError> {
        start(config).await
    }
}

impl Running {
    /// The address a listener is bound to.
    pub fn address(&self, name: &str) -> Option<SocketAddr> {
        self.addresses
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, a)| *a)
    }

    /// Stops accepting, closes every stream and waits (at most `grace`) for
    /// the connection tasks to end.
    pub async fn shutdown(self, grace: Duration) {
        self.listeners.shutdown(grace).await;
        if let Some(m) = self.membership {
            m.leave(&self.server).await;
        }
        self.server.policy.forget_loaded();
        self.server.archive.flush().await;
        self.server.store.close().await;
    }
}
