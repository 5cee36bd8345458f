//! XEP-0313 message archive management: the query language shared by both archives (a
//! room's, `features::muc::mam`, and an account's, here), and the account's archive of its
//! one-to-one messages, queried at the account's bare JID (`to` omitted or one's own).
//!
//! A query (`<iq type='set'><query xmlns='urn:xmpp:mam:2' queryid=…>`) may carry a form
//! with `start`, `end`, `with` (accounts), and the extended filters `before-id`,
//! `after-id`, `ids` (advertised as `urn:xmpp:mam:2#extended`, with `<flip-page/>`), and
//! XEP-0059 paging (`max`, `after`, `before`, an empty `<before/>` for the last page).
//! Each message comes back as `<message><result queryid id><forwarded><delay stamp/>
//! <message…/></forwarded></result></message>`, oldest first (newest first with
//! `<flip-page/>`; the RSM `first` and `last` still name the oldest and the newest), then
//! the IQ result carries `<fin complete?><set><first index/><last/><count/></set></fin>`.
//! `type='get'` answers the form's fields. Malformed queries get `bad-request` with a
//! French and English text.
//!
//! An account reads only its own archive: a query at another account's JID is
//! `forbidden`. What is archived is decided where the gate's verdict delivers a message
//! (`features::message`): only what was delivered (or stored offline) to someone the
//! rules let the sender reach. Preferences (`<prefs/>`): the school keeps every
//! one-to-one conversation for its retention (docs/config.md, "Archive"), so the answer is
//! always `default='always'`, and a change to anything else is refused with
//! `not-allowed` and the reason. [`start`] purges the archives past their retention
//! (`services::retention`) at start and every hour, and with them the other data classes
//! (closed reports, the audit log, departed users' accounts) and the shared files.

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::{AccountArchiveStore, ArchiveQuery, StoreError};
use jid::Jid;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

use crate::server::Server;
use crate::services::retention;
use crate::session::Session;
use crate::stanza::{IqResult, error, internal};

/// Page size when the client does not say.
pub const DEFAULT_PAGE: i64 = 50;
/// Largest page served.
pub const MAX_PAGE: i64 = 250;
/// How often the accounts' archives are purged past their retention.
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// Most ids in one `ids` filter.
pub const MAX_IDS: usize = 250;

/// Which archive a query is for: the filters differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A room's archive (no `with`).
    Room,
    /// An account's archive.
    Account,
}

/// A parsed archive query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub queryid: Option<String>,
    pub archive: ArchiveQuery,
    /// Newest first (`<flip-page/>`).
    pub flip: bool,
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

/// The bare JID a `with` filter names (an archive keeps the other party's bare JID).
fn parse_with(value: &str) -> Result<String, StanzaError> {
    Jid::new(value.trim())
        .map(|j| j.to_bare().to_string())
        .map_err(|_| {
            bad(
                "Le champ « with » n'est pas une adresse valable.",
                "The field \"with\" is not a valid address.",
            )
        })
}

