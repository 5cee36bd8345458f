//! How stream bytes travel: the [`Transport`] trait, and its TCP
//! implementation (plain or TLS). XMPP over WebSocket (RFC 7395) implements
//! the same trait in `causerie-web`, so both feed one c2s pipeline.
//!
//! The c2s code speaks in stream terms (header, features, elements, footer,
//! stream error); each transport frames them: TCP writes the classic
//! `<stream:stream>` document, WebSocket one framed element per message.

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::Poll;

use causerie_proto::errors::stream_error_xml;
use causerie_proto::ns;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// The most bytes one read takes from the socket.
const READ_CHUNK: usize = 4096;

/// A client connection's transport.
pub trait Transport: Send {
    /// The next bytes for the stream parser; an empty slice means the peer closed.
    /// Must be cancel-safe (it runs inside `select!`).
    fn read(&mut self) -> impl Future<Output = io::Result<&[u8]>> + Send;
    /// Opens our side of the stream; `attrs` are the header's attributes
    /// (` id='…' from='…' version='1.0' xml:lang='en'`).
    fn write_header(&mut self, attrs: &str) -> impl Future<Output = io::Result<()>> + Send;
    /// `<stream:features>` with `inner` as content.
    fn write_features(&mut self, inner: &str) -> impl Future<Output = io::Result<()>> + Send;
    /// Our stream header then its features: what a (re)opened client stream gets. One
    /// write where the transport can: the client waits for the features anyway, and on
    /// TCP each write is a system call, a trip through the loopback or network stack and,
    /// under TLS, a record (a login opens three streams; BENCHMARKS.md, "Login: fewer
    /// writes, fewer lookups").
    fn write_opening(
        &mut self,
        attrs: &str,
        features: &str,
    ) -> impl Future<Output = io::Result<()>> + Send {
        async move {
            self.write_header(attrs).await?;
            self.write_features(features).await
        }
    }
    /// Complete top-level elements, each serialised on its own.
    fn write_elements(&mut self, elements: &[&str]) -> impl Future<Output = io::Result<()>> + Send;
    /// A stream error (RFC 6120 §4.9), then the end of the stream.
    fn write_error(
        &mut self,
        condition: &str,
        text: Option<&str>,
    ) -> impl Future<Output = io::Result<()>> + Send;
    /// The end of the stream, then the connection is shut down.
    fn write_footer(&mut self) -> impl Future<Output = io::Result<()>> + Send;
    /// Whether the transport can do STARTTLS (only plain TCP).
    fn can_starttls(&self) -> bool;
    /// This connection's `tls-exporter` channel-binding data ([`Channel::tls_exporter`]),
    /// when it ends in this server's TLS.
    fn tls_exporter(&self) -> Option<[u8; 32]> {
        None
    }
    /// The transport's name for the administrator: `tcp` or `websocket`.
    fn kind(&self) -> &'static str {
        "tcp"
    }
}

/// What a byte stream tells of the TLS channel it is, for SCRAM's `-PLUS` mechanisms.
pub trait Channel {
    /// The channel's `tls-exporter` data (RFC 9266): 32 bytes of the TLS exporter with
    /// the label `EXPORTER-Channel-Binding` and an empty context. `None` on a stream that
    /// is not TLS.
    fn tls_exporter(&self) -> Option<[u8; 32]> {
        None
    }
}

impl Channel for tokio::net::TcpStream {}

/// On TLS 1.3, and on TLS 1.2 because this server's TLS requires the extended master
/// secret there (`tls::load`; RFC 9266 §4.2: without it a TLS 1.2 exporter is not unique
/// to the connection).
impl<IO> Channel for tokio_rustls::server::TlsStream<IO> {
    fn tls_exporter(&self) -> Option<[u8; 32]> {
        let (_, tls) = self.get_ref();
        tls.export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", Some(&[]))
            .ok()
    }
}

/// XMPP over a byte stream (TCP, or TLS over TCP).
pub struct TcpTransport<S> {
    io: S,
    /// The bytes of the last read, exactly sized; empty (no allocation) while
    /// the connection waits. An idle session spends most of its life waiting
    /// in `read`, so a fixed read buffer per connection would be 4 KiB of
    /// every idle session's memory (BENCHMARKS.md, M3): the read lands in a
    /// buffer on the stack of the poll instead, and only what arrived is kept.
    buf: Vec<u8>,
    tls: bool,
    /// The stream's content namespace: `jabber:client`, or `jabber:component:accept` for
    /// an external component's stream (XEP-0114, `component`).
    content_ns: &'static str,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> TcpTransport<S> {
    /// Wraps a connected stream; `tls` says whether it is already encrypted.
    pub fn new(io: S, tls: bool) -> Self {
        TcpTransport {
            io,
            buf: Vec::new(),
            tls,
            content_ns: ns::CLIENT,
        }
    }

