//! One XMPP client connection: TCP to a loopback address, STARTTLS or direct TLS
//! (certificates are not verified: the generator loads a server it started
//! itself, and a real client would pin the certificate), SASL, bind, roster get,
//! initial presence.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};

use crate::sasl::{self, Mech, Scram};
use crate::xml::{self, Event, Framer};

/// How the client protects the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsMode {
    /// No TLS: plaintext SASL on loopback (the server must allow it).
    #[value(name = "none")]
    None,
    /// STARTTLS on the c2s port (RFC 6120).
    #[value(name = "starttls")]
    StartTls,
    /// TLS from the first byte (XEP-0368).
    #[value(name = "direct")]
    Direct,
}

/// Where and as whom to connect.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Server address (loopback only).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// c2s port (the direct-TLS port with `--tls direct`).
    #[arg(long, default_value_t = 5222)]
    pub port: u16,
    /// Several c2s ports (comma-separated), one per node of a cluster: account `i` of a
    /// run connects to the `(i mod K)`-th, so the two accounts of a chat pair are always
    /// on two different nodes. Replaces `--port`.
    #[arg(long, value_delimiter = ',')]
    pub ports: Vec<u16>,
    /// XMPP domain of the accounts.
    #[arg(long, default_value = "localhost")]
    pub domain: String,
    /// Accounts are PREFIX{i}@DOMAIN.
    #[arg(long, default_value = "u")]
    pub prefix: String,
    /// First account index.
    #[arg(long, default_value_t = 1)]
    pub first: u64,
    /// The password of every account.
    #[arg(long, default_value = "bench")]
    pub password: String,
    #[arg(long, value_enum, default_value = "starttls")]
    pub tls: TlsMode,
    #[arg(long, value_enum, default_value = "scram-sha-256")]
    pub mech: Mech,
    /// Resumes TLS sessions (tickets) instead of a full handshake at every login.
    #[arg(long)]
    pub tls_resume: bool,
    /// Enables stream management with resumption (XEP-0198) after bind, as a phone does.
    #[arg(long)]
    pub sm: bool,
    /// Logs in as a phone with XEP-0484 FAST does: XEP-0388 SASL2 with Bind 2 (and
    /// stream management inline with `--sm`); an account's first login (SCRAM-SHA-256)
    /// asks for a token, the next ones use it (HT-SHA-256-NONE, one round trip). In the
    /// resume scenario, the resumption is one `<authenticate/>` with the token and
    /// XEP-0198's `<resume/>` inline.
    #[arg(long)]
    pub fast: bool,
    /// Source addresses 127.0.0.1..=127.0.0.K, round robin: each gives about
    /// 28,000 ephemeral ports toward one server port.
    #[arg(long, default_value_t = 4)]
    pub source_ips: u8,
    /// Seconds one login may take before it counts as an error.
    #[arg(long, default_value_t = 60)]
    pub login_timeout: u64,
    /// Name of the server in the report (causerie, prosody, ejabberd).
    #[arg(long, default_value = "server")]
    pub label: String,
}

impl Target {
    pub fn check(&self) -> Result<()> {
        if !self.host.is_loopback() {
            bail!(
                "the generator only loads loopback addresses, not {}",
                self.host
            );
        }
        Ok(())
    }

    pub fn user(&self, i: u64) -> String {
        format!("{}{}", self.prefix, self.first + i)
    }
}

/// The socket, in clear or under TLS.
pub enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Accepts any certificate: the generator talks to a server on loopback that the
/// benchmark started itself (a real client pins or verifies; verification cost is
/// left out so that the generator stays light).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS configuration of account `index`'s connections. With `resume`, each account
/// has its own (its own ticket cache, as each phone has): rustls keeps at most eight
/// TLS 1.3 tickets per server name, so one shared cache made most of 50 concurrent
/// "resumptions" full handshakes.
fn tls_config(resume: bool, index: u64) -> Arc<rustls::ClientConfig> {
    static FULL: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    static RESUME: OnceLock<Mutex<HashMap<u64, Arc<rustls::ClientConfig>>>> = OnceLock::new();
    let make = |resume: bool| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth();
        config.resumption = if resume {
            rustls::client::Resumption::in_memory_sessions(4)
        } else {
            rustls::client::Resumption::disabled()
        };
        Arc::new(config)
    };
    if resume {
        RESUME
            .get_or_init(Default::default)
            .lock()
            .expect("TLS configurations")
            .entry(index)
            .or_insert_with(|| make(true))
            .clone()
    } else {
        FULL.get_or_init(|| make(false)).clone()
    }
}

