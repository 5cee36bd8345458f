//! Connections before authentication: what one address may hold, and what the
//! process keeps for the connections that progress.
//!
//! A connection that has not authenticated yet costs a file descriptor and a task
//! and has proved nothing. Every door (c2s STARTTLS and direct TLS, the WebSocket
//! upgrade, the component port; the HTTP listener until a connection's first bytes and
//! the HTTPS listener until its TLS handshake is done, with [`PreAuth::admit_http`])
//! asks before serving one, and holds the [`Ticket`] it gets until the peer has
//! authenticated (or the connection ends):
//!
//! - at most `limits.unauthenticated_per_address` tickets per source address (IPv4
//!   address, or IPv6 /64: one household or one school behind its public address
//!   shares one count, so the default is generous);
//! - no new ticket while the process's free file descriptors (`RLIMIT_NOFILE` minus
//!   the open ones, from `/proc/self/fd`) are fewer than `limits.fd_reserve`: what
//!   is left goes to the logins under way, the authenticated sessions and the admin
//!   HTTP (the HTTP and HTTPS listeners are not refused for it). Counting `/proc/self/fd` costs a directory read, so the count is taken at
//!   most every [`RECOUNT`] and, in between, every ticket handed out counts as one
//!   more descriptor (the estimate only errs on the careful side);
//! - refusals are logged once per address and interval
//!   (`limits.refusal_log_interval_secs`): the first one at once, the rest as one
//!   summary line per address at the end of the interval ([`PreAuth::flush_log`],
//!   called by the listeners' task). Failed `accept` calls (EMFILE) are summarised
//!   the same way, see [`PreAuth::accept_failed`].
//!
//! The shorter deadline before authentication (`limits.unauthenticated_timeout_secs`)
//! is applied by the doors themselves (`c2s`, `component`, the HTTPS listener).

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::warn;

use crate::config::Limits;

/// How often the open descriptors are counted again, at most.
const RECOUNT: Duration = Duration::from_millis(500);

/// Where connections come from, for the per-address count: an IPv4 address, or the
/// /64 prefix of an IPv6 one (one subscriber's allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source(IpAddr);

impl Source {
    pub fn of(ip: IpAddr) -> Source {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Source(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                Source(IpAddr::V6(Ipv6Addr::from(bits)))
            }
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// Why a connection was not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The address already holds its share of unauthenticated connections.
    PerAddress,
    /// Free file descriptors are below the reserve.
    Descriptors,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::PerAddress => "too many unauthenticated connections from this address",
            Refusal::Descriptors => "file descriptors below the reserve",
        })
    }
}

/// The unauthenticated connections and the refusals' log.
pub struct PreAuth {
    per_address: usize,
    reserve: u64,
    timeout: Duration,
    counts: Mutex<HashMap<Source, u32>>,
    fds: Mutex<Gauge>,
    log: Mutex<RefusalLog>,
}

/// The open descriptors, as last counted, plus the tickets handed out since.
struct Gauge {
    limit: Option<u64>,
    counted: Option<Instant>,
    open: u64,
}

#[derive(Default)]
struct RefusalLog {
    /// Per address: the refusals since the line logged in this interval.
    refused: HashMap<Source, (Refusal, u64)>,
    /// Failed accepts not logged yet, and the last error.
    accept_failures: u64,
    accept_error: Option<String>,
    accept_logged: bool,
}

/// An admitted unauthenticated connection; dropping it (once authenticated, or when
/// the connection ends) gives its place back.
pub struct Ticket {
    owner: Arc<PreAuth>,
    source: Source,
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ticket({})", self.source)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self.owner.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.source);
            }
        }
    }
}

