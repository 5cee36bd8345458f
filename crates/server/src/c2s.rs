//! Client-to-server streams (RFC 6120): one task per connection walks the
//! states `Connected → Secured → Authenticated → Bound`, and only a bound
//! session hands stanzas to the router.
//!
//! TCP with STARTTLS (port 5222) and direct TLS (port 5223) share this code;
//! the negotiation runs under the handshake deadline, after which the
//! connection is closed with `<connection-timeout/>`. Before authentication, a shorter
//! deadline applies (`limits.unauthenticated_timeout_secs`, TLS and SASL), and the
//! connection holds a [`Ticket`] of `preauth` (the per-address cap), given back once
//! authenticated. A bound session reads
//! its socket and its bounded outbound queue in one `select!` loop.
//!
//! XEP-0198 stream management (`stream_mgmt` holds the state, `detached` the end of a
//! session that enabled it): `<enable/>`, `<r/>` and `<a/>` are handled here beside the
//! stanzas, `<resume/>` instead of binding; a session that did not enable it pays one
//! word for it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use causerie_proto::errors::{Condition, StanzaError, error_reply, escape};
use causerie_proto::framing::{
    FramingError, FramingLimits, StreamEvent, StreamHeader, StreamParser,
};
use causerie_proto::{Element, ns, xml};
use jid::FullJid;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tracing::{debug, info, warn};

use crate::auth::{self, Exchange, Step};
use crate::detached;
use crate::mailbox::{Inbox, Next};
use crate::outbound::{self, Outbound, to_attribute};
use crate::preauth::Ticket;
use crate::router;
use crate::sasl2;
use crate::server::Server;
use crate::services::sessions::{Registered, SessionMeta};
use crate::session::{Session, SessionHandle};
use crate::sso;
use crate::stream_mgmt::{self, Parked, Resumption, StreamMgmt};
use crate::transport::{TcpTransport, Transport};
use causerie_proto::scram::{ChannelBinding, SaslError};
use causerie_store::FastStore as _;

/// Failed SASL attempts allowed on one connection before it is closed.
const MAX_AUTH_ATTEMPTS: u32 = 5;

/// What a login sent while the last failure against its account from this address still
/// waits is told (`auth::Throttle::cooling`), in both languages.
fn too_soon_text(wait: Duration) -> String {
    let secs = wait.as_secs().max(1);
    format!(
        "Trop d'essais pour ce compte : réessayez dans {secs} s. — Too many attempts for this account: try again in {secs} s."
    )
}
/// Size limit of the stream header and of every element before the connection is
/// authenticated (`[limits] max_stanza_bytes` after, when smaller than it): STARTTLS,
/// SASL and SASL2 elements, a portal or OAuth token and an in-band registration form fit
/// in a few KiB. A parser holds a tag's attributes until it ends, a few times their size
/// in memory, and thousands of connections may be unauthenticated at once.
const PREAUTH_STANZA_BYTES: usize = 16 * 1024;
/// How long the final writes of a closing stream may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closed stream still reads (and drops) what the client sends, waiting for
/// it to close its side.
const LINGER: Duration = Duration::from_secs(2);
/// Longest wait of a new binding for the session of the same resource it replaces.
const SETTLE_WAIT: Duration = Duration::from_secs(5);
/// Outbound stanzas written in one batch.
const WRITE_BATCH: usize = 64;
/// How long a resuming connection waits for the session's task to hand it over.
const CLAIM_WAIT: Duration = Duration::from_secs(5);
/// After this long without bytes from the client, the session's parser gives
/// its buffers back (`StreamParser::park`; about 5 KiB per idle session).
const PARK_AFTER: Duration = Duration::from_secs(2);

/// A connection not authenticated yet: its place in `preauth` and its deadline.
/// Boxed in the connection, so that a bound session keeps one word for it.
pub struct Unauthenticated {
    _ticket: Ticket,
    deadline: Instant,
}

impl Unauthenticated {
    /// From now, with the server's deadline before authentication.
    pub fn start(server: &Server, ticket: Ticket) -> Box<Unauthenticated> {
        Box::new(Unauthenticated {
            _ticket: ticket,
            deadline: Instant::now() + server.preauth.timeout(),
        })
    }
}

/// Why a stream ends.
#[derive(Debug)]
enum End {
    /// The peer closed the stream (`</stream>`).
    Closed,
    /// The connection dropped without `</stream>`: a resumable session waits for its
    /// client (XEP-0198).
    Lost,
    /// I/O failed; nothing more can be written.
    Io,
    /// Another connection resumed the session (XEP-0198): hand it over.
    Yield,
    /// A stream error to send before closing.
    Error(&'static str, Option<String>),
}

impl From<FramingError> for End {
    fn from(e: FramingError) -> Self {
        End::Error(e.condition(), Some(e.to_string()))
    }
}

/// Serves one accepted TCP connection to its end.
///
/// Each stream's future is boxed, and no value of the TLS handshake is held
/// across an await: inline, this task would keep room for the plaintext
/// stream, the TLS stream and the handshake's result side by side (the
/// compiler does not overlap them: 7 KiB a connection, BENCHMARKS.md M2),
/// while only one of them is ever alive.
pub async fn serve(
    server: Arc<Server>,
    tcp: TcpStream,
    peer: SocketAddr,
    direct_tls: bool,
    ticket: Ticket,
) {
    let _ = tcp.set_nodelay(true);
    let deadline =
        Instant::now() + Duration::from_secs(server.config.limits.handshake_timeout_secs);
    let pending = Unauthenticated::start(&server, ticket);
    let acceptor = tokio_rustls::TlsAcceptor::from(server.tls.clone());
    let (tcp, pending) = if direct_tls {
        (tcp, Some(pending))
    } else {
        let plain = Box::pin(run(
            server.clone(),
            TcpTransport::new(tcp, false),
            peer,
            false,
            deadline,
            Some(pending),
        ))
        .await;
        match plain {
            // The client asked for STARTTLS.
            Some((plain, pending)) => (plain.into_inner(), pending),
            None => return,
        }
    };
    let tls_deadline = pending.as_ref().map_or(deadline, |p| p.deadline);
    let secured = match timeout_at(tls_deadline, Box::pin(acceptor.accept(tcp))).await {
        Ok(Ok(tls)) => Box::pin(run(
            server,
            TcpTransport::new(tls, true),
            peer,
            true,
            deadline,
            pending,
        )),
        Ok(Err(e)) => {
            debug!(%peer, error = %e, direct_tls, "TLS handshake failed");
            return;
        }
        Err(_) => {
            debug!(%peer, direct_tls, "TLS handshake timed out");
            return;
        }
    };
    secured.await;
}

/// Serves a client over another transport (WebSocket) to its end.
/// `secure` says whether the transport is confidential (TLS, or a trusted proxy);
/// `ticket` is the connection's place among the unauthenticated ones (`preauth`).
pub async fn serve_transport<T: Transport>(
    server: Arc<Server>,
    transport: T,
    peer: SocketAddr,
    secure: bool,
    ticket: Ticket,
) {
    let deadline =
        Instant::now() + Duration::from_secs(server.config.limits.handshake_timeout_secs);
    let pending = Unauthenticated::start(&server, ticket);
    // Such transports cannot upgrade to TLS, so nothing comes back.
    let _ = run(server, transport, peer, secure, deadline, Some(pending)).await;
}

/// Runs a stream; returns the transport back when the client asked for STARTTLS (with
/// the connection's unauthenticated state).
///
/// Not an `async fn` itself: an async fn keeps its arguments in its state for
/// its whole life, even once moved, so the transport (1.2 KiB with TLS) would
/// be there twice, once in the connection and once as the spent argument.
/// The pause before reading more from a client whose last read brought `refused` stanzas
/// refused as over a limit: [`PACE_PER_REFUSAL`] each, at most [`PACE_MAX`].
fn pace(refused: u32) -> Duration {
    PACE_PER_REFUSAL.saturating_mul(refused).min(PACE_MAX)
}

/// See [`pace`]: at most 500 refusals a second for one connection that keeps flooding.
const PACE_PER_REFUSAL: Duration = Duration::from_millis(2);
const PACE_MAX: Duration = Duration::from_secs(1);

fn run<T: Transport>(
    server: Arc<Server>,
    io: T,
    peer: SocketAddr,
    secure: bool,
    deadline: Instant,
    pending: Option<Box<Unauthenticated>>,
) -> impl std::future::Future<Output = Option<(T, Option<Box<Unauthenticated>>)>> + Send {
    // The connection is the async block's capture, used in place (an async
    // fn's parameter would be copied into its body's state: twice the room).
    let mut conn = Conn::new(server, io, peer, secure, pending);
    async move {
        // Boxed: the negotiation's state (SASL, binding) is large and only lives
        // until the session is bound; inline, every idle session's task would
        // keep room for it (BENCHMARKS.md, M2).
        let outcome = match timeout_at(deadline, Box::pin(conn.negotiate())).await {
            Ok(r) => r,
            Err(_) => Err(End::Error(
                "connection-timeout",
                Some("authentication and resource binding took too long".into()),
            )),
        };
        match outcome {
            Ok(Negotiated::StartTls) => Some((conn.io, conn.unauthenticated)),
            Ok(Negotiated::Bound(session, rx, mut sm)) => {
                let end = conn.session_loop(&session, &rx, &mut sm).await;
                // Boxed, like the negotiation: the ending's state (timers, the
                // presence broadcast of departure, a detached wait) must not widen
                // every task.
                Box::pin(conn.end_session(session, rx, sm, end)).await;
                None
            }
            Err(end) => {
                // Its place among the unauthenticated is free while it closes; one
                // that stayed silent past the deadline is not waited for (its
                // descriptor is given back at once).
                let idle = conn.unauthenticated.take().is_some()
                    && matches!(end, End::Error("connection-timeout", _));
                if idle {
                    conn.linger = false;
                }
                Box::pin(conn.close(end)).await;
                None
            }
        }
    }
}

/// What a `<resume/>` came to: the session taken over and its `<resumed/>`, or the
/// `<failed/>` to send.
enum Resumed {
    Done(Negotiated, String),
    Failed(String),
}

/// How an authentication ends.
enum Authed {
    /// RFC 6120 SASL: the stream restarts.
    Restart,
    /// XEP-0388 without Bind 2: the features come next, on the same stream.
    Continue,
    /// XEP-0388 with Bind 2: the session is bound.
    Bound(Negotiated),
}

enum Negotiated {
    StartTls,
    /// Bound, or resumed (then with its stream management state).
    Bound(Session, Inbox, Option<Box<StreamMgmt>>),
}

/// The parser side of a connection: bytes in, events out.
struct Framer {
    parser: StreamParser,
    pending: VecDeque<StreamEvent>,
    failed: Option<FramingError>,
}

impl Framer {
    fn feed(&mut self, data: &[u8]) {
        let mut out = Vec::new();
        if let Err(e) = self.parser.feed(data, &mut out) {
            self.failed = Some(e);
        }
        self.pending.extend(out);
    }
}

struct Conn<T> {
    server: Arc<Server>,
    io: T,
    peer: SocketAddr,
    secure: bool,
    framer: Framer,
    header_sent: bool,
    /// Our stream header's attributes while it waits to go out with the features.
    header: Option<Box<str>>,
    user: Option<String>,
    /// The `xml:lang` of the client's last stream header.
    lang: Option<String>,
    auth_failures: u32,
    /// Until authenticated: the `preauth` ticket and the shorter deadline.
    unauthenticated: Option<Box<Unauthenticated>>,
    /// Whether closing waits (`LINGER`) for the client to close its side.
    linger: bool,
    /// Logged in with a portal login token: its browser session's tag (`sso::tag`),
    /// given to the session's registry entry at binding.
    sso: Option<Box<str>>,
    /// Logged in with this app password (`crate::app_passwords`): its tag is given to
    /// the session's registry entry at binding, so that revoking it ends the session.
    app_password: Option<i64>,
    /// The client's software and device from its SASL2 `<user-agent/>`
    /// (`sasl2::UserAgent::label`), for the administrator's list of sessions.
    agent: Option<Arc<str>>,
}

impl<T: Transport> Conn<T> {
    fn new(
        server: Arc<Server>,
        io: T,
        peer: SocketAddr,
        secure: bool,
        unauthenticated: Option<Box<Unauthenticated>>,
    ) -> Self {
        let limits = FramingLimits {
            max_stanza_bytes: server
                .config
                .limits
                .max_stanza_bytes
                .min(PREAUTH_STANZA_BYTES),
            max_depth: server.config.limits.max_depth,
        };
        Conn {
            server,
            io,
            peer,
            secure,
            framer: Framer {
                parser: StreamParser::new(limits),
                pending: VecDeque::new(),
                failed: None,
            },
            header_sent: false,
            header: None,
            user: None,
            lang: None,
            auth_failures: 0,
            unauthenticated,
            linger: true,
            sso: None,
            app_password: None,
            agent: None,
        }
    }

