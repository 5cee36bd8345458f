//! The typed configuration: one TOML file, every option with a working default.
//!
//! `causerie serve` with no file runs for the domain `localhost` with its data
//! in `./data`. Unknown keys are errors, and every error names the file, the
//! key and the reason. `docs/config.md` documents each option; the test
//! `crates/server/tests/config_docs.rs` reads the options from these types (through
//! their `Deserialize` implementations) and checks that each has a row there with the
//! default it has here, so a field added without its row fails it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The XMPP domain served (accounts are `user@domain`).
    pub domain: String,
    /// Where the SQLite database and the generated TLS certificate live.
    pub data_dir: PathBuf,
    /// The deployment's language: error texts for clients that declare none, rooms'
    /// notices, the server's stream header (`fr` or `en`).
    pub language: Language,
    pub listen: Listen,
    pub storage: Storage,
    pub tls: Tls,
    pub limits: Limits,
    pub auth: Auth,
    pub policy: Policy,
    pub directory: DirectoryApi,
    pub muc: Muc,
    pub pep: Pep,
    pub archive: Archive,
    pub admin: Admin,
    pub log: Log,
    /// External components (XEP-0114) allowed to connect, each with its domain and secret.
    pub components: Vec<Component>,
    pub push: Push,
    pub upload: Upload,
    pub reports: Reports,
    pub rates: Rates,
    pub quiet_hours: QuietHoursConfig,
    pub cas: Cas,
    pub cluster: Cluster,
}

/// Quiet hours (docs/safety.md, « Heures calmes »): what applies to a structure whose
/// administrator set none, and how often the server looks at the clock.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuietHoursConfig {
    /// Whether a structure that set no quiet hours has the default ones: pupils,
    /// 21:00–07:00 in `time_zone`. `false`: none until a structure sets its own.
    pub default: bool,
    /// The time zone of the default quiet hours (an IANA name).
    pub time_zone: String,
    /// How often, in milliseconds, the server checks whether quiet hours began or ended
    /// (held messages are delivered at most this late after the end).
    pub tick_ms: u64,
}

impl Default for QuietHoursConfig {
    fn default() -> Self {
        QuietHoursConfig {
            default: true,
            time_zone: "Europe/Paris".into(),
            tick_ms: 1000,
        }
    }
}

/// Reports (« Signaler », XEP-0377): what one carries and how often one may be made
/// (docs/config.md, "Reports").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Reports {
    /// Messages copied before and after each reported one (or the last ones with a person
    /// reported without messages), from the reporter's archive or the room's.
    pub context_messages: u32,
    /// Reports one account may make per hour.
    pub per_hour: u32,
    /// Longest free text of a report, in characters.
    pub max_text_chars: usize,
    /// Messages one report may name.
    pub max_messages: usize,
}

impl Default for Reports {
    fn default() -> Self {
        Reports {
            context_messages: 10,
            per_hour: 5,
            max_text_chars: 1000,
            max_messages: 10,
        }
    }
}

/// Per-account rate limits (docs/safety.md, « Limites »): pupils' (the directory's
/// `student` profile) and everyone else's. Beyond one, the stanza is refused with
/// `<resource-constraint/>` and a text saying when to try again; nothing is dropped.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Rates {
    pub pupils: PupilRates,
    pub adults: AdultRates,
    /// A structure's own limits, by its id (`[rates.structures."0750001A".pupils]`):
    /// each option given replaces the profile's for that structure's members; an
    /// account of several structures gets, option by option, the strictest of his
    /// structures' limits (docs/safety.md, « Limites »).
    pub structures: std::collections::BTreeMap<String, StructureRates>,
}

/// One structure's rate limits: for its pupils, its adults, or both; an option left out
/// keeps the profile's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StructureRates {
    pub pupils: RateOverride,
    pub adults: RateOverride,
}

/// The options of a `[rates.pupils]` table, each optional.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateOverride {
    pub messages_per_minute: Option<u32>,
    pub recipients_per_minute: Option<u32>,
    pub contact_requests_per_hour: Option<u32>,
    pub rooms_per_day: Option<u32>,
    pub invitations_per_room_per_hour: Option<u32>,
}

impl RateOverride {
    /// `base` with the options this one gives.
    pub fn over(&self, base: RateLimits) -> RateLimits {
        RateLimits {
            messages_per_minute: self.messages_per_minute.unwrap_or(base.messages_per_minute),
            recipients_per_minute: self
                .recipients_per_minute
                .unwrap_or(base.recipients_per_minute),
            contact_requests_per_hour: self
                .contact_requests_per_hour
                .unwrap_or(base.contact_requests_per_hour),
            rooms_per_day: self.rooms_per_day.unwrap_or(base.rooms_per_day),
            invitations_per_room_per_hour: self
                .invitations_per_room_per_hour
                .unwrap_or(base.invitations_per_room_per_hour),
        }
    }
}

impl RateLimits {
    /// Option by option, the stricter of two limits (0, no limit, is the loosest).
    pub fn strictest(self, other: RateLimits) -> RateLimits {
        fn min(a: u32, b: u32) -> u32 {
            match (a, b) {
                (0, x) | (x, 0) => x,
                (a, b) => a.min(b),
            }
        }
        RateLimits {
            messages_per_minute: min(self.messages_per_minute, other.messages_per_minute),
            recipients_per_minute: min(self.recipients_per_minute, other.recipients_per_minute),
            contact_requests_per_hour: min(
                self.contact_requests_per_hour,
                other.contact_requests_per_hour,
            ),
            rooms_per_day: min(self.rooms_per_day, other.rooms_per_day),
            invitations_per_room_per_hour: min(
                self.invitations_per_room_per_hour,
                other.invitations_per_room_per_hour,
            ),
        }
    }
}

