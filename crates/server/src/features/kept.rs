//! A kept stanza decided again: a message stored while its recipient was away (offline,
//! or in his quiet hours) goes through the gate once more when it is handed over, since the
//! rules, a block or an account may have changed meanwhile. Below `message` and `quiet`,
//! which both hand kept messages over.

use causerie_proto::Element;
use jid::Jid;

use crate::server::Server;
use crate::services::Verdict;
use crate::services::gate::{self, Sender};

/// The gate's decision now for a kept `stanza` to `user` from another of our accounts
/// (its `from`); None when it is not from one of our accounts (a room, the server, an
/// invitation: see [`still_deliverable`]).
pub async fn decided_again(server: &Server, user: &str, stanza: &Element) -> Option<Verdict> {
    if super::muc::invite::invitation_room(server, stanza).is_some() {
        return None;
    }
    let from = stanza.attr("from").and_then(|f| Jid::new(f).ok())?;
    if from.domain().as_str() != server.domain {
        return None;
    }
    let sender = from.node()?.to_string();
    let full = from.to_string();
    Some(
        server
            .gate()
            .decide(
                &Sender {
                    user: &sender,
                    full: &full,
                    session: None,
                },
                user,
                None,
                gate::classify(stanza),
            )
            .await,
    )
}
