//! Reports (« Signaler », XEP-0377 `urn:xmpp:reporting:1`): a `<report/>` inside an
//! XEP-0191 `<block>` item, or on its own in an IQ set to the account or the server
//! (`<report xmlns='urn:xmpp:reporting:1' jid='…' reason='…'>`, a report without blocking,
//! which the web client sends), naming the reported messages by their XEP-0359 stanza-ids.
//!
//! The report is stored for the reporter's school (the structure he shares with the
//! reported person, else his first) with its context copied from his own archive or the
//! room's (`ReportStore::create_report` checks he had contact, that the messages are his
//! to report, and the hourly limit; before that, `services::report_pace` paces the
//! attempts, refused ones included). The reporter's session gets a confirmation (a
//! headline from the server, « tu » for a pupil, « vous » for the others); the reported
//! person is told nothing. docs/safety.md says who reads reports.

use causerie_ent::register::Text;
use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::{
    ModerationStore, NewReport, ReportOutcome, ReportReason, ReportStore, ReportTarget,
};
use jid::Jid;

use crate::config::{Language, Reports};
use crate::server::Server;
use crate::session::Session;
use crate::stanza::{IqResult, addressed, error, internal};

/// XEP-0377's namespace.
pub const NS_REPORTING: &str = "urn:xmpp:reporting:1";

/// Longest stanza-id accepted in a report.
const MAX_ID_CHARS: usize = 128;

/// A report as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub reason: ReportReason,
    pub text: String,
    pub stanza_ids: Vec<String>,
}

/// Words for a pupil (« tu ») or for an adult (« vous »).
/// Reads a `<report/>` element, within the configured bounds.
pub fn parse(limits: &Reports, report: &Element) -> Result<Parsed, StanzaError> {
    let reason = match report.attr("reason") {
        Some("urn:xmpp:reporting:abuse") => ReportReason::Abuse,
        Some("urn:xmpp:reporting:spam") => ReportReason::Spam,
        Some(r) if r.starts_with("urn:") => ReportReason::Other,
        _ => {
            return Err(addressed(
                Condition::BadRequest,
                Text::new(
                    "Indique la raison du signalement.",
                    "Indiquez la raison du signalement.",
                    "Give the report's reason.",
                ),
            ));
        }
    };
    let mut stanza_ids = Vec::new();
    let mut text = String::new();
    for child in report.children() {
        if child.is("stanza-id", ns::SID) {
            let id = child.attr("id").unwrap_or("");
            if id.is_empty()
                || id.chars().count() > MAX_ID_CHARS
                || id.contains(char::is_whitespace)
            {
                return Err(error(
                    Condition::BadRequest,
                    "Identifiant de message invalide dans le signalement.",
                    "Invalid message id in the report.",
                ));
            }
            if !stanza_ids.iter().any(|s| s == id) {
                stanza_ids.push(id.to_string());
            }
        } else if child.is("text", NS_REPORTING) && text.is_empty() {
            text = child.text().trim().to_string();
        }
    }
    if stanza_ids.len() > limits.max_messages {
        return Err(error(
            Condition::NotAcceptable,
            format!(
                "Un signalement porte sur {} messages au plus.",
                limits.max_messages
            ),
            format!("A report names {} messages at most.", limits.max_messages),
        ));
    }
    if text.chars().count() > limits.max_text_chars {
        return Err(error(
            Condition::NotAcceptable,
            format!(
                "Le texte du signalement dépasse {} caractères.",
                limits.max_text_chars
            ),
            format!(
                "The report's text is longer than {} characters.",
                limits.max_text_chars
            ),
        ));
    }
    Ok(Parsed {
        reason,
        text,
        stanza_ids,
    })
}

/// A report on its own (`<report jid='…'/>` in an IQ set): stored, confirmed.
pub async fn handle(server: &Server, session: &Session, payload: &Element, set: bool) -> IqResult {
    if !set {
        return Err(StanzaError::new(Condition::BadRequest));
    }
    let parsed = parse(&server.config().reports, payload)?;
    let jid = payload
        .attr("jid")
        .and_then(|j| Jid::new(j).ok())
        .ok_or_else(|| {
            addressed(
                Condition::BadRequest,
                Text::new(
                    "Indique qui tu signales (attribut jid).",
                    "Indiquez qui vous signalez (attribut jid).",
                    "Say whom you report (jid attribute).",
                ),
            )
        })?;
    submit(server, session, &jid, &parsed).await?;
    Ok(None)
}