impl Rates {
    /// The limits of an account of `profile`'s group (`pupil` or not) in `structures`:
    /// the profile's, with each structure's own options over them, the strictest of his
    /// structures' when he has several (the profile's alone when none has its own).
    pub fn limits_for<'a>(
        &self,
        pupil: bool,
        structures: impl IntoIterator<Item = &'a str>,
    ) -> RateLimits {
        let base = if pupil {
            self.pupils.limits()
        } else {
            self.adults.limits()
        };
        if self.structures.is_empty() {
            return base;
        }
        let mut out: Option<RateLimits> = None;
        for id in structures {
            let own = match self.structures.get(id) {
                Some(s) if pupil => s.pupils.over(base),
                Some(s) => s.adults.over(base),
                None => base,
            };
            out = Some(out.map_or(own, |o| o.strictest(own)));
        }
        out.unwrap_or(base)
    }
}

/// One profile's rate limits, as the gate reads them; 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub messages_per_minute: u32,
    pub recipients_per_minute: u32,
    pub contact_requests_per_hour: u32,
    pub rooms_per_day: u32,
    pub invitations_per_room_per_hour: u32,
}

/// The same options for each profile's table, each with its own defaults.
macro_rules! rate_table {
    ($name:ident, $doc:literal, $m:expr, $r:expr, $c:expr, $d:expr, $i:expr) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            /// Messages an account may send a minute, one-to-one and in rooms together
            /// (all at once at most, then they come back evenly).
            pub messages_per_minute: u32,
            /// Distinct people an account may write to one-to-one within a minute.
            pub recipients_per_minute: u32,
            /// Contact requests an account may send an hour.
            pub contact_requests_per_hour: u32,
            /// Rooms an account may create a day.
            pub rooms_per_day: u32,
            /// Invitations an account may send to one room an hour.
            pub invitations_per_room_per_hour: u32,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    messages_per_minute: $m,
                    recipients_per_minute: $r,
                    contact_requests_per_hour: $c,
                    rooms_per_day: $d,
                    invitations_per_room_per_hour: $i,
                }
            }
        }

        impl $name {
            pub fn limits(&self) -> RateLimits {
                RateLimits {
                    messages_per_minute: self.messages_per_minute,
                    recipients_per_minute: self.recipients_per_minute,
                    contact_requests_per_hour: self.contact_requests_per_hour,
                    rooms_per_day: self.rooms_per_day,
                    invitations_per_room_per_hour: self.invitations_per_room_per_hour,
                }
            }
        }
    };
}

rate_table!(
    PupilRates,
    "Pupils' rate limits (the directory's `student` profile).",
    30,
    10,
    20,
    5,
    40
);
rate_table!(
    AdultRates,
    "Everyone else's rate limits (teachers, staff, families, accounts outside the directory).",
    120,
    60,
    100,
    30,
    200
);

/// File sharing (XEP-0363 HTTP File Upload) on `upload.DOMAIN`, the files served by the
/// HTTP listener (docs/config.md, "File sharing").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Upload {
    /// The service is offered at all (each structure may still turn it off; a primary
    /// school has it off until its administrator turns it on).
    pub enabled: bool,
    /// Where the files are kept; default `DATA_DIR/uploads`.
    pub dir: Option<PathBuf>,
    /// Largest file, in bytes, where a structure set nothing (and for accounts outside
    /// the directory).
    pub max_bytes: u64,
    /// Allowed MIME types where a structure set nothing.
    pub types: Vec<String>,
    /// The start of the files' URLs (`https://chat.example.org`), as clients reach the
    /// HTTP listener; default from `[listen]` and `domain`.
    pub url_base: Option<String>,
    /// Bytes of files one account keeps at most.
    pub quota_bytes_per_account: u64,
    /// Slots one account may ask for per hour.
    pub slots_per_hour: u32,
    /// Seconds a slot's PUT URL stays valid.
    pub slot_validity_secs: u64,
}

impl Default for Upload {
    fn default() -> Self {
        Upload {
            enabled: true,
            dir: None,
            max_bytes: 10_485_760,
            types: causerie_ent::upload::DEFAULT_TYPES
                .iter()
                .map(|t| (*t).to_string())
                .collect(),
            url_base: None,
            quota_bytes_per_account: 104_857_600,
            slots_per_hour: 30,
            slot_validity_secs: 300,
        }
    }
}

impl Upload {
    /// What a structure that set nothing allows (before the primary school rule).
    pub fn default_settings(&self) -> causerie_ent::UploadSettings {
        causerie_ent::UploadSettings {
            enabled: self.enabled,
            max_bytes: self.max_bytes,
            types: self.types.clone(),
        }
    }
}

/// One external component (XEP-0114): a `[[components]]` entry.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// The component's domain, e.g. `push.example.org`: stanzas to JIDs of that domain go
    /// to its connection.
    pub domain: String,
    /// The shared secret of its handshake (at least 16 characters).
    pub secret: String,
}

impl std::fmt::Debug for Component {
    // The secret never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Component")
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

/// XEP-0357 push notifications sent to an app server (a configured component).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Push {
    /// Push registrations (enabled app server and node pairs) one account may have.
    pub max_registrations_per_account: i64,
    /// Put the sender's bare JID in the notification (`last-message-sender`).
    pub include_sender: bool,
    /// Put the message's text in the notification (`last-message-body`).
    pub include_body: bool,
    /// Seconds between two notifications for one account: more messages in between are
    /// coalesced into the next one.
    pub min_interval_secs: u64,
    /// Seconds the app server has to answer a notification; past it, the registration is
    /// disabled.
    pub answer_timeout_secs: u64,
}

impl Default for Push {
    fn default() -> Self {
        Push {
            max_registrations_per_account: 5,
            include_sender: false,
            include_body: false,
            min_interval_secs: 10,
            answer_timeout_secs: 30,
        }
    }
}