/// Reads a query (see the module docs).
pub fn parse_query(q: &Element, scope: Scope) -> Result<Query, StanzaError> {
    let mut archive = ArchiveQuery {
        max: DEFAULT_PAGE,
        ..ArchiveQuery::default()
    };
    if let Some(x) = q.get_child("x", ns::DATA) {
        for f in x.children().filter(|c| c.is("field", ns::DATA)) {
            let var = f.attr("var").unwrap_or_default();
            let mut values = f
                .children()
                .filter(|c| c.is("value", ns::DATA))
                .map(|v| v.text());
            let value = values.next().unwrap_or_default();
            match (var, scope) {
                ("FORM_TYPE", _) => {
                    if value != ns::MAM {
                        return Err(bad(
                            format!("FORM_TYPE doit être {}.", ns::MAM),
                            format!("FORM_TYPE must be {}.", ns::MAM),
                        ));
                    }
                }
                ("start", _) => archive.start_ms = Some(parse_time(var, &value)?),
                ("end", _) => archive.end_ms = Some(parse_time(var, &value)?),
                ("after-id", _) => archive.after_id = Some(value),
                ("before-id", _) => archive.before_id = Some(value),
                ("with", Scope::Account) => archive.with = Some(parse_with(&value)?),
                ("ids", _) => {
                    let ids: Vec<String> = std::iter::once(value).chain(values).collect();
                    if ids.len() > MAX_IDS {
                        return Err(bad(
                            format!("{MAX_IDS} identifiants au plus dans « ids »."),
                            format!("At most {MAX_IDS} ids in \"ids\"."),
                        ));
                    }
                    archive.ids = Some(ids);
                }
                _ => {
                    return Err(match scope {
                        Scope::Room => bad(
                            format!(
                                "Filtre non pris en charge sur l'archive d'une conversation : « {var} »."
                            ),
                            format!("Unsupported filter on a conversation's archive: \"{var}\"."),
                        ),
                        Scope::Account => bad(
                            format!("Filtre non pris en charge sur l'archive : « {var} »."),
                            format!("Unsupported filter on the archive: \"{var}\"."),
                        ),
                    });
                }
            }
        }
    }
    if let Some(set) = q.get_child("set", ns::RSM) {
        if let Some(max) = set.get_child("max", ns::RSM) {
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
        if let Some(after) = set.get_child("after", ns::RSM) {
            archive.after_id = Some(after.text());
        }
        if let Some(before) = set.get_child("before", ns::RSM) {
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
        flip: q.get_child("flip-page", ns::MAM).is_some(),
    })
}

/// The fields a query form may have (`type='get'`).
pub fn form(scope: Scope) -> Element {
    let mut q = Element::bare("query", ns::MAM);
    let mut x = xml::elem("x", ns::DATA, &[("type", "form")]);
    let mut ft = xml::elem(
        "field",
        ns::DATA,
        &[("var", "FORM_TYPE"), ("type", "hidden")],
    );
    ft.append_child(xml::text_elem("value", ns::DATA, ns::MAM));
    x.append_child(ft);
    if scope == Scope::Account {
        x.append_child(xml::elem(
            "field",
            ns::DATA,
            &[("var", "with"), ("type", "jid-single")],
        ));
    }
    for var in ["start", "end", "after-id", "before-id"] {
        x.append_child(xml::elem(
            "field",
            ns::DATA,
            &[("var", var), ("type", "text-single")],
        ));
    }
    x.append_child(xml::elem(
        "field",
        ns::DATA,
        &[("var", "ids"), ("type", "list-multi")],
    ));
    q.append_child(x);
    q
}

/// The message that carries one archived message to the querier.
pub fn result_message(
    from: &str,
    to: &str,
    queryid: Option<&str>,
    stanza_id: &str,
    stamp_ms: i64,
    inner: Element,
) -> Element {
    let mut forwarded = Element::bare("forwarded", ns::FORWARD);
    forwarded.append_child(xml::elem(
        "delay",
        ns::DELAY,
        &[("stamp", &crate::stanza::stamp(stamp_ms))],
    ));
    forwarded.append_child(inner);
    let mut result = xml::elem("result", ns::MAM, &[("id", stanza_id)]);
    if let Some(q) = queryid {
        xml::set_attr(&mut result, "queryid", q);
    }
    result.append_child(forwarded);
    let mut msg = xml::elem(
        "message",
        ns::CLIENT,
        &[
            ("from", from),
            ("to", to),
            ("id", &uuid::Uuid::new_v4().to_string()),
        ],
    );
    msg.append_child(result);
    msg
}

/// The `<fin/>` of a page: `first` and `last` are the stanza-ids of its oldest and newest
/// messages.
pub fn fin(complete: bool, ends: Option<(&str, &str)>, first_index: i64, count: i64) -> Element {
    let mut fin = Element::bare("fin", ns::MAM);
    if complete {
        xml::set_attr(&mut fin, "complete", "true");
    }
    let mut rsm = Element::bare("set", ns::RSM);
    if let Some((first, last)) = ends {
        let mut f = xml::text_elem("first", ns::RSM, first);
        xml::set_attr(&mut f, "index", first_index.to_string());
        rsm.append_child(f);
        rsm.append_child(xml::text_elem("last", ns::RSM, last));
    }
    rsm.append_child(xml::text_elem("count", ns::RSM, count.to_string()));
    fin.append_child(rsm);
    fin
}

/// The error for a `before-id`/`after-id`/RSM id that is not in the archive.
pub fn not_in_archive() -> StanzaError {
    error(
        Condition::ItemNotFound,
        "Ce message n'est pas dans l'archive.",
        "This message is not in the archive.",
    )
}

/// A query at another account's archive.
pub fn not_yours() -> StanzaError {
    error(
        Condition::Forbidden,
        "On ne consulte que sa propre archive.",
        "One may only read one's own archive.",
    )
}

/// A query at the account's own archive (see the module docs).
pub async fn handle(server: &Server, session: &Session, payload: &Element, set: bool) -> IqResult {
    if !set {
        return Ok(Some(form(Scope::Account)));
    }
    let query = parse_query(payload, Scope::Account)?;
    // Everything delivered before the query is in the archive.
    server.archive.flush().await;
    let page = match server
        .store
        .account_archive_page(&session.user, &query.archive)
        .await
    {
        Ok(p) => p,
        Err(StoreError::NotFound) => return Err(not_in_archive()),
        Err(e) => return Err(internal(e)),
    };
    let bare = server.bare_jid(&session.user);
    Ok(Some(reply_page(session, &bare, &query, &page, |m| {
        (&m.stanza, &m.stanza_id, m.stamp_ms)
    })))
}

/// Sends a page of an archive (`from`: the archive's JID, the account's or the room's) to
/// `session` as result messages, in the query's order, and returns the `<fin/>` that ends
/// it. `parts` gives a message's stored stanza, stanza-id and stamp.
pub fn reply_page<M>(
    session: &Session,
    from: &str,
    query: &Query,
    page: &causerie_store::ArchivePage<M>,
    parts: impl Fn(&M) -> (&str, &str, i64),
) -> Element {
    let to = session.jid.to_string();
    let mut results: Vec<Element> = page
        .messages
        .iter()
        .filter_map(|m| {
            let (stanza, stanza_id, stamp_ms) = parts(m);
            let inner = stanza.parse::<Element>().ok()?;
            Some(result_message(
                from,
                &to,
                query.queryid.as_deref(),
                stanza_id,
                stamp_ms,
                inner,
            ))
        })
        .collect();
    if query.flip {
        results.reverse();
    }
    for r in results {
        session.reply(r);
    }
    let ends = page
        .messages
        .first()
        .zip(page.messages.last())
        .map(|(f, l)| (parts(f).1, parts(l).1));
    fin(page.complete, ends, page.first_index, page.count)
}

/// Purges the accounts' archives past their retention at start, then every hour.
pub async fn start(server: &Arc<Server>) {
    purge(server).await;
    let weak = Arc::downgrade(server);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(PURGE_EVERY).await;
            let Some(server) = weak.upgrade() else { break };
            purge(&server).await;
        }
    });
}