/// Stores one report of `session`'s account about `jid` and sends the confirmation.
pub async fn submit(
    server: &Server,
    session: &Session,
    jid: &Jid,
    parsed: &Parsed,
) -> Result<i64, StanzaError> {
    if !server
        .report_pace
        .allow(&session.user, std::time::Instant::now())
    {
        tracing::info!(reporter = %session.user, "report refused: too many attempts in a minute");
        return Err(addressed(
            Condition::ResourceConstraint,
            Text::new(
                "Tu as envoyé beaucoup de signalements d'un coup : attends une minute.",
                "Vous avez envoyé beaucoup de signalements d'un coup : attendez une minute.",
                "Too many reports at once: wait a minute.",
            ),
        ));
    }
    let bare = jid.to_bare();
    let target = if bare.domain().as_str() == server.muc_domain() {
        let name = bare.node().map(|n| n.to_string()).ok_or_else(|| {
            error(
                Condition::BadRequest,
                "Adresse de salon invalide.",
                "Invalid room address.",
            )
        })?;
        ReportTarget::Room { name }
    } else {
        if bare == session.bare {
            return Err(addressed(
                Condition::NotAcceptable,
                Text::new(
                    "Tu ne peux pas te signaler toi-même.",
                    "Vous ne pouvez pas vous signaler vous-même.",
                    "You cannot report yourself.",
                ),
            ));
        }
        let login = (bare.domain().as_str() == server.domain)
            .then(|| bare.node().map(|n| n.to_string()))
            .flatten();
        ReportTarget::Person {
            jid: bare.to_string(),
            login,
        }
    };
    // The messages the reporter just received are in the archives before they are read.
    server.archive.flush().await;
    // The person reported: named, or, in a room, the sender of the first message named
    // (the store checks that they all have one sender), so that the report goes to the
    // school the reporter shares with him.
    let reported_login: Option<String> = match &target {
        ReportTarget::Person { login, .. } => login.clone(),
        ReportTarget::Room { name } => match parsed.stanza_ids.first() {
            Some(id) => server
                .store()
                .room_archived(name, id)
                .await
                .map_err(internal)?
                .map(|m| m.with),
            None => None,
        },
    };
    let dir = server.directory().await;
    let mine: Vec<String> = dir
        .user(&session.user)
        .map(|u| u.structures.clone())
        .unwrap_or_default();
    let theirs: Vec<String> = reported_login
        .as_deref()
        .and_then(|l| dir.user(l))
        .map(|u| u.structures.clone())
        .unwrap_or_default();
    drop(dir);
    let Some(structure) = mine
        .iter()
        .find(|s| theirs.contains(s))
        .or_else(|| mine.first())
        .cloned()
    else {
        return Err(addressed(
            Condition::FeatureNotImplemented,
            Text::new(
                "Ton compte n'est rattaché à aucun établissement : personne ne recevrait ton signalement.",
                "Votre compte n'est rattaché à aucun établissement : personne ne recevrait votre signalement.",
                "Your account belongs to no school: nobody would receive your report.",
            ),
        ));
    };
    let limits = &server.config().reports;
    let report = NewReport {
        structure: structure.clone(),
        reporter: session.user.clone(),
        reporter_jid: session.bare.to_string(),
        target,
        reason: parsed.reason,
        text: parsed.text.clone(),
        stanza_ids: parsed.stanza_ids.clone(),
        now_ms: now_ms(),
    };
    let outcome = server
        .store()
        .create_report(&report, limits.context_messages, limits.per_hour)
        .await
        .map_err(internal)?;
    match outcome {
        ReportOutcome::Created { id, .. } => {
            tracing::info!(report = id, reporter = %session.user, structure = %structure, "report stored");
            confirm(server, session);
            Ok(id)
        }
        ReportOutcome::RateLimited => {
            tracing::info!(reporter = %session.user, "report refused: hourly limit");
            Err(addressed(
                Condition::ResourceConstraint,
                Text::new(
                    "Tu as fait beaucoup de signalements : réessaie dans une heure, ou parle à un adulte de ton établissement.",
                    "Vous avez fait beaucoup de signalements : réessayez dans une heure, ou contactez votre établissement.",
                    "You made many reports: try again in an hour, or contact your school.",
                ),
            ))
        }
        ReportOutcome::UnknownMessage => Err(addressed(
            Condition::ItemNotFound,
            Text::new(
                "Ce message n'est pas dans tes conversations avec cette personne.",
                "Ce message n'est pas dans vos conversations avec cette personne.",
                "This message is not in your conversations with this person.",
            ),
        )),
        ReportOutcome::NoContact => Err(addressed(
            Condition::NotAcceptable,
            Text::new(
                "Tu ne peux signaler que quelqu'un avec qui tu as échangé.",
                "Vous ne pouvez signaler que quelqu'un avec qui vous avez échangé.",
                "You can only report someone you have been in contact with.",
            ),
        )),
    }
}

