//! Quiet hours and the kill switch as users see them (docs/safety.md « Heures calmes »
//! and « Coupure »).
//!
//! **Quiet hours.** A chat or normal message with a body from another account to someone
//! in his quiet hours (`View::quiet_until`: his structures' windows for his profile) is
//! not delivered to his sessions: `features::message` keeps it in his offline storage,
//! as it is (its id, its stanza-id, both archives' entries), and the sending session is
//! told, once per recipient and window, by a headline from the server ([`tell_sender`]):
//! « Léa Martin est en heures calmes jusqu'à 07:00 : ton message lui sera remis à ce
//! moment-là. », with `<quiet xmlns='urn:causerie:quiet:0' state='held' jid='…'
//! until='…' until-local='07:00'/>` for clients that show it their own way. At a login
//! during the window, what waits stays there and the session is told
//! ([`on_login`]); the ticker ([`start`], every `[quiet_hours] tick_ms`) sees a window
//! begin (the account's sessions are told, `state='on'`) or end (`state='off'`, then the
//! held messages are delivered to his available sessions, each decided again by the
//! gate: [`release`]). Messages without a body (chat states), groupchat and headlines
//! are not held.
//!
//! **Kill switch.** At login, and whenever a directory change moves a user's strictest
//! kill switch ([`on_view_change`], called by `enforce`), his sessions get a headline
//! with the mode's text and the school's, and `<shutdown xmlns='urn:causerie:policy:0'
//! mode='read_only'>school text</shutdown>`. (`off` closes the sessions instead:
//! `enforce`.)

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use causerie_ent::shutdown::{self, Mode};
use causerie_ent::{Profile, Quiet, Register, Text};
use causerie_proto::{Element, ns, xml};
use causerie_store::OfflineStore;
use tracing::{debug, info, warn};

use crate::config::Language;
use crate::server::Server;
use crate::services::policy::{NS_POLICY, View};
use crate::services::{Pass, Verdict};
use crate::session::Session;

/// The namespace of the quiet hours' notices.
pub const NS_QUIET: &str = "urn:causerie:quiet:0";

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// Whether `stanza` from `sender` to `recipient` is one quiet hours hold.
pub fn holdable(sender: &str, recipient: &str, stanza: &Element) -> bool {
    sender != recipient
        && matches!(stanza.attr("type"), None | Some("chat" | "normal"))
        && stanza.get_child("body", ns::CLIENT).is_some()
}

/// Whether `recipient` is in quiet hours now (see the module docs).
pub async fn quiet_now(server: &Server, recipient: &str) -> Option<Quiet> {
    server.view().await.quiet_until(recipient, now_ms())
}

/// A headline from the server to `to` with `text` (French in `register` and English, the
/// `main` language first, without xml:lang) and `payload`.
fn headline(
    server: &Server,
    to: &str,
    text: &Text<String>,
    register: Register,
    main: Language,
    payload: Element,
) -> Element {
    crate::stanza::server_headline(
        &server.domain,
        to,
        text,
        register,
        main == Language::Fr,
        Some(payload),
    )
}

fn quiet_payload(state: &str, jid: Option<&str>, quiet: Option<&Quiet>) -> Element {
    let mut attrs: Vec<(&str, String)> = vec![("state", state.to_string())];
    if let Some(j) = jid {
        attrs.push(("jid", j.to_string()));
    }
    if let Some(q) = quiet {
        attrs.push(("until", iso(q.until_ms)));
        attrs.push(("until-local", q.until_local.clone()));
    }
    let refs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    xml::elem("quiet", NS_QUIET, &refs)
}

/// Tells the sending session that `recipient` is in quiet hours (once per pair and
/// window): his message is kept and delivered when they end.
pub async fn tell_sender(server: &Server, session: &Session, recipient: &str, quiet: &Quiet) {
    if !server
        .quiet
        .tell(&session.user, recipient, quiet.until_ms, now_ms())
    {
        return;
    }
    let view = server.view().await;
    let name = view
        .user(recipient)
        .map(|u| u.display_name())
        .unwrap_or_else(|| recipient.to_string());
    let text = causerie_ent::quiet::held_notice(&name, &quiet.until_local);
    let bare = server.bare_jid(recipient);
    let m = headline(
        server,
        &session.jid.to_string(),
        &text,
        session.register,
        session.lang,
        quiet_payload("held", Some(&bare), Some(quiet)),
    );
    session.reply(m);
}

/// What a session that just became available is told: its quiet hours if they are on,
/// its structures' kill switch if not normal. Returns whether the account is in quiet
/// hours (then what waits in its offline storage stays there).
pub async fn on_login(server: &Server, session: &Session) -> bool {
    let view = server.view().await;
    let jid = session.jid.to_string();
    if let Some(s) = view.shutdown_of(&session.user) {
        let m = headline(
            server,
            &jid,
            &shutdown_text(s.mode, s.message.as_deref()),
            session.register,
            session.lang,
            shutdown_payload(s.mode, s.message.as_deref()),
        );
        session.reply(m);
    }
    let Some(q) = view.quiet_until(&session.user, now_ms()) else {
        return false;
    };
    let m = headline(
        server,
        &jid,
        &causerie_ent::quiet::started_notice(&q.until_local),
        session.register,
        session.lang,
        quiet_payload("on", None, Some(&q)),
    );
    session.reply(m);
    true
}

