//! XEP-0191 blocking command: an account's blocklist — get, block, unblock, unblock all —
//! and the pushes of each change to the account's resources that asked for the list.
//!
//! The lists are the blocking service's (`services::blocking`, in memory for the gate,
//! which alone decides what a block stops: see `services::gate`). This feature parses the
//! commands (xmpp-parsers' types), answers them, pushes the change, and ends or restores
//! the presences between the two accounts (`features::presence::blocked` and
//! `unblocked`), as XEP-0191 §3.3 and §3.4 ask. A block's items may carry XEP-0377
//! reports: they are stored first (`features::report`). The school's staff may also block
//! a pair from a report ([`block_for`]).

use crate::stanza::addressed;
use causerie_ent::Text;
use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::parsers::blocking::{Block, BlocklistResult, Unblock};
use causerie_proto::{Element, ns, xml};
use jid::Jid;

use super::{presence, report};
use crate::server::Server;
use crate::services::Pass;
use crate::services::sessions::Interest;
use crate::session::Session;
use crate::stanza::{IqResult, error, internal, local_user};

/// Answers a blocking command of `session` about its own account.
pub async fn handle(server: &Server, session: &Session, payload: &Element, set: bool) -> IqResult {
    match (payload.name(), set) {
        ("blocklist", false) => {
            server
                .sessions
                .set_blocklist_interest(&session.user, session.id());
            let items = server
                .blocking
                .list(&session.user)
                .iter()
                .filter_map(|j| Jid::new(j).ok())
                .collect();
            Ok(Some(BlocklistResult { items }.into()))
        }
        ("block", true) => {
            let (plain, reports) = split_reports(payload);
            let block = Block::try_from(plain).map_err(|_| malformed())?;
            if block.items.is_empty() {
                // XEP-0191 §3.3: a block names at least one JID.
                return Err(addressed(
                    Condition::BadRequest,
                    Text::new(
                        "Indique au moins une adresse à bloquer.",
                        "Indiquez au moins une adresse à bloquer.",
                        "Name at least one address to block.",
                    ),
                ));
            }
            let jids: Vec<String> = block.items.iter().map(Jid::to_string).collect();
            if jids.iter().any(|j| *j == session.bare.to_string()) {
                return Err(addressed(
                    Condition::NotAcceptable,
                    Text::new(
                        "Tu ne peux pas te bloquer toi-même.",
                        "Vous ne pouvez pas vous bloquer vous-même.",
                        "You cannot block yourself.",
                    ),
                ));
            }
            // XEP-0377: the reports attached to items, stored first (a refused report
            // refuses the whole command, nothing blocked).
            if !reports.is_empty() {
                let mut parsed = Vec::new();
                for (jid, r) in &reports {
                    parsed.push((jid, report::parse(&server.config().reports, r)?));
                }
                for (jid, p) in parsed {
                    report::submit(server, session, jid, &p).await?;
                }
            }
            let added = server
                .blocking
                .block(&session.user, &jids)
                .await
                .map_err(internal)?;
            push(server, &session.user, &Pass::own(session), "block", &jids);
            for other in accounts(server, &added) {
                presence::blocked(server, &session.user, &other).await;
            }
            Ok(None)
        }
        ("unblock", true) => {
            let unblock = Unblock::try_from(payload.clone()).map_err(|_| malformed())?;
            let jids: Vec<String> = unblock.items.iter().map(Jid::to_string).collect();
            let removed = server
                .blocking
                .unblock(&session.user, &jids)
                .await
                .map_err(internal)?;
            push(server, &session.user, &Pass::own(session), "unblock", &jids);
            for other in accounts(server, &removed) {
                presence::unblocked(server, &session.user, &other).await;
            }
            Ok(None)
        }
        _ => Err(error(
            Condition::BadRequest,
            "Demande de blocage inconnue : <blocklist/> se lit, <block/> et <unblock/> s'envoient.",
            "Unknown blocking request: get <blocklist/>, set <block/> or <unblock/>.",
        )),
    }
}

/// The school's staff block `blocked` (a bare JID) in `user`'s list, acting on a report
/// (`Server::moderate`): as if he had blocked him himself — his resources get the push,
/// the presences between them end. Returns whether the JID was not blocked yet.
pub async fn block_for(server: &Server, user: &str, blocked: &str) -> Result<bool, StanzaError> {
    let jids = vec![blocked.to_string()];
    let added = server.blocking.block(user, &jids).await.map_err(internal)?;
    // The server speaks: the change of the account's own list, told to its resources.
    push(server, user, &Pass::server_notice(user), "block", &jids);
    for other in accounts(server, &added) {
        presence::blocked(server, user, &other).await;
    }
    Ok(!added.is_empty())
}

/// The block command without its items' XEP-0377 reports (xmpp-parsers' `Block` takes
/// only bare items), and those reports with their item's JID.
fn split_reports(payload: &Element) -> (Element, Vec<(Jid, Element)>) {
    let mut plain = Element::bare("block", ns::BLOCKING);
    let mut reports = Vec::new();
    for item in payload.children() {
        if !item.is("item", ns::BLOCKING) {
            plain.append_child(item.clone());
            continue;
        }
        let mut bare = Element::bare("item", ns::BLOCKING);
        if let Some(jid) = item.attr("jid") {
            xml::set_attr(&mut bare, "jid", jid);
        }
        for c in item.children() {
            if c.is("report", report::NS_REPORTING) {
                if let Some(jid) = item.attr("jid").and_then(|j| Jid::new(j).ok()) {
                    reports.push((jid, c.clone()));
                }
            } else {
                bare.append_child(c.clone());
            }
        }
        plain.append_child(bare);
    }
    (plain, reports)
}

fn malformed() -> StanzaError {
    error(
        Condition::BadRequest,
        "Adresse invalide dans la demande de blocage.",
        "Invalid address in the blocking request.",
    )
}

/// The local accounts that `jids` name by their bare JID (those whose presences a block
/// ends or an unblock restores).
fn accounts(server: &Server, jids: &[String]) -> Vec<String> {
    jids.iter()
        .filter_map(|j| local_user(&server.domain, j))
        .collect()
}

/// Pushes a `block` or `unblock` of `jids` (none: unblock all) to every resource of the
/// account that asked for its blocklist (XEP-0191 §3.3, §3.4).
fn push(server: &Server, user: &str, pass: &Pass, what: &str, jids: &[String]) {
    let bare = server.bare_jid(user);
    server
        .sessions
        .deliver_interested(pass, Interest::Blocklist, |resource| {
            let mut iq = xml::elem("iq", ns::CLIENT, &[("type", "set")]);
            xml::set_attr(
                &mut iq,
                "id",
                format!("push-{}", uuid::Uuid::new_v4().simple()),
            );
            xml::set_attr(&mut iq, "to", format!("{bare}/{resource}"));
            let mut cmd = Element::bare(what, ns::BLOCKING);
            for j in jids {
                cmd.append_child(xml::elem("item", ns::BLOCKING, &[("jid", j)]));
            }
            iq.append_child(cmd);
            iq
        });
}
