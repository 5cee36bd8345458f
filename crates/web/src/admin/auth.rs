//! Who is calling the admin API, and what he may touch: login and logout (password
//! checked by the server's one check, `causerie_server::auth::verify_password`; lockout
//! after repeated failures), the session cookie and its CSRF token, the `Origin` check,
//! the account check (locked, deactivated) and the role check with its order.
//!
//! [`Caller`] is the extractor every route but login takes: a live session of an
//! administrator. Handlers then ask it for a narrower handle — [`StructureAdmin`],
//! [`AccessAdmin`], [`CollectiviteAdmin`], [`GroupAdmin`], [`UserAdmin`] or [`SuperAdmin`] — which only the checks in this file
//! construct (their fields are private), and which the code that changes anything
//! requires. A route that skipped the check would not compile.

use std::collections::BTreeSet;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use causerie_ent::{Directory, Group, User};
use causerie_server::Server;
use causerie_server::auth::Verified;
use causerie_store::{AdminSession, AdminStore, CollectiviteStore, DirectoryStore, ReportStore};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState, now_ms, parse_body};

/// The session cookie's name.
pub const COOKIE: &str = "causerie_admin";
/// The header that must carry the session's CSRF token on every change.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Failed logins of one login, within [`LOCKOUT_WINDOW_MS`], that lock it out.
pub const LOCKOUT_FAILURES: usize = 5;
/// The window of the failures counted, and how long a lockout lasts.
pub const LOCKOUT_WINDOW_MS: i64 = 15 * 60 * 1000;
/// How stale a session's `last_seen` may get before a request updates it: one write a
/// minute at most per session, not one per request (the database's writer has other
/// work). [`idle_expired`] allows for it.
pub const TOUCH_EVERY_MS: i64 = 60 * 1000;

/// The client's address for the per-address slowdown: behind the TLS proxy, the one it
/// forwarded (as for WebSocket connections), else the peer's.
fn client_ip(
    server: &Server,
    peer: Option<std::net::SocketAddr>,
    headers: &HeaderMap,
) -> Option<std::net::IpAddr> {
    peer.map(|p| crate::websocket::client_address(server, p, headers))
}

/// Whether a request at `now` must write the session's `last_seen` (see [`TOUCH_EVERY_MS`]).
fn needs_touch(last_seen_ms: i64, now: i64) -> bool {
    now - last_seen_ms >= TOUCH_EVERY_MS
}

/// Whether a session whose stored `last_seen` is `last_seen_ms` has been idle longer than
/// `idle_ms` at `now`.
///
/// Requests within [`TOUCH_EVERY_MS`] of the stored `last_seen` do not update it, so the
/// last request may have come up to that much later than it says. The idle time is
/// therefore counted from the latest the last request can have been: an active session
/// never ends early, and an idle one ends at most [`TOUCH_EVERY_MS`] late. (Counted from
/// the stored value, a session used 59 s after its last write ended 59 s early.)
fn idle_expired(last_seen_ms: i64, now: i64, idle_ms: i64) -> bool {
    now - last_seen_ms > idle_ms + TOUCH_EVERY_MS
}

fn no_session() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "no-session",
        "Session absente ou expirée : reconnectez-vous.",
        "No session, or it expired: log in again.",
    )
}

fn csrf_error() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf",
        "Requête refusée (jeton CSRF ou origine invalide).",
        "Request refused (wrong CSRF token or origin).",
    )
}

fn not_admin() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "not-admin",
        "Ce compte n'est pas administrateur.",
        "This account is not an administrator.",
    )
}

fn account_locked() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "account-locked",
        "Ce compte est bloqué.",
        "This account is locked.",
    )
}

fn account_inactive() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "account-inactive",
        "Ce compte n'est plus actif dans l'annuaire.",
        "This account is no longer active in the directory.",
    )
}

fn higher_role() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "Vous ne pouvez pas agir sur un administrateur de rang égal ou supérieur au vôtre.",
        "You cannot act on an administrator whose role is equal to or above yours.",
    )
}

fn bad_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "bad-credentials",
        "Identifiant ou mot de passe incorrect.",
        "Wrong login or password.",
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