fn shutdown_text(mode: Mode, message: Option<&str>) -> Text<String> {
    shutdown::with_school_text(shutdown::mode_text(mode), message)
}

fn shutdown_payload(mode: Mode, message: Option<&str>) -> Element {
    let mut e = xml::elem("shutdown", NS_POLICY, &[("mode", mode.as_str())]);
    if let Some(m) = message {
        e.append_text(m.to_string());
    }
    e
}

/// A notice to every available session of `user` (the server speaking).
fn tell_user(server: &Server, view: &View, user: &str, text: &Text<String>, payload: Element) {
    let register = Register::of(view.user(user).map(|u| u.profile));
    let m = headline(
        server,
        &server.bare_jid(user),
        text,
        register,
        server.config.language,
        payload,
    );
    server
        .sessions
        .deliver_available(&Pass::server_notice(user), &m, false);
}

/// A new directory view: the online users whose strictest kill switch changed are told
/// (`off` excepted: their sessions are closed by `enforce`).
pub fn on_view_change(server: &Server, old: &View, new: &View) {
    if old.generation < 0 {
        return;
    }
    for user in server.sessions.users() {
        let (before, after) = (old.shutdown_of(&user), new.shutdown_of(&user));
        if before == after {
            continue;
        }
        let (mode, message) =
            after.map_or((Mode::Normal, None), |s| (s.mode, s.message.as_deref()));
        if mode == Mode::Off {
            continue;
        }
        tell_user(
            server,
            new,
            &user,
            &shutdown_text(mode, message),
            shutdown_payload(mode, message),
        );
    }
}

/// Delivers what `user`'s offline storage holds to his available sessions, each message
/// decided again by the gate, in order; stops at the first that is not a message from
/// another account (an invitation, a notice: the next login delivers it) or that no
/// session took. Returns how many were delivered.
pub async fn release(server: &Server, user: &str) -> usize {
    let _arrival = server.sessions.arrival(user).await;
    let messages = match server.store.offline_messages(user).await {
        Ok(m) => m,
        Err(e) => {
            warn!(error = %e, "cannot read held messages");
            return 0;
        }
    };
    let mut done = None;
    let mut count = 0;
    for m in messages {
        let Ok(el) = m.stanza.parse::<Element>() else {
            done = Some(m.id);
            continue;
        };
        match super::kept::decided_again(server, user, &el).await {
            Some(Verdict::Deliver(pass)) => {
                if server.sessions.deliver_available(&pass, &el, true) == 0 {
                    break;
                }
                count += 1;
                done = Some(m.id);
            }
            // No longer allowed: dropped, as at a login.
            Some(_) => done = Some(m.id),
            None => break,
        }
    }
    if let Some(id) = done
        && let Err(e) = server.store.delete_offline(user, id).await
    {
        warn!(error = %e, "cannot delete delivered held messages");
    }
    count
}

/// One turn of the ticker: which (structure, profile) pairs are in quiet hours now; for
/// those whose window began or ended, their online users are told, and those whose
/// quiet hours are over get what was held.
async fn turn(server: &Server) {
    let view = server.policy.loaded();
    let now = now_ms();
    let mut quiet_now = HashSet::new();
    for s in view.dir.structures() {
        let Some(q) = view.quiet_hours_of(&s.id) else {
            continue;
        };
        for p in Profile::ALL {
            if q.concerns(p) && q.quiet_at(p, now).is_some() {
                quiet_now.insert((s.id.clone(), p));
            }
        }
    }
    let (began, ended) = server.quiet.turn(quiet_now);
    if began.is_empty() && ended.is_empty() {
        return;
    }
    server.quiet.forget_ended(now);
    let touched: HashSet<(String, Profile)> = began.into_iter().chain(ended).collect();
    let mut released = 0;
    for user in server.sessions.users() {
        let Some(u) = view.user(&user) else { continue };
        if !u
            .structures
            .iter()
            .any(|s| touched.contains(&(s.clone(), u.profile)))
        {
            continue;
        }
        match view.quiet_until(&user, now) {
            Some(q) => tell_user(
                server,
                &view,
                &user,
                &causerie_ent::quiet::started_notice(&q.until_local),
                quiet_payload("on", None, Some(&q)),
            ),
            None => {
                tell_user(
                    server,
                    &view,
                    &user,
                    &causerie_ent::quiet::ended_notice().to_owned(),
                    quiet_payload("off", None, None),
                );
                released += release(server, &user).await;
            }
        }
    }
    if released > 0 {
        info!(
            messages = released,
            "quiet hours ended: held messages delivered"
        );
    } else {
        debug!("quiet hours began or ended");
    }
}

/// Starts the ticker (every `[quiet_hours] tick_ms`), which holds only a weak reference
/// to the server.
pub fn start(server: &Arc<Server>) {
    let weak = Arc::downgrade(server);
    let every = Duration::from_millis(server.config.quiet_hours.tick_ms);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(server) = weak.upgrade() else { break };
            turn(&server).await;
        }
    });
}
