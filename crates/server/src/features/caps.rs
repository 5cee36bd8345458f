//! XEP-0115 entity capabilities of the clients, for PEP (XEP-0163 §4.3): which nodes a
//! session wants notifications of (`NODE+notify` among its features).
//!
//! A client's available presence carries `<c node ver hash/>`. When the `ver` is new, the
//! server itself asks that session's disco#info (`node#ver`), once; the answer (an IQ
//! result to the domain) is checked against the hash (SHA-1, as XEP-0115 §5.1 computes
//! it with xmpp-parsers) and remembered in `services::caps` — for everyone when it
//! matches, for that full JID only when it cannot be verified. Only the `+notify` nodes
//! are kept. The callers (the presence broadcast and the IQ table) then hand the nodes to
//! `features::pep` for the last items.

use std::sync::Arc;

use causerie_proto::parsers::caps::{compute_disco, hash_caps};
use causerie_proto::parsers::disco::DiscoInfoResult;
use causerie_proto::parsers::hashes::Algo;
use causerie_proto::{Element, ns, xml};
use tracing::debug;

use crate::server::Server;
use crate::services::caps::Query;
use crate::session::Session;

pub const NS_CAPS: &str = "http://jabber.org/protocol/caps";
const NOTIFY: &str = "+notify";

/// The `<c/>` of a presence: node, ver and hash.
fn caps_of(presence: &Element) -> Option<(&str, &str, &str)> {
    let c = presence.get_child("c", NS_CAPS)?;
    Some((
        c.attr("node")?,
        c.attr("ver")?,
        c.attr("hash").unwrap_or(""),
    ))
}

/// The key of a hash everyone may share (verified).
fn shared_key(ver: &str) -> String {
    format!("sha-1 {ver}")
}

/// The key of a hash only `full` presented (not verifiable).
fn own_key(full: &str, ver: &str) -> String {
    format!("{full} {ver}")
}

/// The nodes (without `+notify`) the session that sent `presence` from `full` wants
/// notifications of, if its capabilities are known.
pub fn notify_nodes(server: &Server, full: &str, presence: &Element) -> Option<Arc<[String]>> {
    let (_, ver, _) = caps_of(presence)?;
    server
        .caps
        .get(&shared_key(ver))
        .or_else(|| server.caps.get(&own_key(full, ver)))
}

/// `session` sent the available presence `presence`: its `+notify` nodes when known now;
/// otherwise, if it has capabilities, the server asks them (the answer goes to
/// [`answered`]).
pub fn presence_sent(
    server: &Server,
    session: &Session,
    presence: &Element,
) -> Option<Arc<[String]>> {
    let full = session.jid.to_string();
    let (node, ver, hash) = caps_of(presence)?;
    if let Some(known) = notify_nodes(server, &full, presence) {
        return Some(known);
    }
    if server.caps.asking(&full, ver) {
        return None;
    }
    let id = format!("caps-{}", uuid::Uuid::new_v4().simple());
    let mut q = Element::bare("query", ns::DISCO_INFO);
    xml::set_attr(&mut q, "node", format!("{node}#{ver}"));
    let mut iq = xml::elem(
        "iq",
        ns::CLIENT,
        &[
            ("type", "get"),
            ("id", &id),
            ("from", &server.domain),
            ("to", &full),
        ],
    );
    iq.append_child(q);
    server.caps.expect(
        id,
        Query {
            to: full,
            node: node.to_string(),
            ver: ver.to_string(),
            hash: hash.to_string(),
        },
    );
    // The server asks the session itself: nothing crosses between accounts.
    session.reply(iq);
    None
}

/// An IQ answer `stanza` the session sent to the domain: if it answers one of the
/// server's caps queries, the `+notify` nodes learnt.
pub fn answered(server: &Server, session: &Session, stanza: &Element) -> Option<Arc<[String]>> {
    let id = stanza.attr("id")?;
    let full = session.jid.to_string();
    let query = server.caps.answered(id, &full)?;
    if stanza.attr("type") != Some("result") {
        // The client would not say: it wants nothing (remembered for it alone).
        server.caps.learn(own_key(&full, &query.ver), Vec::new());
        return Some(Arc::from(Vec::new()));
    }
    let info = stanza
        .get_child("query", ns::DISCO_INFO)
        .and_then(|q| DiscoInfoResult::try_from(q.clone()).ok());
    let Some(info) = info else {
        server.caps.learn(own_key(&full, &query.ver), Vec::new());
        return Some(Arc::from(Vec::new()));
    };
    let nodes: Vec<String> = info
        .features
        .iter()
        .filter_map(|f| f.strip_suffix(NOTIFY))
        .map(str::to_string)
        .collect();
    let verified = query.hash == "sha-1"
        && hash_caps(&compute_disco(&info), Algo::Sha_1).is_ok_and(|h| h.to_base64() == query.ver);
    let key = if verified {
        shared_key(&query.ver)
    } else {
        debug!(jid = %full, "capabilities hash not verified: kept for this client only");
        own_key(&full, &query.ver)
    };
    server.caps.learn(key.clone(), nodes);
    server.caps.get(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_of_xep_0115_example_is_verified() {
        // XEP-0115 §5.2, simple generation example.
        let q: Element = "<query xmlns='http://jabber.org/protocol/disco#info'>\
            <identity category='client' name='Exodus 0.9.1' type='pc'/>\
            <feature var='http://jabber.org/protocol/caps'/>\
            <feature var='http://jabber.org/protocol/disco#info'/>\
            <feature var='http://jabber.org/protocol/disco#items'/>\
            <feature var='http://jabber.org/protocol/muc'/></query>"
            .parse()
            .unwrap();
        let info = DiscoInfoResult::try_from(q).unwrap();
        let h = hash_caps(&compute_disco(&info), Algo::Sha_1).unwrap();
        assert_eq!(h.to_base64(), "QgayPKawpkPSDYmwT/WM94uAlu0=");
    }

    #[test]
    fn caps_are_read_from_presence() {
        let p: Element =
            "<presence xmlns='jabber:client'><c xmlns='http://jabber.org/protocol/caps' \
            hash='sha-1' node='n' ver='V'/></presence>"
                .parse()
                .unwrap();
        assert_eq!(caps_of(&p), Some(("n", "V", "sha-1")));
        let none: Element = "<presence xmlns='jabber:client'/>".parse().unwrap();
        assert_eq!(caps_of(&none), None);
    }
}