impl PreAuth {
    pub fn new(limits: &Limits) -> PreAuth {
        let limit = nofile_limit();
        // A small limit (1024 is a common default) keeps at most a quarter in reserve,
        // so that a reserve meant for 20,000 descriptors does not refuse everyone.
        let reserve = match limit {
            Some(l) => limits.fd_reserve.min(l / 4),
            None => 0,
        };
        PreAuth {
            per_address: limits.unauthenticated_per_address,
            reserve,
            timeout: Duration::from_secs(
                limits
                    .unauthenticated_timeout_secs
                    .min(limits.handshake_timeout_secs),
            ),
            counts: Mutex::new(HashMap::new()),
            fds: Mutex::new(Gauge {
                limit,
                counted: None,
                open: 0,
            }),
            log: Mutex::new(RefusalLog::default()),
        }
    }

    /// How long a connection has to authenticate (TLS and SASL, or the component's
    /// handshake): at most the handshake deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The descriptors kept for connections that progress (0 where the process's
    /// descriptors cannot be counted).
    pub fn reserve(&self) -> u64 {
        self.reserve
    }

    /// Admits one more unauthenticated connection from `ip`, or says why not (and
    /// logs the refusal, once per address and interval).
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refusal> {
        self.admit_with(ip, true)
    }

    /// [`admit`](Self::admit) for the HTTP and HTTPS listeners: the address's cap only,
    /// not the descriptor reserve, which exists so that the admin console (served there)
    /// keeps working.
    pub fn admit_http(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refusal> {
        self.admit_with(ip, false)
    }

    fn admit_with(self: &Arc<Self>, ip: IpAddr, reserve: bool) -> Result<Ticket, Refusal> {
        let source = Source::of(ip);
        let outcome = self.try_admit(source, reserve);
        if let Err(why) = outcome {
            self.refused(source, why);
        }
        outcome.map(|()| Ticket {
            owner: self.clone(),
            source,
        })
    }

    fn try_admit(&self, source: Source, reserve: bool) -> Result<(), Refusal> {
        // The address's count first: a flood from one address, refused here, must not
        // move the descriptors' estimate (nor cost a recount).
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts
            .get(&source)
            .is_some_and(|n| *n as usize >= self.per_address)
        {
            return Err(Refusal::PerAddress);
        }
        if reserve && self.reserve > 0 && !self.take_descriptor() {
            return Err(Refusal::Descriptors);
        }
        *counts.entry(source).or_insert(0) += 1;
        Ok(())
    }

    /// Unauthenticated connections held now from `ip`'s source.
    pub fn held(&self, ip: IpAddr) -> u32 {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.get(&Source::of(ip)).copied().unwrap_or(0)
    }

    /// Whether at least the reserve is free (estimated) besides one more connection's
    /// descriptor, which is then counted; true where descriptors cannot be counted.
    fn take_descriptor(&self) -> bool {
        let mut g = self.fds.lock().unwrap_or_else(|e| e.into_inner());
        let Some(limit) = g.limit else { return true };
        let now = Instant::now();
        if g.counted.is_none_or(|at| now.duration_since(at) >= RECOUNT) {
            // The count includes this connection's descriptor, already accepted.
            let Some(open) = open_descriptors() else {
                return true;
            };
            g.open = open;
            g.counted = Some(now);
        } else {
            // This connection's descriptor, not counted yet.
            g.open += 1;
        }
        if limit.saturating_sub(g.open) < self.reserve {
            // Refused: its descriptor is closed at once.
            g.open = g.open.saturating_sub(1);
            return false;
        }
        true
    }

    fn refused(&self, source: Source, why: Refusal) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        match log.refused.get_mut(&source) {
            Some((_, n)) => *n += 1,
            None => {
                warn!(
                    source = %source,
                    reason = %why,
                    "refusing unauthenticated connections from {source}: {why} (further refusals from this address are summed up once per interval)"
                );
                log.refused.insert(source, (why, 0));
            }
        }
    }