/// An open, authenticated, bound session.
pub struct Session {
    pub io: Io,
    pub fr: Framer,
    /// The bound full JID.
    pub jid: String,
    /// The XEP-0198 resumption id, when stream management was enabled.
    pub sm_id: Option<String>,
    /// Stanzas read since stream management was enabled (its `h`).
    pub handled: u64,
}

const NS_TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";

impl Session {
    /// Writes and flushes.
    pub async fn send(&mut self, data: &[u8]) -> Result<()> {
        self.io.write_all(data).await?;
        self.io.flush().await?;
        Ok(())
    }

    /// The next top-level element (stream errors and the end of the stream are errors).
    pub async fn element(&mut self) -> Result<Vec<u8>> {
        let mut buf = [0u8; 8192];
        loop {
            match self.fr.next()? {
                Some(Event::Element(r)) => {
                    let el = self.fr.get(r).to_vec();
                    if xml::name(&el) == b"error" && xml::contains(&el, "xmpp-streams") {
                        bail!("stream error: {}", String::from_utf8_lossy(&el));
                    }
                    if self.sm_id.is_some()
                        && matches!(xml::name(&el), b"message" | b"presence" | b"iq")
                    {
                        self.handled += 1;
                    }
                    return Ok(el);
                }
                Some(Event::Open(_)) => continue,
                Some(Event::Close) => bail!("the server closed the stream"),
                None => {}
            }
            let n = self.io.read(&mut buf).await?;
            if n == 0 {
                bail!("the server closed the connection");
            }
            self.fr.feed(&buf[..n])?;
        }
    }

    async fn open_stream(&mut self, domain: &str) -> Result<Vec<u8>> {
        self.fr.reset();
        let header = format!(
            "<?xml version='1.0'?><stream:stream to='{}' version='1.0' xml:lang='en' \
             xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
            xml::escape(domain)
        );
        self.send(header.as_bytes()).await?;
        let features = self.element().await?;
        if xml::name(&features) != b"features" {
            bail!(
                "expected stream features, got {}",
                String::from_utf8_lossy(&features)
            );
        }
        Ok(features)
    }

    /// Ends the stream politely (bounded: a server that does not answer is dropped).
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            let _ = self.send(b"</stream:stream>").await;
            let _ = self.io.shutdown().await;
        })
        .await;
    }
}

async fn tcp(target: &Target, index: u64) -> Result<TcpStream> {
    let port = match target.ports.len() {
        0 => target.port,
        k => target.ports[(index % k as u64) as usize],
    };
    let addr = SocketAddr::new(target.host, port);
    let socket = match target.host {
        IpAddr::V4(_) => {
            let s = TcpSocket::new_v4()?;
            if target.source_ips > 1 {
                let last = 1 + (index % u64::from(target.source_ips)) as u8;
                s.bind(SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)),
                    0,
                ))?;
            }
            s
        }
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    let stream = socket
        .connect(addr)
        .await
        .with_context(|| format!("connect to {addr}"))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn tls(target: &Target, index: u64, stream: TcpStream) -> Result<Io> {
    let connector = tokio_rustls::TlsConnector::from(tls_config(target.tls_resume, index));
    let name = ServerName::try_from(target.domain.clone()).context("domain as a TLS name")?;
    let s = connector
        .connect(name, stream)
        .await
        .context("TLS handshake")?;
    Ok(Io::Tls(Box::new(s)))
}

/// Connects as account `index`: TCP, TLS, SASL; the stream is authenticated, not yet
/// restarted.
async fn connect_auth(target: &Target, index: u64) -> Result<Session> {
    let (mut s, features) = connect_tls(target, index).await?;
    auth(target, index, &mut s, &features).await?;
    Ok(s)
}

/// TCP and TLS (direct or STARTTLS): the session and the features offered on TLS.
async fn connect_tls(target: &Target, index: u64) -> Result<(Session, Vec<u8>)> {
    let stream = tcp(target, index).await?;
    let io = match target.tls {
        TlsMode::Direct => tls(target, index, stream).await?,
        _ => Io::Plain(stream),
    };
    let mut s = Session {
        io,
        fr: Framer::new(),
        jid: String::new(),
        sm_id: None,
        handled: 0,
    };
    let mut features = s.open_stream(&target.domain).await?;
    if target.tls == TlsMode::StartTls {
        if !xml::contains(&features, "<starttls") {
            bail!("the server offers no STARTTLS");
        }
        s.send(format!("<starttls xmlns='{NS_TLS}'/>").as_bytes())
            .await?;
        let el = s.element().await?;
        if xml::name(&el) != b"proceed" {
            bail!("STARTTLS refused: {}", String::from_utf8_lossy(&el));
        }
        let Io::Plain(stream) = s.io else {
            unreachable!("STARTTLS on a plain stream")
        };
        s.io = tls(target, index, stream).await?;
        features = s.open_stream(&target.domain).await?;
    }
    Ok((s, features))
}

