//! Entering and leaving rooms (XEP-0045 §7.1–7.2, §7.14, §10.1), and occupants' show.
//!
//! Presence to `room@conference.DOMAIN/nick`:
//! - to a room that does not exist: the room is made, its sender is the owner (role
//!   moderator) and it stays locked (status 201, and the seed's line « Le salon de
//!   discussion est verrouillé… ») until configured;
//! - to a room that exists: members only (`registration-required` otherwise; a locked
//!   room is `item-not-found` to anyone but its owner); the newcomer receives who is there,
//!   then his own presence (110, 100 non-anonymous, 170 archived, 210 when the service
//!   chose his nickname), the last messages with their delay stamps, then the subject;
//! - from an occupant: a show/status change, broadcast to everyone;
//! - `unavailable`: leaving (the membership stays).
//!
//! Every join, change and departure broadcast carries an XEP-0203 delay with the time it
//! happened, so clients can write « X a rejoint la conversation | HH:MM:SS ».
//!
//! Nicknames: a directory user is known by his « NOM Prénom » (with his login in
//! parentheses if a namesake already uses it); other accounts choose theirs (their
//! localpart when they give none). Nicknames are unique in a room, without regard to
//! case, over its occupants and the nicknames its members last used. Several sessions of
//! one account share one occupant.

use crate::stanza::addressed;
use causerie_ent::{Text, said};
use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::{Affiliation, ArchiveQuery, CreateRoom, Room, RoomMember, RoomStore};
use tracing::{debug, info, warn};

use super::notices::{Exit, LOCKED_EN, LOCKED_FR, exit_presence, occupant_presence};
use super::{
    MAX_ROOM_NAME_CHARS, NS_MUC, body, display_name, error, no_such_room, now_ms, occupant_jid,
    owner, room_jid, room_message, text,
};
use crate::server::Server;
use crate::services::rooms::{Live, Occupant, OccupantSession, RoomLock};
use crate::session::Session;
use crate::session::reply_error;
use crate::stanza::MucDest;
use crate::stanza::{IqResult, internal};

pub async fn handle(server: &Server, session: &Session, stanza: Element, dest: MucDest) {
    let MucDest::Room { room, nick } = dest else {
        if stanza.attr("type").is_none() {
            reply_error(
                session,
                &stanza,
                addressed(
                    Condition::JidMalformed,
                    Text::new(
                        "Pour entrer dans une conversation, adresse ta présence à conversation@service/pseudo.",
                        "Pour entrer dans une conversation, adressez votre présence à conversation@service/pseudo.",
                        "To enter a conversation, send presence to room@service/nickname.",
                    ),
                ),
            );
        }
        return;
    };
    match stanza.attr("type") {
        None => available(server, session, stanza, &room, nick).await,
        Some("unavailable") => {
            let status = stanza
                .get_child("status", ns::CLIENT)
                .map(|s| s.text())
                .filter(|s| {
                    !s.is_empty()
                        && text::check_lines(s, server.config.muc.max_subject_chars).is_ok()
                });
            leave(server, session, &room, status).await;
        }
        Some("error" | "probe" | "subscribe" | "subscribed" | "unsubscribe" | "unsubscribed") => {}
        Some(_) => reply_error(session, &stanza, Condition::BadRequest),
    }
}

/// Show and status of an occupant's presence (other payloads are not relayed).
fn show_status(
    stanza: &Element,
    max: usize,
) -> Result<(Option<String>, Option<String>), StanzaError> {
    let show = stanza
        .get_child("show", ns::CLIENT)
        .map(|s| s.text())
        .filter(|s| matches!(s.as_str(), "away" | "chat" | "dnd" | "xa"));
    let status = stanza
        .get_child("status", ns::CLIENT)
        .map(|s| s.text())
        .filter(|s| !s.is_empty());
    if let Some(s) = &status {
        text::check_lines(s, max).map_err(|e| e.stanza_error("Le statut", "The status"))?;
    }
    Ok((show, status))
}