/// The admin console and its API (`/admin` on the HTTP listener, docs/admin-api.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    /// Logins (accounts of this server) that are super-administrators.
    pub super_admins: Vec<String>,
    /// Minutes without a request after which a console session ends (up to a minute later,
    /// never earlier: the last request is recorded once a minute).
    pub session_idle_minutes: u32,
    /// Hours after which a console session ends whatever its use.
    pub session_max_hours: u32,
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            super_admins: Vec::new(),
            session_idle_minutes: 30,
            session_max_hours: 12,
        }
    }
}

/// Listening sockets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listen {
    /// Client connections with STARTTLS (RFC 6120), usually port 5222; `false` disables it.
    #[serde(deserialize_with = "listener")]
    pub c2s: Option<SocketAddr>,
    /// Client connections with direct TLS (XEP-0368), usually port 5223; `false` disables it.
    #[serde(deserialize_with = "listener")]
    pub c2s_tls: Option<SocketAddr>,
    /// HTTP: XMPP over WebSocket, the web client, the admin console (port 5280); `false` disables it.
    #[serde(deserialize_with = "listener")]
    pub http: Option<SocketAddr>,
    /// HTTPS: the same over TLS with the server's certificate, WebSocket as `wss://`
    /// (usually port 5443); off unless given.
    #[serde(deserialize_with = "listener")]
    pub https: Option<SocketAddr>,
    /// The HTTP listener sits behind a reverse proxy that terminates TLS, so
    /// WebSocket clients are on a confidential channel (PLAIN is offered).
    pub http_behind_tls_proxy: bool,
    /// External components (XEP-0114, `[[components]]`); bound only when at least one is
    /// configured; `false` disables it.
    #[serde(deserialize_with = "listener")]
    pub component: Option<SocketAddr>,
}

/// A listener: `"IP:PORT"`, or `false` to disable it.
fn listener<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Listener {
        Off(bool),
        Address(String),
    }
    match Listener::deserialize(d)? {
        Listener::Off(false) => Ok(None),
        Listener::Off(true) => Err(serde::de::Error::custom(
            "give an address \"IP:PORT\", or false to disable the listener",
        )),
        Listener::Address(a) => a.parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!(
                "`{a}` is not an address \"IP:PORT\" (or false to disable the listener)"
            ))
        }),
    }
}

/// Where data is stored.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// `sqlite://PATH?mode=rwc` or `postgres://…`; default: SQLite in `data_dir/causerie.db`.
    pub url: Option<String>,
}

/// TLS certificate. Without both paths, a self-signed certificate is generated at
/// first start and kept in `data_dir/tls/`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
}

/// Limits that protect the server and its users.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest top-level element a client may send, in bytes.
    pub max_stanza_bytes: usize,
    /// Deepest nesting inside one stanza.
    pub max_depth: usize,
    /// Seconds a connection has to authenticate and bind a resource.
    pub handshake_timeout_secs: u64,
    /// Seconds a connection has to authenticate (TLS and SASL, or a component's
    /// handshake); at most `handshake_timeout_secs`. Authenticated sessions are not
    /// concerned.
    pub unauthenticated_timeout_secs: u64,
    /// Unauthenticated connections one address may hold at once (an IPv6 address
    /// counts by its /64), on every door together: c2s, direct TLS, HTTPS and
    /// WebSocket, components. Generous: a school's pupils often share one public address.
    pub unauthenticated_per_address: usize,
    /// File descriptors kept free for connections that progress: below this many free
    /// (`RLIMIT_NOFILE` minus the open ones), new unauthenticated connections are
    /// refused; at most a quarter of the limit. 0: no reserve.
    pub fd_reserve: u64,
    /// Seconds between two log lines about the refusals from one address (the first
    /// refusal is logged at once, then one summary per interval).
    pub refusal_log_interval_secs: u64,
    /// Stanzas queued for a session that does not read; past it, the session is closed.
    pub send_queue_len: usize,
    /// Messages kept for an offline user; past it, senders get an error.
    pub max_offline_per_user: i64,
    /// Simultaneous client connections.
    pub max_connections: usize,
    /// Resources bound at once by one account.
    pub max_resources_per_user: usize,
    /// Seconds a session with XEP-0198 resumption waits, detached, for its client to
    /// resume it after its connection dropped (at most 3600; 0: no resumption).
    pub resume_window_secs: u64,
}

/// Authentication.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// Delay added per recent failure from the same address, in milliseconds.
    pub failure_delay_ms: u64,
    /// PBKDF2 iterations for new SCRAM credentials (at least 4096).
    pub scram_iterations: u32,
    /// Accept SASL without TLS on loopback connections (benchmarks only).
    pub allow_plaintext_on_loopback: bool,
    /// Days an XEP-0484 FAST token stays valid (a client's login without its password);
    /// 0 turns FAST off (no token is issued or accepted). At most 365.
    pub fast_token_days: u32,
}

/// Single sign-on with the portal's CAS server (docs/portal-integration.md): the web
/// client logs in through it, then over XMPP with a single-use token (SASL OAUTHBEARER),
/// never a password. Off while `server_url` is unset.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cas {
    /// The CAS server's base URL (`https://cas.ent.example/cas`): `/login`, `/logout` and
    /// `/p3/serviceValidate` (or `/serviceValidate`) are below it.
    pub server_url: Option<String>,
    /// The chat's callback as the CAS server knows the service
    /// (`https://chat.example.org/sso/cas`); required with `server_url` (never derived
    /// from a request's `Host`).
    pub service_url: Option<String>,
    /// The CAS protocol version: 3 (`/p3/serviceValidate`, with attributes) or 2.
    pub protocol: u8,
    /// The attribute whose value is the user's login in the directory (e.g.
    /// `ENTPersonLogin`, `uid`); empty: the CAS user id itself.
    pub user_attribute: String,
    /// A PEM file of extra certificate authorities to trust for the CAS server (a private
    /// CA); the system's are always trusted.
    pub ca_file: Option<PathBuf>,
    /// How long a browser stays signed in through the portal, in hours (a single log-out
    /// from the portal ends it sooner).
    pub session_hours: u32,
    /// Seconds a login token stays valid (the web client uses it at once).
    pub token_secs: u32,
}

