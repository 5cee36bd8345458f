//! Causerie's server: listeners, client streams, the session registry, the
//! router and the features, over the store (`causerie-store`) and the pure
//! protocol code (`causerie-proto`).
//!
//! [`Server::start`] binds the configured listeners and returns a
//! [`Running`] handle whose [`Running::shutdown`] stops accepting, closes
//! every session with `<system-shutdown/>` and waits for them.

pub mod admin;
pub mod auth;
pub mod c2s;
pub mod config;
pub mod contacts;
pub mod features;
pub mod listener;
pub mod mailbox;
pub mod policy;
pub mod router;
pub mod sessions;
pub mod tls;
pub mod transport;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use causerie_store::{AccountStore, Store};

pub use config::Config;

/// Everything the connection tasks share.
pub struct Server {
    pub config: Config,
    /// The served domain, normalised.
    pub domain: String,
    pub store: Store,
    pub sessions: sessions::Sessions,
    pub tls: Arc<rustls::ServerConfig>,
    pub throttle: auth::Throttle,
    /// Counters of the administrator's live view (see `admin`).
    pub stats: admin::Stats,
    /// The directory and rules as last loaded (see `policy`).
    pub directory: policy::DirectoryCache,
    /// Who is in which multi-user room right now (see `features::muc`).
    pub rooms: features::muc::Rooms,
    /// The mutual contacts of users who are chatting (see `contacts`).
    pub contacts: contacts::Contacts,
    /// The writer of the rooms' archive (see `features::muc::archive`).
    pub archive: features::muc::Archiver,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("database: {0}")]
    Store(#[from] causerie_store::StoreError),
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
    /// Bound address of each listener, by name (`c2s`, `c2s_tls`).
    pub addresses: Vec<(&'static str, SocketAddr)>,
    listeners: listener::Listeners,
}

impl Server {
    /// Opens the store (creating the data directory), loads TLS, binds the
    /// listeners and starts accepting.
    pub async fn start(config: Config) -> Result<Running, StartError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let store = Store::connect(&config.storage_url()).await?;
        let tls = tls::load(&config)?;
        let server = Arc::new(Server {
            domain: config.domain.to_lowercase(),
            throttle: auth::Throttle::new(Duration::from_millis(config.auth.failure_delay_ms)),
            sessions: sessions::Sessions::default(),
            stats: admin::Stats::default(),
            directory: policy::DirectoryCache::new(&config.data_dir),
            rooms: features::muc::Rooms::default(),
            contacts: contacts::Contacts::default(),
            archive: features::muc::Archiver::start(store.clone()),
            store,
            tls,
            config,
        });
        features::muc::start(&server).await;
        let (listeners, addresses) = listener::Listeners::bind(server.clone()).await?;
        Ok(Running {
            server,
            addresses,
            listeners,
        })
    }

    /// The domain of the directory search service (XEP-0055).
    pub fn search_domain(&self) -> String {
        format!("search.{}", self.domain)
    }

    /// The domain of the multi-user conversation service (XEP-0045).
    pub fn muc_domain(&self) -> String {
        format!("conference.{}", self.domain)
    }

    /// Whether the account exists (a storage failure counts as "no").
    pub async fn user_exists(&self, user: &str) -> bool {
        if !self.sessions.all(user).is_empty() {
            return true;
        }
        match self.store.account_exists(user).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "cannot check an account");
                false
            }
        }
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
        self.server.archive.flush().await;
        self.server.store.close().await;
    }
}