async fn available(
    server: &Server,
    session: &Session,
    stanza: Element,
    room: &str,
    requested: Option<String>,
) {
    let (show, status) = match show_status(&stanza, server.config.muc.max_subject_chars) {
        Ok(v) => v,
        Err(e) => {
            reply_error(session, &stanza, e);
            return;
        }
    };
    if let Some(r) = &requested
        && let Err(e) = text::check_nick(r, server.config.muc.max_nick_chars)
    {
        reply_error(
            session,
            &stanza,
            e.stanza_error("Le pseudo", "The nickname"),
        );
        return;
    }
    let mut lock = server.rooms.lock(room).await;
    let exists = match lock.load(&server.store).await {
        Ok(l) => l.is_some(),
        Err(e) => {
            reply_error(session, &stanza, internal(e));
            return;
        }
    };
    let occupant = lock.live.as_ref().and_then(|l| l.by_session(session.id()));
    let result = match (exists, occupant) {
        (false, _) => create(server, session, &mut lock, requested, show, status).await,
        (true, Some(i)) => update(server, &mut lock, i, requested, show, status),
        (true, None) => join(server, session, &stanza, &mut lock, requested, show, status).await,
    };
    if let Err(e) = result {
        reply_error(session, &stanza, e);
    }
}

/// Addresses a copy of `stanza` to the session.
fn to(session: &Session, mut stanza: Element) -> Element {
    xml::set_attr(&mut stanza, "to", session.jid.to_string());
    stanza
}

/// Whether `nick` is used in the room by someone other than `user`: an occupant, or a
/// member who last used it there.
fn taken(live: Option<&Live>, members: &[RoomMember], user: &str, nick: &str) -> bool {
    let low = nick.to_lowercase();
    live.is_some_and(|l| {
        l.occupants
            .iter()
            .any(|o| o.user != user && o.nick.to_lowercase() == low)
    }) || members
        .iter()
        .any(|m| m.user != user && m.nick.as_deref().is_some_and(|n| n.to_lowercase() == low))
}

fn nick_taken() -> StanzaError {
    error(
        Condition::Conflict,
        "Ce pseudo est déjà pris dans cette conversation.",
        "This nickname is already taken in this conversation.",
    )
}

/// The nickname `user` gets in the room, and whether the service chose it (status 210).
async fn assign_nick(
    server: &Server,
    live: Option<&Live>,
    members: &[RoomMember],
    user: &str,
    requested: Option<&str>,
) -> Result<(String, bool), StanzaError> {
    let max = server.config.muc.max_nick_chars;
    // Another session of the same account is the same occupant.
    if let Some(l) = live
        && let Some(i) = l.by_user(user)
    {
        let nick = l.occupants[i].nick.clone();
        let chosen = requested != Some(nick.as_str());
        return Ok((nick, chosen));
    }
    // A directory user's nickname is his name, whatever its length (the import checked
    // it; only a chosen nickname has the rooms' limit).
    let from_directory = display_name(server, user).await;
    let max = if from_directory.is_some() {
        usize::MAX
    } else {
        max
    };
    let nick = match from_directory {
        Some(name) => {
            if !taken(live, members, user, &name) {
                name
            } else {
                let alt = format!("{name} ({user})");
                if taken(live, members, user, &alt) {
                    return Err(nick_taken());
                }
                alt
            }
        }
        None => match requested {
            Some(r) => r.to_string(),
            None => members
                .iter()
                .find(|m| m.user == user)
                .and_then(|m| m.nick.clone())
                .unwrap_or_else(|| user.to_string()),
        },
    };
    text::check_nick(&nick, max).map_err(|e| e.stanza_error("Le pseudo", "The nickname"))?;
    if taken(live, members, user, &nick) {
        return Err(nick_taken());
    }
    let chosen = requested != Some(nick.as_str());
    Ok((nick, chosen))
}

