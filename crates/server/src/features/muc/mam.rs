//! The archive of a room (XEP-0313 `urn:xmpp:mam:2`, queried at the room's JID), paged
//! with XEP-0059 (`max`, `after`, `before`, an empty `<before/>` for the most recent page),
//! with optional `start`/`end` bounds in the query form (and `after-id`/`before-id`).
//!
//! Members only. Each archived message comes back as
//! `<message><result queryid id='stanza-id'><forwarded><delay/><message…/></forwarded>
//! </result></message>`, oldest first, then the IQ result carries
//! `<fin complete?><set><first index/><last/><count/></set></fin>`. A client pages back
//! through history with `<before>` set to the `first` of the page it has.

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::{ArchiveQuery, RoomStore, StoreError};

use super::{NS_DATA, NS_MAM, NS_RSM, error, no_such_room, room_jid};
use crate::server::Server;
use crate::session::Session;
use crate::stanza::{IqResult, internal};

/// Page size when the client does not say.
pub const DEFAULT_PAGE: i64 = 50;
/// Largest page served.
pub const MAX_PAGE: i64 = 250;

/// A parsed archive query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub queryid: Option<String>,
    pub archive: ArchiveQuery,
}

fn bad(fr: impl Into<String>, en: impl Into<String>) -> StanzaError {
    error(Condition::BadRequest, fr, en)
}

fn parse_time(var: &str, value: &str) -> Result<i64, StanzaError> {
    chrono::DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            bad(
                format!("Le champ « {var} » n'est pas une date XEP-0082."),
                format!("The field \"{var}\" is not an XEP-0082 date-time."),
            )
        })
}

/// Reads a query (see the module docs).
pub fn parse_query(q: &Element) -> Result<Query, StanzaError> {
    let mut archive = ArchiveQuery {
        max: DEFAULT_PAGE,
        ..ArchiveQuery::default()
    };
    if let Some(x) = q.get_child("x", NS_DATA) {
        for f in x.children().filter(|c| c.is("field", NS_DATA)) {
            let var = f.attr("var").unwrap_or_default();
            let value = f
                .get_child("value", NS_DATA)
                .map(|v| v.text())
                .unwrap_or_default();
            match var {
                "FORM_TYPE" => {
                    if value != NS_MAM {
                        return Err(bad(
                            format!("FORM_TYPE doit être {NS_MAM}."),
                            format!("FORM_TYPE must be {NS_MAM}."),
                        ));
                    }
                }
                "start" => archive.start_ms = Some(parse_time(var, &value)?),
                "end" => archive.end_ms = Some(parse_time(var, &value)?),
                "after-id" => archive.after_id = Some(value),
                "before-id" => archive.before_id = Some(value),
                _ => {
                    return Err(bad(
                        format!(
                            "Filtre non pris en charge sur l'archive d'une conversation : « {var} »."
                        ),
                        format!("Unsupported filter on a conversation's archive: \"{var}\"."),
                    ));
                }
            }
        }
    }
    if let Some(set) = q.get_child("set", NS_RSM) {
        if let Some(max) = set.get_child("max", NS_RSM) {
            archive.max = max.text().trim().parse::<i64>().map_err(|_| {
                bad(
                    "<max/> doit être un nombre positif.",
                    "<max/> must be a non-negative number.",
                )
            })?;
            if archive.max < 0 {
                return Err(bad(
                    "<max/> doit être un nombre positif.",
                    "<max/> must be a non-negative number.",
                ));
            }
        }
        if let Some(after) = set.get_child("after", NS_RSM) {
            archive.after_id = Some(after.text());
        }
        if let Some(before) = set.get_child("before", NS_RSM) {
            let id = before.text();
            if id.is_empty() {
                archive.last_page = true;
            } else {
                archive.before_id = Some(id);
            }
        }
    }
    archive.max = archive.max.min(MAX_PAGE);
    Ok(Query {
        queryid: q.attr("queryid").map(str::to_string),
        archive,
    })
}

/// The fields a query form may have (get).
fn form() -> Element {
    let mut q = Element::bare("query", NS_MAM);
    let mut x = xml::elem("x", NS_DATA, &[("type", "form")]);
    let mut ft = xml::elem(
        "field",
        NS_DATA,
        &[("var", "FORM_TYPE"), ("type", "hidden")],
    );
    ft.append_child(xml::text_elem("value", NS_DATA, NS_MAM));
    x.append_child(ft);
    for var in ["start", "end", "after-id", "before-id"] {
        x.append_child(xml::elem(
            "field",
            NS_DATA,
            &[("var", var), ("type", "text-single")],
        ));
    }
    q.append_child(x);
    q
}

