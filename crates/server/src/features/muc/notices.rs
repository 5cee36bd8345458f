//! What rooms say about their occupants, built once for every operation that needs it:
//! the seed's event lines (room locked, unlocked), an occupant's presence on entering
//! and on leaving ([`occupant_presence`], [`exit_presence`]), and the notice of an
//! affiliation change ([`affiliation_notice`]).

use causerie_proto::{Element, ns, xml};

use super::{NS_MUC_USER, bare_jid, occupant_jid, room_jid, room_message};
use crate::server::Server;
use crate::services::rooms::{Live, Occupant};

/// The seed's event lines when a room is made and when it is configured.
pub const LOCKED_FR: &str = "Le salon de discussion est verrouillé, entrée impossible jusqu'à ce que la configuration soit déverrouillée";
pub const LOCKED_EN: &str = "This room is locked from entry until its configuration is confirmed";
pub const UNLOCKED_FR: &str = "Le salon de discussion est maintenant déverrouillé";
pub const UNLOCKED_EN: &str = "This room is now unlocked";

/// The `<item/>` of an occupant's presence. Its `jid` is the occupant's session's full
/// JID, or his bare JID once his last session left (never an empty attribute).
fn item(server: &Server, occ: &Occupant, affiliation: &str, role: &str) -> Element {
    let jid = match occ.jid() {
        "" => bare_jid(server, &occ.user),
        full => full.to_string(),
    };
    xml::elem(
        "item",
        NS_MUC_USER,
        &[("affiliation", affiliation), ("role", role), ("jid", &jid)],
    )
}

/// An occupant's available presence, with status `codes` and the time of the event.
pub fn occupant_presence(
    server: &Server,
    room: &str,
    occ: &Occupant,
    codes: &[u16],
    at_ms: i64,
) -> Element {
    let mut p = xml::elem(
        "presence",
        ns::CLIENT,
        &[("from", &occupant_jid(server, room, &occ.nick))],
    );
    if let Some(s) = &occ.show {
        p.append_child(xml::text_elem("show", ns::CLIENT, s.clone()));
    }
    if let Some(s) = &occ.status {
        p.append_child(xml::text_elem("status", ns::CLIENT, s.clone()));
    }
    let mut x = Element::bare("x", NS_MUC_USER);
    x.append_child(item(server, occ, occ.affiliation.as_str(), occ.role()));
    for c in codes {
        x.append_child(xml::elem(
            "status",
            NS_MUC_USER,
            &[("code", &c.to_string())],
        ));
    }
    p.append_child(x);
    p.append_child(super::delay(&room_jid(server, room), at_ms));
    p
}

/// How an occupant leaves (XEP-0045 §7.14, §8.2, §9.2, §10.9).
#[derive(Default)]
pub struct Exit<'a> {
    /// The affiliation after leaving (`member` when just leaving, `none` when removed).
    pub affiliation: &'a str,
    /// Who made him leave: (nickname or name, bare JID).
    pub actor: Option<(&'a str, &'a str)>,
    pub reason: Option<&'a str>,
    pub codes: &'a [u16],
    /// The leaver's own status text.
    pub status: Option<&'a str>,
    /// The room is destroyed (`<destroy/>`, with its reason).
    pub destroyed: Option<Option<&'a str>>,
}

/// An occupant's unavailable presence; `own` adds status 110 (for his own sessions).
pub fn exit_presence(
    server: &Server,
    room: &str,
    occ: &Occupant,
    exit: &Exit<'_>,
    own: bool,
    at_ms: i64,
) -> Element {
    let mut p = xml::elem(
        "presence",
        ns::CLIENT,
        &[
            ("from", &occupant_jid(server, room, &occ.nick)),
            ("type", "unavailable"),
        ],
    );
    if let Some(s) = exit.status {
        p.append_child(xml::text_elem("status", ns::CLIENT, s));
    }
    let mut x = Element::bare("x", NS_MUC_USER);
    let mut it = item(server, occ, exit.affiliation, "none");
    if let Some((nick, jid)) = exit.actor {
        it.append_child(xml::elem(
            "actor",
            NS_MUC_USER,
            &[("nick", nick), ("jid", jid)],
        ));
    }
    if let Some(r) = exit.reason {
        it.append_child(xml::text_elem("reason", NS_MUC_USER, r));
    }
    x.append_child(it);
    if let Some(reason) = exit.destroyed {
        let mut d = Element::bare("destroy", NS_MUC_USER);
        if let Some(r) = reason {
            d.append_child(xml::text_elem("reason", NS_MUC_USER, r));
        }
        x.append_child(d);
    }
    let mut codes = exit.codes.to_vec();
    if own {
        codes.insert(0, 110);
    }
    for c in codes {
        x.append_child(xml::elem(
            "status",
            NS_MUC_USER,
            &[("code", &c.to_string())],
        ));
    }
    p.append_child(x);
    p.append_child(super::delay(&room_jid(server, room), at_ms));
    p
}

/// Tells the occupants that `user`'s affiliation changed (XEP-0045 §9.3).
pub fn affiliation_notice(server: &Server, live: &Live, user: &str, affiliation: &str) {
    let mut m = room_message(server, &live.room.name, None);
    let mut x = Element::bare("x", NS_MUC_USER);
    x.append_child(xml::elem(
        "item",
        NS_MUC_USER,
        &[
            ("affiliation", affiliation),
            ("jid", &bare_jid(server, user)),
        ],
    ));
    m.append_child(x);
    live.broadcast(&m);
}