/// RFC 6120 SASL with the target's mechanism.
async fn auth(target: &Target, index: u64, s: &mut Session, features: &[u8]) -> Result<()> {
    let mech = target.mech;
    if !xml::contains(features, &format!(">{}<", mech.name())) {
        bail!(
            "the server does not offer {}: {}",
            mech.name(),
            String::from_utf8_lossy(features)
        );
    }
    let user = target.user(index);
    match mech {
        Mech::Plain => {
            s.send(
                format!(
                    "<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{}</auth>",
                    sasl::plain(&user, &target.password)
                )
                .as_bytes(),
            )
            .await?;
            let el = s.element().await?;
            if xml::name(&el) != b"success" {
                bail!("authentication failed: {}", String::from_utf8_lossy(&el));
            }
        }
        Mech::ScramSha1 | Mech::ScramSha256 => {
            let (mut scram, first) = Scram::start(mech, &user);
            s.send(
                format!(
                    "<auth xmlns='{NS_SASL}' mechanism='{}'>{first}</auth>",
                    mech.name()
                )
                .as_bytes(),
            )
            .await?;
            let el = s.element().await?;
            if xml::name(&el) != b"challenge" {
                bail!("authentication failed: {}", String::from_utf8_lossy(&el));
            }
            let fin = scram.respond(&xml::text(&el).unwrap_or_default(), &target.password)?;
            s.send(format!("<response xmlns='{NS_SASL}'>{fin}</response>").as_bytes())
                .await?;
            let el = s.element().await?;
            if xml::name(&el) != b"success" {
                bail!("authentication failed: {}", String::from_utf8_lossy(&el));
            }
            scram.verify(&xml::text(&el).unwrap_or_default())?;
        }
    }
    Ok(())
}

/// The FAST tokens of the accounts (`--fast`), by account index.
fn tokens() -> &'static Mutex<HashMap<u64, String>> {
    static TOKENS: OnceLock<Mutex<HashMap<u64, String>>> = OnceLock::new();
    TOKENS.get_or_init(Default::default)
}

/// The roster version each account's client keeps (RFC 6121 §2.6), by account index:
/// with `--fast`, the client is a phone that logged in before, and phones keep their
/// roster and ask for it by version (Conversations, Monal, Siskin).
fn roster_versions() -> &'static Mutex<HashMap<u64, String>> {
    static VERSIONS: OnceLock<Mutex<HashMap<u64, String>>> = OnceLock::new();
    VERSIONS.get_or_init(Default::default)
}

/// Whether account `index` holds a FAST token (`--fast`).
pub fn has_token(index: u64) -> bool {
    tokens().lock().expect("tokens").contains_key(&index)
}

const NS_SASL2: &str = "urn:xmpp:sasl:2";

/// TCP and TLS; the features must offer XEP-0388 SASL2.
async fn connect_sasl2(target: &Target, index: u64) -> Result<Session> {
    let (s, features) = connect_tls(target, index).await?;
    if !xml::contains(&features, NS_SASL2) {
        bail!(
            "the server offers no SASL2: {}",
            String::from_utf8_lossy(&features)
        );
    }
    Ok(s)
}

/// The initial response of an HT-SHA-256-NONE login of `user` with `token` (XEP-0484).
fn ht_initial(user: &str, token: &str) -> String {
    let proof = sasl::ht_proof(token, b"Initiator");
    B64.encode([user.as_bytes(), b"\0", &proof].concat())
}

/// Checks the server's HT answer in a `<success/>`'s additional data (XEP-0484).
fn check_ht_answer(success: &[u8], token: &str) -> Result<()> {
    let additional = xml::child_text(success, "additional-data").unwrap_or_default();
    let answer = B64.decode(additional.trim()).context("additional-data")?;
    if answer != sasl::ht_proof(token, b"Responder") {
        bail!("the server's HT answer is wrong");
    }
    Ok(())
}