pub async fn handle(
    server: &Server,
    session: &Session,
    room: &str,
    payload: &Element,
    set: bool,
) -> IqResult {
    let mut lock = server.rooms.lock(room).await;
    let Some(live) = lock.load(&server.store).await.map_err(internal)? else {
        return Err(no_such_room());
    };
    let member = server
        .store
        .member(live.room.id, &session.user)
        .await
        .map_err(internal)?;
    let Some(member) = member else {
        if live.room.locked {
            return Err(no_such_room());
        }
        return Err(error(
            Condition::Forbidden,
            "L'archive d'une conversation est réservée à ses membres.",
            "A conversation's archive is for its members only.",
        ));
    };
    if !set {
        return Ok(Some(form()));
    }
    let mut query = parse_query(payload)?;
    // A member reads the archive from his invitation on, never before.
    query.archive.start_ms = Some(
        query
            .archive
            .start_ms
            .map_or(member.added_ms, |s| s.max(member.added_ms)),
    );
    let room_id = live.room.id;
    server.archive.flush().await;
    let page = match server.store.archive_page(room_id, &query.archive).await {
        Ok(p) => p,
        Err(StoreError::NotFound) => {
            return Err(error(
                Condition::ItemNotFound,
                "Ce message n'est pas dans l'archive de la conversation.",
                "This message is not in the conversation's archive.",
            ));
        }
        Err(e) => return Err(internal(e)),
    };
    drop(lock);
    let from = room_jid(server, room);
    for m in &page.messages {
        let Ok(inner) = m.stanza.parse::<Element>() else {
            continue;
        };
        let mut forwarded = Element::bare("forwarded", ns::FORWARD);
        forwarded.append_child(xml::elem(
            "delay",
            ns::DELAY,
            &[("stamp", &super::stamp(m.stamp_ms))],
        ));
        forwarded.append_child(inner);
        let mut result = xml::elem("result", NS_MAM, &[("id", &m.stanza_id)]);
        if let Some(q) = &query.queryid {
            xml::set_attr(&mut result, "queryid", q.clone());
        }
        result.append_child(forwarded);
        let mut msg = xml::elem(
            "message",
            ns::CLIENT,
            &[
                ("from", &from),
                ("to", &session.jid.to_string()),
                ("id", &uuid::Uuid::new_v4().to_string()),
            ],
        );
        msg.append_child(result);
        session.reply(msg);
    }
    let mut fin = Element::bare("fin", NS_MAM);
    if page.complete {
        xml::set_attr(&mut fin, "complete", "true");
    }
    let mut rsm = Element::bare("set", NS_RSM);
    if let (Some(first), Some(last)) = (page.messages.first(), page.messages.last()) {
        let mut f = xml::text_elem("first", NS_RSM, first.stanza_id.clone());
        xml::set_attr(&mut f, "index", page.first_index.to_string());
        rsm.append_child(f);
        rsm.append_child(xml::text_elem("last", NS_RSM, last.stanza_id.clone()));
    }
    rsm.append_child(xml::text_elem("count", NS_RSM, page.count.to_string()));
    fin.append_child(rsm);
    Ok(Some(fin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(inner: &str) -> Element {
        format!("<query xmlns='urn:xmpp:mam:2' queryid='q1'>{inner}</query>")
            .parse()
            .unwrap()
    }

    #[test]
    fn defaults_and_paging() {
        let p = parse_query(&q("")).unwrap();
        assert_eq!(p.queryid.as_deref(), Some("q1"));
        assert_eq!(p.archive.max, DEFAULT_PAGE);
        assert!(!p.archive.last_page);
        let p = parse_query(&q(
            "<set xmlns='http://jabber.org/protocol/rsm'><max>10</max><before/></set>",
        ))
        .unwrap();
        assert_eq!(p.archive.max, 10);
        assert!(p.archive.last_page);
        let p = parse_query(&q(
            "<set xmlns='http://jabber.org/protocol/rsm'><max>100000</max><before>abc</before><after>def</after></set>",
        ))
        .unwrap();
        assert_eq!(p.archive.max, MAX_PAGE);
        assert_eq!(p.archive.before_id.as_deref(), Some("abc"));
        assert_eq!(p.archive.after_id.as_deref(), Some("def"));
    }

    #[test]
    fn form_bounds() {
        let p = parse_query(&q("<x xmlns='jabber:x:data' type='submit'>\
             <field var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field>\
             <field var='start'><value>2024-03-01T08:00:00Z</value></field>\
             <field var='end'><value>2024-03-01T09:00:00.500+01:00</value></field>\
             </x>"))
        .unwrap();
        assert_eq!(p.archive.start_ms, Some(1_709_280_000_000));
        assert_eq!(p.archive.end_ms, Some(1_709_280_000_500));
    }

    #[test]
    fn malformed_queries() {
        for bad in [
            "<set xmlns='http://jabber.org/protocol/rsm'><max>ten</max></set>",
            "<set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set>",
            "<x xmlns='jabber:x:data'><field var='start'><value>yesterday</value></field></x>",
            "<x xmlns='jabber:x:data'><field var='with'><value>a@b</value></field></x>",
            "<x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x>",
        ] {
            assert_eq!(
                parse_query(&q(bad)).unwrap_err().condition,
                Condition::BadRequest,
                "{bad}"
            );
        }
    }
}
