//! [`Server`]: what the connection tasks, the router and the features share — the typed
//! configuration, the store, TLS, and the services (`services`), each owning its state.
//!
//! Inside the crate the services are fields; other crates (the web front, the CLI) get
//! the configuration, the store and the operations they need through methods only.

use std::sync::Arc;

use causerie_ent::Directory;
use causerie_store::{AccountStore, Store};

use crate::auth;
use crate::config::Config;
use crate::services::stats::Stats;
use crate::services::{
    Archiver, Blocklists, Caps, Components, Contacts, Gate, Policy, Pushes, Rooms, Sessions, View,
};

/// Everything the connection tasks share.
pub struct Server {
    pub(crate) config: Config,
    /// The served domain, normalised.
    pub(crate) domain: String,
    pub(crate) store: Store,
    pub(crate) tls: Arc<rustls::ServerConfig>,
    /// The certificate's `tls-server-end-point` channel-binding data (`tls::server_end_point`).
    pub(crate) end_point: Option<Box<[u8]>>,
    pub(crate) throttle: auth::Throttle,
    /// The connections before authentication (per-address cap, descriptor reserve).
    pub(crate) preauth: Arc<crate::preauth::PreAuth>,
    /// What each account sent lately, for the rate limits (the gate counts).
    pub(crate) rates: crate::services::rates::Rates,
    /// Counters of the administrator's live view (see `admin`).
    pub(crate) stats: Stats,
    /// The directory, rules and access as applied now.
    pub(crate) policy: Policy,
    /// Rosters, requests, refusals and the mutual contacts cache.
    pub(crate) contacts: Contacts,
    /// The bound sessions.
    pub(crate) sessions: Sessions,
    /// Who is in which room right now.
    pub(crate) rooms: Rooms,
    /// The writer of the rooms' archive.
    pub(crate) archive: Archiver,
    /// Client capabilities learnt (XEP-0115), for PEP notifications.
    pub(crate) caps: Caps,
    /// The blocklists (XEP-0191).
    pub(crate) blocking: Blocklists,
    /// When the server started (XEP-0012's uptime).
    pub(crate) started: std::time::Instant,
    /// The external components (XEP-0114) and the server's requests to them.
    pub(crate) components: Components,
    /// The pace of push notifications (XEP-0357).
    pub(crate) pushes: Pushes,
    /// Shared files (XEP-0363): None when `[upload] enabled` is false.
    pub(crate) uploads: Option<crate::services::uploads::Uploads>,
    /// Report attempts per account and minute (XEP-0377).
    pub(crate) report_pace: crate::services::report_pace::ReportPace,
    /// Quiet hours: senders told, the windows' phases (`features::quiet`).
    pub(crate) quiet: crate::services::quiet::QuietHold,
}

