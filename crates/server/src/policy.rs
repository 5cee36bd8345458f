//! The school's communication rules at the server's edge.
//!
//! The rules themselves are pure functions in `causerie-ent`; this module
//! keeps the current [`Directory`] (reloaded whenever the store's directory
//! generation changes, so an import made by another process applies from the
//! next stanza on, without a restart) and turns a refusal into the stanza
//! error users see, in French and English.
//!
//! Accounts outside the directory (`causerie user add`) are plain XMPP
//! accounts: unrestricted among themselves, and kept apart from directory
//! users unless `[policy] plain_accounts_reach_directory` is set.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use causerie_ent::{Decision, DenyReason, Directory, Snapshot};
use causerie_proto::Element;
use causerie_proto::errors::{Condition, StanzaError};
use causerie_store::{DirectoryStore, RosterStore, Subscription};
use tracing::warn;

use crate::Server;
use crate::config::PolicyMode;

/// Namespace of Causerie's application-specific error conditions.
pub const NS_POLICY: &str = "urn:causerie:policy:0";

/// The directory as last loaded, with the generation it was loaded at.
pub struct DirectoryCache {
    current: RwLock<(i64, Arc<Directory>)>,
    reload: tokio::sync::Mutex<()>,
}

impl Default for DirectoryCache {
    fn default() -> Self {
        DirectoryCache {
            current: RwLock::new((
                -1,
                Arc::new(Directory::new(Snapshot::default(), HashMap::new())),
            )),
            reload: tokio::sync::Mutex::new(()),
        }
    }
}

impl DirectoryCache {
    fn get(&self) -> (i64, Arc<Directory>) {
        let g = self.current.read().unwrap_or_else(|e| e.into_inner());
        (g.0, g.1.clone())
    }
}

impl Server {
    /// The current directory (reloaded when the store says it changed).
    pub async fn directory(&self) -> Arc<Directory> {
        let (loaded, dir) = self.directory.get();
        let generation = match self.store.generation().await {
            Ok(g) => g,
            Err(e) => {
                warn!(error = %e, "cannot read the directory generation; keeping the loaded directory");
                return dir;
            }
        };
        if generation == loaded {
            return dir;
        }
        let _guard = self.directory.reload.lock().await;
        let (loaded, dir) = self.directory.get();
        if generation == loaded {
            return dir;
        }
        let (snapshot, rules) = match (self.store.snapshot().await, self.store.rules().await) {
            (Ok(s), Ok(r)) => (s, r),
            (Err(e), _) | (_, Err(e)) => {
                warn!(error = %e, "cannot load the directory; keeping the loaded one");
                return dir;
            }
        };
        let fresh = Arc::new(Directory::new(snapshot, rules));
        *self
            .directory
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner()) = (generation, fresh.clone());
        fresh
    }

    /// Whether `from` may reach `to` (account localparts) under the school's
    /// rules; the error to send back when not.
    pub async fn may_reach(&self, from: &str, to: &str) -> Result<(), StanzaError> {
        if from == to || self.config.policy.mode == PolicyMode::Open {
            return Ok(());
        }
        let dir = self.directory().await;
        let (from_dir, to_dir) = (
            self.in_directory(&dir, from).await,
            self.in_directory(&dir, to).await,
        );
        match (from_dir, to_dir) {
            (false, false) => Ok(()),
            (true, true) => match dir.may_reach(from, to) {
                Decision::Allow(_) => Ok(()),
                Decision::Deny(reason) => Err(refusal(&reason)),
            },
            _ if self.config.policy.plain_accounts_reach_directory => Ok(()),
            _ => Err(refusal(&DenyReason::NoRule)),
        }
    }

    /// Whether `user` is a directory user (active or not). Deactivated users
    /// are not in the loaded directory; the store still knows them.
    async fn in_directory(&self, dir: &Directory, user: &str) -> bool {
        if dir.contains(user) {
            return true;
        }
        match self.store.directory_user_active(user).await {
            Ok(v) => v.is_some(),
            Err(e) => {
                warn!(error = %e, "cannot check a directory user");
                true
            }
        }
    }

    /// The seed's rule that one chats only with contacts who accepted
    /// (mutual subscription), for directory users.
    pub async fn may_message(&self, from: &str, to: &str) -> Result<(), StanzaError> {
        if from == to || self.config.policy.mode == PolicyMode::Open {
            return Ok(());
        }
        let dir = self.directory().await;
        if !(dir.contains(from) && dir.contains(to)) {
            return Ok(());
        }
        let item = self
            .store
            .roster_item(from, &format!("{to}@{}", self.domain))
            .await
            .map_err(crate::features::internal)?;
        if item.is_some_and(|i| i.subscription == Subscription::Both) {
            Ok(())
        } else {
            let mut err = StanzaError::new(Condition::PolicyViolation)
                .with_text(
                    "fr",
                    "Tu ne peux écrire qu'aux contacts qui ont accepté ta demande de contact.",
                )
                .with_text(
                    "en",
                    "You can only write to contacts who accepted your contact request.",
                );
            err.app = Some(Box::new(Element::bare("not-a-contact", NS_POLICY)));
            Err(err)
        }
    }
}

