//! XMPP over WebSocket (RFC 7395) at `/xmpp-websocket` (and `/ws`), feeding
//! the same c2s pipeline as TCP through [`WsTransport`], plus XEP-0156
//! host-meta so that clients find the endpoint.
//!
//! Each WebSocket text message carries one complete element. The transport
//! turns the framing elements into stream events the c2s parser knows:
//! `<open/>` becomes a stream header and `<close/>` the stream's end; on the
//! way out, our header becomes `<open/>` and our footer `<close/>`, and
//! `stream:`-prefixed elements declare their prefix, since every message
//! must be a document on its own.
//!
//! An upgrade takes a place among the unauthenticated connections (`preauth`: the
//! per-address cap and the descriptor reserve; refused with 503) and the stream has
//! the shorter deadline before authentication, like the TCP doors.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Extension;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use causerie_proto::errors::escape;
use causerie_proto::framing::{FramingLimits, StreamEvent, parse_websocket_frame};
use causerie_proto::ns;
use causerie_server::Server;
use causerie_server::transport::Transport;

use crate::https::OverTls;

/// GET /xmpp-websocket: the upgrade, with the `xmpp` subprotocol required.
pub async fn upgrade(
    State(server): State<Arc<Server>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    tls: Option<Extension<OverTls>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let ws = ws.protocols(["xmpp"]);
    if ws.selected_protocol().is_none() {
        return (
            StatusCode::BAD_REQUEST,
            "XMPP over WebSocket needs the `xmpp` subprotocol (RFC 7395)\n",
        )
            .into_response();
    }
    // One unauthenticated connection more from this address (`preauth`): refused
    // before the upgrade when the address holds its share, or descriptors run short.
    let Ok(ticket) = server
        .preauth()
        .admit(client_address(&server, peer, &headers))
    else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "30")],
            "too many connections\n",
        )
            .into_response();
    };
    let max = server.config().limits.max_stanza_bytes + 1024;
    let secure =
        tls.is_some() || server.config().listen.http_behind_tls_proxy || peer.ip().is_loopback();
    // A frame is buffered whole before the message's size is checked: bound it too
    // (the library's default frame is 16 MiB, held by a connection not logged in).
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| async move {
            let transport = WsTransport::new(socket, limits(&server));
            causerie_server::c2s::serve_transport(server, transport, peer, secure, ticket).await;
        })
        .into_response()
}

/// The client's address for the per-address count: behind the TLS proxy
/// (`listen.http_behind_tls_proxy`, the proxy on loopback), the last address the proxy
/// added to `X-Forwarded-For` (or its `X-Real-IP`); else the peer's.
pub(crate) fn client_address(server: &Server, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    if !(server.config().listen.http_behind_tls_proxy && peer.ip().is_loopback()) {
        return peer.ip();
    }
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .or_else(|| headers.get("x-real-ip").and_then(|v| v.to_str().ok()));
    forwarded
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(peer.ip())
}

fn limits(server: &Server) -> FramingLimits {
    FramingLimits {
        max_stanza_bytes: server.config().limits.max_stanza_bytes,
        max_depth: server.config().limits.max_depth,
    }
}

/// The WebSocket side of a client connection.
pub struct WsTransport {
    socket: WebSocket,
    limits: FramingLimits,
    inbound: Vec<u8>,
}

impl WsTransport {
    pub fn new(socket: WebSocket, limits: FramingLimits) -> Self {
        WsTransport {
            socket,
            limits,
            inbound: Vec::new(),
        }
    }

    async fn send_text(&mut self, text: String) -> io::Result<()> {
        self.socket
            .send(Message::Text(text.into()))
            .await
            .map_err(io::Error::other)
    }

    async fn close(&mut self) -> io::Result<()> {
        self.send_text(format!("<close xmlns='{}'/>", ns::FRAMING))
            .await?;
        let _ = self.socket.send(Message::Close(None)).await;
        Ok(())
    }

    /// What the stream parser should see for one WebSocket message.
    fn translate(&mut self, text: &str) {
        self.inbound.clear();
        let t = text.trim_start();
        let framing = t.starts_with("<open") || t.starts_with("<close");
        if framing {
            match parse_websocket_frame(t, self.limits) {
                Ok(StreamEvent::Open(h)) => {
                    let mut header = format!(
                        "<stream:stream xmlns='{}' xmlns:stream='{}'",
                        ns::CLIENT,
                        ns::STREAM
                    );
                    for (name, value) in [("to", &h.to), ("from", &h.from), ("version", &h.version)]
                    {
                        if let Some(v) = value {
                            header.push_str(&format!(" {name}='{}'", escape(v)));
                        }
                    }
                    if let Some(lang) = &h.lang {
                        header.push_str(&format!(" xml:lang='{}'", escape(lang)));
                    }
                    header.push('>');
                    self.inbound.extend_from_slice(header.as_bytes());
                    return;
                }
                Ok(StreamEvent::Close) => {
                    self.inbound.extend_from_slice(b"</stream:stream>");
                    return;
                }
                // Not a framing element after all: hand it over as it is.
                _ => {}
            }
        }
        self.inbound.extend_from_slice(text.as_bytes());
    }
}

