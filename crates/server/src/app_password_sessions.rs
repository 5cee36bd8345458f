//! The running server's side of app passwords (the rules and the keys are
//! `crate::app_passwords`): a login with one checked against the user's structures and
//! its use recorded, the user told when one is made for him, the sessions opened with one
//! ended when it is revoked or his structures stop allowing them.

use causerie_ent::app_passwords;
use causerie_store::AppPasswordStore as _;

use crate::app_passwords::{allowed, refused_text, revoked_text, tag};
use crate::server::Server;

impl Server {
    /// Tells `user`'s online sessions that an app password `label` was made for his
    /// account (and by whom), so that a
    /// credential made behind his back does not go unnoticed. It is also in his list.
    pub(crate) async fn tell_app_password_made(
        &self,
        user: &str,
        label: &str,
        by: app_passwords::MadeBy<'_>,
    ) {
        let register = self.register_of(user).await;
        let text = causerie_ent::app_passwords::made_notice(label, by);
        let m = crate::stanza::server_headline(
            &self.domain,
            &self.bare_jid(user),
            &text,
            register,
            self.config.language == crate::config::Language::Fr,
            None,
        );
        self.sessions.deliver_available(
            &crate::services::pass::Pass::server_notice(user),
            &m,
            false,
        );
    }

    /// After SASL matched `user`'s app password `id`: refused (with the text) when one
    /// of his structures does not allow app passwords; otherwise its use is recorded.
    pub(crate) async fn app_password_login(&self, user: &str, id: i64) -> Result<(), String> {
        let dir = self.directory().await;
        match allowed(&self.store, &dir, user).await {
            Ok(true) => {}
            Ok(false) => return Err(refused_text(self.register_of(user).await)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the app passwords' policy");
                return Err(
                    "Erreur interne : il faut réessayer plus tard. — Internal error, try again later."
                        .into(),
                );
            }
        }
        match self.store.app_password_used(id).await {
            Ok(true) => {}
            // Revoked between the login's first step (which read its keys) and now.
            Ok(false) => return Err(revoked_text(self.register_of(user).await)),
            Err(e) => tracing::warn!(error = %e, "cannot record an app password's use"),
        }
        Ok(())
    }

    /// After a session of `user` opened (or resumed) with app password `id` was tagged
    /// with it: ends it when the password was revoked meanwhile (its revocation, between
    /// the login's check and the tag, found no session to end). Returns whether it ended.
    pub(crate) async fn end_if_app_password_revoked(&self, user: &str, id: i64) -> bool {
        match self.store.app_password_exists(id).await {
            Ok(true) => false,
            Ok(false) => self.end_app_password(user, id) > 0,
            Err(e) => {
                tracing::warn!(error = %e, "cannot check that an app password still exists");
                false
            }
        }
    }

    /// Ends the sessions of `user` logged in with app password `id`; returns how many.
    /// A structure's choice changed: the online users it now refuses app passwords lose
    /// the sessions they opened with one (their password's stay); returns how many.
    pub(crate) async fn end_app_passwords_refused(&self) -> usize {
        if let Some(r) = self.sessions.remote() {
            r.send(crate::services::remote::Outgoing::Invalidate(
                crate::services::remote::Invalidation::AppPasswordsPolicy,
            ));
        }
        self.end_app_passwords_refused_here().await
    }

    /// [`Self::end_app_passwords_refused`] for this node's sessions only (another node
    /// asked, `crate::cluster`).
    pub(crate) async fn end_app_passwords_refused_here(&self) -> usize {
        let dir = self.directory().await;
        let mut ended = 0;
        let tag = crate::services::sessions::APP_PASSWORD_TAG;
        for user in self.sessions.users_tagged(tag) {
            if matches!(allowed(&self.store, &dir, &user).await, Ok(false)) {
                let text = refused_text(self.register_of(&user).await);
                ended += self
                    .sessions
                    .close_tag_prefix(&user, tag, "not-authorized", &text);
            }
        }
        ended
    }

    pub fn end_app_password(&self, user: &str, id: i64) -> usize {
        self.sessions.close_tagged(
            user,
            &tag(id),
            "not-authorized",
            &format!(
                "{} — {}",
                app_passwords::REVOKED.fr(causerie_ent::Register::Vous),
                app_passwords::REVOKED.en()
            ),
        )
    }
}
