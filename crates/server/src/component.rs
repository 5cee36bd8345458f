//! External component streams (XEP-0114, `jabber:component:accept`): the connection of
//! a trusted service — in this version the school's push app server (XEP-0357) — on
//! the component listener (`[listen] component`, loopback by default, bound only when
//! `[[components]]` are configured).
//!
//! One task per connection, under the deadline before authentication
//! (`limits.unauthenticated_timeout_secs`, holding its `preauth` ticket) until authenticated:
//! 1. the component opens a stream `to` its domain; an unconfigured domain gets
//!    `<host-unknown/>`; we answer with our header, its `id` and `from` = that domain;
//! 2. it sends `<handshake>` = hex SHA-1 of the stream id followed by the shared secret;
//!    we compare in constant time; a wrong one gets `<not-authorized/>`; a right one
//!    `<handshake/>`;
//! 3. the connection is registered (`services::components`: a newer connection of the
//!    same component replaces the older, which is closed with `<conflict/>`), and the
//!    loop reads its stanzas and writes what the server queued for it.
//!
//! Framing is the clients' (`causerie_proto::framing`, the same size and depth limits),
//! over the same [`TcpTransport`]. Every stanza a component sends must carry a `from` in
//! its own domain (else `<invalid-from/>`) and be a message, presence or IQ of
//! `jabber:component:accept` (else `<unsupported-stanza-type/>`); it then goes to
//! `router::route_component`, where the gate decides (a component talks with the server
//! only). Stanzas cross between the two namespaces with `xml::renamespace`: inside the
//! server every stanza is `jabber:client`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use causerie_proto::framing::{FramingLimits, StreamEvent, StreamParser};
use causerie_proto::{Element, ns, xml};
use jid::Jid;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tracing::{debug, info, warn};

use crate::mailbox::{Inbox, Next};
use crate::outbound::Outbound;
use crate::router;
use crate::server::Server;
use crate::session::SessionHandle;
use crate::transport::{TcpTransport, Transport};