/// What is stored of a session token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Refuses a request whose `Origin` is not this server: the `Host` it was sent to or,
/// behind a TLS-terminating proxy (`trust_forwarded`), the `X-Forwarded-Host` it names.
/// A user's own password check outside the console (his data export): the console's
/// lockout per login (5 failures in 15 minutes, shared with the console's login) and
/// per-address slowdown, then the server's one password check; a locked account or a
/// departed directory user is refused as at the console. Ok(the login, normalised).
pub(crate) async fn check_user_password(
    server: &AppState,
    raw: &str,
    password: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<String, ApiError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 1023 || password.is_empty() || password.len() > 1024 {
        return Err(bad_credentials());
    }
    let login = causerie_server::auth::localpart(raw).unwrap_or_else(|| raw.to_lowercase());
    // One check at a time per login, so that the lockout counts every guess.
    let checking = server.throttle().check_alone(&login).await;
    let now = now_ms();
    let failures = server
        .store()
        .admin_failures_since(&login, now - LOCKOUT_WINDOW_MS)
        .await?;
    if failures.len() >= LOCKOUT_FAILURES {
        let until = failures[0] + LOCKOUT_WINDOW_MS;
        let retry = u64::try_from((until - now).max(1000) / 1000).unwrap_or(1);
        return Err(ApiError {
            retry_after_s: Some(retry),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "locked-out",
                "Trop d'échecs : cet identifiant est bloqué pendant 15 minutes.",
                "Too many failures: this login is locked for 15 minutes.",
            )
        });
    }
    let verified = causerie_server::auth::verify_password(
        server.store(),
        &login,
        password,
        server.config().auth.scram_iterations,
    )
    .await
    .map_err(|e| {
        tracing::warn!(error = %e, "data export: cannot read credentials");
        ApiError::internal()
    })?;
    if verified != Verified::Valid {
        server
            .store()
            .record_admin_failure(&login, now, now - LOCKOUT_WINDOW_MS)
            .await?;
        // Recorded: the next check may run while this answer waits.
        drop(checking);
        if let Some(ip) = ip {
            tokio::time::sleep(server.throttle().console_failure(ip)).await;
        }
        return Err(bad_credentials());
    }
    server.store().clear_admin_failures(&login).await?;
    drop(checking);
    check_account(server, &login).await?;
    Ok(login)
}

pub(crate) fn check_origin(headers: &HeaderMap, trust_forwarded: bool) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| csrf_error())?;
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(csrf_error)?;
    let named = |name: &str| {
        headers
            .get(name)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| h.trim().eq_ignore_ascii_case(origin_host))
    };
    if named(header::HOST.as_str()) || (trust_forwarded && named("x-forwarded-host")) {
        Ok(())
    } else {
        Err(csrf_error())
    }
}

/// What an account administers.
struct Role {
    is_super: bool,
    /// Existing structures (all of them for a super-administrator).
    structures: BTreeSet<String>,
    /// Existing structures whose reports he reads: he is among their designated safety
    /// staff; or they named none and he holds a CPE or direction function there; or they
    /// named none, nobody holds such a function there, and he administers them (all for
    /// a super-administrator).
    safety: BTreeSet<String>,
    /// Existing structures whose members' archives he may read under a grant: the same
    /// as `safety` but without the super-administrator's rank (only the structure's own
    /// staff).
    archive: BTreeSet<String>,
    /// Existing collectivités he administers (all of them for a super-administrator).
    collectivites: BTreeSet<String>,
    /// The structures those collectivités cover: he sets their chat access, and sees
    /// nothing else of them (no users, reports, archives or audit).
    covered: BTreeSet<String>,
}

