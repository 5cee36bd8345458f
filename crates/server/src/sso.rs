//! Single sign-on with the portal, on the XMPP side: the web client, signed in through
//! the portal's CAS server (crates/web/src/sso.rs), logs in with SASL OAUTHBEARER and a
//! single-use login token; the connection remembers the browser session it came from,
//! so that the portal's single log-out ends exactly that browser's chat sessions.
//!
//! Tokens and session cookies are stored as their SHA-256 ([`digest`]): a copy of the
//! database does not sign anyone in.

use causerie_proto::oauthbearer;
use causerie_proto::scram::SaslError;
use causerie_store::{SsoLogin, SsoStore, StoreError};
use sha2::{Digest, Sha256};

use crate::server::Server;

/// The mechanism's name.
pub const MECHANISM: &str = "OAUTHBEARER";

/// What the store keeps of a token or a session cookie.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A browser session as its connections are tagged: hex of its digest's first bytes
/// (enough to tell one browser from another of the same account).
pub fn tag(session: &[u8]) -> String {
    session
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks an OAUTHBEARER initial response: the token is spent whatever happens; the
/// login if it was live and, when the client named an authorization identity, it is
/// the token's account (`user` or `user@domain`).
pub async fn login(
    store: &dyn SsoStore,
    domain: &str,
    initial: &[u8],
) -> Result<Result<SsoLogin, SaslError>, StoreError> {
    let response = match oauthbearer::parse(initial) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let Some(login) = store.sso_token_take(&digest(&response.token)).await? else {
        return Ok(Err(SaslError::NotAuthorized));
    };
    // As for a password: the user himself only (localpart or bare JID).
    if !crate::auth::acts_as_itself(response.authzid.as_deref(), &login.user, domain) {
        return Ok(Err(SaslError::InvalidAuthzid));
    }
    Ok(Ok(login))
}

impl Server {
    /// Ends the chat sessions `user` opened from the browser session `session` (its
    /// portal signed out), with a text for the reader; returns how many.
    pub fn end_sso(&self, user: &str, session: &[u8], text: &str) -> usize {
        self.sessions
            .close_tagged(user, &tag(session), "not-authorized", text)
    }
}
