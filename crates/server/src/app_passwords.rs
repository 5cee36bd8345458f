//! App passwords (« Mots de passe d'application », docs/web-client.md): the passwords a
//! standard XMPP app (Gajim, Conversations, Monal…) logs in with, for users who sign into
//! the web client through the portal or have no password at all.
//!
//! This module owns their secrets' making and the rules around them; the store keeps
//! them (`causerie_store::app_passwords`), `auth` checks them at SASL, `changes` adds and
//! revokes them (every door: the user himself in the web client, the admin API, the CLI).
//!
//! - The secret is made here ([`generate`]: 16 characters of an alphabet without look-
//!   alikes, 80 bits), shown once, and kept only as SCRAM keys.
//! - One salt per account and hash: SCRAM sends one salt and iteration count before it
//!   sees the proof, so an account's password and all its app passwords share them
//!   ([`new_secret`] derives with the password's, or without a password the first app
//!   password's; a new password is derived with them too when the account has app
//!   passwords, [`password_credentials`], so that it does not silently break them).
//!   An app password made with another salt (a password set through a door that did
//!   not keep it) is left out of the login and must be made again.
//! - Whether a user may have them is each of his structures' choice
//!   (`causerie_ent::app_passwords`), checked at creation and at every login
//!   (`crate::app_password_sessions`), which records the last use.
//! - The sessions logged in with one are tagged with it ([`tag`]): revoking it through
//!   this process ends them (`crate::app_password_sessions`). A revocation by the CLI
//!   (another process) stops new logins only.
//! - No XEP-0484 FAST token is issued to a login with an app password (c2s), so that
//!   revoking it leaves nothing behind.

use causerie_ent::app_passwords::{self, Policy};
use causerie_ent::{Directory, Register};
use causerie_proto::scram::{self, SaslError, ScramHash};
use causerie_store::{
    AccountStore, AppPasswordStore, Credentials, ScramCredential, Store, StoreError,
};
use rand::Rng;

use crate::auth;

/// The secret's alphabet: lowercase letters and digits without l, o, 0, 1.
const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// A new secret: four groups of four characters (`abcd-efgh-jkmn-pqrs`), 80 bits.
pub fn generate() -> String {
    let mut rng = rand::rng();
    let groups: Vec<String> = (0..4)
        .map(|_| {
            (0..4)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect()
        })
        .collect();
    groups.join("-")
}

/// The tag of the sessions logged in with app password `id`.
pub fn tag(id: i64) -> String {
    format!("{}{id}", crate::services::sessions::APP_PASSWORD_TAG)
}

/// The salt and iteration count per hash that `user`'s credentials share: his
/// password's, else his app passwords' (the first's), else None.
async fn account_salts(
    store: &Store,
    user: &str,
) -> Result<Option<(ScramCredential, ScramCredential)>, StoreError> {
    if let Some(c) = store.credentials(user).await? {
        return Ok(Some((c.sha1, c.sha256)));
    }
    Ok(store
        .app_password_keys(user)
        .await?
        .into_iter()
        .next()
        .map(|(_, c)| (c.sha1, c.sha256)))
}

/// Keys of `secret` with the salts given (each hash its own), or fresh ones.
fn derive(
    secret: &str,
    salts: Option<(ScramCredential, ScramCredential)>,
    iterations: u32,
) -> Result<Credentials, SaslError> {
    let Some((sha1, sha256)) = salts else {
        return auth::credentials_for(secret, iterations);
    };
    let with = |hash, c: &ScramCredential| {
        scram::derive_keys_with_salt(hash, secret, &c.salt, c.iterations).map(|k| ScramCredential {
            salt: k.salt,
            iterations: k.iterations,
            stored_key: k.stored_key,
            server_key: k.server_key,
        })
    };
    Ok(Credentials {
        sha1: with(ScramHash::Sha1, &sha1)?,
        sha256: with(ScramHash::Sha256, &sha256)?,
    })
}

