//! A kept stanza decided again: a message stored while its recipient was away (offline,
//! or in his quiet hours) goes through the gate once more when it is handed over, since the
//! rules, a block or an account may have changed meanwhile. Below `message` and `quiet`,
//! which both hand kept messages over.

use causerie_proto::Element;
use jid::Jid;

use crate::server::Server;
use crate::services::Verdict;
use crate::services::gate::{self, Sender};

/// Whether the account whose words a kept room notice carries — the inviter of an
/// invitation (mediated: the room's `<invite from=…>`; direct: its sender), the decliner
/// of a decline — may still reach `user` now, as a directed presence would (the rules,
/// and a block either way); true for a notice that carries nobody's words.
pub async fn author_still_reaches(server: &Server, user: &str, stanza: &Element) -> bool {
    let x = stanza.get_child("x", super::muc::NS_MUC_USER);
    let author = x
        .and_then(|x| {
            x.get_child("invite", super::muc::NS_MUC_USER)
                .or_else(|| x.get_child("decline", super::muc::NS_MUC_USER))
        })
        .and_then(|e| e.attr("from"))
        .or_else(|| super::muc::invite::direct_room(server, stanza).and(stanza.attr("from")));
    let Some(author) = author.and_then(|a| Jid::new(a).ok()) else {
        return true;
    };
    if author.domain().as_str() != server.domain {
        return false;
    }
    let Some(sender) = author.node().map(|n| n.to_string()) else {
        return true;
    };
    if sender == user {
        return true;
    }
    let full = author.to_bare().to_string();
    matches!(
        decide(
            server,
            &sender,
            &full,
            user,
            gate::Class::Directed { available: true }
        )
        .await,
        Verdict::Deliver(_)
    )
}

/// The gate's decision now for a stanza of `class` from our account `sender` (at `full`)
/// to `user`, from no session (it was kept).
async fn decide(
    server: &Server,
    sender: &str,
    full: &str,
    user: &str,
    class: gate::Class<'_>,
) -> Verdict {
    server
        .gate()
        .decide(
            &Sender {
                user: sender,
                full,
                session: None,
            },
            user,
            None,
            class,
        )
        .await
}

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
    Some(decide(server, &sender, &full, user, gate::classify(stanza)).await)
}