/// Makes the room, with `session` as its owner and first occupant.
async fn create(
    server: &Server,
    session: &Session,
    lock: &mut RoomLock<'_>,
    requested: Option<String>,
    show: Option<String>,
    status: Option<String>,
) -> Result<(), StanzaError> {
    let limits = &server.config.muc;
    if lock.name().chars().count() > MAX_ROOM_NAME_CHARS {
        return Err(error(
            Condition::NotAcceptable,
            format!(
                "L'adresse de la conversation est trop longue ({MAX_ROOM_NAME_CHARS} caractères au plus)."
            ),
            format!(
                "The conversation's address is too long (at most {MAX_ROOM_NAME_CHARS} characters)."
            ),
        ));
    }
    server.gate().room_creation(&session.user).await?;
    let (nick, chosen) =
        assign_nick(server, None, &[], &session.user, requested.as_deref()).await?;
    let now = now_ms();
    let max = limits.max_rooms_per_user;
    let room = match server
        .store
        .create_room(lock.name(), &session.user, now, max)
        .await
        .map_err(internal)?
    {
        CreateRoom::Created(room) => {
            server.gate().room_created(&session.user).await;
            room
        }
        CreateRoom::Exists => {
            return Err(error(
                Condition::Conflict,
                "Cette conversation vient d'être créée par quelqu'un d'autre.",
                "Someone else just made this conversation.",
            ));
        }
        CreateRoom::TooManyRooms => {
            return Err(addressed(
                Condition::NotAllowed,
                said!(tu: "Tu fais déjà partie de {max} conversations, le maximum : quittes-en une d'abord.", vous: "Vous faites déjà partie de {max} conversations, le maximum : quittez-en une d'abord.", en: "You already belong to {max} conversations, the maximum: leave one first."),
            ));
        }
    };
    if let Err(e) = server
        .store
        .set_member_nick(room.id, &session.user, &nick)
        .await
    {
        warn!(error = %e, "cannot remember a nickname");
    }
    info!(room = %room.name, user = %session.user, "room created");
    let occ = Occupant {
        nick,
        user: session.user.clone(),
        affiliation: Affiliation::Owner,
        sessions: vec![OccupantSession::of(session)],
        show,
        status,
        joined_ms: now,
    };
    let mut codes = vec![110, 100, 170, 201];
    if chosen {
        codes.push(210);
    }
    session.reply(to(
        session,
        occupant_presence(server, &room.name, &occ, &codes, now),
    ));
    let mut locked = room_message(server, &room.name, Some("groupchat"));
    body(server.config.language, &mut locked, LOCKED_FR, LOCKED_EN);
    locked.append_child(super::status_x(&[201]));
    session.reply(to(session, locked));
    send_subject(server, &room, session);
    server.rooms.note_joined(session.id(), &room.name);
    lock.live = Some(Live {
        room,
        occupants: vec![occ],
    });
    Ok(())
}

/// A member enters the room (or another session of an occupant).
async fn join(
    server: &Server,
    session: &Session,
    stanza: &Element,
    lock: &mut RoomLock<'_>,
    requested: Option<String>,
    show: Option<String>,
    status: Option<String>,
) -> Result<(), StanzaError> {
    let limits = &server.config.muc;
    let Some(live) = lock.live.as_mut() else {
        return Err(no_such_room());
    };
    let member = server
        .store
        .member(live.room.id, &session.user)
        .await
        .map_err(internal)?;
    server.gate().room_post(&session.user).await?;
    let Some(member) = member else {
        if live.room.locked {
            return Err(no_such_room());
        }
        return Err(error(
            Condition::RegistrationRequired,
            "Cette conversation est réservée à ses membres : il faut y être invité.",
            "This conversation is for its members only: you need an invitation.",
        ));
    };
    if live.room.locked && member.affiliation != Affiliation::Owner {
        return Err(error(
            Condition::ItemNotFound,
            "Cette conversation n'est pas encore ouverte : son créateur ne l'a pas encore configurée.",
            "This conversation is not open yet: its creator has not configured it.",
        ));
    }
    let existing = live.by_user(&session.user);
    if existing.is_none() && live.occupants.len() >= limits.max_occupants_per_room {
        return Err(error(
            Condition::ServiceUnavailable,
            format!(
                "La conversation est complète ({} participants).",
                limits.max_occupants_per_room
            ),
            format!(
                "The conversation is full ({} participants).",
                limits.max_occupants_per_room
            ),
        ));
    }
    let members = server.store.members(live.room.id).await.map_err(internal)?;
    let (nick, chosen) = assign_nick(
        server,
        Some(live),
        &members,
        &session.user,
        requested.as_deref(),
    )
    .await?;
    if member.nick.as_deref() != Some(nick.as_str())
        && let Err(e) = server
            .store
            .set_member_nick(live.room.id, &session.user, &nick)
            .await
    {
        warn!(error = %e, "cannot remember a nickname");
    }
    let now = now_ms();
    let mine = OccupantSession::of(session);
    let (idx, newcomer) = match existing {
        Some(i) => {
            live.occupants[i].sessions.push(mine);
            (i, false)
        }
        None => {
            live.occupants.push(Occupant {
                nick,
                user: session.user.clone(),
                affiliation: member.affiliation,
                sessions: vec![mine],
                show,
                status,
                joined_ms: now,
            });
            (live.occupants.len() - 1, true)
        }
    };
    server.rooms.note_joined(session.id(), &live.room.name);
    let name = live.room.name.clone();
    // Who is there, each with the time he came in.
    for (i, o) in live.occupants.iter().enumerate() {
        if i != idx {
            session.reply(to(
                session,
                occupant_presence(server, &name, o, &[], o.joined_ms),
            ));
        }
    }
    let occ = &live.occupants[idx];
    if newcomer {
        live.broadcast_except(idx, &occupant_presence(server, &name, occ, &[], now));
    }
    let mut codes = vec![110, 100, 170];
    if chosen {
        codes.push(210);
    }
    session.reply(to(
        session,
        occupant_presence(server, &name, occ, &codes, occ.joined_ms),
    ));
    debug!(room = %name, user = %session.user, "joined");
    let room = live.room.clone();
    send_history(server, session, stanza, &room, member.added_ms).await;
    send_subject(server, &room, session);
    Ok(())
}