/// How long the final writes of a closing stream may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a component stream ends.
enum End {
    Closed,
    Io,
    Error(&'static str, Option<String>),
}

/// The hex SHA-1 of `id` followed by `secret` (XEP-0114 §3).
pub fn handshake_digest(id: &str, secret: &str) -> String {
    let digest = Sha1::digest(format!("{id}{secret}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `given` is the right handshake for `id` and `secret`, in constant time.
fn handshake_ok(given: &str, id: &str, secret: &str) -> bool {
    let expected = handshake_digest(id, secret);
    let given = given.trim().to_ascii_lowercase();
    bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

struct Conn {
    server: Arc<Server>,
    io: TcpTransport<TcpStream>,
    parser: StreamParser,
    pending: std::collections::VecDeque<StreamEvent>,
    failed: Option<causerie_proto::framing::FramingError>,
    peer: SocketAddr,
    header_sent: bool,
}

/// Serves one accepted component connection to its end.
pub async fn serve(
    server: Arc<Server>,
    tcp: TcpStream,
    peer: SocketAddr,
    ticket: crate::preauth::Ticket,
) {
    let _ = tcp.set_nodelay(true);
    let limits = FramingLimits {
        max_stanza_bytes: server.config.limits.max_stanza_bytes,
        max_depth: server.config.limits.max_depth,
    };
    let deadline = Instant::now() + server.preauth.timeout();
    let mut conn = Conn {
        server,
        io: TcpTransport::component(tcp),
        parser: StreamParser::new(limits),
        pending: Default::default(),
        failed: None,
        peer,
        header_sent: false,
    };
    let authenticated = match timeout_at(deadline, conn.handshake()).await {
        Ok(r) => r,
        Err(_) => Err(End::Error(
            "connection-timeout",
            Some("the handshake took too long".into()),
        )),
    };
    // Authenticated or not, its place among the unauthenticated is given back.
    drop(ticket);
    let component = match authenticated {
        Ok(c) => c,
        Err(end) => {
            conn.close(end).await;
            return;
        }
    };
    let (handle, rx) =
        SessionHandle::new(component.clone(), conn.server.config.limits.send_queue_len);
    if let Some(old) = conn.server.components.connect(&component, handle.clone()) {
        old.stop_with_text("conflict", "replaced by a new connection of this component");
    }
    info!(%peer, component = %component, "component connected");
    let end = conn.run(&component, rx).await;
    conn.server.components.disconnect(&component, handle.id);
    info!(%peer, component = %component, "component disconnected");
    conn.close(end).await;
}

impl Conn {
    async fn next_event(&mut self) -> Result<StreamEvent, End> {
        loop {
            if let Some(e) = self.failed.take() {
                return Err(End::Error(e.condition(), Some(e.to_string())));
            }
            if let Some(ev) = self.pending.pop_front() {
                return Ok(ev);
            }
            let data = self.io.read().await.map_err(|_| End::Io)?;
            if data.is_empty() {
                return Err(End::Closed);
            }
            let mut out = Vec::new();
            if let Err(e) = self.parser.feed(data, &mut out) {
                self.failed = Some(e);
            }
            self.pending.extend(out);
        }
    }

    /// The stream header and the handshake; returns the authenticated component.
    async fn handshake(&mut self) -> Result<String, End> {
        let header = match self.next_event().await? {
            StreamEvent::Open(h) if !h.framing => h,
            _ => return Err(End::Error("bad-format", None)),
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let to = header.to.clone().unwrap_or_default().to_lowercase();
        let configured = self
            .server
            .config
            .components
            .iter()
            .find(|c| c.domain.eq_ignore_ascii_case(&to))
            .cloned();
        let from = if configured.is_some() {
            to.clone()
        } else {
            self.server.domain.clone()
        };
        self.header_sent = true;
        self.io
            .write_header(&format!(
                " id='{id}' from='{}'",
                causerie_proto::errors::escape(&from)
            ))
            .await
            .map_err(|_| End::Io)?;
        let Some(configured) = configured else {
            return Err(End::Error(
                "host-unknown",
                Some("no component of that name is configured here".into()),
            ));
        };
        let el = match self.next_event().await? {
            StreamEvent::Element(el) => el,
            StreamEvent::Close => return Err(End::Closed),
            StreamEvent::Open(_) => return Err(End::Error("bad-format", None)),
        };
        if !el.is("handshake", ns::COMPONENT) {
            return Err(End::Error(
                "not-authorized",
                Some("send the handshake first".into()),
            ));
        }
        if !handshake_ok(&el.text(), &id, &configured.secret) {
            warn!(peer = %self.peer, component = %to, "component handshake failed");
            return Err(End::Error("not-authorized", Some("wrong handshake".into())));
        }
        self.io
            .write_elements(&[&format!("<handshake xmlns='{}'/>", ns::COMPONENT)])
            .await
            .map_err(|_| End::Io)?;
        Ok(to)
    }

    /// The authenticated stream: stanzas in go to the router, queued stanzas go out.
    async fn run(&mut self, component: &str, rx: Inbox) -> End {
        let mut taken = std::collections::VecDeque::new();
        loop {
            // Events already parsed (in the handshake's last read) go first.
            while let Some(ev) = self.pending.pop_front() {
                match ev {
                    StreamEvent::Element(el) => {
                        if let Err(end) = self.stanza(component, el).await {
                            return end;
                        }
                    }
                    StreamEvent::Close => return End::Closed,
                    StreamEvent::Open(_) => return End::Error("bad-format", None),
                }
            }
            if let Some(e) = self.failed.take() {
                return End::Error(e.condition(), Some(e.to_string()));
            }
            tokio::select! {
                biased;
                next = rx.next(&mut taken) => {
                    match next {
                        Next::Overflow => {
                            warn!(component, "component does not read: closing its stream");
                            return End::Error("policy-violation", Some("too many unread stanzas".into()));
                        }
                        Next::Closed => return End::Error("system-shutdown", None),
                        Next::Items => {}
                    }
                    let mut out = Vec::new();
                    let mut stop = None;
                    while let Some(item) = taken.pop_front() {
                        match item {
                            Outbound::Stanza(el) => {
                                let el = xml::renamespace(&el, ns::CLIENT, ns::COMPONENT);
                                out.push(xml::to_string(&el));
                            }
                            // Rooms' fan-out never reaches a component, nor does a
                            // stream management hand-over (clients only).
                            Outbound::Shared(_) | Outbound::Yield => {}
                            Outbound::Stop(s) => { stop = Some((s.condition, s.text)); break; }
                        }
                    }
                    taken.clear();
                    let parts: Vec<&str> = out.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
                    if !parts.is_empty() && self.io.write_elements(&parts).await.is_err() {
                        return End::Io;
                    }
                    if let Some((cond, text)) = stop {
                        return End::Error(cond, text);
                    }
                }
                r = self.io.read() => {
                    let data = match r {
                        Ok([]) | Err(_) => return End::Closed,
                        Ok(data) => data,
                    };
                    let mut out = Vec::new();
                    if let Err(e) = self.parser.feed(data, &mut out) {
                        self.failed = Some(e);
                    }
                    self.pending.extend(out);
                }
            }
        }
    }

    /// One stanza from the component (see the module docs).
    async fn stanza(&mut self, component: &str, el: Element) -> Result<(), End> {
        if el.ns() != ns::COMPONENT || !matches!(el.name(), "message" | "presence" | "iq") {
            return Err(End::Error(
                "unsupported-stanza-type",
                Some(format!("<{}/> is not supported here", el.name())),
            ));
        }
        let from_ok = el
            .attr("from")
            .and_then(|f| Jid::new(f).ok())
            .is_some_and(|j| self.server.components.owner(j.domain().as_str()) == Some(component));
        if !from_ok {
            return Err(End::Error(
                "invalid-from",
                Some(format!("stanzas must come from {component} or a JID of it")),
            ));
        }
        let stanza = xml::renamespace(&el, ns::COMPONENT, ns::CLIENT);
        debug!(component, name = stanza.name(), "stanza from a component");
        Box::pin(router::route_component(&self.server, component, stanza)).await;
        Ok(())
    }

    async fn close(&mut self, end: End) {
        let _ = timeout(CLOSE_TIMEOUT, async {
            if matches!(end, End::Io) {
                return;
            }
            if !self.header_sent {
                let h = format!(
                    " id='{}' from='{}'",
                    uuid::Uuid::new_v4().simple(),
                    causerie_proto::errors::escape(&self.server.domain)
                );
                let _ = self.io.write_header(&h).await;
            }
            let _ = match &end {
                End::Error(cond, text) => {
                    debug!(peer = %self.peer, condition = cond, "component stream error");
                    self.io.write_error(cond, text.as_deref()).await
                }
                _ => self.io.write_footer().await,
            };
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handshake_is_the_hex_sha1_of_id_and_secret() {
        // XEP-0114 §3's example: id 3BF96D32, secret "sharedsecret"... as computed by
        // any SHA-1: sha1("3BF96D32" + "sharedsecret").
        let d = handshake_digest("3BF96D32", "sharedsecret");
        assert_eq!(d.len(), 40);
        assert!(
            d.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(handshake_ok(&d, "3BF96D32", "sharedsecret"));
        assert!(handshake_ok(&d.to_uppercase(), "3BF96D32", "sharedsecret"));
        assert!(!handshake_ok(&d, "3BF96D32", "othersecret"));
        assert!(!handshake_ok("", "3BF96D32", "sharedsecret"));
        assert_eq!(
            handshake_digest("", "abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }
}