impl Default for Cas {
    fn default() -> Self {
        Cas {
            server_url: None,
            service_url: None,
            protocol: 3,
            user_attribute: String::new(),
            ca_file: None,
            session_hours: 12,
            token_secs: 60,
        }
    }
}

impl Cas {
    /// Whether single sign-on is configured.
    pub fn enabled(&self) -> bool {
        self.server_url.is_some()
    }

    fn check(&self) -> Result<(), (&'static str, String)> {
        let url_ok = |u: &str| {
            (u.starts_with("https://") || u.starts_with("http://")) && !u.contains(['?', '#', ' '])
        };
        if let Some(u) = &self.server_url
            && !url_ok(u)
        {
            return Err((
                "cas.server_url",
                "must be an http(s) URL without a query or fragment".into(),
            ));
        }
        if let Some(u) = &self.service_url
            && !url_ok(u)
        {
            return Err((
                "cas.service_url",
                "must be an http(s) URL without a query or fragment".into(),
            ));
        }
        if self.server_url.is_some() && self.service_url.is_none() {
            return Err((
                "cas.service_url",
                "is required with cas.server_url: the chat's callback as the CAS server knows \
                 it (e.g. https://chat.example.org/sso/cas)"
                    .into(),
            ));
        }
        // A validation answer read over plain HTTP could be forged by anyone on the path.
        if let Some(u) = &self.server_url
            && u.starts_with("http://")
            && !["http://127.0.0.1", "http://localhost", "http://[::1]"]
                .iter()
                .any(|l| {
                    u.strip_prefix(l)
                        .is_some_and(|r| r.is_empty() || r.starts_with([':', '/']))
                })
        {
            return Err((
                "cas.server_url",
                "must be https:// (plain http only on this machine's loopback)".into(),
            ));
        }
        if self.protocol != 2 && self.protocol != 3 {
            return Err(("cas.protocol", "must be 2 or 3".into()));
        }
        if !(1..=24 * 31).contains(&self.session_hours) {
            return Err(("cas.session_hours", "must be between 1 and 744".into()));
        }
        if !(5..=600).contains(&self.token_secs) {
            return Err(("cas.token_secs", "must be between 5 and 600".into()));
        }
        Ok(())
    }
}

/// Several nodes serving one domain (docs/operations.md): on with `nats_url`. Every node
/// of a cluster uses the same PostgreSQL database (`storage.url`) and the same NATS
/// server (or NATS cluster), through which they learn where each session is and hand
/// each other stanzas, rooms and the caches' invalidations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cluster {
    /// The NATS server (`nats://127.0.0.1:4222`, or several separated by commas); unset:
    /// one node alone.
    pub nats_url: Option<String>,
    /// This node's name, unique in the cluster (shown in logs and the console); default:
    /// the machine's host name.
    pub node: Option<String>,
    /// The cluster's name: the prefix of its NATS subjects and buckets, so that several
    /// deployments may share one NATS server.
    pub name: String,
    /// Milliseconds between two heartbeats of this node.
    pub heartbeat_ms: u64,
    /// Milliseconds without a heartbeat after which the other nodes hold a node for dead:
    /// its sessions are forgotten and its rooms taken over.
    pub dead_after_ms: u64,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            nats_url: None,
            node: None,
            name: "causerie".into(),
            heartbeat_ms: 500,
            dead_after_ms: 3000,
        }
    }
}

impl Cluster {
    /// Whether this node is one of several.
    pub fn enabled(&self) -> bool {
        self.nats_url.is_some()
    }

    fn check(&self, storage_url: Option<&str>) -> Result<(), (&'static str, String)> {
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.len() <= 64
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !name_ok(&self.name) {
            return Err((
                "cluster.name",
                "must be 1 to 64 letters, digits, '-' or '_'".into(),
            ));
        }
        if let Some(n) = &self.node
            && !name_ok(n)
        {
            return Err((
                "cluster.node",
                "must be 1 to 64 letters, digits, '-' or '_'".into(),
            ));
        }
        if !(50..=10_000).contains(&self.heartbeat_ms) {
            return Err((
                "cluster.heartbeat_ms",
                "must be between 50 and 10000".into(),
            ));
        }
        if self.dead_after_ms < 3 * self.heartbeat_ms || self.dead_after_ms > 120_000 {
            return Err((
                "cluster.dead_after_ms",
                "must be at least 3 heartbeats and at most 120000".into(),
            ));
        }
        if self.enabled()
            && !storage_url
                .is_some_and(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
        {
            return Err((
                "cluster.nats_url",
                "needs storage.url on PostgreSQL: the nodes share one database".into(),
            ));
        }
        Ok(())
    }
}

/// The ENT's incremental directory sync API (`/api/v1/directory/...` on the HTTP listener).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DirectoryApi {
    /// Bearer token the ENT presents; without one the API is disabled.
    pub api_token: Option<String>,
}

/// The school's communication rules.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// `school`: the directory's rules apply; `open`: no rules (non-school deployments).
    pub mode: PolicyMode,
    /// Let accounts created outside the directory (`causerie user add`) reach directory users.
    pub plain_accounts_reach_directory: bool,
}

/// The languages the server's own texts exist in (see [`Config::language`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Fr,
    En,
}