    /// Reads until the next stream event.
    async fn next_event(&mut self) -> Result<StreamEvent, End> {
        loop {
            // Before binding, a framing error wins over complete elements read
            // in the same chunk: the stream is broken either way.
            if let Some(e) = self.framer.failed.take() {
                return Err(e.into());
            }
            if let Some(ev) = self.framer.pending.pop_front() {
                return Ok(ev);
            }
            let read = match self.unauthenticated.as_ref().map(|u| u.deadline) {
                Some(deadline) => timeout_at(deadline, self.io.read()).await.map_err(|_| {
                    End::Error(
                        "connection-timeout",
                        Some("authentication took too long".into()),
                    )
                })?,
                None => self.io.read().await,
            };
            let data = read.map_err(|_| End::Io)?;
            if data.is_empty() {
                return Err(End::Closed);
            }
            self.framer.feed(data);
        }
    }

    /// Reads the next top-level element; a stream close ends the stream.
    async fn next_element(&mut self) -> Result<Element, End> {
        match self.next_event().await? {
            StreamEvent::Element(el) => Ok(el),
            StreamEvent::Close => Err(End::Closed),
            StreamEvent::Open(_) => Err(End::Error("bad-format", None)),
        }
    }

    /// Sends one complete top-level element given as XML text.
    async fn send(&mut self, data: &str) -> Result<(), End> {
        self.flush_header().await?;
        self.io.write_elements(&[data]).await.map_err(|_| End::Io)
    }

    async fn send_el(&mut self, el: &Element) -> Result<(), End> {
        let s = xml::to_string(el);
        self.send(&s).await
    }

    /// The features; with our stream header in the same write when it waits
    /// ([`Conn::send_header`]).
    async fn send_features(&mut self, inner: &str) -> Result<(), End> {
        match self.header.take() {
            Some(h) => self.io.write_opening(&h, inner).await,
            None => self.io.write_features(inner).await,
        }
        .map_err(|_| End::Io)
    }

    /// Writes our stream header if it still waits for the features.
    async fn flush_header(&mut self) -> Result<(), End> {
        match self.header.take() {
            Some(h) => self.io.write_header(&h).await.map_err(|_| End::Io),
            None => Ok(()),
        }
    }

    /// Waits for the client's stream header and answers with ours.
    async fn open_stream(&mut self) -> Result<StreamHeader, End> {
        let header = match self.next_event().await? {
            StreamEvent::Open(h) => h,
            _ => return Err(End::Error("bad-format", None)),
        };
        self.send_header(&header).await?;
        self.lang = header.lang.clone();
        if header.framing {
            return Err(End::Error("invalid-namespace", None));
        }
        if let Some(to) = &header.to
            && !to.eq_ignore_ascii_case(&self.server.domain)
        {
            return Err(End::Error(
                "host-unknown",
                Some(format!("this server serves {}", self.server.domain)),
            ));
        }
        let version_ok = header
            .version
            .as_deref()
            .and_then(|v| v.split('.').next())
            .and_then(|major| major.parse::<u32>().ok())
            .is_some_and(|major| major >= 1);
        if !version_ok {
            return Err(End::Error("unsupported-version", None));
        }
        Ok(header)
    }

    async fn send_header(&mut self, client: &StreamHeader) -> Result<(), End> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut h = format!(
            " id='{}' from='{}' version='1.0' xml:lang='{}'",
            id,
            escape(&self.server.domain),
            self.server.config.language.code()
        );
        if let Some(from) = &client.from {
            h.push_str(&format!(" to='{}'", escape(from)));
        }
        // Written with the features that follow (or before whatever else is written
        // first: a stream error).
        self.header_sent = true;
        self.header = Some(h.into());
        Ok(())
    }

    /// Whether a `y` flag on this stream is a downgrade: on TLS ended here (`bound`: it
    /// offers `-PLUS`) and on WebSocket (no `-PLUS`, so the door a relay that stripped it
    /// would use). Only a plaintext TCP stream (allowed on loopback for development) has
    /// no channel to bind and accepts it.
    fn binds(&self, bound: bool) -> bool {
        bound || self.io.kind() != "tcp"
    }

    /// Whether OAUTHBEARER (the portal's single sign-on tokens) is offered: with `[cas]`
    /// configured, on a confidential transport.
    fn bearer_on(&self) -> bool {
        self.server.config.cas.enabled() && (self.secure || self.plaintext_allowed())
    }

