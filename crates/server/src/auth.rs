//! Account credentials and the SASL exchange as the c2s negotiation drives it.
//!
//! The mechanisms themselves are pure code in `causerie_proto::scram`; this
//! module binds them to the account store, and slows down addresses that keep
//! failing ([`Throttle`]).
//!
//! It owns the one password check of the server, [`verify_password`], which
//! SASL PLAIN and the admin console's login call: it does the same work
//! whether the account exists or not (the key derivation runs on fake keys of
//! the configured iteration count when there are no stored ones), so that the
//! time of an answer does not tell which logins exist. SCRAM never sees the
//! password; it reads the same stored keys ([`stored_keys`]) and, for an
//! unknown account, runs its exchange to the end on fake keys of the same
//! iteration count.
//!
//! A SASL login (SCRAM and PLAIN, not the console's) also accepts the account's app
//! passwords (`crate::app_passwords`): they share the password's salt and iteration
//! count, so PLAIN derives once and compares with each, and SCRAM checks the proof
//! against each StoredKey ([`login_keys`]). A success says which app password matched,
//! for the caller's policy check and session tag.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use causerie_proto::scram::{
    self, ChannelBinding, ClientFirst, SaslError, ScramHash, ScramKeys, ScramServer, TLS_EXPORTER,
    TLS_SERVER_END_POINT,
};
use causerie_store::{AccountStore, AppPasswordStore, Credentials, ScramCredential, StoreError};

/// What a SASL login reads: the account's credentials and its app passwords' keys.
pub trait LoginStore: AccountStore + AppPasswordStore {}
impl<T: AccountStore + AppPasswordStore + ?Sized> LoginStore for T {}

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

/// The stored SCRAM keys of account `user` for `hash`; `None` for an unknown
/// account or one without credentials (a directory user imported without a
/// password), which every caller treats like a wrong password.
pub async fn stored_keys(
    accounts: &dyn AccountStore,
    user: &str,
    hash: ScramHash,
) -> Result<Option<ScramKeys>, AuthStoreError> {
    Ok(accounts.credentials(user).await?.map(|c| keys_of(&c, hash)))
}

/// The keys a SASL login of `user` with `hash` may match: the password's first (None),
/// then each app password's (its id) of the same salt and iteration count; without a
/// password, the app passwords' that share the first one's. Empty for an unknown account
/// or one without any credential.
pub async fn login_keys(
    store: &dyn LoginStore,
    user: &str,
    hash: ScramHash,
) -> Result<Vec<(Option<i64>, ScramKeys)>, AuthStoreError> {
    let read = store.login_credentials(user).await?;
    let mut keys: Vec<(Option<i64>, ScramKeys)> = Vec::with_capacity(1 + read.app_passwords.len());
    if let Some(c) = &read.password {
        keys.push((None, keys_of(c, hash)));
    }
    for (id, c) in &read.app_passwords {
        keys.push((Some(*id), keys_of(c, hash)));
    }
    if let Some((_, first)) = keys.first() {
        let (salt, iterations) = (first.salt.clone(), first.iterations);
        keys.retain(|(_, k)| k.salt == salt && k.iterations == iterations);
    }
    Ok(keys)
}

/// What [`verify_password`] found. An unknown account, an account without
/// credentials and a wrong password are one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The account exists and this is its password.
    Valid,
    Invalid,
}

/// Whether `password` is the password of account `user` (a localpart, already
/// normalised), checked against its stored SCRAM-SHA-256 keys: the
/// SaltedPassword is derived with the stored salt and iteration count, and
/// both StoredKey and ServerKey are compared in constant time. For an account
/// without keys the same derivation runs on fake keys of `iterations` (the
/// count new credentials get), so that it takes as long as a wrong password.
/// The derivation runs on a blocking thread (PBKDF2 is CPU-bound).
pub async fn verify_password(
    accounts: &dyn AccountStore,
    user: &str,
    password: &str,
    iterations: u32,
) -> Result<Verified, AuthStoreError> {
    let keys = stored_keys(accounts, user, ScramHash::Sha256).await?;
    let (user, password) = (user.to_owned(), password.to_owned());
    let valid = tokio::task::spawn_blocking(move || {
        check_password(keys.as_ref(), &user, &password, iterations)
    })
    .await
    .unwrap_or(false);
    Ok(if valid {
        Verified::Valid
    } else {
        Verified::Invalid
    })
}