impl Language {
    /// The `xml:lang` code.
    pub fn code(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
        }
    }

    /// Of a French text and its English translation, the one in this language.
    pub fn pick<'a>(self, fr: &'a str, en: &'a str) -> &'a str {
        match self {
            Language::Fr => fr,
            Language::En => en,
        }
    }
}

/// See [`Policy::mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PolicyMode {
    #[default]
    School,
    Open,
}

/// The accounts' archive of one-to-one messages (XEP-0313 on accounts): how long it is
/// kept where a structure set nothing (docs/config.md, "Archive").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Archive {
    /// Retention of the archive for structures that set none, and for accounts outside
    /// the directory: `"school_year"` (what is older than the start of the current school
    /// year is deleted) or a number of days (1 to 3650).
    pub retention: causerie_ent::Retention,
    /// The day the school year starts, `"MM-DD"`, at midnight in the server's time zone.
    pub school_year_start: causerie_ent::YearStart,
    /// Days a closed report (with its copied messages and notes) is kept after its last
    /// change; reports not closed are kept (1 to 3650).
    pub reports_days: u32,
    /// Days the audit log's rows are kept (30 to 3650).
    pub audit_days: u32,
    /// Days after a user leaves the directory before his account and everything that goes
    /// with it are deleted (0: at the next hourly purge; at most 3650).
    pub departed_days: u32,
    /// Hours an archive access granted to a structure's safety staff lasts (1 to 72).
    pub access_hours: u32,
}

impl Default for Archive {
    fn default() -> Archive {
        Archive {
            retention: causerie_ent::Retention::default(),
            school_year_start: causerie_ent::YearStart::default(),
            reports_days: 365,
            audit_days: 365,
            departed_days: 92,
            access_hours: 24,
        }
    }
}

impl Archive {
    /// Checks the bounds of the numbers (docs/config.md, "Archive").
    pub fn check(&self) -> Result<(), String> {
        let within = |name: &str, v: u32, lo: u32, hi: u32| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("[archive] {name} is {lo} to {hi}, not {v}"))
            }
        };
        within("reports_days", self.reports_days, 1, 3650)?;
        within("audit_days", self.audit_days, 30, 3650)?;
        within("departed_days", self.departed_days, 0, 3650)?;
        within("access_hours", self.access_hours, 1, 72)
    }
}

/// Multi-user conversations (XEP-0045 rooms on `conference.DOMAIN`) and their limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Muc {
    /// Rooms one account may belong to (as owner or member); past it, creating a room or
    /// being invited to one fails.
    pub max_rooms_per_user: i64,
    /// Members of one room, and occupants present in it at once.
    pub max_occupants_per_room: usize,
    /// Invitations (and declines) one account may send per minute.
    pub max_invitations_per_minute: usize,
    /// Last messages replayed to whoever joins a room.
    pub history_len: usize,
    /// Days a room's archived messages are kept (0: forever).
    pub archive_retention_days: u32,
    /// Longest room name (`muc#roomconfig_roomname`), in characters.
    pub max_name_chars: usize,
    /// Longest room description, in characters.
    pub max_description_chars: usize,
    /// Longest subject (and invitation or removal reason), in characters.
    pub max_subject_chars: usize,
    /// Longest nickname, in characters.
    pub max_nick_chars: usize,
}

/// Personal data each account keeps on the server: PEP nodes (XEP-0163: bookmarks,
/// avatar, vCard4, nickname…) and private XML storage (XEP-0049), and the entity
/// capabilities (XEP-0115) the server remembers to know who wants which notifications.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pep {
    /// Largest published item (its payload's XML), in bytes.
    pub max_item_bytes: usize,
    /// Items one node keeps at most (`pubsub#max_items` = `max` means this).
    pub max_items_per_node: u32,
    /// Nodes one account may have.
    pub max_nodes_per_user: u32,
    /// Bytes of items one account keeps, all its nodes together.
    pub max_bytes_per_user: u64,
    /// Bytes of private XML storage one account keeps.
    pub max_private_bytes_per_user: u64,
    /// Client capabilities (XEP-0115 `ver` strings) remembered; the oldest is forgotten
    /// past it (and asked again when seen).
    pub caps_cache_entries: usize,
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// A tracing filter, e.g. `info` or `causerie_server=debug` (RUST_LOG wins when set).
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            domain: "localhost".into(),
            data_dir: PathBuf::from("./data"),
            language: Language::default(),
            listen: Listen::default(),
            storage: Storage::default(),
            tls: Tls::default(),
            limits: Limits::default(),
            auth: Auth::default(),
            policy: Policy::default(),
            directory: DirectoryApi::default(),
            muc: Muc::default(),
            pep: Pep::default(),
            archive: Archive::default(),
            admin: Admin::default(),
            log: Log::default(),
            components: Vec::new(),
            push: Push::default(),
            upload: Upload::default(),
            reports: Reports::default(),
            rates: Rates::default(),
            quiet_hours: QuietHoursConfig::default(),
            cas: Cas::default(),
            cluster: Cluster::default(),
        }
    }
}

impl Default for Muc {
    fn default() -> Self {
        Muc {
            max_rooms_per_user: 100,
            max_occupants_per_room: 200,
            max_invitations_per_minute: 60,
            history_len: 50,
            archive_retention_days: 365,
            max_name_chars: 100,
            max_description_chars: 1000,
            max_subject_chars: 500,
            max_nick_chars: 64,
        }
    }
}

