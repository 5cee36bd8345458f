//! Account credentials and the SASL exchange as the c2s negotiation drives it.
//!
//! The mechanisms themselves are pure code in `causerie_proto::scram`; this
//! module binds them to the account store, and slows down addresses that keep
//! failing ([`Throttle`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use causerie_proto::scram::{self, ClientFirst, SaslError, ScramHash, ScramKeys, ScramServer};
use causerie_store::{AccountStore, Credentials, ScramCredential, StoreError};

/// Derives the stored credentials for a new password.
pub fn credentials_for(password: &str, iterations: u32) -> Result<Credentials, SaslError> {
    let to_cred = |k: ScramKeys| ScramCredential {
        salt: k.salt,
        iterations: k.iterations,
        stored_key: k.stored_key,
        server_key: k.server_key,
    };
    Ok(Credentials {
        sha1: to_cred(scram::derive_keys(ScramHash::Sha1, password, iterations)?),
        sha256: to_cred(scram::derive_keys(ScramHash::Sha256, password, iterations)?),
    })
}

fn keys_of(c: &Credentials, hash: ScramHash) -> ScramKeys {
    let c = match hash {
        ScramHash::Sha1 => &c.sha1,
        ScramHash::Sha256 => &c.sha256,
    };
    ScramKeys {
        salt: c.salt.clone(),
        iterations: c.iterations,
        stored_key: c.stored_key.clone(),
        server_key: c.server_key.clone(),
    }
}

/// Normalises a SASL username into an account localpart (nodeprep), or
/// `None` when it cannot be one.
pub fn localpart(username: &str) -> Option<String> {
    jid::NodePart::new(username).ok().map(|n| n.to_string())
}

/// The mechanisms offered, strongest first (PLAIN last: it is dropped on
/// transports that are not confidential).
pub const MECHANISMS: [&str; 3] = ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"];

/// One SASL exchange in progress.
pub enum Exchange {
    /// SCRAM waiting for the client's final message.
    Scram(Box<ScramServer>),
}

/// What the c2s layer does next.
pub enum Step {
    /// Send `<challenge/>` with this payload and wait for `<response/>`.
    Challenge(String, Exchange),
    /// Authenticated as this localpart; send `<success/>` with the optional
    /// additional data.
    Success(String, Option<String>),
    /// Send `<failure/>` with this condition.
    Failure(SaslError),
}