impl Server {
    /// Makes the server's state (nothing is loaded or bound yet: `Server::start`).
    pub(crate) fn new(
        config: Config,
        store: Store,
        (tls, end_point): crate::tls::Loaded,
        uploads: Option<crate::services::uploads::Uploads>,
    ) -> Server {
        let domain = config.domain.to_lowercase();
        Server {
            throttle: auth::Throttle::new(std::time::Duration::from_millis(
                config.auth.failure_delay_ms,
            )),
            preauth: Arc::new(crate::preauth::PreAuth::new(&config.limits)),
            stats: Stats::default(),
            rates: Default::default(),
            policy: Policy::new(
                store.clone(),
                &config.data_dir,
                config.policy.mode,
                config.policy.plain_accounts_reach_directory,
            )
            .with_quiet_default(config.quiet_hours.default.then(|| {
                let mut q = causerie_ent::QuietHours::school_default();
                q.time_zone = config.quiet_hours.time_zone.clone();
                q
            })),
            contacts: Contacts::new(store.clone(), &domain),
            sessions: Sessions::default(),
            rooms: Rooms::default(),
            archive: Archiver::start(store.clone()),
            caps: Caps::new(config.pep.caps_cache_entries),
            blocking: Blocklists::new(store.clone()),
            started: std::time::Instant::now(),
            components: Components::new(config.components.iter().map(|c| c.domain.as_str())),
            pushes: Pushes::new(std::time::Duration::from_secs(
                config.push.min_interval_secs,
            )),
            domain,
            store,
            tls,
            end_point,
            config,
            uploads,
            report_pace: Default::default(),
            quiet: Default::default(),
        }
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The served domain, normalised.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The store (the admin API and the sync API write through it).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The server's TLS configuration (the HTTPS listener serves the same certificate).
    pub fn tls(&self) -> &Arc<rustls::ServerConfig> {
        &self.tls
    }

    /// The SASL failure throttle (the admin console's login shares it).
    pub fn throttle(&self) -> &auth::Throttle {
        &self.throttle
    }

    /// The connections before authentication: every door asks it before serving one.
    pub fn preauth(&self) -> &Arc<crate::preauth::PreAuth> {
        &self.preauth
    }

    /// The live view's counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The gate, over the services it asks.
    pub fn gate(&self) -> Gate<'_> {
        Gate {
            policy: &self.policy,
            contacts: &self.contacts,
            sessions: &self.sessions,
            blocking: &self.blocking,
            components: &self.components,
            domain: &self.domain,
            rates: &self.rates,
            rate_limits: &self.config.rates,
        }
    }

    /// The directory, rules and access as they apply now (waiting for a reload the
    /// server knows of).
    pub async fn view(&self) -> Arc<View> {
        self.policy.view().await
    }

    /// How French texts address `user`: « tu » for a pupil of the directory, « vous » for
    /// everyone else (`causerie_ent::register`), from the directory in memory.
    pub async fn register_of(&self, user: &str) -> causerie_ent::Register {
        let view = self.view().await;
        causerie_ent::Register::of(view.dir.user(user).map(|u| u.profile))
    }

    /// The current directory (see [`Server::view`]).
    pub async fn directory(&self) -> Arc<Directory> {
        self.policy.view().await.dir.clone()
    }

    /// The directory changed through this process: no decision uses the old view from
    /// now on; returns once the new one is loaded (the server then enforces it on open
    /// sessions and rooms, `enforce`).
    pub async fn directory_changed(&self) {
        self.policy.invalidate();
        self.policy.refresh().await;
    }

    /// Applies a change of the school made through this process (the sync API, the admin
    /// API): `changes::apply` against the directory in force, then the new generation is
    /// loaded (and enforced) before this returns. A moderation (`Change::Moderate`) is
    /// done by this server itself (`moderation.rs`).
    pub async fn apply(
        &self,
        actor: &crate::changes::Actor,
        change: crate::changes::Change,
    ) -> Result<crate::changes::Applied, crate::changes::ChangeError> {
        if let crate::changes::Change::Moderate {
            structure,
            report,
            action,
        } = change
        {
            return self.moderate(actor, &structure, report, action).await;
        }
        let dir = self.directory().await;
        let moves = change.moves_generation();
        let revoked = match &change {
            crate::changes::Change::RevokeAppPassword { login, id } => Some((login.clone(), *id)),
            _ => None,
        };
        let app_policy = matches!(change, crate::changes::Change::SetAppPasswords { .. });
        let made = match &change {
            crate::changes::Change::AddAppPassword { login, label, .. } => {
                Some((login.clone(), label.clone()))
            }
            _ => None,
        };
        let applied = crate::changes::apply(&self.store, &dir, actor, change).await;
        if applied.is_ok() && moves {
            self.directory_changed().await;
        }
        if let (Ok(_), Some((login, id))) = (&applied, revoked) {
            let ended = self.end_app_password(&login, id);
            tracing::info!(user = %login, id, ended, "app password revoked");
        }
        if applied.is_ok() && app_policy {
            let ended = self.end_app_passwords_refused().await;
            tracing::info!(ended, "app passwords' policy changed");
        }
        if let (Ok(_), Some((login, label))) = (&applied, made) {
            use causerie_ent::app_passwords::MadeBy;
            let by = match actor {
                crate::changes::Actor::Admin(admin) => MadeBy::Admin(admin),
                crate::changes::Actor::Cli | crate::changes::Actor::SyncApi => MadeBy::Operator,
                crate::changes::Actor::User(_) => MadeBy::Session,
            };
            self.tell_app_password_made(&login, &label, by).await;
        }
        applied
    }