    fn plaintext_allowed(&self) -> bool {
        self.server.config.auth.allow_plaintext_on_loopback && self.peer.ip().is_loopback()
    }

    /// The whole negotiation, from the first header to a bound resource.
    async fn negotiate(&mut self) -> Result<Negotiated, End> {
        loop {
            self.open_stream().await?;
            if self.user.is_none() {
                if !self.secure && self.io.can_starttls() && !self.plaintext_allowed() {
                    self.send_features(&format!(
                        "<starttls xmlns='{}'><required/></starttls>",
                        ns::TLS
                    ))
                    .await?;
                    let el = self.next_element().await?;
                    if el.is("starttls", ns::TLS) {
                        self.send(&format!("<proceed xmlns='{}'/>", ns::TLS))
                            .await?;
                        return Ok(Negotiated::StartTls);
                    }
                    return Err(End::Error(
                        "not-authorized",
                        Some("STARTTLS is required first".into()),
                    ));
                }
                match self.sasl().await? {
                    Some(Authed::Restart) => {
                        // RFC 6120 §6.4.6: the stream restarts after <success/>.
                        self.framer.parser.reset();
                        self.framer.pending.clear();
                        continue;
                    }
                    // XEP-0388: no restart; the features follow the <success/>.
                    Some(Authed::Continue) => return self.bind(true).await,
                    Some(Authed::Bound(negotiated)) => return Ok(negotiated),
                    None => return Ok(Negotiated::StartTls),
                }
            }
            return self.bind(true).await;
        }
    }

    /// SASL negotiation (RFC 6120's or XEP-0388's); `Ok(None)` when the client chose
    /// STARTTLS instead.
    async fn sasl(&mut self) -> Result<Option<Authed>, End> {
        let mut features = String::new();
        if !self.secure && self.io.can_starttls() {
            features.push_str(&format!("<starttls xmlns='{}'/>", ns::TLS));
        }
        features.push_str(&format!("<mechanisms xmlns='{}'>", ns::SASL));
        // The channel's `tls-exporter` data, once for this negotiation (an HKDF each time).
        let exporter = self.io.tls_exporter();
        let server = self.server.clone();
        let bindings = auth::channel_bindings(exporter.as_ref(), server.end_point.as_deref());
        let offered = auth::mechanisms(
            !bindings.is_empty(),
            self.secure || self.plaintext_allowed(),
        );
        // RFC 6120's list, as advertised (XEP-0474 hashes it): OAUTHBEARER joins it with
        // the portal's login.
        let bearer = self.bearer_on();
        let mut advertised = offered.to_vec();
        if bearer {
            advertised.push(sso::MECHANISM);
        }
        for m in &advertised {
            features.push_str(&format!("<mechanism>{m}</mechanism>"));
        }
        features.push_str("</mechanisms>");
        // XEP-0440: which types the -PLUS mechanisms bind with.
        features.push_str(&auth::bindings_feature(&bindings));
        features.push_str(&sasl2::feature(
            offered,
            &self.fast_offer(&bindings),
            self.server.config.limits.resume_window_secs > 0,
        ));
        self.send_features(&features).await?;
        loop {
            let el = self.next_element().await?;
            if el.is("starttls", ns::TLS) && !self.secure && self.io.can_starttls() {
                self.send(&format!("<proceed xmlns='{}'/>", ns::TLS))
                    .await?;
                return Ok(None);
            }
            if el.is("authenticate", ns::SASL2) {
                // Boxed: its state (binding, tokens) is only alive during a login.
                match Box::pin(self.sasl2(&el, offered, &bindings)).await? {
                    Some(authed) => return Ok(Some(authed)),
                    None => continue,
                }
            }
            if !el.is("auth", ns::SASL) {
                return Err(End::Error(
                    "not-authorized",
                    Some("authenticate first".into()),
                ));
            }
            let mechanism = el.attr("mechanism").unwrap_or_default().to_string();
            let decoded = decode_sasl(&el.text());
            // The account this login names: failures against it are counted and make
            // guesses sent at once wait (auth::Throttle).
            let claimed = decoded
                .as_deref()
                .ok()
                .and_then(|i| auth::claimed_user(&mechanism, i));
            if let Some(wait) = claimed
                .as_deref()
                .and_then(|u| self.server.throttle.cooling(self.peer.ip(), u))
            {
                info!(peer = %self.peer, user = ?claimed, "login refused: guesses too close together");
                self.send(&format!(
                    "<failure xmlns='{}'><temporary-auth-failure/><text xml:lang='fr'>{}</text></failure>",
                    ns::SASL,
                    escape(&too_soon_text(wait))
                ))
                .await?;
                self.failed_once()?;
                continue;
            }
            let step = match decoded {
                Err(()) => Step::Failure(causerie_proto::scram::SaslError::Malformed("bad base64")),
                Ok(initial) if bearer && mechanism == sso::MECHANISM => {
                    match sso::login(&self.server.store, &self.server.domain, &initial)
                        .await
                        .map_err(|e| {
                            warn!(error = %e, "authentication backend failed");
                            End::Error("internal-server-error", None)
                        })? {
                        Ok(login) => {
                            self.sso = Some(sso::tag(&login.session).into());
                            Step::Success(login.user, None, None)
                        }
                        Err(e) => Step::Failure(e),
                    }
                }
                Ok(_) if !offered.contains(&mechanism.as_str()) => {
                    self.send(&format!(
                        "<failure xmlns='{}'><invalid-mechanism/></failure>",
                        ns::SASL
                    ))
                    .await?;
                    continue;
                }
                Ok(initial) => auth::start(
                    &self.server.store,
                    &self.server.domain,
                    &mechanism,
                    &initial,
                    self.server.config.auth.scram_iterations,
                    &auth::Offer {
                        mechanisms: &advertised,
                        bindings: &bindings,
                        binds: self.binds(!bindings.is_empty()),
                    },
                )
                .await
                .map_err(|e| {
                    warn!(error = %e, "authentication backend failed");
                    End::Error("internal-server-error", None)
                })?,
            };
            let step = match step {
                Step::Challenge(msg, exchange) => self.challenge(msg, exchange).await?,
                other => Some(other),
            };
            match step {
                None => {
                    // Aborted by the client.
                    self.send(&format!(
                        "<failure xmlns='{}'><aborted/></failure>",
                        ns::SASL
                    ))
                    .await?;
                }
                Some(Step::Success(user, additional, app)) => {
                    self.server.throttle.success(self.peer.ip(), &user);
                    let allowed = match self.server.login_allowed(&user).await {
                        Ok(()) => match app {
                            Some(id) => self.server.app_password_login(&user, id).await,
                            None => Ok(()),
                        },
                        refused => refused,
                    };
                    if let Err(why) = allowed {
                        info!(peer = %self.peer, user = %user, "login refused: no chat access");
                        self.sso = None;
                        self.send(&format!(
                            "<failure xmlns='{}'><account-disabled/><text xml:lang='fr'>{}</text></failure>",
                            ns::SASL,
                            escape(&why)
                        ))
                        .await?;
                        self.auth_failures += 1;
                        if self.auth_failures >= MAX_AUTH_ATTEMPTS {
                            return Err(End::Error("policy-violation", None));
                        }
                        continue;
                    }
                    let data = additional.map(|d| B64.encode(d)).unwrap_or_default();
                    self.send(&format!("<success xmlns='{}'>{data}</success>", ns::SASL))
                        .await?;
                    info!(peer = %self.peer, user = %user, mechanism = %mechanism, app_password = ?app, "authenticated");
                    self.user = Some(user);
                    self.app_password = app;
                    // Authenticated: the place among the unauthenticated is given back,
                    // and stanzas may have their full size.
                    self.unauthenticated = None;
                    self.framer
                        .parser
                        .set_max_stanza_bytes(self.server.config.limits.max_stanza_bytes);
                    return Ok(Some(Authed::Restart));
                }
                Some(Step::Failure(e)) => {
                    let delay = self
                        .server
                        .throttle
                        .failure(self.peer.ip(), claimed.as_deref());
                    info!(peer = %self.peer, mechanism = %mechanism, reason = %e, "authentication failed");
                    tokio::time::sleep(delay).await;
                    self.send(&format!(
                        "<failure xmlns='{}'><{}/><text xml:lang='en'>{}</text></failure>",
                        ns::SASL,
                        e.condition(),
                        escape(&e.to_string())
                    ))
                    .await?;
                    self.failed_once()?;
                }
                Some(Step::Challenge(..)) => unreachable!("challenge() never returns a challenge"),
            }
        }
    }