    /// A failed `accept` (out of descriptors, usually): logged at once the first time,
    /// then summed up by [`flush_log`](Self::flush_log).
    pub fn accept_failed(&self, listener: &str, error: &std::io::Error) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if log.accept_logged {
            log.accept_failures += 1;
            log.accept_error = Some(format!("{listener}: {error}"));
        } else {
            warn!(listener, error = %error, "accept failed: {error} (backing off; repeats are summed up once per interval)");
            log.accept_logged = true;
        }
    }

    /// Ends an interval of the refusals' log: one line per address refused again
    /// since its first line, and one for the failed accepts. An address not refused
    /// during the interval is forgotten (its next refusal is logged at once).
    pub fn flush_log(&self, interval: Duration) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let secs = interval.as_secs();
        log.refused.retain(|source, (why, n)| {
            if *n == 0 {
                return false;
            }
            warn!(
                source = %source,
                refused = *n,
                "refused {n} more unauthenticated connections from {source} in the last {secs} s: {why}"
            );
            *n = 0;
            true
        });
        if log.accept_failures > 0 {
            let n = log.accept_failures;
            let last = log.accept_error.take().unwrap_or_default();
            warn!(
                failures = n,
                "accept failed {n} more times in the last {secs} s (last: {last})"
            );
            log.accept_failures = 0;
        } else {
            log.accept_logged = false;
        }
    }
}

/// The soft `RLIMIT_NOFILE` of this process, from `/proc/self/limits` (Linux).
fn nofile_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    soft.parse().ok()
}

/// The descriptors this process holds, from `/proc/self/fd` (Linux).
fn open_descriptors() -> Option<u64> {
    let dir = std::fs::read_dir("/proc/self/fd").ok()?;
    Some(dir.count() as u64)
}

/// Doubles the pause after each failed `accept`, from 5 ms to one second, so that a
/// process out of descriptors neither spins nor stays deaf once some are back.
#[derive(Debug, Default)]
pub struct Backoff(Option<Duration>);

impl Backoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);

    /// The pause after one more failure.
    pub fn pause(&mut self) -> Duration {
        let d = match self.0 {
            None => Self::FIRST,
            Some(d) => (d * 2).min(Self::MAX),
        };
        self.0 = Some(d);
        d
    }

    /// An accept succeeded.
    pub fn reset(&mut self) {
        self.0 = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_address: usize) -> Limits {
        Limits {
            unauthenticated_per_address: per_address,
            ..Limits::default()
        }
    }

    #[test]
    fn ipv6_counts_by_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Source::of(a), Source::of(b));
        assert_ne!(Source::of(a), Source::of(c));
        assert_eq!(Source::of(a).to_string(), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(Source::of(mapped).to_string(), "192.0.2.7");
    }

    #[test]
    fn cap_per_address_and_release() {
        let p = Arc::new(PreAuth::new(&limits(2)));
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let two: IpAddr = "192.0.2.2".parse().unwrap();
        let t1 = p.admit(one).unwrap();
        let _t2 = p.admit(one).unwrap();
        assert_eq!(p.admit(one).unwrap_err(), Refusal::PerAddress);
        // another address is not affected
        let _t3 = p.admit(two).unwrap();
        drop(t1);
        assert_eq!(p.held(one), 1);
        let _t4 = p.admit(one).unwrap();
        assert_eq!(p.held(one), 2);
    }

    #[test]
    fn reserve_is_at_most_a_quarter_of_the_limit() {
        let p = PreAuth::new(&Limits {
            fd_reserve: u64::MAX,
            ..Limits::default()
        });
        if let Some(limit) = nofile_limit() {
            assert_eq!(p.reserve(), limit / 4);
        }
    }

    #[test]
    fn deadline_is_at_most_the_handshake() {
        let p = PreAuth::new(&Limits {
            unauthenticated_timeout_secs: 20,
            handshake_timeout_secs: 2,
            ..Limits::default()
        });
        assert_eq!(p.timeout(), Duration::from_secs(2));
    }

    #[test]
    fn backoff_doubles_to_a_second() {
        let mut b = Backoff::default();
        assert_eq!(b.pause(), Duration::from_millis(5));
        assert_eq!(b.pause(), Duration::from_millis(10));
        for _ in 0..20 {
            b.pause();
        }
        assert_eq!(b.pause(), Duration::from_secs(1));
        b.reset();
        assert_eq!(b.pause(), Duration::from_millis(5));
    }
}