async fn role_of(server: &Server, dir: &Directory, login: &str) -> Result<Option<Role>, ApiError> {
    let is_super = server
        .config()
        .admin
        .super_admins
        .iter()
        .any(|s| s == login)
        || server
            .store()
            .super_admins()
            .await?
            .iter()
            .any(|s| s == login);
    let structures: BTreeSet<String> = if is_super {
        dir.structures().iter().map(|s| s.id.clone()).collect()
    } else {
        server
            .store()
            .admin_grants_of(login)
            .await?
            .into_iter()
            .map(|g| g.structure)
            .filter(|id| dir.structure(id).is_some())
            .collect()
    };
    // The reports a structure's safety staff read: those named, else (none named) its
    // CPE and direction, else its local administrators; a super-administrator reads
    // every structure's.
    let named = server.store().all_safety_staff().await?;
    let granted: BTreeSet<String> = if is_super {
        server
            .store()
            .admin_grants_of(login)
            .await?
            .into_iter()
            .map(|g| g.structure)
            .filter(|id| dir.structure(id).is_some())
            .collect()
    } else {
        structures.clone()
    };
    // The same readers, without the super-administrator's rank: they may also read the
    // members' archives under a grant (archive_access.rs).
    let unnamed = |id: &str| !named.iter().any(|(n, _)| n == id);
    let mut archive: BTreeSet<String> = named
        .iter()
        .filter(|(id, logins)| dir.structure(id).is_some() && logins.iter().any(|l| l == login))
        .map(|(id, _)| id.clone())
        .collect();
    if let Some(me) = dir.user(login).filter(|u| u.has_safety_function()) {
        archive.extend(
            me.structures
                .iter()
                .filter(|id| dir.structure(id).is_some() && unnamed(id))
                .cloned(),
        );
    }
    archive.extend(
        granted
            .iter()
            .filter(|id| unnamed(id) && dir.safety_function_holders(id).is_empty())
            .cloned(),
    );
    let safety: BTreeSet<String> = if is_super {
        structures.clone()
    } else {
        archive.clone()
    };
    let collectivites: BTreeSet<String> = if is_super {
        dir.collectivites().iter().map(|c| c.id.clone()).collect()
    } else {
        server
            .store()
            .collectivite_grants_of(login)
            .await?
            .into_iter()
            .filter(|id| dir.collectivite(id).is_some())
            .collect()
    };
    let covered: BTreeSet<String> = collectivites
        .iter()
        .filter_map(|id| dir.collectivite(id))
        .flat_map(|c| c.structures.iter())
        .filter(|id| dir.structure(id).is_some())
        .cloned()
        .collect();
    Ok(
        (is_super || !structures.is_empty() || !safety.is_empty() || !collectivites.is_empty())
            .then_some(Role {
                is_super,
                structures,
                safety,
                archive,
                collectivites,
                covered,
            }),
    )
}

/// Refuses an account that may not use the console whatever its role: locked by an
/// administrator (`403 account-locked`) or a deactivated directory user
/// (`403 account-inactive`), and then ends all its console sessions.
///
/// Read from the store, not from the server's directory cache: the check runs at every
/// request and login, so that a lock or a deactivation holds from the next request, made
/// by whichever door (admin API, sync API, command line) on whichever node.
async fn check_account(server: &Server, login: &str) -> Result<(), ApiError> {
    let refusal = if server.store().account_locked(login).await? {
        account_locked()
    } else if server.store().directory_user_active(login).await? == Some(false) {
        account_inactive()
    } else {
        return Ok(());
    };
    let ended = server.store().delete_admin_sessions_of(login).await?;
    tracing::info!(login = %login, code = refusal.code, sessions_ended = ended, "admin console refused to a locked or deactivated account");
    Err(refusal)
}

/// An account's rank in the role order: a super-administrator is above a local
/// administrator, who is above an account that administers nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    User,
    Local,
    Super,
}

impl Rank {
    fn of(role: Option<&Role>) -> Rank {
        match role {
            None => Rank::User,
            Some(r) if r.is_super => Rank::Super,
            // Safety staff only: no administration right.
            Some(r) if r.structures.is_empty() && r.collectivites.is_empty() => Rank::User,
            Some(_) => Rank::Local,
        }
    }
}

/// The role order: whether an administrator of rank `actor` may lock, unlock, disconnect
/// or otherwise change an account of rank `target`. A local administrator may act only
/// on accounts below his own rank (not on another local administrator, of his structure
/// or of another one he shares a user with, nor on a super-administrator who is also a
/// user of his structure); the super-administrator may act on anyone.
pub fn may_act_on(actor: Rank, target: Rank) -> bool {
    actor == Rank::Super || actor > target
}

/// A live session of an administrator (see the module docs).
#[derive(Debug, Clone)]
pub struct Caller {
    pub login: String,
    is_super: bool,
    structures: BTreeSet<String>,
    safety: BTreeSet<String>,
    archive: BTreeSet<String>,
    collectivites: BTreeSet<String>,
    covered: BTreeSet<String>,
    csrf: String,
    token_hash: String,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, server: &AppState) -> Result<Self, ApiError> {
        check_origin(&parts.headers, server.config().listen.http_behind_tls_proxy)?;
        let token = cookie(&parts.headers, COOKIE).ok_or_else(no_session)?;
        let hash = token_hash(token);
        let session = server
            .store()
            .admin_session(&hash)
            .await?
            .ok_or_else(no_session)?;
        let now = now_ms();
        let idle_ms = i64::from(server.config().admin.session_idle_minutes) * 60_000;
        if now >= session.expires_ms || idle_expired(session.last_seen_ms, now, idle_ms) {
            server.store().delete_admin_session(&hash).await?;
            return Err(no_session());
        }
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            let given = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !bool::from(given.as_bytes().ct_eq(session.csrf.as_bytes())) {
                return Err(csrf_error());
            }
        }
        check_account(server, &session.login).await?;
        if needs_touch(session.last_seen_ms, now) {
            server.store().touch_admin_session(&hash, now).await?;
        }
        let dir = server.directory().await;
        let role = role_of(server, &dir, &session.login)
            .await?
            .ok_or_else(not_admin)?;
        Ok(Caller {
            login: session.login,
            is_super: role.is_super,
            structures: role.structures,
            safety: role.safety,
            archive: role.archive,
            collectivites: role.collectivites,
            covered: role.covered,
            csrf: session.csrf,
            token_hash: hash,
        })
    }
}