/// Whether `password` is account `user`'s password or one of its app passwords (PLAIN):
/// Some(None) for the password, Some(Some(id)) for app password `id`, None otherwise.
/// One derivation (they share a salt), on fake keys for an account without any.
pub async fn verify_login(
    store: &dyn LoginStore,
    user: &str,
    password: &str,
    iterations: u32,
) -> Result<Option<Option<i64>>, AuthStoreError> {
    let keys = login_keys(store, user, ScramHash::Sha256).await?;
    let (user, password) = (user.to_owned(), password.to_owned());
    Ok(tokio::task::spawn_blocking(move || {
        let stored: Vec<ScramKeys> = keys.iter().map(|(_, k)| k.clone()).collect();
        check_login(&stored, &user, &password, iterations).map(|i| keys[i].0)
    })
    .await
    .unwrap_or(None))
}

/// The index of the candidate `password` derives to (all of one salt and count), the
/// same derivation without any (fake keys).
fn check_login(
    candidates: &[ScramKeys],
    user: &str,
    password: &str,
    iterations: u32,
) -> Option<usize> {
    use subtle::ConstantTimeEq;
    let fake;
    let first = match candidates.first() {
        Some(k) => k,
        None => {
            fake = scram::fake_keys(ScramHash::Sha256, user, iterations);
            &fake
        }
    };
    #[cfg(test)]
    tests::DERIVED.with(|d| d.set(Some(first.iterations)));
    let derived =
        scram::derive_keys_with_salt(ScramHash::Sha256, password, &first.salt, first.iterations)
            .ok()?;
    let mut found = None;
    for (i, k) in candidates.iter().enumerate() {
        let ok = bool::from(
            derived.stored_key.ct_eq(&k.stored_key) & derived.server_key.ct_eq(&k.server_key),
        );
        if ok && found.is_none() {
            found = Some(i);
        }
    }
    found
}

/// The check itself, the same work with or without `stored` keys.
fn check_password(stored: Option<&ScramKeys>, user: &str, password: &str, iterations: u32) -> bool {
    let fake;
    let (keys, known) = match stored {
        Some(k) => (k, true),
        None => {
            fake = scram::fake_keys(ScramHash::Sha256, user, iterations);
            (&fake, false)
        }
    };
    #[cfg(test)]
    tests::DERIVED.with(|d| d.set(Some(keys.iterations)));
    // Both sides of `&&` run: the derivation first, whatever `known` is.
    scram::verify_password(ScramHash::Sha256, keys, password) && known
}

/// Normalises a SASL username into an account localpart (nodeprep), or
/// `None` when it cannot be one.
pub fn localpart(username: &str) -> Option<String> {
    jid::NodePart::new(username).ok().map(|n| n.to_string())
}

/// The account a SASL initial response names (normalised localpart), for the throttle:
/// PLAIN's authentication identity, SCRAM's `n=`, an HT token login's username; None for
/// a mechanism that names none (a portal token) or a response that cannot be read.
pub fn claimed_user(mechanism: &str, initial: &[u8]) -> Option<String> {
    let name = match mechanism {
        "PLAIN" => causerie_proto::scram::parse_plain(initial).ok()?.username,
        m if m.starts_with("SCRAM-") => {
            causerie_proto::scram::parse_client_first(initial)
                .ok()?
                .username
        }
        m if m.starts_with("HT-") => {
            let end = initial.iter().position(|b| *b == 0)?;
            String::from_utf8(initial[..end].to_vec()).ok()?
        }
        _ => return None,
    };
    localpart(&name)
}

/// The mechanisms offered on a stream, strongest first: SCRAM's `-PLUS` variants where
/// its channel can be bound (`bound`: [`channel_bindings`] offers some), PLAIN last and
/// only on a confidential transport (`confidential`; a bound one is).
pub fn mechanisms(bound: bool, confidential: bool) -> &'static [&'static str] {
    const ALL: [&str; 5] = [
        "SCRAM-SHA-256-PLUS",
        "SCRAM-SHA-1-PLUS",
        "SCRAM-SHA-256",
        "SCRAM-SHA-1",
        "PLAIN",
    ];
    let first = if bound { 0 } else { 2 };
    let end = if bound || confidential { 5 } else { 4 };
    &ALL[first..end]
}