impl Default for Pep {
    fn default() -> Self {
        Pep {
            max_item_bytes: 131_072,
            max_items_per_node: 1000,
            max_nodes_per_user: 100,
            max_bytes_per_user: 2_097_152,
            max_private_bytes_per_user: 262_144,
            caps_cache_entries: 1000,
        }
    }
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            c2s: Some(SocketAddr::from(([0, 0, 0, 0], 5222))),
            c2s_tls: Some(SocketAddr::from(([0, 0, 0, 0], 5223))),
            http: Some(SocketAddr::from(([0, 0, 0, 0], 5280))),
            https: None,
            http_behind_tls_proxy: false,
            component: Some(SocketAddr::from(([127, 0, 0, 1], 5347))),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stanza_bytes: 262_144,
            max_depth: 64,
            handshake_timeout_secs: 60,
            unauthenticated_timeout_secs: 20,
            unauthenticated_per_address: 2000,
            fd_reserve: 1000,
            refusal_log_interval_secs: 60,
            send_queue_len: 1000,
            max_offline_per_user: 1000,
            max_connections: 200_000,
            max_resources_per_user: 10,
            resume_window_secs: 300,
        }
    }
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            failure_delay_ms: 1000,
            scram_iterations: 4096,
            allow_plaintext_on_loopback: false,
            fast_token_days: 30,
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

/// A configuration that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config{}: key `{key}`: {reason}", path.as_ref().map(|p| format!(" file {}", p.display())).unwrap_or_default())]
    Invalid {
        path: Option<PathBuf>,
        key: &'static str,
        reason: String,
    },
}

