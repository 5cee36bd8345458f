//! The archive of a room (XEP-0313 `urn:xmpp:mam:2`, queried at the room's JID), paged
//! with XEP-0059 (`max`, `after`, `before`, an empty `<before/>` for the most recent page),
//! with optional `start`/`end` bounds in the query form (and `after-id`/`before-id`,
//! `ids`, `<flip-page/>`): the query language is `features::mam`'s, shared with the
//! accounts' archive.
//!
//! Members only. Each archived message comes back as
//! `<message><result queryid id='stanza-id'><forwarded><delay/><message…/></forwarded>
//! </result></message>`, oldest first, then the IQ result carries
//! `<fin complete?><set><first index/><last/><count/></set></fin>`. A client pages back
//! through history with `<before>` set to the `first` of the page it has.

use causerie_proto::Element;
use causerie_proto::errors::Condition;
use causerie_store::{RoomStore, StoreError};

use super::{error, no_such_room, room_jid};
use crate::features::mam::{Scope, form, not_in_archive, parse_query, reply_page};
use crate::server::Server;
use crate::session::Session;
use crate::stanza::{IqResult, internal};

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
        return Ok(Some(form(Scope::Room)));
    }
    let mut query = parse_query(payload, Scope::Room)?;
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
        Err(StoreError::NotFound) => return Err(not_in_archive()),
        Err(e) => return Err(internal(e)),
    };
    drop(lock);
    let from = room_jid(server, room);
    Ok(Some(reply_page(session, &from, &query, &page, |m| {
        (&m.stanza, &m.stanza_id, m.stamp_ms)
    })))
}