/// A connection's channel bindings as offered, strongest first: none without TLS
/// (`exporter`: its `tls-exporter` data, on every TLS connection, TLS 1.2 with the
/// extended master secret only, `tls::load`); with it, the exporter's, then the
/// certificate's `tls-server-end-point` data (`end_point`, `tls::server_end_point`: it
/// binds the certificate only; XEP-0440's security considerations ask servers to offer
/// it, for clients that know no other) when its signature names a hash.
pub fn channel_bindings<'a>(
    exporter: Option<&'a [u8; 32]>,
    end_point: Option<&'a [u8]>,
) -> Vec<ChannelBinding<'a>> {
    let Some(exporter) = exporter else {
        return Vec::new();
    };
    let mut all = vec![ChannelBinding {
        kind: TLS_EXPORTER,
        data: exporter,
    }];
    if let Some(data) = end_point {
        all.push(ChannelBinding {
            kind: TLS_SERVER_END_POINT,
            data,
        });
    }
    all
}

/// XEP-0440's stream feature for `bindings` (empty when there are none).
pub fn bindings_feature(bindings: &[ChannelBinding<'_>]) -> String {
    if bindings.is_empty() {
        return String::new();
    }
    let mut f = format!(
        "<sasl-channel-binding xmlns='{}'>",
        causerie_proto::ns::SASL_CB
    );
    for b in bindings {
        f.push_str(&format!("<channel-binding type='{}'/>", b.kind));
    }
    f.push_str("</sasl-channel-binding>");
    f
}

/// One SASL exchange in progress.
pub enum Exchange {
    /// SCRAM waiting for the client's final message, with what each of its candidate
    /// keys is (None: the password; an app password's id).
    Scram(Box<ScramServer>, Vec<Option<i64>>),
}

/// What the c2s layer does next.
pub enum Step {
    /// Send `<challenge/>` with this payload and wait for `<response/>`.
    Challenge(String, Exchange),
    /// Authenticated as this localpart; send `<success/>` with the optional
    /// additional data. The third field: the app password it logged in with.
    Success(String, Option<String>, Option<i64>),
    /// Send `<failure/>` with this condition.
    Failure(SaslError),
}

/// Errors from the store are not the client's fault.
#[derive(Debug, thiserror::Error)]
#[error("account store: {0}")]
pub struct AuthStoreError(#[from] StoreError);

/// Whether a client that authenticates as `user` (a normalised localpart) may name
/// `authzid` as the identity it acts for: only itself, as its localpart or its bare JID
/// on `domain` (RFC 6120 §6.3.8: a client that does not act for another entity sends
/// none; this server lets no one act for another).
pub fn acts_as_itself(authzid: Option<&str>, user: &str, domain: &str) -> bool {
    let Some(authzid) = authzid else {
        return true;
    };
    if !authzid.contains('@') {
        return localpart(authzid).is_some_and(|a| a == user);
    }
    match jid::BareJid::new(authzid) {
        Ok(bare) => {
            bare.node().is_some_and(|n| n.as_str() == user)
                && jid::BareJid::new(domain).is_ok_and(|d| d.domain() == bare.domain())
        }
        Err(_) => false,
    }
}

/// What a stream offered before the client chose a mechanism.
pub struct Offer<'a> {
    /// The SASL mechanisms of the profile the client uses (RFC 6120's or SASL2's list).
    pub mechanisms: &'a [&'a str],
    /// The channel bindings offered on this connection ([`channel_bindings`]).
    pub bindings: &'a [ChannelBinding<'a>],
    /// Whether a client of this door could be binding elsewhere on this server (a `y`
    /// flag is then a downgrade; `scram::ClientFirst::check_binding`).
    pub binds: bool,
}

impl Offer<'_> {
    /// XEP-0474's hash of this offer for SCRAM with `hash`: the mechanisms, and the
    /// channel-binding types when XEP-0440 listed some.
    fn downgrade_hash(&self, hash: ScramHash) -> String {
        let types: Vec<&str> = self.bindings.iter().map(|b| b.kind).collect();
        scram::downgrade_hash(
            hash,
            self.mechanisms,
            (!types.is_empty()).then_some(&types[..]),
        )
    }
}