/// The right to change one structure (its access, rules, groups): given by
/// [`Caller::structure`] only.
#[derive(Debug)]
pub struct StructureAdmin {
    actor: String,
    id: String,
}

impl StructureAdmin {
    pub fn actor(&self) -> &str {
        &self.actor
    }
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The right to set one structure's chat access (and to see its name and access, nothing
/// of its users): given by [`Caller::structure_access`] only — to its local
/// administrators and to the administrators of a collectivité that covers it.
#[derive(Debug)]
pub struct AccessAdmin {
    actor: String,
    id: String,
    /// He administers the structure itself (not only through a collectivité).
    local: bool,
}

impl AccessAdmin {
    pub fn actor(&self) -> &str {
        &self.actor
    }
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Whether he is the structure's own administrator (then he sees all of it).
    pub fn is_local(&self) -> bool {
        self.local
    }
}

/// The right to see and set one collectivité's chat access: given by
/// [`Caller::collectivite`] only.
#[derive(Debug)]
pub struct CollectiviteAdmin {
    actor: String,
    id: String,
}

impl CollectiviteAdmin {
    pub fn actor(&self) -> &str {
        &self.actor
    }
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The right to change one group: given by [`Caller::group`] only.
#[derive(Debug)]
pub struct GroupAdmin {
    actor: String,
    id: String,
    structure: Option<String>,
}

impl GroupAdmin {
    pub fn actor(&self) -> &str {
        &self.actor
    }
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn structure(&self) -> Option<&str> {
        self.structure.as_deref()
    }
}

/// The right to act on one user (sessions, lock): given by [`Caller::user`] only.
#[derive(Debug)]
pub struct UserAdmin {
    actor: String,
    login: String,
    /// The caller's structure the user is in, for the audit log.
    structure: Option<String>,
}

impl UserAdmin {
    pub fn actor(&self) -> &str {
        &self.actor
    }
    pub fn login(&self) -> &str {
        &self.login
    }
    pub fn structure(&self) -> Option<&str> {
        self.structure.as_deref()
    }
}

/// The super-administrator's rights: given by [`Caller::superadmin`] only.
#[derive(Debug)]
pub struct SuperAdmin {
    actor: String,
}

impl SuperAdmin {
    pub fn actor(&self) -> &str {
        &self.actor
    }
}

impl Caller {
    pub fn is_super(&self) -> bool {
        self.is_super
    }

    /// The structures the caller administers (every one for a super-administrator).
    pub fn structures(&self) -> &BTreeSet<String> {
        &self.structures
    }

    /// `403 forbidden` unless the caller administers `id`; `404` for a
    /// super-administrator when it does not exist.
    pub fn structure(&self, dir: &Directory, id: &str) -> Result<StructureAdmin, ApiError> {
        if self.structures.contains(id) {
            return Ok(StructureAdmin {
                actor: self.login.clone(),
                id: id.to_string(),
            });
        }
        if self.is_super && dir.structure(id).is_none() {
            return Err(ApiError::not_found());
        }
        Err(ApiError::forbidden())
    }

    /// The collectivités the caller administers (every one for a super-administrator).
    pub fn collectivites(&self) -> &BTreeSet<String> {
        &self.collectivites
    }

    /// The structures whose chat access the caller may set: those he administers and
    /// those his collectivités cover.
    pub fn access_structures(&self) -> BTreeSet<String> {
        self.structures.union(&self.covered).cloned().collect()
    }