/// An occupant's new show or status, to everyone.
fn update(
    server: &Server,
    lock: &mut RoomLock<'_>,
    idx: usize,
    requested: Option<String>,
    show: Option<String>,
    status: Option<String>,
) -> Result<(), StanzaError> {
    let Some(live) = lock.live.as_mut() else {
        return Err(no_such_room());
    };
    let occ = &mut live.occupants[idx];
    if requested.is_some_and(|r| r != occ.nick) {
        return Err(error(
            Condition::NotAcceptable,
            "Le pseudo ne peut pas changer pendant la conversation.",
            "Nicknames cannot change during a conversation.",
        ));
    }
    occ.show = show;
    occ.status = status;
    let now = now_ms();
    let occ = &live.occupants[idx];
    let name = &live.room.name;
    live.broadcast_except(idx, &occupant_presence(server, name, occ, &[], now));
    occ.send(&occupant_presence(server, name, occ, &[110], now));
    Ok(())
}

/// The session leaves the room (its membership stays). A room still locked is destroyed
/// when its owner leaves it.
pub async fn leave(server: &Server, session: &Session, room: &str, status: Option<String>) {
    let mut lock = server.rooms.lock(room).await;
    server.rooms.note_left(session.id(), room);
    let Some(live) = lock.live.as_mut() else {
        return;
    };
    let Some(idx) = live.by_session(session.id()) else {
        return;
    };
    let now = now_ms();
    let name = live.room.name.clone();
    let occ = &mut live.occupants[idx];
    occ.sessions.retain(|s| s.id() != session.id());
    let exit = Exit {
        affiliation: occ.affiliation.as_str(),
        status: status.as_deref(),
        ..Exit::default()
    };
    session.reply(to(
        session,
        exit_presence(server, &name, occ, &exit, true, now),
    ));
    if !occ.sessions.is_empty() {
        return;
    }
    let occ = live.occupants.remove(idx);
    live.broadcast(&exit_presence(server, &name, &occ, &exit, false, now));
    debug!(room = %name, user = %session.user, "left");
    let abandoned = live.room.locked
        && !live
            .occupants
            .iter()
            .any(|o| o.affiliation == Affiliation::Owner);
    if abandoned && let Err(e) = owner::destroy(server, &mut lock, None).await {
        warn!(error = ?e.condition, room = %name, "cannot remove an abandoned locked room");
    }
}