/// A new secret for `user` and its keys, with the account's salts (see the module docs;
/// `iterations` when the account has no credential yet).
pub async fn new_secret(
    store: &Store,
    user: &str,
    iterations: u32,
) -> Result<(String, Credentials), StoreError> {
    let salts = account_salts(store, user).await?;
    let secret = generate();
    let s = secret.clone();
    let keys = tokio::task::spawn_blocking(move || derive(&s, salts, iterations))
        .await
        .map_err(|e| StoreError::Invalid(format!("key derivation: {e}")))?
        .map_err(|e| StoreError::Invalid(format!("key derivation: {e}")))?;
    Ok((secret, keys))
}

/// Why a new password could not be derived.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("unusable password: {0}")]
    Unusable(SaslError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The credentials of a new password for `user`: with the salt and iteration count his
/// app passwords were made with when he has some (they keep working), else fresh ones
/// (`iterations`). Every door that sets a password calls it.
pub async fn password_credentials(
    store: &Store,
    user: &str,
    password: &str,
    iterations: u32,
) -> Result<Credentials, PasswordError> {
    let keys = store.app_password_keys(user).await?;
    let salts = keys.into_iter().next().map(|(_, c)| (c.sha1, c.sha256));
    derive(password, salts, iterations).map_err(PasswordError::Unusable)
}

/// Whether `user` may have and use app passwords: each of his structures allows his
/// profile (`causerie_ent::app_passwords::allowed`); an account outside the directory may.
pub async fn allowed(store: &Store, dir: &Directory, user: &str) -> Result<bool, StoreError> {
    let Some(u) = dir.user(user) else {
        return Ok(true);
    };
    let mut choices: Vec<(String, Option<Policy>)> = Vec::with_capacity(u.structures.len());
    for s in &u.structures {
        choices.push((s.clone(), store.app_password_policy(s).await?));
    }
    Ok(app_passwords::allowed(u.profile, &u.structures, |s| {
        choices.iter().find(|(id, _)| id == s).and_then(|(_, c)| *c)
    }))
}

/// The refusal's text for `user`'s register, French then English.
pub fn refused_text(register: Register) -> String {
    format!(
        "{} — {}",
        app_passwords::REFUSED.fr(register),
        app_passwords::REFUSED.en()
    )
}

/// The text of a login refused because its app password was revoked meanwhile.
pub fn revoked_text(register: Register) -> String {
    format!(
        "{} — {}",
        app_passwords::REVOKED.fr(register),
        app_passwords::REVOKED.en()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_four_groups_of_the_alphabet() {
        let a = generate();
        assert_eq!(a.len(), 19);
        assert_eq!(a.split('-').count(), 4);
        assert!(
            a.split('-')
                .all(|g| g.len() == 4 && g.bytes().all(|b| ALPHABET.contains(&b)))
        );
        assert_ne!(a, generate());
    }

    /// An app password made with the account's salts matches the keys a login reads,
    /// and a new password keeps those salts.
    #[tokio::test]
    async fn app_passwords_share_the_account_salt() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/a.db?mode=rwc", dir.path().display());
        let store = Store::connect(&url).await.unwrap();
        store
            .create_account("lea", &auth::credentials_for("pw", 4096).unwrap())
            .await
            .unwrap();
        let main = store.credentials("lea").await.unwrap().unwrap();
        let (secret, keys) = new_secret(&store, "lea", 8192).await.unwrap();
        assert_eq!(keys.sha256.salt, main.sha256.salt);
        assert_eq!(keys.sha1.salt, main.sha1.salt);
        assert_eq!(keys.sha256.iterations, 4096, "the account's count");
        store
            .app_password_add("lea", "x", &keys, None)
            .await
            .unwrap();
        let again = password_credentials(&store, "lea", "new one", 8192)
            .await
            .unwrap();
        assert_eq!(again.sha256.salt, main.sha256.salt);
        assert_eq!(again.sha256.iterations, 4096);
        let k = scram::ScramKeys {
            salt: keys.sha256.salt.clone(),
            iterations: 4096,
            stored_key: keys.sha256.stored_key.clone(),
            server_key: keys.sha256.server_key.clone(),
        };
        assert!(scram::verify_password(ScramHash::Sha256, &k, &secret));
        store.close().await;
    }
}