impl Config {
    /// Reads and validates `path`, or returns the defaults when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let config = match path {
            None => Config::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                Self::parse(&text).map_err(|message| ConfigError::Parse {
                    path: path.to_path_buf(),
                    message,
                })?
            }
        };
        config
            .validate()
            .map_err(|(key, reason)| ConfigError::Invalid {
                path: path.map(Path::to_path_buf),
                key,
                reason,
            })?;
        Ok(config)
    }

    /// Parses TOML text (no validation).
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }

    /// Checks bounds and values that the types alone do not.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if jid::BareJid::new(&self.domain)
            .ok()
            .filter(|j| j.node().is_none())
            .is_none()
        {
            return Err((
                "domain",
                format!("`{}` is not a valid XMPP domain", self.domain),
            ));
        }
        let mut q = causerie_ent::QuietHours::school_default();
        q.time_zone = self.quiet_hours.time_zone.clone();
        if let Err(e) = q.validated() {
            return Err(("quiet_hours.time_zone", e));
        }
        if !(50..=60_000).contains(&self.quiet_hours.tick_ms) {
            return Err(("quiet_hours.tick_ms", "must be between 50 and 60000".into()));
        }
        self.archive.check().map_err(|e| ("archive", e))?;
        let l = &self.limits;
        if !(1024..=16 * 1024 * 1024).contains(&l.max_stanza_bytes) {
            return Err((
                "limits.max_stanza_bytes",
                "must be between 1024 and 16777216".into(),
            ));
        }
        if !(8..=1024).contains(&l.max_depth) {
            return Err(("limits.max_depth", "must be between 8 and 1024".into()));
        }
        if l.handshake_timeout_secs == 0 {
            return Err(("limits.handshake_timeout_secs", "must be at least 1".into()));
        }
        if l.unauthenticated_timeout_secs == 0 {
            return Err((
                "limits.unauthenticated_timeout_secs",
                "must be at least 1".into(),
            ));
        }
        if l.unauthenticated_per_address == 0 {
            return Err((
                "limits.unauthenticated_per_address",
                "must be at least 1".into(),
            ));
        }
        if !(1..=86_400).contains(&l.refusal_log_interval_secs) {
            return Err((
                "limits.refusal_log_interval_secs",
                "must be between 1 and 86400".into(),
            ));
        }
        if l.send_queue_len < 8 {
            return Err(("limits.send_queue_len", "must be at least 8".into()));
        }
        if l.max_offline_per_user < 0 {
            return Err(("limits.max_offline_per_user", "must not be negative".into()));
        }
        if l.max_connections == 0 {
            return Err(("limits.max_connections", "must be at least 1".into()));
        }
        if l.max_resources_per_user == 0 {
            return Err(("limits.max_resources_per_user", "must be at least 1".into()));
        }
        if l.resume_window_secs > 3600 {
            return Err(("limits.resume_window_secs", "must be at most 3600".into()));
        }
        if self.auth.scram_iterations < 4096 {
            return Err((
                "auth.scram_iterations",
                "must be at least 4096 (RFC 7677)".into(),
            ));
        }
        if self.auth.fast_token_days > 365 {
            return Err(("auth.fast_token_days", "must be at most 365".into()));
        }
        self.cas.check()?;
        self.cluster.check(self.storage.url.as_deref())?;
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(("tls", "give both `cert` and `key`, or neither".into()));
        }
        if self
            .directory
            .api_token
            .as_ref()
            .is_some_and(|t| t.len() < 16)
        {
            return Err((
                "directory.api_token",
                "must be at least 16 characters".into(),
            ));
        }
        let p = &self.pep;
        if !(256..=16 * 1024 * 1024).contains(&p.max_item_bytes) {
            return Err((
                "pep.max_item_bytes",
                "must be between 256 and 16777216".into(),
            ));
        }
        if !(1..=100_000).contains(&p.max_items_per_node) {
            return Err((
                "pep.max_items_per_node",
                "must be between 1 and 100000".into(),
            ));
        }
        if p.max_nodes_per_user == 0 {
            return Err(("pep.max_nodes_per_user", "must be at least 1".into()));
        }
        if p.caps_cache_entries == 0 {
            return Err(("pep.caps_cache_entries", "must be at least 1".into()));
        }
        let m = &self.muc;
        if m.max_rooms_per_user < 1 {
            return Err(("muc.max_rooms_per_user", "must be at least 1".into()));
        }
        if m.max_occupants_per_room < 2 {
            return Err(("muc.max_occupants_per_room", "must be at least 2".into()));
        }
        if m.max_invitations_per_minute == 0 {
            return Err((
                "muc.max_invitations_per_minute",
                "must be at least 1".into(),
            ));
        }
        if m.history_len > 1000 {
            return Err(("muc.history_len", "must be at most 1000".into()));
        }
        for (key, value) in [
            ("muc.max_name_chars", m.max_name_chars),
            ("muc.max_description_chars", m.max_description_chars),
            ("muc.max_subject_chars", m.max_subject_chars),
            ("muc.max_nick_chars", m.max_nick_chars),
        ] {
            if !(1..=10_000).contains(&value) {
                return Err((key, "must be between 1 and 10000".into()));
            }
        }
        if !(1..=24 * 60).contains(&self.admin.session_idle_minutes) {
            return Err((
                "admin.session_idle_minutes",
                "must be between 1 and 1440".into(),
            ));
        }
        if !(1..=24 * 7).contains(&self.admin.session_max_hours) {
            return Err((
                "admin.session_max_hours",
                "must be between 1 and 168".into(),
            ));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(("log.format", "must be `text` or `json`".into()));
        }
        let domain = self.domain.to_lowercase();
        let mut seen = std::collections::HashSet::new();
        for c in &self.components {
            let d = c.domain.to_lowercase();
            if jid::BareJid::new(&d)
                .ok()
                .filter(|j| j.node().is_none())
                .is_none()
            {
                return Err((
                    "components.domain",
                    format!("`{}` is not a valid XMPP domain", c.domain),
                ));
            }
            let taken = [
                domain.clone(),
                format!("conference.{domain}"),
                format!("search.{domain}"),
            ];
            if taken.contains(&d) || !seen.insert(d.clone()) {
                return Err((
                    "components.domain",
                    format!(
                        "`{}` is already served (the server's own domain, its services, or another component)",
                        c.domain
                    ),
                ));
            }
            if c.secret.chars().count() < 16 {
                return Err((
                    "components.secret",
                    format!(
                        "the secret of `{}` must be at least 16 characters",
                        c.domain
                    ),
                ));
            }
        }
        let p = &self.push;
        if !(1..=100).contains(&p.max_registrations_per_account) {
            return Err((
                "push.max_registrations_per_account",
                "must be between 1 and 100".into(),
            ));
        }
        if p.min_interval_secs > 3600 {
            return Err(("push.min_interval_secs", "must be at most 3600".into()));
        }
        if !(1..=300).contains(&p.answer_timeout_secs) {
            return Err((
                "push.answer_timeout_secs",
                "must be between 1 and 300".into(),
            ));
        }
        let u = &self.upload;
        if let Err(e) = u.default_settings().validated() {
            return Err(("upload", e));
        }
        if let Some(base) = &u.url_base {
            let rest = base
                .strip_prefix("https://")
                .or_else(|| base.strip_prefix("http://"));
            if rest.is_none_or(|r| r.is_empty() || r.contains(['?', '#', ' ', '"', '<', '>', '\\']))
            {
                return Err((
                    "upload.url_base",
                    "must be an http:// or https:// URL without query or fragment".into(),
                ));
            }
        }
        if u.quota_bytes_per_account < u.max_bytes {
            return Err((
                "upload.quota_bytes_per_account",
                "must be at least upload.max_bytes".into(),
            ));
        }
        if !(1..=10_000).contains(&u.slots_per_hour) {
            return Err((
                "upload.slots_per_hour",
                "must be between 1 and 10000".into(),
            ));
        }
        if !(1..=3600).contains(&u.slot_validity_secs) {
            return Err((
                "upload.slot_validity_secs",
                "must be between 1 and 3600".into(),
            ));
        }
        let r = &self.reports;
        if r.context_messages > 50 {
            return Err(("reports.context_messages", "must be at most 50".into()));
        }
        if !(1..=1000).contains(&r.per_hour) {
            return Err(("reports.per_hour", "must be between 1 and 1000".into()));
        }
        if !(1..=10_000).contains(&r.max_text_chars) {
            return Err((
                "reports.max_text_chars",
                "must be between 1 and 10000".into(),
            ));
        }
        if !(1..=50).contains(&r.max_messages) {
            return Err(("reports.max_messages", "must be between 1 and 50".into()));
        }
        if let Some(url) = &self.storage.url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return Err((
                "storage.url",
                "must start with `sqlite:` or `postgres://`".into(),
            ));
        }
        Ok(())
    }

    /// Where shared files are kept: `[upload] dir`, or `DATA_DIR/uploads`.
    pub fn upload_dir(&self) -> PathBuf {
        self.upload
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("uploads"))
    }

    /// The start of shared files' URLs, without a trailing `/`: `[upload] url_base`, else
    /// `https://DOMAIN` behind a TLS proxy, `https://DOMAIN:PORT` with an HTTPS listener,
    /// `http://DOMAIN:PORT` with the HTTP one.
    pub fn upload_url_base(&self) -> String {
        if let Some(base) = &self.upload.url_base {
            return base.trim_end_matches('/').to_string();
        }
        let domain = self.domain.to_lowercase();
        if self.listen.http_behind_tls_proxy {
            return format!("https://{domain}");
        }
        match (self.listen.https, self.listen.http) {
            (Some(a), _) => format!("https://{domain}:{}", a.port()),
            (None, Some(a)) => format!("http://{domain}:{}", a.port()),
            (None, None) => format!("https://{domain}"),
        }
    }

    /// The database URL, defaulting to SQLite in the data directory.
    pub fn storage_url(&self) -> String {
        match &self.storage.url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("causerie.db").display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.domain, "localhost");
        assert_eq!(c.limits.max_stanza_bytes, 262_144);
        assert_eq!(c.listen.c2s.unwrap().port(), 5222);
        assert!(c.validate().is_ok());
        assert!(c.storage_url().starts_with("sqlite://./data/causerie.db"));
    }

    #[test]
    fn a_structure_s_own_rates_and_the_strictest_of_several() {
        let c = Config::parse(
            "[rates.pupils]\nmessages_per_minute = 30\n\
             [rates.structures.A.pupils]\nmessages_per_minute = 10\nrooms_per_day = 0\n\
             [rates.structures.B.pupils]\nmessages_per_minute = 60\n\
             [rates.structures.B.adults]\nrecipients_per_minute = 5\n",
        )
        .unwrap();
        let r = &c.rates;
        // A's pupils: 10 a minute, no limit on rooms; the rest the profile's.
        let a = r.limits_for(true, ["A"]);
        assert_eq!((a.messages_per_minute, a.rooms_per_day), (10, 0));
        assert_eq!(a.recipients_per_minute, 10);
        // B raises its pupils' messages; its adults' recipients are narrower.
        assert_eq!(r.limits_for(true, ["B"]).messages_per_minute, 60);
        assert_eq!(r.limits_for(false, ["B"]).recipients_per_minute, 5);
        assert_eq!(r.limits_for(false, ["B"]).messages_per_minute, 120);
        // Another structure, or none: the profile's.
        assert_eq!(r.limits_for(true, ["C"]), c.rates.pupils.limits());
        assert_eq!(r.limits_for(true, []), c.rates.pupils.limits());
        // Several: option by option the strictest, 0 (no limit) the loosest.
        let ab = r.limits_for(true, ["A", "B"]);
        assert_eq!((ab.messages_per_minute, ab.rooms_per_day), (10, 5));
        let ac = r.limits_for(true, ["A", "C"]);
        assert_eq!((ac.messages_per_minute, ac.rooms_per_day), (10, 5));
        // An unknown option is named.
        let err = Config::parse("[rates.structures.A.pupils]\nmessages = 3").unwrap_err();
        assert!(err.contains("messages"), "{err}");
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::parse("domian = 'x'").unwrap_err();
        assert!(err.contains("domian"), "{err}");
        let err = Config::parse("[limits]\nmax_stanza = 3").unwrap_err();
        assert!(err.contains("max_stanza"), "{err}");
    }

    #[test]
    fn wrong_type_is_named_with_its_line() {
        let err = Config::parse("domain = 'a'\n[listen]\nc2s = 'not an address'").unwrap_err();
        assert!(err.contains("line 3") || err.contains("3 |"), "{err}");
    }

    #[test]
    fn listeners_can_be_disabled() {
        let c = Config::parse("[listen]\nhttp = false\nc2s = '127.0.0.1:1234'").unwrap();
        assert_eq!(c.listen.http, None);
        assert_eq!(c.listen.c2s, Some("127.0.0.1:1234".parse().unwrap()));
        assert_eq!(
            c.listen.c2s_tls.unwrap().port(),
            5223,
            "omitted: the default"
        );
        let err = Config::parse("[listen]\nhttp = true").unwrap_err();
        assert!(err.contains("false to disable"), "{err}");
    }

    #[test]
    fn bounds_are_checked() {
        let c = Config::parse("[limits]\nmax_stanza_bytes = 10").unwrap();
        assert_eq!(c.validate().unwrap_err().0, "limits.max_stanza_bytes");
        let c = Config::parse("domain = 'a@b'").unwrap();
        assert_eq!(c.validate().unwrap_err().0, "domain");
        let c = Config::parse("[tls]\ncert = '/x.pem'").unwrap();
        assert_eq!(c.validate().unwrap_err().0, "tls");
        let c = Config::parse("[muc]\nmax_occupants_per_room = 1").unwrap();
        assert_eq!(c.validate().unwrap_err().0, "muc.max_occupants_per_room");
        let c = Config::parse("[muc]\nmax_nick_chars = 0").unwrap();
        assert_eq!(c.validate().unwrap_err().0, "muc.max_nick_chars");
    }

    #[test]
    fn muc_defaults_fit_a_school() {
        let c = Config::parse("[muc]\nhistory_len = 20").unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(c.muc.history_len, 20);
        assert_eq!(c.muc.max_invitations_per_minute, 60);
        assert!(
            c.muc.max_occupants_per_room >= 40,
            "a class and its teachers fit"
        );
        assert!(
            Config::parse("[muc]\nhistory = 3")
                .unwrap_err()
                .contains("history")
        );
    }

    #[test]
    fn components_are_checked_and_their_secret_never_logged() {
        let ok = "[[components]]\ndomain = 'push.localhost'\nsecret = 'a-long-enough-secret'";
        let c = Config::parse(ok).unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(c.components[0].domain, "push.localhost");
        assert!(!format!("{c:?}").contains("a-long-enough-secret"));
        assert_eq!(c.listen.component.unwrap().to_string(), "127.0.0.1:5347");
        let short = "[[components]]\ndomain = 'push.localhost'\nsecret = 'short'";
        let c = Config::parse(short).unwrap();
        assert_eq!(c.validate().unwrap_err().0, "components.secret");
        let own =
            "[[components]]\ndomain = 'conference.localhost'\nsecret = 'a-long-enough-secret'";
        let c = Config::parse(own).unwrap();
        assert_eq!(c.validate().unwrap_err().0, "components.domain");
        let twice = format!("{ok}\n{ok}");
        let c = Config::parse(&twice).unwrap();
        assert_eq!(c.validate().unwrap_err().0, "components.domain");
        assert!(
            Config::parse("[[components]]\ndomain = 'x'").is_err(),
            "secret required"
        );
    }

    #[test]
    fn load_reports_file_key_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[auth]\nscram_iterations = 10\n").unwrap();
        let msg = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(msg.contains("c.toml"), "{msg}");
        assert!(msg.contains("auth.scram_iterations"), "{msg}");
        assert!(msg.contains("4096"), "{msg}");
    }
}