/// The confirmation, to the reporting session only: a headline from the server.
fn confirm(server: &Server, session: &Session) {
    const SENT: Text = Text::new(
        "Ton signalement a été transmis à ton établissement.",
        "Votre signalement a été transmis à votre établissement.",
        "Your report was sent to your school.",
    );
    let fr = SENT.fr(session.register).to_string();
    let en = SENT.en;
    let mut m = xml::elem(
        "message",
        ns::CLIENT,
        &[
            ("type", "headline"),
            ("from", server.domain.as_str()),
            ("to", &session.jid.to_string()),
        ],
    );
    // The session's language first, without xml:lang (the stream's), the other beside.
    let (main, other) = match session.lang {
        Language::Fr => (fr, ("en", en.to_string())),
        Language::En => (en.to_string(), ("fr", fr)),
    };
    m.append_child(xml::text_elem("body", ns::CLIENT, main));
    let mut body = xml::text_elem("body", ns::CLIENT, other.1);
    xml::set_lang(&mut body, other.0);
    m.append_child(body);
    m.append_child(Element::bare("report-confirmation", NS_CONFIRMATION));
    session.reply(m);
}

/// Marks the confirmation headline, for clients that show it their own way.
pub const NS_CONFIRMATION: &str = "urn:causerie:report:0";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    fn condition(e: StanzaError) -> Condition {
        e.condition
    }

    #[test]
    fn reasons_ids_and_text() {
        let limits = Reports::default();
        let r = report(
            "<report xmlns='urn:xmpp:reporting:1' reason='urn:xmpp:reporting:spam'>\
             <stanza-id xmlns='urn:xmpp:sid:0' by='a@b' id='s1'/>\
             <stanza-id xmlns='urn:xmpp:sid:0' by='a@b' id='s1'/>\
             <stanza-id xmlns='urn:xmpp:sid:0' by='a@b' id='s2'/>\
             <text xml:lang='fr'>  Il insiste  </text><text>second</text></report>",
        );
        let p = parse(&limits, &r).unwrap();
        assert_eq!(p.reason, ReportReason::Spam);
        assert_eq!(p.stanza_ids, ["s1", "s2"]);
        assert_eq!(p.text, "Il insiste");
        for (reason, want) in [
            ("urn:xmpp:reporting:abuse", ReportReason::Abuse),
            ("urn:causerie:reporting:other", ReportReason::Other),
        ] {
            let r = report(&format!(
                "<report xmlns='urn:xmpp:reporting:1' reason='{reason}'/>"
            ));
            assert_eq!(parse(&limits, &r).unwrap().reason, want);
        }
    }

    #[test]
    fn refusals() {
        let limits = Reports {
            max_messages: 2,
            max_text_chars: 5,
            ..Reports::default()
        };
        let bad = |xml: &str| condition(parse(&limits, &report(xml)).unwrap_err());
        assert_eq!(
            bad("<report xmlns='urn:xmpp:reporting:1'/>"),
            Condition::BadRequest
        );
        assert_eq!(
            bad("<report xmlns='urn:xmpp:reporting:1' reason='spam'/>"),
            Condition::BadRequest
        );
        let ids = (1..=3)
            .map(|i| format!("<stanza-id xmlns='urn:xmpp:sid:0' id='s{i}'/>"))
            .collect::<String>();
        assert_eq!(
            bad(&format!(
                "<report xmlns='urn:xmpp:reporting:1' reason='urn:xmpp:reporting:spam'>{ids}</report>"
            )),
            Condition::NotAcceptable
        );
        assert_eq!(
            bad(
                "<report xmlns='urn:xmpp:reporting:1' reason='urn:xmpp:reporting:spam'>\
                 <text>six ch</text></report>"
            ),
            Condition::NotAcceptable
        );
        for id in ["", "a b", &"x".repeat(129)] {
            assert_eq!(
                bad(&format!(
                    "<report xmlns='urn:xmpp:reporting:1' reason='urn:xmpp:reporting:spam'>\
                     <stanza-id xmlns='urn:xmpp:sid:0' id='{id}'/></report>"
                )),
                Condition::BadRequest,
                "{id:?}"
            );
        }
    }
}