    /// The right to set structure `id`'s chat access: its local administrators', and the
    /// administrators' of a collectivité covering it. `403` otherwise; `404` for a
    /// super-administrator when it does not exist.
    pub fn structure_access(&self, dir: &Directory, id: &str) -> Result<AccessAdmin, ApiError> {
        let local = self.structures.contains(id);
        if local || self.covered.contains(id) {
            return Ok(AccessAdmin {
                actor: self.login.clone(),
                id: id.to_string(),
                local,
            });
        }
        if self.is_super && dir.structure(id).is_none() {
            return Err(ApiError::not_found());
        }
        Err(ApiError::forbidden())
    }

    /// The right to see and set collectivité `id`'s access: `404` when it does not
    /// exist, `403` when the caller does not administer it.
    pub fn collectivite(&self, dir: &Directory, id: &str) -> Result<CollectiviteAdmin, ApiError> {
        if dir.collectivite(id).is_none() {
            return Err(ApiError::not_found());
        }
        if self.is_super || self.collectivites.contains(id) {
            return Ok(CollectiviteAdmin {
                actor: self.login.clone(),
                id: id.to_string(),
            });
        }
        Err(ApiError::forbidden())
    }

    /// `403` for an administrator who only administers collectivités: he sees their
    /// structures' access, never their users' data (user lists, the live view's
    /// figures, the audit log, reports, archives).
    pub fn user_data(&self) -> Result<(), ApiError> {
        if self.is_super || !self.structures.is_empty() || !self.safety.is_empty() {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Un administrateur de collectivité règle l'accès au chat de ses établissements ; il ne voit pas les données de leurs utilisateurs.",
            "A collectivité administrator sets the chat access of its structures; he does not see their users' data.",
        ))
    }

    pub fn superadmin(&self) -> Result<SuperAdmin, ApiError> {
        if self.is_super {
            Ok(SuperAdmin {
                actor: self.login.clone(),
            })
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// Whether `u` is in one of the caller's structures.
    pub fn sees(&self, u: &User) -> bool {
        self.is_super || u.structures.iter().any(|s| self.structures.contains(s))
    }

    /// A user the caller sees; `404` otherwise (whether he exists elsewhere or not is
    /// not revealed).
    pub fn visible<'d>(&self, dir: &'d Directory, login: &str) -> Result<&'d User, ApiError> {
        dir.user(login)
            .filter(|u| self.sees(u))
            .ok_or_else(ApiError::not_found)
    }

    /// The right to act on user `login` (lock, unlock, disconnect): he must be visible to
    /// the caller (see [`Caller::visible`]) and below him in the role order
    /// ([`may_act_on`]; `403 forbidden` otherwise).
    pub async fn user(
        &self,
        server: &Server,
        dir: &Directory,
        login: &str,
    ) -> Result<UserAdmin, ApiError> {
        let u = self.visible(dir, login)?;
        let actor = if self.is_super {
            Rank::Super
        } else {
            Rank::Local
        };
        let target = Rank::of(role_of(server, dir, &u.login).await?.as_ref());
        if !may_act_on(actor, target) {
            tracing::info!(actor = %self.login, user = %u.login, ?target, "admin: refused on an account of equal or higher role");
            return Err(higher_role());
        }
        Ok(UserAdmin {
            actor: self.login.clone(),
            login: u.login.clone(),
            structure: u
                .structures
                .iter()
                .find(|s| self.structures.contains(*s))
                .cloned(),
        })
    }

    /// The right to change group `gid`: `404` when it does not exist, `403` when it is
    /// of a structure the caller does not administer (a group without structure is the
    /// super-administrator's).
    pub fn group(&self, dir: &Directory, gid: &str) -> Result<GroupAdmin, ApiError> {
        let g = dir.group(gid).ok_or_else(ApiError::not_found)?;
        if !self.administers_group(g) {
            return Err(ApiError::forbidden());
        }
        Ok(GroupAdmin {
            actor: self.login.clone(),
            id: g.id.clone(),
            structure: g.structure.clone(),
        })
    }

    /// Whether the caller administers group `g`: a group of one of his structures, or a
    /// group without structure for the super-administrator. Answers name no other group.
    pub fn administers_group(&self, g: &Group) -> bool {
        match &g.structure {
            Some(s) => self.structures.contains(s),
            None => self.is_super,
        }
    }

    /// The structures whose reports the caller reads (see `Role::safety`).
    pub fn report_structures(&self) -> &BTreeSet<String> {
        &self.safety
    }