/// `--fast`: XEP-0388 SASL2 with Bind 2 in one `<authenticate/>`: with the account's
/// XEP-0484 token (HT-SHA-256-NONE, one round trip) when it has one, else SCRAM-SHA-256
/// asking for a token. Returns the bound session.
async fn fast_auth(target: &Target, index: u64) -> Result<Session> {
    let mut s = connect_sasl2(target, index).await?;
    let user = target.user(index);
    let token = tokens().lock().expect("tokens").get(&index).cloned();
    let sm = if target.sm {
        "<enable xmlns='urn:xmpp:sm:3' resume='true'/>"
    } else {
        ""
    };
    let tail = format!(
        "<user-agent id='bench-{index}'><software>causerie-bench</software></user-agent>\
         <bind xmlns='urn:xmpp:bind:0'><tag>bench</tag>{sm}</bind>"
    );
    let mut scram = None;
    match &token {
        Some(token) => {
            let initial = ht_initial(&user, token);
            s.send(
                format!(
                    "<authenticate xmlns='{NS_SASL2}' mechanism='HT-SHA-256-NONE'>\
                     <initial-response>{initial}</initial-response>{tail}</authenticate>"
                )
                .as_bytes(),
            )
            .await?;
        }
        None => {
            let (sc, first) = Scram::start(Mech::ScramSha256, &user);
            s.send(
                format!(
                    "<authenticate xmlns='{NS_SASL2}' mechanism='SCRAM-SHA-256'>\
                     <initial-response>{first}</initial-response>{tail}\
                     <request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>\
                     </authenticate>"
                )
                .as_bytes(),
            )
            .await?;
            let el = s.element().await?;
            if xml::name(&el) != b"challenge" {
                bail!("authentication failed: {}", String::from_utf8_lossy(&el));
            }
            let mut sc = sc;
            let fin = sc.respond(&xml::text(&el).unwrap_or_default(), &target.password)?;
            s.send(format!("<response xmlns='{NS_SASL2}'>{fin}</response>").as_bytes())
                .await?;
            scram = Some(sc);
        }
    }
    let el = s.element().await?;
    if xml::name(&el) != b"success" {
        bail!("authentication failed: {}", String::from_utf8_lossy(&el));
    }
    match (&token, scram) {
        (Some(token), _) => check_ht_answer(&el, token)?,
        (None, Some(sc)) => {
            sc.verify(&xml::child_text(&el, "additional-data").unwrap_or_default())?;
            let i = xml::find_attr_of(&el, "token", "token").context("no FAST token issued")?;
            tokens().lock().expect("tokens").insert(index, i);
        }
        (None, None) => unreachable!("SCRAM without a token"),
    }
    s.jid = xml::child_text(&el, "authorization-identifier").context("no JID in <success/>")?;
    if target.sm {
        s.sm_id = xml::find_attr_of(&el, "enabled", "id");
    }
    // The features after <success/>, on the same stream.
    let f = s.element().await?;
    if xml::name(&f) != b"features" {
        bail!("expected features, got {}", String::from_utf8_lossy(&f));
    }
    Ok(s)
}