async fn purge(server: &Server) {
    match retention::purge(&server.store, &server.config.archive, chrono::Local::now()).await {
        Ok(0) => {}
        Ok(n) => info!(
            messages = n,
            "purged accounts' archives past their retention"
        ),
        Err(e) => warn!(error = %e, "cannot purge the accounts' archives"),
    }
    // Closed reports, the audit log, users who left the directory (before the files: a
    // departed user's files go with them).
    match retention::purge_classes_now(&server.store, &server.config.archive).await {
        Ok(p) => {
            if p.reports > 0 || p.audit_rows > 0 || !p.departed.is_empty() {
                info!(
                    reports = p.reports,
                    audit_rows = p.audit_rows,
                    departed = p.departed.len(),
                    "purged data past its retention"
                );
            }
            if !p.departed.is_empty() {
                server.directory_changed().await;
            }
        }
        Err(e) => warn!(error = %e, "cannot purge reports, audit log or departed users"),
    }
    // Shared files follow the same retention (their owner's structures).
    let dir = server.config.upload_dir();
    match retention::purge_uploads(
        &server.store,
        &server.config.archive,
        &dir,
        chrono::Local::now(),
    )
    .await
    {
        Ok(0) => {}
        Ok(n) => info!(files = n, "purged shared files past their retention"),
        Err(e) => warn!(error = %e, "cannot purge the shared files"),
    }
}