    /// Returns once the effects of every stanza handled so far are durable (survive
    /// `kill -9`): true when they are. A session answers a client's XEP-0198 `<r/>` with
    /// `<a h/>` only after this (the acknowledgement promise, ARCHITECTURE.md "Stream
    /// management"). Offline messages and roster writes are committed before their
    /// stanza is handled; messages delivered live are durable through the one archive
    /// writer (rooms' and accounts' archives): this waits until it committed everything
    /// queued so far, and says false when it lost a message since `since` (the writer's
    /// mark taken before the first stanza this acknowledgement covers).
    pub(crate) async fn durable(&self, since: crate::services::Mark) -> bool {
        match self.archive.durable(since).await {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(error = %e, "stanzas not acknowledged: not durable");
                return false;
            }
        }
        // With several nodes, what went to other nodes' rooms is in their archives.
        if let Some(remote) = self.sessions.remote()
            && !remote
                .forwards_durable(since.forwards_lost, crate::services::archive::DURABLE_WAIT)
                .await
        {
            tracing::warn!("stanzas not acknowledged: a room's node did not commit them");
            return false;
        }
        true
    }

    /// A point in the durability of what was handled so far, for [`Server::durable`].
    pub(crate) fn mark(&self) -> crate::services::Mark {
        let mut mark = self.archive.mark();
        if let Some(remote) = self.sessions.remote() {
            mark.forwards_lost = remote.forwards_lost();
        }
        mark
    }

    /// The domain of the directory search service (XEP-0055).
    pub fn search_domain(&self) -> String {
        format!("search.{}", self.domain)
    }

    /// The domain of the file sharing service (XEP-0363).
    pub fn upload_domain(&self) -> String {
        format!("upload.{}", self.domain)
    }

    /// Shared files' key, directory and URLs (None: `[upload] enabled` is false).
    pub fn uploads(&self) -> Option<&crate::services::uploads::Uploads> {
        self.uploads.as_ref()
    }

    /// The domain of the multi-user conversation service (XEP-0045).
    pub fn muc_domain(&self) -> String {
        format!("conference.{}", self.domain)
    }

    /// The bare JID of account `user`.
    pub fn bare_jid(&self, user: &str) -> String {
        // Without `format!`'s machinery: this runs several times per stanza.
        let mut jid = String::with_capacity(user.len() + 1 + self.domain.len());
        jid.push_str(user);
        jid.push('@');
        jid.push_str(&self.domain);
        jid
    }

    /// Whether the account exists (a storage failure counts as "no").
    pub async fn user_exists(&self, user: &str) -> bool {
        if self.sessions.is_online(user) {
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

    /// Whether `user` may log in to chat: an account no administrator locked and, for a
    /// directory user, an active one whose structure has chat on for his profile
    /// (`causerie_ent::access`). The refusal is the text of the SASL failure, in French
    /// (in the user's register) then English.
    pub async fn login_allowed(&self, user: &str) -> Result<(), String> {
        let view = self.policy.view().await;
        if self.policy.is_stale() {
            // Never loaded, or the store failed since: the lock and inactive lists may be
            // out of date, so nobody gets in on them.
            return Err(
                "Erreur interne : il faut réessayer plus tard. — Internal error, try again later."
                    .into(),
            );
        }
        let register = causerie_ent::Register::of(view.dir.user(user).map(|u| u.profile));
        view.access(user)
            .map_err(|d| view.denied_both(user, d, register))
    }
}
