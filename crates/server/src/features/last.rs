//! XEP-0012 last activity (`jabber:iq:last`): the server's uptime (to the domain), and an
//! account's last logout (to its bare JID, answered by the server): `seconds='0'` while
//! one of its resources is available, else the seconds since its last session ended with
//! the status it had then. Only for whoever may see that account's presence (it is his
//! own, or he is subscribed to it, and the gate let the request through: the rules allow
//! the pair and neither blocked the other); others get `forbidden`. A request to a full
//! JID goes to that resource, like any other IQ request (`features::iq`).
//!
//! The last logout is recorded when an account's last session ends ([`record`]).

use causerie_proto::errors::Condition;
use causerie_proto::{Element, ns, xml};
use causerie_store::{ActivityStore, Subscription};
use tracing::warn;

use crate::server::Server;
use crate::session::Session;
use crate::stanza::{IqResult, error, internal};

fn query(seconds: u64, status: Option<&str>) -> Element {
    let mut q = xml::elem("query", ns::LAST, &[("seconds", &seconds.to_string())]);
    if let Some(s) = status {
        q.append_text_node(s);
    }
    q
}

fn get_only(set: bool) -> Result<(), causerie_proto::errors::StanzaError> {
    if set {
        return Err(error(
            Condition::BadRequest,
            "La dernière activité se lit (type 'get').",
            "Last activity is read (type 'get').",
        ));
    }
    Ok(())
}

/// To the server: its uptime (XEP-0012 §5).
pub fn server(server: &Server, set: bool) -> IqResult {
    get_only(set)?;
    Ok(Some(query(server.started.elapsed().as_secs(), None)))
}

/// To `user`'s bare JID, asked by `session` (XEP-0012 §4; see the module docs).
pub async fn account(server: &Server, session: &Session, user: &str, set: bool) -> IqResult {
    get_only(set)?;
    if user != session.user {
        let item = server
            .contacts
            .item(&session.user, &server.bare_jid(user))
            .await
            .map_err(internal)?;
        let sees =
            item.is_some_and(|i| matches!(i.subscription, Subscription::To | Subscription::Both));
        if !sees {
            return Err(error(
                Condition::Forbidden,
                "Seuls ses contacts voient la dernière activité de quelqu'un.",
                "Only someone's contacts see their last activity.",
            ));
        }
    }
    if !server.sessions.available(user).is_empty() {
        return Ok(Some(query(0, None)));
    }
    match server.store.last_logout(user).await.map_err(internal)? {
        Some(last) => {
            let now = chrono::Utc::now().timestamp_millis();
            let seconds = u64::try_from((now - last.at_ms) / 1000).unwrap_or(0);
            Ok(Some(query(seconds, last.status.as_deref())))
        }
        None => Err(error(
            Condition::ItemNotFound,
            "Aucune activité connue pour ce compte.",
            "No known activity for this account.",
        )),
    }
}

/// `user`'s last session ended now, with `status`.
pub async fn record(server: &Server, user: &str, status: Option<&str>) {
    let now = chrono::Utc::now().timestamp_millis();
    if let Err(e) = server.store.set_last_logout(user, now, status).await {
        warn!(error = %e, "cannot record a last logout");
    }
}