    /// The right to read and handle the reports of structure `id`: `403 forbidden`
    /// unless it is one of [`Caller::report_structures`]; `404` for a
    /// super-administrator when it does not exist.
    pub fn reports_of(&self, dir: &Directory, id: &str) -> Result<ReportReader, ApiError> {
        if self.safety.contains(id) {
            return Ok(ReportReader {
                actor: self.login.clone(),
                structure: id.to_string(),
            });
        }
        if self.is_super && dir.structure(id).is_none() {
            return Err(ApiError::not_found());
        }
        Err(ApiError::forbidden())
    }

    /// The right to read the archives of `id`'s members under a grant: its report readers
    /// (designated safety staff, else its CPE and direction, else its local
    /// administrators); not a super-administrator as such. `403` otherwise (`404` for a structure that does not exist).
    pub fn archive_of(&self, dir: &Directory, id: &str) -> Result<ArchiveReader, ApiError> {
        if dir.structure(id).is_none() {
            return Err(ApiError::not_found());
        }
        if self.archive.contains(id) {
            return Ok(ArchiveReader {
                actor: self.login.clone(),
                structure: id.to_string(),
            });
        }
        Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
            "Seule l'équipe de vie scolaire de l'établissement (celle qui lit ses signalements) peut consulter les archives de ses membres.",
            "Only the structure's safety staff (those who read its reports) may read its members' archives.",
        ))
    }

    /// The structures whose members' archives the caller may read under a grant.
    pub fn archive_structures(&self) -> &BTreeSet<String> {
        &self.archive
    }

    /// The right to lock the account `login` reported in a report the caller handles
    /// (`reader`): he must be a user of the report's structure and below the caller in
    /// the role order — the school's safety staff act as its local administrators do
    /// ([`may_act_on`]: never on an administrator); `403 forbidden` otherwise.
    pub async fn reported_user(
        &self,
        server: &Server,
        dir: &Directory,
        reader: &ReportReader,
        login: &str,
    ) -> Result<UserAdmin, ApiError> {
        let Some(u) = dir
            .user(login)
            .filter(|u| u.structures.iter().any(|s| s == reader.structure()))
        else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Cette personne n'est pas de votre établissement : adressez-vous au sien.",
                "This person is not of your school: ask theirs.",
            ));
        };
        let actor = if self.is_super {
            Rank::Super
        } else {
            Rank::Local
        };
        let target = Rank::of(role_of(server, dir, &u.login).await?.as_ref());
        if !may_act_on(actor, target) {
            tracing::info!(actor = %self.login, user = %u.login, ?target, "admin: report action refused on an account of equal or higher role");
            return Err(higher_role());
        }
        Ok(UserAdmin {
            actor: self.login.clone(),
            login: u.login.clone(),
            structure: Some(reader.structure().to_string()),
        })
    }

    /// The session's JSON (`GET /admin/api/session`).
    fn session_json(&self, dir: &Directory) -> Value {
        let role = Role {
            is_super: self.is_super,
            structures: self.structures.clone(),
            safety: self.safety.clone(),
            archive: self.archive.clone(),
            collectivites: self.collectivites.clone(),
            covered: self.covered.clone(),
        };
        session_json(dir, &self.login, &role, &self.csrf)
    }
}

/// The right to read and handle one structure's reports: given by
/// [`Caller::reports_of`] only.
#[derive(Debug)]
pub struct ReportReader {
    actor: String,
    structure: String,
}

impl ReportReader {
    pub fn actor(&self) -> &str {
        &self.actor
    }
    pub fn structure(&self) -> &str {
        &self.structure
    }
}

/// The right to ask for and use archive access grants in one structure: given by
/// [`Caller::archive_of`] only.
#[derive(Debug)]
pub struct ArchiveReader {
    actor: String,
    structure: String,
}

impl ArchiveReader {
    pub fn actor(&self) -> &str {
        &self.actor
    }
    pub fn structure(&self) -> &str {
        &self.structure
    }
}