/// Declares the `stream:` prefix on an element that uses it.
fn with_stream_prefix(element: &str) -> String {
    match element.strip_prefix("<stream:") {
        Some(rest) => {
            let name_end = rest.find([' ', '>', '/']).unwrap_or(rest.len());
            format!(
                "<stream:{} xmlns:stream='{}'{}",
                &rest[..name_end],
                ns::STREAM,
                &rest[name_end..]
            )
        }
        None => element.to_string(),
    }
}

impl Transport for WsTransport {
    async fn read(&mut self) -> io::Result<&[u8]> {
        loop {
            match self.socket.recv().await {
                None | Some(Ok(Message::Close(_))) => return Ok(&[]),
                Some(Err(e)) => return Err(io::Error::other(e)),
                Some(Ok(Message::Text(t))) => {
                    let text = t.to_string();
                    self.translate(&text);
                    return Ok(&self.inbound);
                }
                // RFC 7395 §3.2: XMPP goes in text frames only; a binary
                // frame is fed as is and ends as not-well-formed if invalid.
                Some(Ok(Message::Binary(b))) => {
                    self.inbound.clear();
                    self.inbound.extend_from_slice(&b);
                    return Ok(&self.inbound);
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            }
        }
    }

    async fn write_header(&mut self, attrs: &str) -> io::Result<()> {
        self.send_text(format!("<open xmlns='{}'{attrs}/>", ns::FRAMING))
            .await
    }

    async fn write_features(&mut self, inner: &str) -> io::Result<()> {
        self.send_text(format!(
            "<stream:features xmlns:stream='{}'>{inner}</stream:features>",
            ns::STREAM
        ))
        .await
    }

    async fn write_elements(&mut self, elements: &[&str]) -> io::Result<()> {
        for e in elements {
            self.send_text(with_stream_prefix(e)).await?;
        }
        Ok(())
    }

    async fn write_error(&mut self, condition: &str, text: Option<&str>) -> io::Result<()> {
        let mut e = format!(
            "<stream:error xmlns:stream='{}'><{condition} xmlns='{}'/>",
            ns::STREAM,
            ns::STREAMS
        );
        if let Some(t) = text {
            e.push_str(&format!(
                "<text xmlns='{}' xml:lang='en'>{}</text>",
                ns::STREAMS,
                escape(t)
            ));
        }
        e.push_str("</stream:error>");
        self.send_text(e).await?;
        self.close().await
    }

    async fn write_footer(&mut self) -> io::Result<()> {
        self.close().await
    }

    fn can_starttls(&self) -> bool {
        false
    }

    fn kind(&self) -> &'static str {
        "websocket"
    }
}

/// XEP-0156: `/.well-known/host-meta` (XRD).
pub async fn host_meta(
    State(server): State<Arc<Server>>,
    tls: Option<Extension<OverTls>>,
    headers: HeaderMap,
) -> Response {
    let url = websocket_url(&server, &headers, tls.is_some());
    let body = format!(
        "<?xml version='1.0' encoding='utf-8'?>\n<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n  \
         <Link rel='urn:xmpp:alt-connections:websocket' href='{}'/>\n</XRD>\n",
        escape(&url)
    );
    (
        [
            (header::CONTENT_TYPE, "application/xrd+xml"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    )
        .into_response()
}

/// XEP-0156: `/.well-known/host-meta.json` (JRD).
pub async fn host_meta_json(
    State(server): State<Arc<Server>>,
    tls: Option<Extension<OverTls>>,
    headers: HeaderMap,
) -> Response {
    let url = websocket_url(&server, &headers, tls.is_some());
    let body = serde_json::json!({
        "links": [{ "rel": "urn:xmpp:alt-connections:websocket", "href": url }]
    });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// The WebSocket URL as the client reached us (Host header), `wss` over the
/// HTTPS listener or behind a TLS proxy.
fn websocket_url(server: &Server, headers: &HeaderMap, over_tls: bool) -> String {
    let host = crate::request_host(headers)
        .map(str::to_string)
        .unwrap_or_else(|| server.domain().to_string());
    let scheme = if over_tls || server.config().listen.http_behind_tls_proxy {
        "wss"
    } else {
        "ws"
    };
    format!("{scheme}://{host}/xmpp-websocket")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_prefix_is_declared() {
        assert_eq!(
            with_stream_prefix("<stream:error><x/></stream:error>"),
            format!(
                "<stream:error xmlns:stream='{}'><x/></stream:error>",
                ns::STREAM
            )
        );
        assert_eq!(with_stream_prefix("<message/>"), "<message/>");
    }
}