/// `<prefs/>` (see the module docs): get answers `always`; a set is accepted only when it
/// asks for what already is.
pub fn prefs(payload: &Element, set: bool) -> IqResult {
    let current = || {
        let mut p = xml::elem("prefs", ns::MAM, &[("default", "always")]);
        p.append_child(Element::bare("always", ns::MAM));
        p.append_child(Element::bare("never", ns::MAM));
        p
    };
    if !set {
        return Ok(Some(current()));
    }
    let lists_empty = ["always", "never"].iter().all(|l| {
        payload
            .get_child(l, ns::MAM)
            .is_none_or(|e| e.children().next().is_none())
    });
    if payload.attr("default").unwrap_or("always") == "always" && lists_empty {
        return Ok(Some(current()));
    }
    Err(error(
        Condition::NotAllowed,
        "L'établissement conserve toutes les conversations pendant sa durée de conservation ; ce réglage ne peut pas être changé.",
        "The school keeps every conversation for its retention period; this setting cannot be changed.",
    ))
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
        let p = parse_query(&q(""), Scope::Account).unwrap();
        assert_eq!(p.queryid.as_deref(), Some("q1"));
        assert_eq!(p.archive.max, DEFAULT_PAGE);
        assert!(!p.archive.last_page && !p.flip);
        let p = parse_query(
            &q("<set xmlns='http://jabber.org/protocol/rsm'><max>10</max><before/></set><flip-page/>"),
            Scope::Account,
        )
        .unwrap();
        assert_eq!(p.archive.max, 10);
        assert!(p.archive.last_page && p.flip);
        let p = parse_query(
            &q("<set xmlns='http://jabber.org/protocol/rsm'><max>100000</max><before>abc</before><after>def</after></set>"),
            Scope::Room,
        )
        .unwrap();
        assert_eq!(p.archive.max, MAX_PAGE);
        assert_eq!(p.archive.before_id.as_deref(), Some("abc"));
        assert_eq!(p.archive.after_id.as_deref(), Some("def"));
    }

    #[test]
    fn form_filters() {
        let p = parse_query(
            &q("<x xmlns='jabber:x:data' type='submit'>\
             <field var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field>\
             <field var='with'><value>Lea@Example.org/phone</value></field>\
             <field var='start'><value>2024-03-01T08:00:00Z</value></field>\
             <field var='end'><value>2024-03-01T09:00:00.500+01:00</value></field>\
             <field var='ids'><value>a</value><value>b</value></field>\
             </x>"),
            Scope::Account,
        )
        .unwrap();
        assert_eq!(p.archive.with.as_deref(), Some("lea@example.org"));
        assert_eq!(p.archive.start_ms, Some(1_709_280_000_000));
        assert_eq!(p.archive.end_ms, Some(1_709_280_000_500));
        assert_eq!(p.archive.ids, Some(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn malformed_queries() {
        for (bad, scope) in [
            (
                "<set xmlns='http://jabber.org/protocol/rsm'><max>ten</max></set>",
                Scope::Account,
            ),
            (
                "<set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set>",
                Scope::Account,
            ),
            (
                "<x xmlns='jabber:x:data'><field var='start'><value>yesterday</value></field></x>",
                Scope::Account,
            ),
            (
                "<x xmlns='jabber:x:data'><field var='with'><value>a@b</value></field></x>",
                Scope::Room,
            ),
            (
                "<x xmlns='jabber:x:data'><field var='with'><value>@@</value></field></x>",
                Scope::Account,
            ),
            (
                "<x xmlns='jabber:x:data'><field var='color'><value>red</value></field></x>",
                Scope::Account,
            ),
            (
                "<x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x>",
                Scope::Account,
            ),
        ] {
            let e = parse_query(&q(bad), scope).unwrap_err();
            assert_eq!(e.condition, Condition::BadRequest, "{bad}");
        }
    }

    #[test]
    fn preferences_stay_always() {
        let get: Element = "<prefs xmlns='urn:xmpp:mam:2'/>".parse().unwrap();
        let p = prefs(&get, false).unwrap().unwrap();
        assert_eq!(p.attr("default"), Some("always"));
        assert!(prefs(&get, true).is_ok());
        for change in [
            "<prefs xmlns='urn:xmpp:mam:2' default='never'/>",
            "<prefs xmlns='urn:xmpp:mam:2' default='roster'/>",
            "<prefs xmlns='urn:xmpp:mam:2' default='always'><never><jid>a@b</jid></never></prefs>",
        ] {
            let e = prefs(&change.parse().unwrap(), true).unwrap_err();
            assert_eq!(e.condition, Condition::NotAllowed, "{change}");
        }
    }
}