/// Logs account `index` in: TLS, SASL, bind, [stream management], roster get, initial
/// presence; then a ping whose answer tells that the presence has been processed.
pub async fn login(target: &Target, index: u64) -> Result<Session> {
    if target.fast {
        let mut s = fast_auth(target, index).await?;
        return finish_login(&mut s, Some(index)).await.map(|()| s);
    }
    let mut s = connect_auth(target, index).await?;
    let features = s.open_stream(&target.domain).await?;
    s.send(
        b"<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
          <resource>bench</resource></bind></iq>",
    )
    .await?;
    let el = wait_iq(&mut s, "bind1").await?;
    s.jid = xml::child_text(&el, "jid").context("bind result without a JID")?;
    if target.sm {
        s.send(b"<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
            .await?;
        let el = s.element().await?;
        if xml::name(&el) != b"enabled" {
            bail!(
                "stream management refused: {}",
                String::from_utf8_lossy(&el)
            );
        }
        s.sm_id = Some(xml::attr(&el, "id").context("<enabled/> without a resumption id")?);
    }
    // RFC 3921 session establishment, for servers that still require it.
    if xml::contains(&features, "xmpp-session") && !xml::contains(&features, "<optional") {
        s.send(
            b"<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>",
        )
        .await?;
        wait_iq(&mut s, "sess1").await?;
    }
    finish_login(&mut s, None).await?;
    Ok(s)
}

/// Roster get, initial presence, then a ping whose answer tells that the presence has
/// been processed. With `versioned` (a phone's account index), the roster is asked by
/// the version the client kept from its last login (`ver=''` the first time, RFC 6121
/// §2.6.3), and the version of the answer is kept: a phone that comes back to an
/// unchanged roster gets an empty result.
async fn finish_login(s: &mut Session, versioned: Option<u64>) -> Result<()> {
    match versioned {
        None => {
            s.send(b"<iq type='get' id='roster1'><query xmlns='jabber:iq:roster'/></iq>")
                .await?
        }
        Some(index) => {
            let kept = roster_versions()
                .lock()
                .expect("versions")
                .get(&index)
                .cloned()
                .unwrap_or_default();
            s.send(
                format!(
                    "<iq type='get' id='roster1'><query xmlns='jabber:iq:roster' ver='{}'/></iq>",
                    xml::escape(&kept)
                )
                .as_bytes(),
            )
            .await?
        }
    }
    let answer = wait_iq(s, "roster1").await?;
    if let Some(index) = versioned
        && let Some(ver) = xml::find_attr_of(&answer, "query", "ver")
    {
        roster_versions()
            .lock()
            .expect("versions")
            .insert(index, ver);
    }
    s.send(b"<presence/><iq type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await?;
    wait_reply(s, "ping1").await?;
    Ok(())
}

/// Resumes account `index`'s detached session `previd` (XEP-0198) on a new
/// connection: TCP, TLS (resumed from a ticket with `--tls-resume`), SASL, `<resume/>`
/// acknowledging `h` stanzas, until `<resumed/>`. What the server then resends is left
/// unread.
pub async fn resume(target: &Target, index: u64, previd: &str, h: u64) -> Result<Session> {
    if target.fast {
        return fast_resume(target, index, previd, h).await;
    }
    let mut s = connect_auth(target, index).await?;
    s.open_stream(&target.domain).await?;
    s.send(
        format!(
            "<resume xmlns='urn:xmpp:sm:3' previd='{}' h='{h}'/>",
            xml::escape(previd)
        )
        .as_bytes(),
    )
    .await?;
    let el = s.element().await?;
    if xml::name(&el) != b"resumed" {
        bail!("resumption refused: {}", String::from_utf8_lossy(&el));
    }
    s.sm_id = Some(previd.to_owned());
    Ok(s)
}

/// `--fast` [`resume`]: what a phone that lost its network does with XEP-0388 SASL2: one
/// `<authenticate/>` with its XEP-0484 token (HT-SHA-256-NONE) and the XEP-0198
/// `<resume/>` inline, answered by one `<success/>` holding `<resumed/>`: no SCRAM, no
/// stream restart, no separate resumption round trip.
async fn fast_resume(target: &Target, index: u64, previd: &str, h: u64) -> Result<Session> {
    let mut s = connect_sasl2(target, index).await?;
    let user = target.user(index);
    let token = tokens()
        .lock()
        .expect("tokens")
        .get(&index)
        .cloned()
        .context("no FAST token from the first login")?;
    let initial = ht_initial(&user, &token);
    s.send(
        format!(
            "<authenticate xmlns='{NS_SASL2}' mechanism='HT-SHA-256-NONE'>\
             <initial-response>{initial}</initial-response>\
             <user-agent id='bench-{index}'><software>causerie-bench</software></user-agent>\
             <resume xmlns='urn:xmpp:sm:3' previd='{}' h='{h}'/></authenticate>",
            xml::escape(previd)
        )
        .as_bytes(),
    )
    .await?;
    let el = s.element().await?;
    if xml::name(&el) != b"success" {
        bail!("authentication failed: {}", String::from_utf8_lossy(&el));
    }
    check_ht_answer(&el, &token)?;
    if !xml::contains(&el, "<resumed") {
        bail!("resumption refused: {}", String::from_utf8_lossy(&el));
    }
    s.jid = xml::child_text(&el, "authorization-identifier").unwrap_or_default();
    s.sm_id = Some(previd.to_owned());
    Ok(s)
}

/// Waits for the result of iq `id` (other stanzas are skipped); an error is an error.
async fn wait_iq(s: &mut Session, id: &str) -> Result<Vec<u8>> {
    let el = wait_reply(s, id).await?;
    if xml::attr(&el, "type").as_deref() != Some("result") {
        bail!("iq {id} failed: {}", String::from_utf8_lossy(&el));
    }
    Ok(el)
}

/// Waits for any answer (result or error) to iq `id`.
async fn wait_reply(s: &mut Session, id: &str) -> Result<Vec<u8>> {
    loop {
        let el = s.element().await?;
        if xml::name(&el) == b"iq" && xml::attr(&el, "id").as_deref() == Some(id) {
            return Ok(el);
        }
    }
}