    /// Wraps the plain stream of an external component (XEP-0114): its header declares
    /// `jabber:component:accept`, and it never upgrades to TLS.
    pub fn component(io: S) -> Self {
        TcpTransport {
            io,
            buf: Vec::new(),
            tls: false,
            content_ns: ns::COMPONENT,
        }
    }

    /// The stream back (for the TLS handshake after `<proceed/>`).
    pub fn into_inner(self) -> S {
        self.io
    }

    fn header(&self, attrs: &str) -> String {
        format!(
            "<?xml version='1.0'?><stream:stream xmlns='{}' xmlns:stream='{}'{attrs}>",
            self.content_ns,
            ns::STREAM
        )
    }

    async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.io.write_all(data).await?;
        self.io.flush().await
    }
}

/// `<stream:features>` around `inner`.
fn features(inner: &str) -> String {
    format!("<stream:features>{inner}</stream:features>")
}

impl<S: AsyncRead + AsyncWrite + Channel + Unpin + Send> Transport for TcpTransport<S> {
    async fn read(&mut self) -> io::Result<&[u8]> {
        // Cancel-safe: a pending poll takes nothing from the socket, and the
        // bytes of a ready one are stored before the future completes.
        self.buf = Vec::new();
        let (io, buf) = (&mut self.io, &mut self.buf);
        std::future::poll_fn(|cx| {
            let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut rb = ReadBuf::uninit(&mut chunk);
            match Pin::new(&mut *io).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    buf.extend_from_slice(rb.filled());
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await?;
        Ok(&self.buf)
    }

    async fn write_header(&mut self, attrs: &str) -> io::Result<()> {
        let h = self.header(attrs);
        self.write_all(h.as_bytes()).await
    }

    async fn write_features(&mut self, inner: &str) -> io::Result<()> {
        self.write_all(features(inner).as_bytes()).await
    }

    async fn write_opening(&mut self, attrs: &str, inner: &str) -> io::Result<()> {
        let all = self.header(attrs) + &features(inner);
        self.write_all(all.as_bytes()).await
    }

    async fn write_elements(&mut self, elements: &[&str]) -> io::Result<()> {
        if let [one] = elements {
            return self.write_all(one.as_bytes()).await;
        }
        let all = elements.concat();
        self.write_all(all.as_bytes()).await
    }

    async fn write_error(&mut self, condition: &str, text: Option<&str>) -> io::Result<()> {
        self.write_all(stream_error_xml(condition, text).as_bytes())
            .await?;
        self.io.shutdown().await
    }

    async fn write_footer(&mut self) -> io::Result<()> {
        self.write_all(b"</stream:stream>").await?;
        self.io.shutdown().await
    }

    fn can_starttls(&self) -> bool {
        !self.tls && self.content_ns == ns::CLIENT
    }

    fn tls_exporter(&self) -> Option<[u8; 32]> {
        self.io.tls_exporter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that keeps each write apart, as the peer's network stack sees them.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl AsyncRead for Writes {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl Channel for Writes {}

    impl AsyncWrite for Writes {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.0.push(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(
            self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A (re)opened stream's header and features leave in one write: one segment and,
    /// under TLS, one record for the client to read, the same bytes as two writes.
    #[tokio::test]
    async fn the_header_and_the_features_go_in_one_write() {
        let mut t = TcpTransport::new(Writes::default(), false);
        t.write_opening(
            " id='1' version='1.0'",
            "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>",
        )
        .await
        .unwrap();
        let writes = &t.io.0;
        assert_eq!(writes.len(), 1, "{writes:?}");

        let mut apart = TcpTransport::new(Writes::default(), false);
        apart.write_header(" id='1' version='1.0'").await.unwrap();
        apart
            .write_features("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>")
            .await
            .unwrap();
        assert_eq!(writes[0], apart.io.0.concat());
        assert!(String::from_utf8_lossy(&writes[0]).ends_with(
            "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
        ));
    }
}