fn session_json(dir: &Directory, login: &str, role: &Role, csrf: &str) -> Value {
    let (is_super, structures, safety, archive, collectivites) = (
        role.is_super,
        &role.structures,
        &role.safety,
        &role.archive,
        &role.collectivites,
    );
    let access_structures: BTreeSet<String> =
        role.structures.union(&role.covered).cloned().collect();
    let name = dir
        .user(login)
        .map(User::display_name)
        .unwrap_or_else(|| login.to_string());
    let list = |ids: &BTreeSet<String>| -> Vec<Value> {
        ids.iter()
            .filter_map(|id| dir.structure(id))
            .map(|s| json!({"id": s.id, "name": s.name}))
            .collect()
    };
    let role = if is_super {
        "super"
    } else if !structures.is_empty() {
        "local"
    } else if !collectivites.is_empty() {
        "collectivite"
    } else {
        "safety"
    };
    let collectivites: Vec<Value> = collectivites
        .iter()
        .filter_map(|id| dir.collectivite(id))
        .map(|c| json!({"id": c.id, "name": c.name, "kind": c.kind.as_str()}))
        .collect();
    json!({
        "login": login,
        "name": name,
        "role": role,
        "structures": list(structures),
        "report_structures": list(safety),
        "archive_structures": list(archive),
        "collectivites": collectivites,
        "access_structures": list(&access_structures),
        "csrf": csrf,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    login: String,
    password: String,
}

fn session_cookie(server: &Server, token: &str, max_age_s: i64, over_tls: bool) -> HeaderValue {
    // Over the server's own HTTPS listener too: a cookie is not bound to a port, and the
    // browser would send it in clear to the HTTP listener of the same host.
    let secure = if over_tls || server.config().listen.http_behind_tls_proxy {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{COOKIE}={token}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `POST /admin/api/login`.
///
/// Besides the lockout per login, failures are slowed down per address with
/// the server's own throttle, the one XMPP's SASL uses (the n-th failure in a
/// row from one address waits (n-1) × `auth.failure_delay_ms`): guessing across
/// many logins from one place costs time, and one place alternating between
/// the console and XMPP pays for both. Only an administrator's login resets
/// the console's count (see `Throttle`).
pub async fn login(
    State(server): State<AppState>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    tls: Option<axum::Extension<crate::https::OverTls>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let ip = client_ip(
        &server,
        peer.map(|axum::Extension(axum::extract::ConnectInfo(a))| a),
        &headers,
    );
    check_origin(&headers, server.config().listen.http_behind_tls_proxy)?;
    let b: LoginBody = parse_body(&body)?;
    let raw = b.login.trim();
    if raw.is_empty() || raw.len() > 1023 {
        return Err(ApiError::invalid(
            "login",
            "Identifiant obligatoire.",
            "A login is required.",
        ));
    }
    if b.password.is_empty() || b.password.len() > 1024 {
        return Err(ApiError::invalid(
            "password",
            "Mot de passe obligatoire.",
            "A password is required.",
        ));
    }
    let login = causerie_server::auth::localpart(raw).unwrap_or_else(|| raw.to_lowercase());
    // One check at a time per login, so that the lockout counts every guess.
    let checking = server.throttle().check_alone(&login).await;
    let now = now_ms();
    let failures = server
        .store()
        .admin_failures_since(&login, now - LOCKOUT_WINDOW_MS)
        .await?;
    if failures.len() >= LOCKOUT_FAILURES {
        let until = failures[0] + LOCKOUT_WINDOW_MS;
        let retry = u64::try_from((until - now).max(1000) / 1000).unwrap_or(1);
        tracing::info!(login = %login, "admin login refused: locked out");
        return Err(ApiError {
            retry_after_s: Some(retry),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "locked-out",
                "Trop d'échecs : cet identifiant est bloqué pendant 15 minutes.",
                "Too many failures: this login is locked for 15 minutes.",
            )
        });
    }
    // The server's one password check (as SASL PLAIN's): the same work for an unknown
    // login as for a wrong password.
    let verified = causerie_server::auth::verify_password(
        server.store(),
        &login,
        &b.password,
        server.config().auth.scram_iterations,
    )
    .await
    .map_err(|e| {
        tracing::warn!(error = %e, "admin login: cannot read credentials");
        ApiError::internal()
    })?;
    if verified != Verified::Valid {
        server
            .store()
            .record_admin_failure(&login, now, now - LOCKOUT_WINDOW_MS)
            .await?;
        tracing::info!(login = %login, "admin login failed");
        // Recorded: the next check may run while this answer waits.
        drop(checking);
        if let Some(ip) = ip {
            tokio::time::sleep(server.throttle().console_failure(ip)).await;
        }
        return Err(bad_credentials());
    }
    // The password is right. Until the account is known to be an administrator who may
    // log in, the per-address slowdown is left as it is: neither reset (a chat user's own
    // password, or a locked account's, proves nothing about the administrators' passwords
    // that slowdown protects, and resetting it here let anyone with an account guess
    // them at full speed by logging in between guesses) nor counted as a failure (the
    // caller did not guess wrong; he is answered 403, not slowed down).
    server.store().clear_admin_failures(&login).await?;
    drop(checking);
    check_account(&server, &login).await?;
    let dir = server.directory().await;
    let Some(role) = role_of(&server, &dir, &login).await? else {
        tracing::info!(login = %login, "admin login refused: not an administrator");
        return Err(not_admin());
    };
    if let Some(ip) = ip {
        server.throttle().admin_success(ip);
    }
    let admin = &server.config().admin;
    let idle_ms = i64::from(admin.session_idle_minutes) * 60_000;
    let max_ms = i64::from(admin.session_max_hours) * 3_600_000;
    // Sessions that ended are forgotten at each login (idle ones by the same measure as
    // `idle_expired`: last_seen_ms < now - idle - touch granularity).
    server
        .store()
        .delete_expired_admin_sessions(now, now - idle_ms - TOUCH_EVERY_MS)
        .await?;
    let token = random_token();
    let csrf = random_token();
    server
        .store()
        .create_admin_session(&AdminSession {
            token_hash: token_hash(&token),
            login: login.clone(),
            csrf: csrf.clone(),
            created_ms: now,
            last_seen_ms: now,
            expires_ms: now + max_ms,
        })
        .await?;
    let rank = if role.is_super {
        "super"
    } else if role.structures.is_empty() && !role.collectivites.is_empty() {
        "collectivite"
    } else {
        "local"
    };
    tracing::info!(login = %login, role = rank, "admin logged in");
    let body = session_json(&dir, &login, &role, &csrf);
    let mut resp = axum::Json(body).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&server, &token, max_ms / 1000, tls.is_some()),
    );
    Ok(resp)
}

/// `POST /admin/api/logout`.
pub async fn logout(
    State(server): State<AppState>,
    tls: Option<axum::Extension<crate::https::OverTls>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    server
        .store()
        .delete_admin_session(&caller.token_hash)
        .await?;
    tracing::info!(login = %caller.login, "admin logged out");
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&server, "", 0, tls.is_some()),
    );
    Ok(resp)
}