/// Errors from the store are not the client's fault.
#[derive(Debug, thiserror::Error)]
#[error("account store: {0}")]
pub struct AuthStoreError(#[from] StoreError);

/// Starts an exchange for `mechanism` with the initial response.
pub async fn start(
    accounts: &dyn AccountStore,
    mechanism: &str,
    initial: &[u8],
    iterations: u32,
) -> Result<Step, AuthStoreError> {
    let hash = match mechanism {
        "SCRAM-SHA-256" => ScramHash::Sha256,
        "SCRAM-SHA-1" => ScramHash::Sha1,
        "PLAIN" => return plain(accounts, initial).await,
        _ => return Ok(Step::Failure(SaslError::Malformed("invalid-mechanism"))),
    };
    let first: ClientFirst = match scram::parse_client_first(initial) {
        Ok(f) => f,
        Err(e) => return Ok(Step::Failure(e)),
    };
    let keys = match localpart(&first.username) {
        Some(user) => accounts
            .credentials(&user)
            .await?
            .map(|c| keys_of(&c, hash)),
        None => None,
    };
    let (server, msg) = ScramServer::new(hash, first, keys, iterations);
    Ok(Step::Challenge(msg, Exchange::Scram(Box::new(server))))
}

/// Continues an exchange with the client's `<response/>`.
pub fn respond(exchange: Exchange, response: &[u8]) -> Step {
    match exchange {
        Exchange::Scram(server) => match server.finish(response) {
            Ok(final_msg) => match localpart(server.username()) {
                Some(user) => Step::Success(user, Some(final_msg)),
                None => Step::Failure(SaslError::NotAuthorized),
            },
            Err(e) => Step::Failure(e),
        },
    }
}

async fn plain(accounts: &dyn AccountStore, initial: &[u8]) -> Result<Step, AuthStoreError> {
    let creds = match scram::parse_plain(initial) {
        Ok(c) => c,
        Err(e) => return Ok(Step::Failure(e)),
    };
    let Some(user) = localpart(&creds.username) else {
        return Ok(Step::Failure(SaslError::NotAuthorized));
    };
    let Some(stored) = accounts.credentials(&user).await? else {
        return Ok(Step::Failure(SaslError::NotAuthorized));
    };
    let keys = keys_of(&stored, ScramHash::Sha256);
    // PBKDF2 is CPU-bound: keep it off the async worker threads.
    let password = creds.password;
    let ok = tokio::task::spawn_blocking(move || {
        scram::verify_password(ScramHash::Sha256, &keys, &password)
    })
    .await
    .unwrap_or(false);
    Ok(if ok {
        Step::Success(user, None)
    } else {
        Step::Failure(SaslError::NotAuthorized)
    })
}

/// Slows down addresses with recent authentication failures: the n-th failure
/// in a row waits `(n - 1) × base` (capped) before its `<failure/>` is sent.
/// Counts older than ten minutes are forgotten.
///
/// XMPP's SASL and the admin console share it, so that one place alternating
/// between them pays for both, but each door has its own count of the same
/// failures, because they are reset by different successes:
/// - SASL's count ([`Throttle::failure`]) is reset by any correct password at
///   SASL ([`Throttle::success`]), as before: a chat user who mistyped his
///   password once is not slowed down for the rest of the day;
/// - the console's count ([`Throttle::console_failure`]) is reset only by an
///   administrator's login ([`Throttle::admin_success`]): a chat user's own
///   correct password, at SASL or at the console, says nothing about the
///   administrators' passwords this slowdown protects, so guessing them from
///   an address cannot be made cheap again by logging in with one's own account
///   between guesses.
pub struct Throttle {
    base: Duration,
    failures: Mutex<HashMap<IpAddr, Counts>>,
}

/// The failures of one address: SASL's count, the console's, and the last one's time.
#[derive(Debug, Clone, Copy)]
struct Counts {
    sasl: u32,
    console: u32,
    at: Instant,
}

const FORGET_AFTER: Duration = Duration::from_secs(600);
const MAX_DELAY_STEPS: u32 = 10;

impl Throttle {
    pub fn new(base: Duration) -> Self {
        Throttle {
            base,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failure in both counts and returns the counts after it.
    fn record(&self, ip: IpAddr) -> Counts {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, c| now.duration_since(c.at) < FORGET_AFTER);
        }
        let entry = map.entry(ip).or_insert(Counts {
            sasl: 0,
            console: 0,
            at: now,
        });
        if now.duration_since(entry.at) > FORGET_AFTER {
            entry.sasl = 0;
            entry.console = 0;
        }
        entry.sasl = entry.sasl.saturating_add(1);
        entry.console = entry.console.saturating_add(1);
        entry.at = now;
        *entry
    }

    fn delay(&self, n: u32) -> Duration {
        self.base * n.saturating_sub(1).min(MAX_DELAY_STEPS)
    }

    /// Records a failed SASL authentication and returns how long to wait before
    /// answering it.
    pub fn failure(&self, ip: IpAddr) -> Duration {
        self.delay(self.record(ip).sasl)
    }

    /// Records a failed console login and returns how long to wait before
    /// answering it.
    pub fn console_failure(&self, ip: IpAddr) -> Duration {
        self.delay(self.record(ip).console)
    }

    /// Forgets the SASL failures of an address that just authenticated (the
    /// console's count stays: see the type's docs).
    pub fn success(&self, ip: IpAddr) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get_mut(&ip) {
            c.sasl = 0;
            if c.console == 0 {
                map.remove(&ip);
            }
        }
    }

    /// Forgets every failure of an address from which an administrator just
    /// logged in to the console.
    pub fn admin_success(&self, ip: IpAddr) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_grows_per_failure_and_resets() {
        let t = Throttle::new(Duration::from_millis(100));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(t.failure(ip), Duration::ZERO);
        assert_eq!(t.failure(ip), Duration::from_millis(100));
        assert_eq!(t.failure(ip), Duration::from_millis(200));
        assert_eq!(t.failure(other), Duration::ZERO, "per address");
        for _ in 0..20 {
            t.failure(ip);
        }
        assert_eq!(t.failure(ip), Duration::from_millis(1000), "capped");
        t.success(ip);
        assert_eq!(t.failure(ip), Duration::ZERO);
    }

    /// Only an administrator's login resets the console's count; both doors'
    /// failures add to both counts.
    #[test]
    fn the_console_count_is_reset_by_an_administrator_login_only() {
        let t = Throttle::new(Duration::from_millis(100));
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(t.console_failure(ip), Duration::ZERO);
        assert_eq!(t.console_failure(ip), Duration::from_millis(100));
        // A chat user's correct password at SASL resets SASL's count only.
        t.success(ip);
        assert_eq!(t.failure(ip), Duration::ZERO, "SASL's count was reset");
        assert_eq!(
            t.console_failure(ip),
            Duration::from_millis(300),
            "the console's was not, and counts SASL's failures"
        );
        assert_eq!(t.failure(ip), Duration::from_millis(200), "and back");
        t.admin_success(ip);
        assert_eq!(t.console_failure(ip), Duration::ZERO);
        assert_eq!(t.failure(ip), Duration::from_millis(100));
    }

    #[test]
    fn usernames_are_normalised() {
        assert_eq!(localpart("Alice").as_deref(), Some("alice"));
        assert_eq!(localpart("a@b"), None);
        assert_eq!(localpart(""), None);
    }
}