/// The last messages of the room, with their delay stamps, as the join asked (XEP-0045
/// §7.2.14: `maxstanzas`, `maxchars='0'`, `seconds`, `since`), at most `history_len`, and
/// none from before `member_since` (when he was invited: a newcomer does not read what
/// was said before him).
async fn send_history(
    server: &Server,
    session: &Session,
    join: &Element,
    room: &Room,
    member_since: i64,
) {
    let mut max = server.config.muc.history_len;
    let mut start_ms = Some(member_since);
    if let Some(h) = join
        .get_child("x", NS_MUC)
        .and_then(|x| x.get_child("history", NS_MUC))
    {
        if let Some(n) = h.attr("maxstanzas").and_then(|v| v.parse::<usize>().ok()) {
            max = max.min(n);
        }
        if h.attr("maxchars").and_then(|v| v.parse::<u64>().ok()) == Some(0) {
            max = 0;
        }
        if let Some(secs) = h.attr("seconds").and_then(|v| v.parse::<i64>().ok()) {
            let from = now_ms().saturating_sub(secs.saturating_mul(1000));
            start_ms = Some(start_ms.map_or(from, |s: i64| s.max(from)));
        }
        if let Some(since) = h
            .attr("since")
            .and_then(|v| chrono::DateTime::parse_from_rfc3339(v).ok())
        {
            let since = since.timestamp_millis();
            start_ms = Some(start_ms.map_or(since, |s: i64| s.max(since)));
        }
    }
    if max == 0 {
        return;
    }
    let query = ArchiveQuery {
        start_ms,
        last_page: true,
        max: i64::try_from(max).unwrap_or(i64::MAX),
        ..ArchiveQuery::default()
    };
    server.archive.flush().await;
    let page = match server.store.archive_page(room.id, &query).await {
        Ok(p) => p,
        Err(e) => {
            warn!(error = %e, "cannot read a room's history");
            return;
        }
    };
    let from = room_jid(server, &room.name);
    for m in page.messages {
        let Ok(mut el) = m.stanza.parse::<Element>() else {
            warn!(stanza_id = %m.stanza_id, "skipping an unreadable archived message");
            continue;
        };
        el.append_child(super::delay(&from, m.stamp_ms));
        session.reply(to(session, el));
    }
}

/// The subject (empty when none), which ends a join (XEP-0045 §7.2.15).
fn send_subject(server: &Server, room: &Room, session: &Session) {
    let from = if room.subject_by.is_empty() {
        room_jid(server, &room.name)
    } else {
        occupant_jid(server, &room.name, &room.subject_by)
    };
    let mut m = xml::elem(
        "message",
        ns::CLIENT,
        &[
            ("from", &from),
            ("type", "groupchat"),
            ("id", &uuid::Uuid::new_v4().to_string()),
        ],
    );
    m.append_child(xml::text_elem("subject", ns::CLIENT, room.subject.clone()));
    session.reply(to(session, m));
}

/// XEP-0410 with the service's optimisation (§3.3): a ping to an occupant JID, answered
/// by the room itself, never relayed to an occupant's client.
///
/// - from a session that is not in the room (never joined, left, removed, or the server
///   restarted since): `not-acceptable`, so that the client joins again; the same answer
///   whether the room exists or not, so a ping tells an outsider nothing of the room;
/// - from an occupant to his own nickname (nicknames compare without case, as the room
///   keeps them unique): an empty result;
/// - from an occupant to another's nickname: `service-unavailable`, as for any IQ to an
///   occupant (the room relays nothing private between occupants, `super::message`);
///   to a nickname nobody uses: `item-not-found`.
///
/// Errors carry `by` = the room (XEP-0410 §3.2), since they come from the occupant's JID.
pub async fn self_ping(server: &Server, session: &Session, room: &str, nick: &str) -> IqResult {
    let lock = server.rooms.lock(room).await;
    let by = room_jid(server, room);
    let live = lock.live.as_ref();
    let Some((live, me)) = live.and_then(|l| l.by_session(session.id()).map(|i| (l, i))) else {
        return Err(addressed(
            Condition::NotAcceptable,
            Text::new(
                "Tu n'es pas dans cette conversation : entre de nouveau.",
                "Vous n'êtes pas dans cette conversation : entrez de nouveau.",
                "You are not in this conversation: join it again.",
            ),
        )
        .with_by(by));
    };
    match live.by_nick(nick) {
        Some(i) if i == me => Ok(None),
        Some(_) => Err(addressed(Condition::ServiceUnavailable, Text::new("Dans une conversation, on ne s'adresse pas à un participant en privé : écris à toute la conversation.", "Dans une conversation, on ne s'adresse pas à un participant en privé : écrivez à toute la conversation.", "In a conversation, participants are not reached privately: write to the whole conversation."))
        .with_by(by)),
        None => Err(error(
            Condition::ItemNotFound,
            "Personne n'a ce pseudo dans cette conversation.",
            "Nobody has this nickname in this conversation.",
        )
        .with_by(by)),
    }
}
