//! A connection's first request must arrive whole within the pre-authentication deadline.
//!
//! `axum::serve` gives hyper no timer, so hyper's header-read timeout never applies: a
//! client that sends `GET / HTTP/1.1\r\n` and then nothing held its connection (and a
//! file descriptor) for ever, and once its first byte had come it no longer counted among
//! its address's unauthenticated connections (`preauth`), so one address could hold
//! hundreds. [`HeaderDeadline`] wraps the connection's stream: until the end of the first
//! request's headers (`\r\n\r\n`) has been read, it keeps the connection's place among its
//! address's (the `Ticket`) and fails reads once the deadline has passed (hyper then drops
//! the connection). After that it only passes bytes through: a WebSocket or a long
//! upload is not limited by it. Written by hand because axum's `serve` offers no such
//! setting and hyper's own needs its connection builder with a timer, which `serve` hides.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use causerie_server::preauth::Ticket;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// See the module docs.
pub struct HeaderDeadline<T> {
    inner: T,
    /// Until the first request's headers are complete: when they must be, and the
    /// connection's place among its address's unauthenticated ones.
    waiting: Option<(Pin<Box<Sleep>>, Option<Ticket>)>,
    /// The last three bytes read, to find `\r\n\r\n` across reads.
    tail: [u8; 3],
}

impl<T> HeaderDeadline<T> {
    pub fn new(inner: T, deadline: Instant, ticket: Option<Ticket>) -> Self {
        HeaderDeadline {
            inner,
            waiting: Some((Box::pin(tokio::time::sleep_until(deadline)), ticket)),
            tail: [0; 3],
        }
    }

    /// Whether `new` (just read) completes the headers, given the bytes before it.
    fn ends_headers(&mut self, new: &[u8]) -> bool {
        let mut window: Vec<u8> = Vec::with_capacity(3 + new.len());
        window.extend_from_slice(&self.tail);
        window.extend_from_slice(new);
        let done = window.windows(4).any(|w| w == b"\r\n\r\n");
        // The window holds at least the three bytes of `tail`.
        self.tail.copy_from_slice(&window[window.len() - 3..]);
        done
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for HeaderDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if this.waiting.is_some() {
                    let new = buf.filled()[before..].to_vec();
                    if this.ends_headers(&new) {
                        this.waiting = None;
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let late = match &mut this.waiting {
                    Some((sleep, _)) => sleep.as_mut().poll(cx).is_ready(),
                    None => false,
                };
                if late {
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the request's headers did not arrive in time",
                    )))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for HeaderDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_request_cut_short_fails_at_the_deadline() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut conn =
            HeaderDeadline::new(server, Instant::now() + Duration::from_millis(200), None);
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let n = conn.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"GET / HTTP/1.1\r\nHost: x\r\n");
        let started = std::time::Instant::now();
        let err = conn.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn once_the_headers_are_in_nothing_times_out() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut conn =
            HeaderDeadline::new(server, Instant::now() + Duration::from_millis(100), None);
        // The end of the headers split across two reads.
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let n = conn.read(&mut buf).await.unwrap();
        assert_eq!(n, 26);
        client.write_all(b"\n").await.unwrap();
        let n = conn.read(&mut buf).await.unwrap();
        assert_eq!(n, 1);
        assert!(
            conn.waiting.is_none(),
            "the headers' end was found across reads"
        );
        // Idle past the deadline (a WebSocket between two messages): still open.
        tokio::time::sleep(Duration::from_millis(250)).await;
        client.write_all(b"more").await.unwrap();
        let n = conn.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"more");
    }
}