impl Server {
    /// Whether `user` may log in to chat (S1, S2): an active directory user
    /// whose structure has chat on and allows his profile. Plain accounts may.
    /// The refusal is the text of the SASL failure, in French then English.
    pub async fn login_allowed(&self, user: &str) -> Result<(), String> {
        let active = self.store.directory_user_active(user).await.map_err(|e| {
            warn!(error = %e, "cannot check a directory user at login");
            "Erreur interne, réessaie plus tard. — Internal error, try again later.".to_string()
        })?;
        match active {
            None => return Ok(()),
            Some(false) => {
                return Err(
                    "Ton compte n'est plus actif dans l'annuaire de l'établissement. — \
                     Your account is no longer active in the school directory."
                        .into(),
                );
            }
            Some(true) => {}
        }
        let dir = self.directory().await;
        let Some(u) = dir.user(user) else {
            return Ok(());
        };
        let mut enabled_somewhere = false;
        for structure in &u.structures {
            match self.store.access(structure).await {
                Ok(access) if access.enabled => {
                    enabled_somewhere = true;
                    if access.profiles.contains(&u.profile) {
                        return Ok(());
                    }
                }
                Ok(_) => {}
                Err(e) => warn!(error = %e, "cannot read chat access"),
            }
        }
        if u.structures.is_empty() {
            return Ok(());
        }
        Err(if enabled_somewhere {
            format!(
                "Le chat n'est pas ouvert au profil « {} » dans ton établissement. — \
                 Chat is not open to the profile \"{}\" in your school.",
                u.profile.label_fr(),
                u.profile.label_en()
            )
        } else {
            "Le chat n'est pas activé dans ton établissement. — Chat is not enabled in your school."
                .into()
        })
    }
}

impl Server {
    /// When `user` removes `contact_bare` from his contacts, the localpart of
    /// the contact whose own item must go too: both are directory users and
    /// the school's semantics apply (symmetric deletion).
    pub async fn symmetric_removal(&self, user: &str, contact_bare: &str) -> Option<String> {
        if self.config.policy.mode == PolicyMode::Open {
            return None;
        }
        let (node, domain) = contact_bare.split_once('@')?;
        if domain != self.domain {
            return None;
        }
        let dir = self.directory().await;
        let both = self.in_directory(&dir, user).await && self.in_directory(&dir, node).await;
        both.then(|| node.to_string())
    }
}

/// The stanza error for a refusal by the rules.
pub fn refusal(reason: &DenyReason) -> StanzaError {
    let mut err = StanzaError::new(Condition::Forbidden)
        .with_text("fr", reason.text_fr())
        .with_text("en", reason.text_en());
    err.app = Some(Box::new(Element::bare("school-rules", NS_POLICY)));
    err
}