    /// Sends a challenge and processes the response; `None` if aborted.
    async fn challenge(&mut self, msg: String, exchange: Exchange) -> Result<Option<Step>, End> {
        self.send(&format!(
            "<challenge xmlns='{}'>{}</challenge>",
            ns::SASL,
            B64.encode(msg)
        ))
        .await?;
        let el = self.next_element().await?;
        if el.is("abort", ns::SASL) {
            return Ok(None);
        }
        if !el.is("response", ns::SASL) {
            return Err(End::Error("not-authorized", None));
        }
        Ok(Some(match decode_sasl(&el.text()) {
            Ok(resp) => auth::respond(exchange, &resp),
            Err(()) => Step::Failure(causerie_proto::scram::SaslError::Malformed("bad base64")),
        }))
    }

    /// The features after authentication: resource binding unless already bound.
    async fn bound_features(&mut self, bind: bool) -> Result<(), End> {
        let bind = if bind {
            format!(
                "<bind xmlns='{}'/><session xmlns='{}'><optional/></session>",
                ns::BIND,
                ns::SESSION
            )
        } else {
            String::new()
        };
        self.send_features(&format!(
            "{bind}<sub xmlns='{}'/><ver xmlns='{}'/><csi xmlns='{}'/><sm xmlns='{}'/>",
            ns::PRE_APPROVAL,
            ns::ROSTER_VER,
            ns::CSI,
            stream_mgmt::NS
        ))
        .await
    }

    /// Resource binding (RFC 6120 §7), after sending the features when `features`.
    async fn bind(&mut self, features: bool) -> Result<Negotiated, End> {
        let Some(user) = self.user.clone() else {
            return Err(End::Error("internal-server-error", None));
        };
        if features {
            self.bound_features(true).await?;
        }
        loop {
            let el = self.next_element().await?;
            if el.ns() == stream_mgmt::NS {
                if el.name() == "resume" {
                    if let Some(resumed) = Box::pin(self.resume(&user, el)).await? {
                        return Ok(resumed);
                    }
                } else {
                    // `<enable/>` comes after binding (XEP-0198 §3).
                    self.send(&stream_mgmt::failed("unexpected-request", None))
                        .await?;
                }
                continue;
            }
            let bind = el.get_child("bind", ns::BIND);
            if !(el.is("iq", ns::CLIENT) && el.attr("type") == Some("set") && bind.is_some()) {
                return Err(End::Error(
                    "not-authorized",
                    Some("bind a resource first".into()),
                ));
            }
            let requested = bind
                .and_then(|b| b.get_child("resource", ns::BIND))
                .map(|r| r.text())
                .filter(|r| !r.trim().is_empty());
            let resource = match requested {
                None => uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
                Some(r) => match jid::ResourcePart::new(&r) {
                    Ok(r) => r.to_string(),
                    Err(_) => {
                        let err = StanzaError::new(Condition::BadRequest)
                            .with_text("en", "invalid resource");
                        self.send_el(&error_reply(&el, &err)).await?;
                        continue;
                    }
                },
            };
            let Ok(full) = FullJid::new(&format!("{user}@{}/{resource}", self.server.domain))
            else {
                let err =
                    StanzaError::new(Condition::BadRequest).with_text("en", "invalid resource");
                self.send_el(&error_reply(&el, &err)).await?;
                continue;
            };
            let Some((session, rx)) = self.attach(&user, full.clone()).await else {
                let err = StanzaError::new(Condition::ResourceConstraint)
                    .with_text("en", "too many resources bound for this account");
                self.send_el(&error_reply(&el, &err)).await?;
                continue;
            };
            let mut result = xml::elem("iq", ns::CLIENT, &[("type", "result")]);
            if let Some(id) = el.attr("id") {
                xml::set_attr(&mut result, "id", id);
            }
            let mut b = Element::bare("bind", ns::BIND);
            b.append_child(xml::text_elem("jid", ns::BIND, full.to_string()));
            result.append_child(b);
            if let Err(e) = self.send_el(&result).await {
                router::session_ended(&self.server, &session).await;
                return Err(e);
            }
            info!(peer = %self.peer, jid = %session.jid, "session bound");
            return Ok(Negotiated::Bound(session, rx, None));
        }
    }

    /// Registers the session of `full` for `user` (the newer of two sessions of one
    /// resource wins); `None` when the account has too many.
    async fn attach(&mut self, user: &str, full: FullJid) -> Option<(Session, Inbox)> {
        let limits = &self.server.config.limits;
        let resource = full.resource().to_string();
        let (handle, rx) = SessionHandle::new(resource, limits.send_queue_len);
        match self
            .server
            .sessions
            .register(user, handle.clone(), limits.max_resources_per_user)
        {
            Registered::TooMany => return None,
            Registered::Ok { replaced } => {
                if let Some(old) = replaced {
                    // RFC 6120 §7.7.2.2: the newer session wins. Its binding waits
                    // (a while at most) until the old one ended and re-routed what
                    // it did not deliver, so that those messages are in offline
                    // storage before this session's initial presence reads it.
                    old.stop("conflict");
                    if timeout(SETTLE_WAIT, old.settled()).await.is_err() {
                        warn!(user = %user, "a replaced session took too long to end");
                    }
                }
            }
        }
        self.server.sessions.describe(
            user,
            handle.id,
            SessionMeta {
                transport: self.io.kind(),
                agent: self.agent.clone(),
                address: Some(self.peer),
                since: std::time::SystemTime::now(),
            },
        );
        if let Some(tag) = self.sso.take() {
            self.server.sessions.tag_credential(user, handle.id, &tag);
        }
        if let Some(id) = self.app_password {
            // Revoking it ends this session (`Server::end_app_password`); revoked since
            // the login's check, it ends now.
            self.server
                .sessions
                .tag_credential(user, handle.id, &crate::app_passwords::tag(id));
            self.server.end_if_app_password_revoked(user, id).await;
        }
        let lang = self.language();
        let register = self.server.register_of(user).await;
        Some((
            Session::new(user.to_string(), full, lang, register, handle),
            rx,
        ))
    }

    /// The language of this stream's texts.
    fn language(&self) -> crate::config::Language {
        crate::session::stream_language(self.lang.as_deref(), self.server.config.language)
    }