/// `GET /admin/api/session`.
pub async fn session(
    State(server): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    let dir = server.directory().await;
    Ok(axum::Json(caller.session_json(&dir)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_origins() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; causerie_admin=tok; b=2"),
        );
        assert_eq!(cookie(&h, COOKIE), Some("tok"));
        assert_eq!(cookie(&h, "c"), None);
        assert!(check_origin(&h, false).is_ok());
        h.insert(header::HOST, HeaderValue::from_static("chat.example.org"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://chat.example.org"),
        );
        assert!(check_origin(&h, false).is_ok());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example.org"),
        );
        assert!(check_origin(&h, false).is_err());
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(check_origin(&h, false).is_err());
        // Behind a proxy that says which host the browser asked for.
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://ent.example.org"),
        );
        h.insert(
            "x-forwarded-host",
            HeaderValue::from_static("ent.example.org"),
        );
        assert!(check_origin(&h, false).is_err());
        assert!(check_origin(&h, true).is_ok());
    }

    #[test]
    fn the_role_order() {
        use Rank::*;
        assert!(may_act_on(Local, User));
        assert!(!may_act_on(Local, Local), "another local administrator");
        assert!(!may_act_on(Local, Super));
        assert!(may_act_on(Super, User));
        assert!(may_act_on(Super, Local));
        assert!(may_act_on(Super, Super));
    }

    /// A session in use never ends early: whatever request went untouched, the idle
    /// deadline counts from when it may have come.
    #[test]
    fn idle_expiry_allows_for_the_touch_granularity() {
        let idle = 30 * 60_000;
        let t0 = 1_000_000_000;
        // A request at t0 writes last_seen; one at t0 + 59 s does not.
        assert!(needs_touch(t0 - TOUCH_EVERY_MS, t0));
        let used = t0 + TOUCH_EVERY_MS - 1000;
        assert!(!needs_touch(t0, used));
        // Idle for just under the limit since that last request: still alive.
        assert!(!idle_expired(t0, used + idle - 1, idle));
        assert!(!idle_expired(t0, used + idle, idle));
        // Idle for longer than the limit since any request the store may not know of.
        assert!(idle_expired(t0, t0 + TOUCH_EVERY_MS + idle + 1, idle));
        // Every request it does not touch for is within the granularity, so the check
        // and the touch agree: an untouched request is never more than the granularity
        // after last_seen.
        for gap in [0, 1, TOUCH_EVERY_MS - 1] {
            assert!(!needs_touch(t0, t0 + gap));
            assert!(!idle_expired(t0, t0 + gap + idle, idle));
        }
    }
}