/// Starts an exchange for `mechanism` with the initial response, on the server of
/// `domain`, after `offer`. An authzid other than the user himself is refused
/// (`invalid-authzid`), before any credential is read. SCRAM's first answer carries
/// XEP-0474's downgrade protection hash of the offer.
pub async fn start(
    accounts: &dyn LoginStore,
    domain: &str,
    mechanism: &str,
    initial: &[u8],
    iterations: u32,
    offer: &Offer<'_>,
) -> Result<Step, AuthStoreError> {
    let (hash, plus) = match mechanism {
        "SCRAM-SHA-256" => (ScramHash::Sha256, false),
        "SCRAM-SHA-1" => (ScramHash::Sha1, false),
        "SCRAM-SHA-256-PLUS" => (ScramHash::Sha256, true),
        "SCRAM-SHA-1-PLUS" => (ScramHash::Sha1, true),
        "PLAIN" => return plain(accounts, domain, initial, iterations).await,
        _ => return Ok(Step::Failure(SaslError::Malformed("invalid-mechanism"))),
    };
    let mut first: ClientFirst = match scram::parse_client_first(initial) {
        Ok(f) => f,
        Err(e) => return Ok(Step::Failure(e)),
    };
    if let Err(e) = first.check_binding(plus, offer.bindings, offer.binds) {
        return Ok(Step::Failure(e));
    }
    let user = localpart(&first.username);
    if first.authzid.is_some()
        && !user
            .as_deref()
            .is_some_and(|u| acts_as_itself(first.authzid.as_deref(), u, domain))
    {
        return Ok(Step::Failure(SaslError::InvalidAuthzid));
    }
    let keys = match user {
        Some(user) => login_keys(accounts, &user, hash).await?,
        None => Vec::new(),
    };
    let ids = keys.iter().map(|(id, _)| *id).collect();
    let keys = keys.into_iter().map(|(_, k)| k).collect();
    let ssdp = offer.downgrade_hash(hash);
    let (server, msg) = ScramServer::with_candidates(hash, first, keys, iterations, Some(&ssdp));
    Ok(Step::Challenge(msg, Exchange::Scram(Box::new(server), ids)))
}

/// Continues an exchange with the client's `<response/>`.
pub fn respond(exchange: Exchange, response: &[u8]) -> Step {
    match exchange {
        Exchange::Scram(server, ids) => match server.finish_which(response) {
            Ok((final_msg, i)) => match localpart(server.username()) {
                Some(user) => Step::Success(user, Some(final_msg), ids.get(i).copied().flatten()),
                None => Step::Failure(SaslError::NotAuthorized),
            },
            Err(e) => Step::Failure(e),
        },
    }
}