    /// The XEP-0484 FAST mechanisms offered on this connection (`sasl2::fast_mechanisms`),
    /// none when tokens are turned off (`auth.fast_token_days = 0`).
    fn fast_offer(&self, bindings: &[ChannelBinding<'_>]) -> Vec<&'static str> {
        if self.server.config.auth.fast_token_days > 0 {
            sasl2::fast_mechanisms(bindings)
        } else {
            Vec::new()
        }
    }

    /// Counts a failed authentication; too many end the stream.
    fn failed_once(&mut self) -> Result<(), End> {
        self.auth_failures += 1;
        if self.auth_failures >= MAX_AUTH_ATTEMPTS {
            return Err(End::Error(
                "policy-violation",
                Some("too many authentication failures".into()),
            ));
        }
        Ok(())
    }

    /// XEP-0388 `<authenticate/>`, with Bind 2 and FAST inline; `None` after a
    /// `<failure/>` (the client may try again).
    /// `bindings`: the channel's bindings for SCRAM's -PLUS ([`Conn::sasl`]).
    async fn sasl2(
        &mut self,
        el: &Element,
        offered: &[&str],
        bindings: &[ChannelBinding<'_>],
    ) -> Result<Option<Authed>, End> {
        let req = sasl2::parse(el);
        let lang = self.language();
        let fast = self.fast_offer(bindings);
        let token = fast.contains(&req.mechanism.as_str());
        let backend = |e: auth::AuthStoreError| {
            warn!(error = %e, "authentication backend failed");
            End::Error("internal-server-error", None)
        };
        if !token && !offered.contains(&req.mechanism.as_str()) {
            let text = sasl2::invalid_mechanism_text(lang);
            self.send(&sasl2::failure("invalid-mechanism", lang, text))
                .await?;
            self.failed_once()?;
            return Ok(None);
        }
        let claimed = req
            .initial
            .as_deref()
            .and_then(|i| auth::claimed_user(&req.mechanism, i));
        if let Some(wait) = claimed
            .as_deref()
            .and_then(|u| self.server.throttle.cooling(self.peer.ip(), u))
        {
            info!(peer = %self.peer, user = ?claimed, "login refused: guesses too close together");
            self.send(&sasl2::failure(
                "temporary-auth-failure",
                lang,
                &too_soon_text(wait),
            ))
            .await?;
            self.failed_once()?;
            return Ok(None);
        }
        let step = match &req.initial {
            None => Some(Step::Failure(SaslError::Malformed("bad base64"))),
            Some(initial) if token => {
                let login = sasl2::token_login(
                    &self.server.store,
                    &req.mechanism,
                    bindings,
                    initial,
                    req.agent.id.as_deref(),
                    req.fast_count,
                )
                .await
                .map_err(backend)?;
                Some(match login {
                    sasl2::TokenLogin::Valid { user, answer } => {
                        Step::Success(user, Some(B64.encode(answer)), None)
                    }
                    sasl2::TokenLogin::Refused(e) => Step::Failure(e),
                })
            }
            Some(initial) => {
                let step = auth::start(
                    &self.server.store,
                    &self.server.domain,
                    &req.mechanism,
                    initial,
                    self.server.config.auth.scram_iterations,
                    &auth::Offer {
                        mechanisms: offered,
                        bindings,
                        binds: self.binds(!bindings.is_empty()),
                    },
                )
                .await
                .map_err(backend)?;
                match step {
                    Step::Challenge(msg, exchange) => self.challenge2(msg, exchange).await?,
                    other => Some(other),
                }
                // SCRAM's server-final goes in base64 like the token's answer.
                .map(|s| match s {
                    Step::Success(user, data, app) => {
                        Step::Success(user, data.map(|d| B64.encode(d)), app)
                    }
                    other => other,
                })
            }
        };
        let (user, additional, app) = match step {
            None => {
                self.send(&sasl2::failure("aborted", lang, "aborted"))
                    .await?;
                return Ok(None);
            }
            Some(Step::Failure(e)) => {
                let delay = self
                    .server
                    .throttle
                    .failure(self.peer.ip(), claimed.as_deref());
                info!(peer = %self.peer, mechanism = %req.mechanism, reason = %e, "authentication failed");
                tokio::time::sleep(delay).await;
                let text = sasl2::failure_text(&e, token, lang);
                self.send(&sasl2::failure(e.condition(), lang, &text))
                    .await?;
                self.failed_once()?;
                return Ok(None);
            }
            Some(Step::Challenge(..)) => return Err(End::Error("internal-server-error", None)),
            Some(Step::Success(user, additional, app)) => (user, additional, app),
        };
        self.server.throttle.success(self.peer.ip(), &user);
        // Tokens included: a locked, deactivated or chat-less account does not get in;
        // nor an app password that the user's structures do not allow.
        let allowed = match self.server.login_allowed(&user).await {
            Ok(()) => match app {
                Some(id) => self.server.app_password_login(&user, id).await,
                None => Ok(()),
            },
            refused => refused,
        };
        if let Err(why) = allowed {
            info!(peer = %self.peer, user = %user, "login refused: no chat access");
            self.send(&sasl2::failure("account-disabled", lang, &why))
                .await?;
            self.failed_once()?;
            return Ok(None);
        }
        let agent = req.agent.id.as_deref();
        let mut extra = String::new();
        if token && req.fast_invalidate {
            // XEP-0484 §5: the client logs out for good; its tokens go.
            if let Some(agent) = agent {
                self.server
                    .store
                    .fast_revoke(&user, Some(agent))
                    .await
                    .map_err(|e| backend(e.into()))?;
            }
        } else if let (Some(asked), Some(agent)) = (&req.request_token, agent)
            // Not to an app password's login: its revocation must leave nothing behind.
            && app.is_none()
            && fast.contains(&asked.as_str())
        {
            let days = self.server.config.auth.fast_token_days;
            extra.push_str(
                &sasl2::issue(&self.server.store, &user, agent, asked, days)
                    .await
                    .map_err(backend)?,
            );
        }
        info!(
            peer = %self.peer, user = %user, mechanism = %req.mechanism,
            software = req.agent.software.as_deref().unwrap_or(""),
            agent = agent.unwrap_or(""), "authenticated (SASL2)"
        );
        self.user = Some(user.clone());
        self.app_password = app;
        self.agent = req.agent.label().map(Arc::from);
        self.unauthenticated = None;
        self.framer
            .parser
            .set_max_stanza_bytes(self.server.config.limits.max_stanza_bytes);
        let data = additional
            .map(|d| format!("<additional-data>{d}</additional-data>"))
            .unwrap_or_default();
        let bare = format!("{user}@{}", self.server.domain);
        // XEP-0198 inline: resumption comes first; done, it replaces binding, and no
        // stream features follow. Failed, its <failed/> goes in the <success/> and the
        // login goes on (Bind 2 when asked).
        if let Some(resume) = req.resume.clone() {
            match Box::pin(self.take_over(&user, resume)).await? {
                Resumed::Done(negotiated, resumed) => {
                    let full = match &negotiated {
                        Negotiated::Bound(session, ..) => session.jid.to_string(),
                        _ => bare.clone(),
                    };
                    // A failed write shows in the session loop (the session waits again).
                    let _ = self
                        .send(&format!(
                            "<success xmlns='{}'>{data}<authorization-identifier>{}</authorization-identifier>{resumed}{extra}</success>",
                            ns::SASL2,
                            escape(&full)
                        ))
                        .await;
                    return Ok(Some(Authed::Bound(negotiated)));
                }
                Resumed::Failed(failed) => extra.push_str(&failed),
            }
        }
        // XEP-0386: bound in the same round trip, when asked and possible.
        let bound = match &req.bind {
            Some(bind) => {
                let resource = sasl2::resource_for(bind.tag.as_deref());
                match FullJid::new(&format!("{bare}/{resource}")) {
                    Ok(full) => self.attach(&user, full).await.map(|s| (s, bind)),
                    Err(_) => None,
                }
            }
            None => None,
        };
        let Some(((session, rx), bind)) = bound else {
            self.send(&format!(
                "<success xmlns='{}'>{data}<authorization-identifier>{}</authorization-identifier>{extra}</success>",
                ns::SASL2,
                escape(&bare)
            ))
            .await?;
            return Ok(Some(Authed::Continue));
        };
        let mut inline = String::new();
        let mut sm = None;
        if let Some((resume, max)) = bind.sm {
            let window = self.server.config.limits.resume_window_secs;
            let resumption = (resume && window > 0).then(|| {
                let asked = max.filter(|m| *m > 0);
                Resumption::new(Duration::from_secs(asked.map_or(window, |m| m.min(window))))
            });
            if let Some(r) = &resumption {
                self.server
                    .sessions
                    .set_resumption(&user, session.id(), r.clone());
            }
            inline.push_str(&stream_mgmt::enabled(resumption.as_deref()));
            sm = Some(StreamMgmt::new(resumption));
        }
        if bind.carbons {
            self.server.sessions.set_carbons(&user, session.id(), true);
        }
        let sent = self
            .send(&format!(
                "<success xmlns='{}'>{data}<authorization-identifier>{}</authorization-identifier>\
                 <bound xmlns='{}'>{inline}</bound>{extra}</success>",
                ns::SASL2,
                escape(&session.jid.to_string()),
                ns::BIND2
            ))
            .await;
        let sent = match sent {
            Ok(()) => self.bound_features(false).await,
            e => e,
        };
        if let Err(e) = sent {
            router::session_ended(&self.server, &session).await;
            return Err(e);
        }
        info!(peer = %self.peer, jid = %session.jid, "session bound (Bind 2)");
        Ok(Some(Authed::Bound(Negotiated::Bound(session, rx, sm))))
    }

    /// A SASL2 challenge and the client's response; `None` if aborted.
    async fn challenge2(&mut self, msg: String, exchange: Exchange) -> Result<Option<Step>, End> {
        self.send(&sasl2::challenge(&msg)).await?;
        let el = self.next_element().await?;
        if el.is("abort", ns::SASL2) {
            return Ok(None);
        }
        if !el.is("response", ns::SASL2) {
            return Err(End::Error("not-authorized", None));
        }
        Ok(Some(match sasl2::decode(&el.text()) {
            Some(resp) => auth::respond(exchange, &resp),
            None => Step::Failure(SaslError::Malformed("bad base64")),
        }))
    }

    /// `<resume/>` (XEP-0198 §5) instead of binding: takes over the session of `user`
    /// with that id, live or detached; `None` (after `<failed/>`) when there is none.
    async fn resume(&mut self, user: &str, el: Element) -> Result<Option<Negotiated>, End> {
        match self.take_over(user, el).await? {
            Resumed::Done(negotiated, resumed) => {
                // A failed write shows in the session loop (then the session waits again).
                let _ = self.send(&resumed).await;
                Ok(Some(negotiated))
            }
            Resumed::Failed(failed) => {
                self.send(&failed).await?;
                Ok(None)
            }
        }
    }

    /// The work of a `<resume/>`, top-level or inline in SASL2: the session taken over
    /// and the `<resumed/>` to say so, or the `<failed/>` to send.
    async fn take_over(&mut self, user: &str, el: Element) -> Result<Resumed, End> {
        let Some(xmpp_parsers::sm::Nonza::Resume(req)) = stream_mgmt::parse(el) else {
            return Ok(Resumed::Failed(stream_mgmt::failed("bad-request", None)));
        };
        let previd = req.previd.0;
        // Only among this account's sessions: another account's id is unknown here.
        let claim = self
            .server
            .sessions
            .resumable(user, &previd)
            .map(|(handle, resumption)| {
                let claim = resumption.claim();
                handle.yield_to_resumption();
                (handle, claim)
            });
        let parked = match claim {
            Some((handle, claim)) => match timeout(CLAIM_WAIT, claim).await {
                Ok(Ok(parked)) => Some((handle, parked)),
                _ => None,
            },
            None => None,
        };
        let Some((handle, Parked { inbox, mut sm })) = parked else {
            debug!(peer = %self.peer, "resumption of an unknown or expired session");
            return Ok(Resumed::Failed(stream_mgmt::failed("item-not-found", None)));
        };
        let Ok(full) = FullJid::new(&format!(
            "{user}@{}/{}",
            self.server.domain, handle.resource
        )) else {
            return Err(End::Error("internal-server-error", None));
        };
        // The resumed session speaks the language of the stream that resumed it.
        let lang =
            crate::session::stream_language(self.lang.as_deref(), self.server.config.language);
        let register = self.server.register_of(user).await;
        let session = Session::new(user.to_string(), full, lang, register, handle);
        if let Err(too_high) = sm.ack(req.h) {
            // Its stanzas are not lost: the session ends as any other.
            let server = self.server.clone();
            tokio::spawn(async move { detached::end(&server, &session, inbox, sm).await });
            return Ok(Resumed::Failed(stream_mgmt::failed_too_high(too_high)));
        }
        self.server.sessions.describe(
            user,
            session.id(),
            SessionMeta {
                transport: self.io.kind(),
                agent: self.agent.clone(),
                address: Some(self.peer),
                since: std::time::SystemTime::now(),
            },
        );
        // The session now lives on this login's credential: revoking that one (an app
        // password, the portal's session) ends it, not revoking the one it was bound with.
        let tag = match (self.sso.take(), self.app_password) {
            (Some(portal), _) => Some(portal.to_string()),
            (None, Some(id)) => Some(crate::app_passwords::tag(id)),
            (None, None) => None,
        };
        self.server
            .sessions
            .retag(user, session.id(), tag.as_deref());
        if let Some(id) = self.app_password {
            self.server.end_if_app_password_revoked(user, id).await;
        }
        let resumed = stream_mgmt::resumed(&previd, sm.inbound);
        info!(peer = %self.peer, jid = %session.jid, "session resumed");
        Ok(Resumed::Done(
            Negotiated::Bound(session, inbox, Some(sm)),
            resumed,
        ))
    }

    /// The session loop ended: hands the session over to a connection resuming it,
    /// closes the stream, then leaves the session to `detached` (which ends it, or keeps
    /// it for a resumption).
    async fn end_session(
        &mut self,
        session: Session,
        rx: Inbox,
        sm: Option<Box<StreamMgmt>>,
        end: End,
    ) {
        let (rx, sm, end) = match (end, sm) {
            (End::Yield, Some(sm)) => match sm.resumption.clone() {
                Some(r) => match r.hand_over(Parked { inbox: rx, sm }) {
                    Ok(()) => {
                        let text = "the session was resumed on another connection";
                        self.close(End::Error("conflict", Some(text.into()))).await;
                        return;
                    }
                    Err(p) => (p.inbox, Some(p.sm), End::Lost),
                },
                None => (rx, Some(sm), End::Lost),
            },
            (end, sm) => (rx, sm, end),
        };
        let lost = matches!(end, End::Lost | End::Io | End::Yield);
        if lost {
            // Nothing to write on a lost connection; the session may wait for its client.
            self.close(end).await;
            detached::after(&self.server, session, rx, sm, lost).await;
        } else {
            // The stream error (or footer) is written at once: the client learns that its
            // session is over when the server decides it, not after the session's end,
            // which may wait (for a room's lock held by a directory change's enforcement
            // while it tells the room's other occupants, for the store). Then the session
            // ends (its stanzas re-routed, its queue settled), then the stream lingers on a
            // client that keeps writing: a new session replacing this one waits for the
            // former, not for the latter. Nothing the client sends after the error is read
            // as a stanza.
            let written = self.write_end(&end).await;
            detached::after(&self.server, session, rx, sm, lost).await;
            if written {
                self.linger().await;
            }
        }
    }

    /// Writes again, after a resumption, what the client did not acknowledge.
    async fn resend(&mut self, session: &Session, sm: &mut StreamMgmt) -> Result<(), End> {
        let to = to_attribute(&session.jid.to_string());
        let out: Vec<&str> = sm.rewind(&to).collect();
        for chunk in out.chunks(WRITE_BATCH) {
            self.io.write_elements(chunk).await.map_err(|_| End::Io)?;
        }
        if sm.request_due(true) {
            self.send(stream_mgmt::REQUEST).await?;
        }
        Ok(())
    }

    /// A stream management element from the bound client (XEP-0198).
    async fn nonza(
        &mut self,
        session: &Session,
        el: Element,
        sm: &mut Option<Box<StreamMgmt>>,
    ) -> Result<(), End> {
        use xmpp_parsers::sm::Nonza;
        let not_enabled = || {
            End::Error(
                "unsupported-stanza-type",
                Some("stream management is not enabled".into()),
            )
        };
        match stream_mgmt::parse(el) {
            None => Err(End::Error(
                "bad-format",
                Some("malformed stream management element".into()),
            )),
            Some(Nonza::Enable(enable)) => {
                if sm.is_some() {
                    return self
                        .send(&stream_mgmt::failed("unexpected-request", None))
                        .await;
                }
                let window = self.server.config.limits.resume_window_secs;
                let resumption = (enable.resume && window > 0).then(|| {
                    let asked = enable.max.filter(|m| *m > 0).map(u64::from);
                    Resumption::new(Duration::from_secs(asked.map_or(window, |m| m.min(window))))
                });
                if let Some(r) = &resumption {
                    let (user, id) = (&session.user, session.id());
                    self.server.sessions.set_resumption(user, id, r.clone());
                }
                self.send(&stream_mgmt::enabled(resumption.as_deref()))
                    .await?;
                *sm = Some(StreamMgmt::new(resumption));
                Ok(())
            }
            Some(Nonza::Req(_)) => {
                let Some(sm) = sm.as_deref_mut() else {
                    return Err(not_enabled());
                };
                // The promise: what `<a/>` covers survives a crash.
                let since = sm.durable_since.take();
                if sm.inbound != sm.inbound_acked
                    && !self
                        .server
                        .durable(since.unwrap_or_else(|| self.server.mark()))
                        .await
                {
                    return Err(End::Error(
                        "internal-server-error",
                        Some("the stanzas could not be stored; send them again".into()),
                    ));
                }
                let a = sm.answer();
                self.send(&a).await
            }
            Some(Nonza::Ack(a)) => {
                let Some(sm) = sm.as_deref_mut() else {
                    return Err(not_enabled());
                };
                sm.ack(a.h).map_err(|t| {
                    End::Error(
                        "undefined-condition",
                        Some(format!(
                            "handled-count-too-high: you acknowledged {} stanzas, {} were sent",
                            t.h, t.sent
                        )),
                    )
                })
            }
            Some(Nonza::Resume(_)) => {
                self.send(&stream_mgmt::failed("unexpected-request", None))
                    .await
            }
            Some(_) => Err(End::Error("unsupported-stanza-type", None)),
        }
    }

    /// The bound session: stanzas in go to the router; queued stanzas go out.
    async fn session_loop(
        &mut self,
        session: &Session,
        rx: &Inbox,
        sm: &mut Option<Box<StreamMgmt>>,
    ) -> End {
        if let Some(sm) = sm.as_deref_mut()
            && sm.unacked_len() > 0
            && let Err(end) = Box::pin(self.resend(session, sm)).await
        {
            return end;
        }
        let unacked_limit = self.server.config.limits.send_queue_len;
        // Grows on the first batch only: an idle session holds no batch buffer.
        let mut out: Vec<String> = Vec::new();
        // The items taken from the queue; swapped with the queue's own buffer.
        let mut taken: VecDeque<Outbound> = VecDeque::new();
        // ` to="our full JID"`, made on the first shared stanza.
        let mut to_attr: Option<String> = None;
        // The parking timer is re-armed from the time of the last read when it
        // fires, not on every read: a busy session pays one check per period.
        let mut last_read = Instant::now();
        let park = tokio::time::sleep(PARK_AFTER);
        tokio::pin!(park);
        let mut parking = true;
        // XEP-0352: `Some` while the client says it is inactive (one word while active).
        let mut csi: Option<Box<Csi>> = None;
        loop {
            tokio::select! {
                biased;
                () = &mut park, if parking => {
                    // Unacknowledged stanzas after a short idle: ask (XEP-0198).
                    if let Some(sm) = sm.as_deref_mut()
                        && sm.request_due(true)
                        && let Err(end) = self.send(stream_mgmt::REQUEST).await
                    {
                        return end;
                    }
                    if last_read.elapsed() >= PARK_AFTER {
                        self.framer.parser.park();
                        // Idle: neither the queue nor this task keeps a buffer.
                        taken = VecDeque::new();
                        rx.release();
                        parking = false;
                    } else {
                        park.as_mut().reset(last_read + PARK_AFTER);
                    }
                }
                next = rx.next(&mut taken) => {
                    match next {
                        Next::Overflow => {
                            warn!(jid = %session.jid, "send queue full: closing the session");
                            return End::Error("policy-violation", Some("too many unread stanzas".into()));
                        }
                        Next::Closed => return End::Error("system-shutdown", None),
                        Next::Items => {}
                    }
                    let mut stop = None;
                    while let Some(item) = taken.pop_front() {
                        let item = match item {
                            Outbound::Stop(s) => { stop = Some(End::Error(s.condition, s.text)); break; }
                            Outbound::Yield => { stop = Some(End::Yield); break; }
                            item if csi.is_some() && Csi::held_as(&item).is_some() => {
                                if let Some(c) = csi.as_mut()
                                    && c.hold(item)
                                {
                                    for item in c.take() {
                                        emit(item, session, &mut out, &mut to_attr, sm.as_deref_mut());
                                    }
                                }
                                continue;
                            }
                            item => item,
                        };
                        if let Some(c) = csi.as_mut()
                            && is_message(&item)
                        {
                            // What waited goes first, in order, then the message.
                            for item in c.take() {
                                emit(item, session, &mut out, &mut to_attr, sm.as_deref_mut());
                            }
                        }
                        emit(item, session, &mut out, &mut to_attr, sm.as_deref_mut());
                        if out.len() >= WRITE_BATCH
                            && let Err(end) = self.write_out(session, rx, &mut out).await
                        {
                            // What was taken and not written is the session's still, as
                            // below: written again on resumption, or re-routed at its end.
                            if let Some(sm) = sm.as_deref_mut() {
                                sm.keep_all(&mut taken);
                            }
                            return end;
                        }
                    }
                    // What was not written yet is the session's still.
                    match sm.as_deref_mut() {
                        Some(sm) => sm.keep_all(&mut taken),
                        None => taken.clear(),
                    }
                    if let Some(sm) = sm.as_deref()
                        && sm.unacked_len() > unacked_limit
                    {
                        warn!(jid = %session.jid, "too many unacknowledged stanzas: closing the session");
                        return End::Error("policy-violation", Some("too many unacknowledged stanzas".into()));
                    }
                    if matches!(stop, Some(End::Yield)) {
                        // The resuming connection writes them again.
                        return End::Yield;
                    }
                    if let Err(end) = self.write_out(session, rx, &mut out).await {
                        return end;
                    }
                    // Nothing of a sent batch stays with an idle session.
                    out.shrink_to(4);
                    if let Some(end) = stop {
                        return end;
                    }
                    if !parking {
                        park.as_mut().reset(Instant::now() + PARK_AFTER);
                        parking = true;
                    }
                }
                r = self.io.read() => {
                    match r {
                        Ok([]) | Err(_) => return End::Lost,
                        Ok(data) => self.framer.feed(data),
                    }
                    last_read = Instant::now();
                    if !parking {
                        park.as_mut().reset(last_read + PARK_AFTER);
                        parking = true;
                    }
                    while let Some(ev) = self.framer.pending.pop_front() {
                        match ev {
                            StreamEvent::Element(el) if el.ns() == stream_mgmt::NS => {
                                // Boxed: rare, and it may wait for durability.
                                if let Err(end) = Box::pin(self.nonza(session, el, sm)).await {
                                    return end;
                                }
                            }
                            StreamEvent::Element(el) if el.ns() == ns::CSI => {
                                match el.name() {
                                    "inactive" => {
                                        csi.get_or_insert_with(Box::default);
                                    }
                                    "active" => {
                                        // What waited goes out through the queue (no
                                        // write here: this task's state stays small).
                                        for item in csi.take().map(|mut c| c.take()).unwrap_or_default() {
                                            session.requeue(item);
                                        }
                                    }
                                    other => {
                                        return End::Error(
                                            "unsupported-stanza-type",
                                            Some(format!("<{other}/> is not a client state")),
                                        );
                                    }
                                }
                            }
                            StreamEvent::Element(el) => {
                                // The archive writer's position before the first stanza an
                                // `<a/>` will cover (a loss after it withholds the `<a/>`).
                                if let Some(sm) = sm.as_deref_mut()
                                    && sm.durable_since.is_none()
                                {
                                    sm.durable_since = Some(self.server.mark());
                                }
                                if let Err(end) = self.stanza(session, el).await {
                                    return end;
                                }
                                if let Some(sm) = sm.as_deref_mut() {
                                    sm.inbound = sm.inbound.wrapping_add(1);
                                }
                            }
                            StreamEvent::Close => return End::Closed,
                            StreamEvent::Open(_) => return End::Error("bad-format", None),
                        }
                    }
                    // The drained event queue goes too, until the next stanza.
                    self.framer.pending = VecDeque::new();
                    if let Some(e) = self.framer.failed.take() {
                        return e.into();
                    }
                    // A client over its limits is read more slowly: each refusal it got
                    // costs it a pause before the next read, so that a flood is refused at
                    // the pace of the pauses (its socket fills, its sender waits) instead
                    // of taking the server's time from everyone else. Each stanza is still
                    // answered; nothing is dropped. Its queued replies go out after.
                    let refused = session.take_refused();
                    if refused > 0 {
                        tokio::time::sleep(pace(refused)).await;
                    }
                }
            }
        }
    }

    /// Writes the serialised stanzas of `out` in one go (then empties it); a
    /// client that stops reading while its queue overflows is closed.
    async fn write_out(
        &mut self,
        session: &Session,
        rx: &Inbox,
        out: &mut Vec<String>,
    ) -> Result<(), End> {
        if out.is_empty() {
            return Ok(());
        }
        let parts: Vec<&str> = out.iter().map(String::as_str).collect();
        let write = self.io.write_elements(&parts);
        tokio::select! {
            r = write => if r.is_err() { return Err(End::Io); },
            () = rx.overflowed() => {
                warn!(jid = %session.jid, "client does not read: closing the session");
                return Err(End::Io);
            }
        }
        drop(parts);
        out.clear();
        Ok(())
    }

    /// One element from a bound client.
    async fn stanza(&mut self, session: &Session, el: Element) -> Result<(), End> {
        let is_stanza = el.ns() == ns::CLIENT && matches!(el.name(), "message" | "presence" | "iq");
        if !is_stanza {
            return Err(End::Error(
                "unsupported-stanza-type",
                Some(format!("<{}/> is not supported here", el.name())),
            ));
        }
        // Boxed: routing reaches every feature's state machine; inline, its
        // state would be part of every session's task, idle ones included
        // (about 8 KiB each; BENCHMARKS.md, M2). One allocation per stanza.
        Box::pin(router::route(&self.server, session, el)).await;
        Ok(())
    }

    /// Ends the stream: a stream error when there is one, then the closing tag.
    async fn close(&mut self, end: End) {
        if self.write_end(&end).await {
            self.linger().await;
        }
    }

    /// Writes the end of the stream (a stream error, else the footer; the header first
    /// when it was never sent), within [`CLOSE_TIMEOUT`]; whether it was written and the
    /// connection may linger ([`Conn::linger`]).
    async fn write_end(&mut self, end: &End) -> bool {
        if matches!(end, End::Io | End::Lost | End::Yield) {
            return false;
        }
        let written = timeout(CLOSE_TIMEOUT, async {
            if let Some(h) = self.header.take() {
                let _ = self.io.write_header(&h).await;
            } else if !self.header_sent {
                let h = format!(" from='{}' version='1.0'", escape(&self.server.domain));
                let _ = self.io.write_header(&h).await;
            }
            match end {
                End::Error(cond, text) => {
                    debug!(peer = %self.peer, condition = cond, "stream error");
                    self.io.write_error(cond, text.as_deref()).await
                }
                _ => self.io.write_footer().await,
            }
        })
        .await;
        matches!(written, Ok(Ok(_))) && !matches!(end, End::Closed) && self.linger
    }

    /// After the end of the stream was written: our side is shut down; reads what the
    /// client still sends until it closes its side (or [`LINGER`]), so that the kernel
    /// does not answer that data with a reset, which would destroy the stream error before
    /// the client read it (a client still writing when an administrator or a directory
    /// change closes its session).
    async fn linger(&mut self) {
        let _ = timeout(LINGER, async {
            while matches!(self.io.read().await, Ok(d) if !d.is_empty()) {}
        })
        .await;
    }
}

/// XEP-0352 client state indication, in the connection task: while the client says it
/// is inactive (a phone in a pocket), presence updates of others (available or
/// unavailable, not subscriptions, errors or a room's presence about the client itself:
/// `outbound::held_while_inactive`) are held back, only the latest per sender (`from`),
/// and written when the client becomes active again or before the next message
/// (messages, IQs and everything else go at once). An account's presence serialised once
/// for its contacts (`Shared::presence`) is held as the presence itself; a room's fan-out
/// (serialised once for all occupants) is not held. Nothing is kept while active; at most
/// [`CSI_MAX_HELD`] senders are held, past which what waits is written.
#[derive(Default)]
struct Csi {
    held: Vec<(String, Outbound)>,
}

/// Senders whose presence an inactive session holds back at most.
const CSI_MAX_HELD: usize = 256;

impl Csi {
    /// The sender of `item` when it is a presence update that may wait.
    fn held_as(item: &Outbound) -> Option<&str> {
        match item {
            Outbound::Stanza(el) => outbound::held_while_inactive(el),
            Outbound::Shared(shared) => shared.held_as(),
            _ => None,
        }
    }

    /// Keeps `item` (one [`Self::held_as`] names a sender of), replacing what its sender
    /// sent before; true when full.
    fn hold(&mut self, item: Outbound) -> bool {
        let from = Csi::held_as(&item).unwrap_or_default().to_string();
        self.held.retain(|(f, _)| *f != from);
        self.held.push((from, item));
        self.held.len() >= CSI_MAX_HELD
    }

    /// What was held, oldest first; the buffer goes with it.
    fn take(&mut self) -> Vec<Outbound> {
        std::mem::take(&mut self.held)
            .into_iter()
            .map(|(_, item)| item)
            .collect()
    }
}

/// Whether an outbound item is a message (held presences go out before it).
fn is_message(item: &Outbound) -> bool {
    match item {
        Outbound::Stanza(el) => el.name() == "message",
        Outbound::Shared(shared) => shared.text().starts_with("<message"),
        _ => false,
    }
}

/// Serialises `item` for `session` into `out` and, under stream management, counts it
/// as sent (asking the client for an acknowledgement when one is due).
fn emit(
    item: Outbound,
    session: &Session,
    out: &mut Vec<String>,
    to_attr: &mut Option<String>,
    sm: Option<&mut StreamMgmt>,
) {
    let text = match &item {
        Outbound::Stanza(el) => xml::to_string(el),
        Outbound::Shared(shared) => {
            let to = to_attr.get_or_insert_with(|| to_attribute(&session.jid.to_string()));
            shared.addressed_to(to)
        }
        _ => String::new(),
    };
    if text.is_empty() {
        warn!("could not serialise an outbound stanza");
        return;
    }
    if let Some(sm) = sm {
        sm.sent(&text, matches!(item, Outbound::Shared(_)));
        out.push(text);
        if sm.request_due(false) {
            out.push(stream_mgmt::REQUEST.to_string());
        }
    } else {
        out.push(text);
    }
}

fn decode_sasl(text: &str) -> Result<Vec<u8>, ()> {
    let t = text.trim();
    // RFC 6120 §6.4.2: "=" stands for an empty initial response.
    if t.is_empty() || t == "=" {
        return Ok(Vec::new());
    }
    B64.decode(t).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::Shared;

    #[test]
    fn an_inactive_client_gets_the_latest_presence_of_each_contact_before_a_message() {
        let el = |x: &str| Box::new(x.parse::<Element>().unwrap());
        let mut csi = Csi::default();
        let p = |from: &str, show: &str| {
            el(&format!(
                "<presence xmlns='jabber:client' from='{from}'><show>{show}</show></presence>"
            ))
        };
        let held = |x: Box<Element>| Csi::held_as(&Outbound::Stanza(x)).map(str::to_string);
        assert_eq!(held(p("a@x/1", "away")).as_deref(), Some("a@x/1"));
        assert_eq!(
            held(el(
                "<presence xmlns='jabber:client' type='subscribe' from='a@x'/>"
            )),
            None
        );
        assert_eq!(held(el("<message xmlns='jabber:client'/>")), None);
        assert_eq!(
            held(el(
                "<presence xmlns='jabber:client' from='r@c/n'><x xmlns='http://jabber.org/protocol/muc#user'><status code='110'/></x></presence>"
            )),
            None
        );
        // An account's presence serialised once for its contacts is held as itself; a
        // room's fan-out is not.
        let shared = |x: Box<Element>| Outbound::Shared(Shared::presence(&x).unwrap());
        assert_eq!(Csi::held_as(&shared(p("c@x/1", "chat"))), Some("c@x/1"));
        let room = Outbound::Shared(Shared::new(&p("r@c/n", "away")).unwrap());
        assert_eq!(Csi::held_as(&room), None);
        csi.hold(Outbound::Stanza(p("a@x/1", "away")));
        csi.hold(shared(p("b@x/1", "dnd")));
        csi.hold(shared(p("a@x/1", "dnd")));
        csi.hold(Outbound::Stanza(p("a@x/1", "xa")));
        csi.hold(shared(p("b@x/1", "away")));
        let out: Vec<String> = csi
            .take()
            .iter()
            .map(|item| match item {
                Outbound::Stanza(el) => xml::to_string(el),
                Outbound::Shared(s) => s.addressed_to(&to_attribute("me@x/r")),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(out.len(), 2);
        assert!(out[0].contains("xa"), "only the latest of a@x/1: {out:?}");
        assert!(
            out[1].contains("b@x/1") && out[1].contains("away") && out[1].contains("me@x/r"),
            "only the latest of b@x/1, addressed: {out:?}"
        );
        assert_eq!(csi.held.capacity(), 0, "nothing kept once flushed");
    }

    type Tls = tokio_rustls::server::TlsStream<TcpStream>;

    fn size_of_returned<A, B, C, D, E, Fut>(_f: impl FnOnce(A, B, C, D, E) -> Fut) -> usize {
        std::mem::size_of::<Fut>()
    }

    fn size_of_run<T: Transport>() -> usize {
        fn probe<T: Transport, Fut>(
            _f: impl FnOnce(
                Arc<Server>,
                T,
                SocketAddr,
                bool,
                Instant,
                Option<Box<Unauthenticated>>,
            ) -> Fut,
        ) -> usize {
            std::mem::size_of::<Fut>()
        }
        probe::<T, _>(run::<T>)
    }

    type Sm = Option<Box<StreamMgmt>>;

    fn size_of_loop<'a, T: Transport + 'a, Fut>(
        _f: fn(&'a mut Conn<T>, &'a Session, &'a Inbox, &'a mut Sm) -> Fut,
    ) -> usize {
        std::mem::size_of::<Fut>()
    }

    /// An idle session's task is its connection plus the session loop's state
    /// (about 2 KiB without TLS, 3 KiB with): no room for the negotiation, the
    /// routing of a stanza, the other transport or the handshake's leftovers.
    /// Bounds with some slack for compiler changes; they catch a future that
    /// swallows one of those again (it was 7 KiB per connection).
    #[test]
    fn an_idle_session_task_stays_small() {
        let serve = size_of_returned(serve);
        let plain = size_of_run::<TcpTransport<TcpStream>>();
        let tls = size_of_run::<TcpTransport<Tls>>();
        let conn_tls = std::mem::size_of::<Conn<TcpTransport<Tls>>>();
        let session_loop =
            size_of_loop::<TcpTransport<Tls>, _>(Conn::<TcpTransport<Tls>>::session_loop);
        assert!(serve <= 512, "serve's own state is {serve} bytes");
        assert!(
            session_loop <= 1024,
            "the session loop's state is {session_loop} bytes"
        );
        assert!(
            tls <= conn_tls + session_loop + 512,
            "a TLS stream's state is {tls} bytes for a {conn_tls}-byte connection"
        );
        assert!(plain <= 2560, "a plaintext stream's state is {plain} bytes");
    }
}