async fn plain(
    accounts: &dyn LoginStore,
    domain: &str,
    initial: &[u8],
    iterations: u32,
) -> Result<Step, AuthStoreError> {
    let creds = match scram::parse_plain(initial) {
        Ok(c) => c,
        Err(e) => return Ok(Step::Failure(e)),
    };
    // A name that cannot be a localpart is no account's: refusing it at once
    // tells nothing about which accounts exist.
    let Some(user) = localpart(&creds.username) else {
        return Ok(Step::Failure(SaslError::NotAuthorized));
    };
    if !acts_as_itself(creds.authzid.as_deref(), &user, domain) {
        return Ok(Step::Failure(SaslError::InvalidAuthzid));
    }
    Ok(
        match verify_login(accounts, &user, &creds.password, iterations).await? {
            Some(app) => Step::Success(user, None, app),
            None => Step::Failure(SaslError::NotAuthorized),
        },
    )
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
///
/// SASL also counts the failures against each account from an address, reset only by
/// that account's own login: a pupil behind the school's one address cannot guess a
/// classmate's password at the cheapest pace by logging in to his own account
/// between guesses (which resets the address's count). Each failure against an
/// account makes it wait, from that address, as long as that failure's answer does
/// ([`Throttle::cooling`]): guesses sent on many connections at once are refused
/// without being checked, so they go no faster than one after the other. A client
/// that tries again after its `<failure/>` never meets that wait.
pub struct Throttle {
    base: Duration,
    failures: Mutex<HashMap<IpAddr, Counts>>,
    accounts: Mutex<HashMap<(IpAddr, String), Against>>,
    /// One password check at a time per login at the console's doors
    /// ([`Throttle::check_alone`]).
    checks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The failures of one address: SASL's count, the console's, and the last one's time.
#[derive(Debug, Clone, Copy)]
struct Counts {
    sasl: u32,
    console: u32,
    at: Instant,
}

/// The failures against one account from one address, and until when it waits.
#[derive(Debug, Clone, Copy)]
struct Against {
    n: u32,
    at: Instant,
    until: Instant,
}

const FORGET_AFTER: Duration = Duration::from_secs(600);
const MAX_DELAY_STEPS: u32 = 10;

impl Throttle {
    pub fn new(base: Duration) -> Self {
        Throttle {
            base,
            failures: Mutex::new(HashMap::new()),
            accounts: Mutex::new(HashMap::new()),
            checks: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until no other password check for `login` runs at the console's doors (its
    /// login, the data export, the app passwords' own door), and holds the place until
    /// the guard is dropped. Their lockout reads the failures recorded before a check
    /// and records one after it: checks run at once for one login were all made before
    /// any was recorded (a review checked 40 guesses in one burst). One after the other,
    /// the lockout counts each.
    pub async fn check_alone(&self, login: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.checks.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() > 10_000 {
                map.retain(|_, l| Arc::strong_count(l) > 1);
            }
            map.entry(login.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// How long SASL logins to `user` from `ip` still wait after the last failure
    /// against it (None: they may try now).
    pub fn cooling(&self, ip: IpAddr, user: &str) -> Option<Duration> {
        let map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        let left = map
            .get(&(ip, user.to_string()))?
            .until
            .checked_duration_since(Instant::now())?;
        (!left.is_zero()).then_some(left)
    }

    /// Records a failure against `user` from `ip`; its count after it.
    fn record_against(&self, ip: IpAddr, user: &str) -> u32 {
        let now = Instant::now();
        let mut map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, a| now.duration_since(a.at) < FORGET_AFTER);
        }
        let entry = map.entry((ip, user.to_string())).or_insert(Against {
            n: 0,
            at: now,
            until: now,
        });
        if now.duration_since(entry.at) > FORGET_AFTER {
            entry.n = 0;
        }
        entry.n = entry.n.saturating_add(1);
        entry.at = now;
        entry.n
    }

    /// Sets how long logins to `user` from `ip` wait (the answer's delay).
    fn cool(&self, ip: IpAddr, user: &str, delay: Duration) {
        let mut map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = map.get_mut(&(ip, user.to_string())) {
            a.until = Instant::now() + delay;
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

    /// Records a failed SASL authentication (against `user`, when the client named
    /// one) and returns how long to wait before answering it: the longer of the
    /// address's count and the account's from that address.
    pub fn failure(&self, ip: IpAddr, user: Option<&str>) -> Duration {
        let sasl = self.record(ip).sasl;
        let Some(user) = user else {
            return self.delay(sasl);
        };
        let delay = self.delay(sasl.max(self.record_against(ip, user)));
        self.cool(ip, user, delay);
        delay
    }

    /// Records a failed console login and returns how long to wait before
    /// answering it.
    pub fn console_failure(&self, ip: IpAddr) -> Duration {
        self.delay(self.record(ip).console)
    }

    /// Forgets the SASL failures of an address that just authenticated as `user`, and
    /// those against `user` from it (the console's count, and those against other
    /// accounts, stay: see the type's docs).
    pub fn success(&self, ip: IpAddr, user: &str) {
        {
            let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = map.get_mut(&ip) {
                c.sasl = 0;
                if c.console == 0 {
                    map.remove(&ip);
                }
            }
        }
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(ip, user.to_string()));
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
pub(crate) mod tests {
    use super::*;

    thread_local! {
        /// The iteration count of the last key derivation of [`check_password`] on
        /// this thread (`None`: none ran).
        pub(super) static DERIVED: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
    }

    /// The -PLUS mechanisms only where the channel binds, PLAIN only where it is
    /// confidential, SCRAM everywhere.
    #[test]
    fn the_offer_follows_the_channel() {
        assert_eq!(
            mechanisms(true, true),
            [
                "SCRAM-SHA-256-PLUS",
                "SCRAM-SHA-1-PLUS",
                "SCRAM-SHA-256",
                "SCRAM-SHA-1",
                "PLAIN"
            ]
        );
        assert_eq!(
            mechanisms(false, true),
            ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]
        );
        assert_eq!(mechanisms(false, false), ["SCRAM-SHA-256", "SCRAM-SHA-1"]);
    }

    /// An unknown account costs the same derivation as a known one: the check runs
    /// PBKDF2 with the configured iteration count on fake keys, and refuses.
    #[test]
    fn unknown_accounts_run_the_key_derivation() {
        let creds = credentials_for("s3cret", 4096).unwrap();
        let keys = keys_of(&creds, ScramHash::Sha256);
        DERIVED.with(|d| d.set(None));
        assert!(check_password(Some(&keys), "alice", "s3cret", 8192));
        assert_eq!(DERIVED.with(|d| d.take()), Some(4096), "the stored count");
        assert!(!check_password(Some(&keys), "alice", "wrong", 8192));
        assert_eq!(DERIVED.with(|d| d.take()), Some(4096));
        for password in ["s3cret", "wrong", ""] {
            assert!(!check_password(None, "nobody", password, 8192));
            assert_eq!(
                DERIVED.with(|d| d.take()),
                Some(8192),
                "no derivation for an unknown account"
            );
        }
        // And it takes as long: the derivation is the cost of a check.
        let time = |stored: Option<&ScramKeys>| {
            (0..3)
                .map(|_| {
                    let t = Instant::now();
                    check_password(stored, "x", "wrong", 4096);
                    t.elapsed()
                })
                .min()
                .unwrap()
        };
        let (known, unknown) = (time(Some(&keys)), time(None));
        assert!(
            unknown * 3 > known,
            "unknown {unknown:?} vs known {known:?}"
        );
    }

    /// A password must derive both stored keys.
    #[test]
    fn passwords_are_checked_against_both_keys() {
        let creds = credentials_for("s3cret", 4096).unwrap();
        let mut keys = keys_of(&creds, ScramHash::Sha256);
        assert!(check_password(Some(&keys), "a", "s3cret", 4096));
        keys.server_key[0] ^= 1;
        assert!(!check_password(Some(&keys), "a", "s3cret", 4096));
    }

    /// An offer of nothing (the exchanges below do not depend on it).
    const NOTHING: Offer<'static> = Offer {
        mechanisms: &[],
        bindings: &[],
        binds: false,
    };

    /// A SQLite store on disk with the account `alice` (password `s3cret`); the
    /// directory goes with the store (SASL2's tests use it too).
    pub(crate) async fn store_with_alice() -> (tempfile::TempDir, causerie_store::Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/a.db?mode=rwc", dir.path().display());
        let store = causerie_store::Store::connect(&url).await.unwrap();
        store
            .create_account("alice", &credentials_for("s3cret", 4096).unwrap())
            .await
            .unwrap();
        (dir, store)
    }

    /// SCRAM's GS2 header may name the user himself as the authzid, nobody else: the
    /// refusal comes with the first message, before any key is read.
    #[tokio::test]
    async fn scram_refuses_to_act_for_another() {
        let (_dir, store) = store_with_alice().await;
        let first = |msg: &'static str| {
            let store = store.clone();
            async move {
                start(
                    &store,
                    "ecole.test",
                    "SCRAM-SHA-256",
                    msg.as_bytes(),
                    4096,
                    &NOTHING,
                )
                .await
                .unwrap()
            }
        };
        for own in [
            "n,,n=alice,r=abc",
            "n,a=alice,n=alice,r=abc",
            "n,a=alice@ecole.test,n=alice,r=abc",
        ] {
            assert!(matches!(first(own).await, Step::Challenge(..)), "{own}");
        }
        for other in [
            "n,a=bob,n=alice,r=abc",
            "n,a=bob@ecole.test,n=alice,r=abc",
            "n,a=alice@autre.test,n=alice,r=abc",
        ] {
            assert!(
                matches!(first(other).await, Step::Failure(SaslError::InvalidAuthzid)),
                "{other}"
            );
        }
    }

    /// XEP-0474: SCRAM's first answer ends with the hash of the offer it answers: the
    /// mechanisms as advertised (OAUTHBEARER included when it was) and, only when
    /// XEP-0440 listed some, the binding types.
    #[tokio::test]
    async fn scram_answers_with_the_hash_of_the_offer() {
        let (_dir, store) = store_with_alice().await;
        let data = [7u8; 32];
        let bound = [ChannelBinding {
            kind: TLS_EXPORTER,
            data: &data,
        }];
        let mechanisms = ["SCRAM-SHA-256", "PLAIN", "OAUTHBEARER"];
        for bindings in [&bound[..], &[]] {
            let offer = Offer {
                mechanisms: &mechanisms,
                bindings,
                binds: false,
            };
            let step = start(
                &store,
                "ecole.test",
                "SCRAM-SHA-256",
                b"n,,n=alice,r=abc",
                4096,
                &offer,
            )
            .await
            .unwrap();
            let Step::Challenge(first, _) = step else {
                panic!("no challenge");
            };
            let types = (!bindings.is_empty()).then_some(&[TLS_EXPORTER][..]);
            let h = scram::downgrade_hash(ScramHash::Sha256, &mechanisms, types);
            assert!(first.ends_with(&format!(",h={h}")), "{first}");
        }
    }

    /// PLAIN through the store: the right password logs in (as the normalised
    /// localpart), a wrong one and an unknown account are refused alike, in the
    /// same time.
    #[tokio::test]
    async fn plain_logs_in_and_refuses() {
        let (_dir, store) = store_with_alice().await;
        let plain = |msg: &'static [u8]| {
            let store = store.clone();
            async move {
                start(&store, "ecole.test", "PLAIN", msg, 4096, &NOTHING)
                    .await
                    .unwrap()
            }
        };
        assert!(
            matches!(plain(b"\0Alice\0s3cret").await, Step::Success(u, None, None) if u == "alice")
        );
        // Acting for oneself is allowed (localpart or bare JID); for anyone else, or
        // on another server, `invalid-authzid`, whatever the password.
        for own in [
            &b"alice\0alice\0s3cret"[..],
            b"Alice@ECOLE.test\0alice\0s3cret",
        ] {
            assert!(
                matches!(plain(own).await, Step::Success(u, None, None) if u == "alice"),
                "{own:?}"
            );
        }
        for other in [
            &b"bob\0alice\0s3cret"[..],
            b"bob@ecole.test\0alice\0s3cret",
            b"alice@autre.test\0alice\0s3cret",
            b"alice@ecole.test/phone\0alice\0s3cret",
            b"bob@ecole.test\0alice\0wrong",
        ] {
            assert!(
                matches!(plain(other).await, Step::Failure(SaslError::InvalidAuthzid)),
                "{other:?}"
            );
        }
        for refused in [
            &b"\0alice\0wrong"[..],
            b"\0nobody\0s3cret",
            b"\0ALICE\0S3cret",
        ] {
            assert!(
                matches!(
                    plain(refused).await,
                    Step::Failure(SaslError::NotAuthorized)
                ),
                "{refused:?}"
            );
        }
        // An unknown account is refused no faster than a wrong password (it was at
        // once, the derivation ran only for known accounts).
        let mut took = Vec::new();
        for msg in [&b"\0alice\0wrong"[..], b"\0nobody\0wrong"] {
            let mut fastest = Duration::MAX;
            for _ in 0..3 {
                let t = Instant::now();
                assert!(matches!(
                    plain(msg).await,
                    Step::Failure(SaslError::NotAuthorized)
                ));
                fastest = fastest.min(t.elapsed());
            }
            took.push(fastest);
        }
        assert!(
            took[1] * 3 > took[0],
            "unknown {:?} vs wrong {:?}",
            took[1],
            took[0]
        );
        assert_eq!(
            verify_password(&store, "alice", "s3cret", 4096)
                .await
                .unwrap(),
            Verified::Valid
        );
        assert_eq!(
            verify_password(&store, "nobody", "s3cret", 4096)
                .await
                .unwrap(),
            Verified::Invalid
        );
        store.close().await;
    }

    /// PLAIN takes the password or any app password, and says which.
    #[tokio::test]
    async fn plain_takes_app_passwords_and_says_which() {
        use causerie_store::AppPasswordStore;
        let (_dir, store) = store_with_alice().await;
        let (secret, keys) = crate::app_passwords::new_secret(&store, "alice", 4096)
            .await
            .unwrap();
        let app = store
            .app_password_add("alice", "phone", &keys, None)
            .await
            .unwrap();
        let plain = |msg: Vec<u8>| {
            let store = store.clone();
            async move {
                start(&store, "ecole.test", "PLAIN", &msg, 4096, &NOTHING)
                    .await
                    .unwrap()
            }
        };
        let with = |p: &str| format!("\0alice\0{p}").into_bytes();
        assert!(
            matches!(plain(with(&secret)).await, Step::Success(u, None, Some(id)) if u == "alice" && id == app.id)
        );
        assert!(matches!(
            plain(with("s3cret")).await,
            Step::Success(_, None, None)
        ));
        assert!(matches!(
            plain(with("nope")).await,
            Step::Failure(SaslError::NotAuthorized)
        ));
        // Not at the console's check.
        assert_eq!(
            verify_password(&store, "alice", &secret, 4096)
                .await
                .unwrap(),
            Verified::Invalid
        );
        store
            .app_password_revoke("alice", app.id, "alice")
            .await
            .unwrap();
        assert!(matches!(
            plain(with(&secret)).await,
            Step::Failure(SaslError::NotAuthorized)
        ));
        store.close().await;
    }

    #[test]
    fn throttle_grows_per_failure_and_resets() {
        let t = Throttle::new(Duration::from_millis(100));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(t.failure(ip, None), Duration::ZERO);
        assert_eq!(t.failure(ip, None), Duration::from_millis(100));
        assert_eq!(t.failure(ip, None), Duration::from_millis(200));
        assert_eq!(t.failure(other, None), Duration::ZERO, "per address");
        for _ in 0..20 {
            t.failure(ip, None);
        }
        assert_eq!(t.failure(ip, None), Duration::from_millis(1000), "capped");
        t.success(ip, "lea");
        assert_eq!(t.failure(ip, None), Duration::ZERO);
    }

    /// Failures against an account from an address are reset by that account's login
    /// only, and make the next guesses at it wait as long as their answer.
    #[test]
    fn guessing_a_classmate_is_not_made_cheap_by_logging_in_as_oneself() {
        let t = Throttle::new(Duration::from_millis(100));
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        assert_eq!(t.failure(ip, Some("hugo")), Duration::ZERO);
        assert_eq!(
            t.cooling(ip, "hugo"),
            None,
            "the first answer does not wait"
        );
        assert_eq!(t.failure(ip, Some("hugo")), Duration::from_millis(100));
        // Meanwhile another guess at hugo waits; one at another account does not.
        assert!(
            t.cooling(ip, "hugo")
                .is_some_and(|d| d <= Duration::from_millis(100))
        );
        assert_eq!(t.cooling(ip, "zoe"), None);
        assert_eq!(t.cooling("192.0.2.10".parse().unwrap(), "hugo"), None);
        // Léa logs in as herself: the address's count goes, hugo's stays.
        t.success(ip, "lea");
        assert_eq!(t.failure(ip, Some("hugo")), Duration::from_millis(200));
        assert_eq!(
            t.failure(ip, Some("zoe")),
            Duration::from_millis(100),
            "the address's"
        );
        std::thread::sleep(Duration::from_millis(220));
        assert_eq!(t.cooling(ip, "hugo"), None, "the wait ends");
        // Hugo's own login clears what was against him.
        t.success(ip, "hugo");
        assert_eq!(t.failure(ip, Some("hugo")), Duration::ZERO);
    }

    #[test]
    fn the_claimed_user_is_read_from_each_mechanism() {
        assert_eq!(
            claimed_user("PLAIN", b"\0Lea.Martin\0pw").as_deref(),
            Some("lea.martin")
        );
        assert_eq!(
            claimed_user("SCRAM-SHA-256", b"n,,n=hugo,r=abc").as_deref(),
            Some("hugo")
        );
        assert_eq!(
            claimed_user("SCRAM-SHA-256-PLUS", b"p=tls-exporter,,n=zoe,r=abc").as_deref(),
            Some("zoe")
        );
        assert_eq!(
            claimed_user("HT-SHA-256-NONE", b"tom\0proof").as_deref(),
            Some("tom")
        );
        assert_eq!(
            claimed_user("OAUTHBEARER", b"n,,\x01auth=Bearer x\x01\x01"),
            None
        );
        assert_eq!(claimed_user("SCRAM-SHA-1", b"garbage"), None);
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
        t.success(ip, "lea");
        assert_eq!(
            t.failure(ip, None),
            Duration::ZERO,
            "SASL's count was reset"
        );
        assert_eq!(
            t.console_failure(ip),
            Duration::from_millis(300),
            "the console's was not, and counts SASL's failures"
        );
        assert_eq!(t.failure(ip, None), Duration::from_millis(200), "and back");
        t.admin_success(ip);
        assert_eq!(t.console_failure(ip), Duration::ZERO);
        assert_eq!(t.failure(ip, None), Duration::from_millis(100));
    }

    #[test]
    fn usernames_are_normalised() {
        assert_eq!(localpart("Alice").as_deref(), Some("alice"));
        assert_eq!(localpart("a@b"), None);
        assert_eq!(localpart(""), None);
    }
}
