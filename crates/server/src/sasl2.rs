//! XEP-0388 Extensible SASL Profile (`urn:xmpp:sasl:2`) with its inline features, as
//! the c2s negotiation drives them: XEP-0386 Bind 2 (a resource bound in the
//! `<success/>`, stream management and carbons enabled with it) and XEP-0484 FAST
//! (tokens issued on request, and the HT-SHA-256 logins with them: `-NONE`, and `-EXPR`
//! and `-ENDP` bound to the TLS channel where it offers those bindings).
//!
//! This module reads the client's `<authenticate/>`, writes the feature and the
//! outcomes, and owns the token rules: a token belongs to one account and one client
//! (the user-agent id) and one mechanism, expires after `auth.fast_token_days`, is kept hashed
//! (`causerie_store::fast`), is refused after a replay (`count` not above the last one,
//! or missing once a count was given),
//! and logging in with the newer of a client's two tokens retires the older. The
//! account's right to log in (lock, deactivation, chat turned off) is checked after
//! every authentication by the caller, tokens included; a new password deletes them.
//! The I/O (challenges, binding the session) stays in `c2s`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use causerie_proto::errors::escape;
use causerie_proto::ht;
use causerie_proto::scram::{ChannelBinding, SaslError};
use causerie_proto::{Element, ns};
use causerie_store::{FastStore, StoreError};

use crate::auth::{AuthStoreError, localpart};
use crate::config::Language;

/// The client's XEP-0388 user-agent.
#[derive(Debug, Clone, Default)]
pub struct UserAgent {
    /// The stable id of this client installation (a UUID, as the XEP recommends).
    pub id: Option<String>,
    pub software: Option<String>,
    pub device: Option<String>,
}

impl UserAgent {
    /// What the administrator is shown of this client: « software · device », either
    /// alone, or None when the client named neither.
    pub fn label(&self) -> Option<String> {
        match (&self.software, &self.device) {
            (Some(s), Some(d)) => Some(format!("{s} · {d}")),
            (Some(one), None) | (None, Some(one)) => Some(one.clone()),
            (None, None) => None,
        }
    }
}

/// XEP-0386 `<bind/>` inside `<authenticate/>`.
#[derive(Debug, Clone, Default)]
pub struct BindRequest {
    /// The client's tag: the start of the resource.
    pub tag: Option<String>,
    /// `<enable xmlns='urn:xmpp:sm:3'/>` inline: (resume, max).
    pub sm: Option<(bool, Option<u64>)>,
    /// `<enable xmlns='urn:xmpp:carbons:2'/>` inline.
    pub carbons: bool,
}

/// One `<authenticate/>`.
#[derive(Debug, Clone)]
pub struct Request {
    pub mechanism: String,
    /// The decoded `<initial-response/>` (empty without one); `None`: bad base64.
    pub initial: Option<Vec<u8>>,
    pub agent: UserAgent,
    pub bind: Option<BindRequest>,
    /// `<request-token mechanism=…/>`: the mechanism asked for.
    pub request_token: Option<String>,
    /// `<fast count=… invalidate=…/>` with a token login.
    pub fast_count: Option<i64>,
    pub fast_invalidate: bool,
    /// XEP-0198 `<resume/>` inline (its SASL2 integration): the session to take over.
    pub resume: Option<Element>,
}

/// Longest user-agent id, tag, software or device name kept.
const MAX_FIELD: usize = 128;

fn text_of(el: &Element, name: &str, ns: &str) -> Option<String> {
    el.get_child(name, ns)
        .map(|c| c.text().trim().chars().take(MAX_FIELD).collect::<String>())
        .filter(|t| !t.is_empty())
}

/// Reads `<authenticate/>`.
pub fn parse(el: &Element) -> Request {
    let agent = el
        .get_child("user-agent", ns::SASL2)
        .map(|ua| UserAgent {
            id: ua
                .attr("id")
                .map(|i| i.trim().to_string())
                .filter(|i| !i.is_empty() && i.len() <= MAX_FIELD),
            software: text_of(ua, "software", ns::SASL2),
            device: text_of(ua, "device", ns::SASL2),
        })
        .unwrap_or_default();
    let bind = el.get_child("bind", ns::BIND2).map(|b| BindRequest {
        tag: text_of(b, "tag", ns::BIND2),
        sm: b.get_child("enable", crate::stream_mgmt::NS).map(|e| {
            let resume = matches!(e.attr("resume"), Some("true" | "1"));
            let max = e.attr("max").and_then(|m| m.parse::<u64>().ok());
            (resume, max)
        }),
        carbons: b.get_child("enable", ns::CARBONS).is_some(),
    });
    let fast = el.get_child("fast", ns::FAST);
    Request {
        mechanism: el.attr("mechanism").unwrap_or_default().to_string(),
        initial: match el.get_child("initial-response", ns::SASL2) {
            Some(r) => decode(&r.text()),
            None => Some(Vec::new()),
        },
        agent,
        bind,
        request_token: el
            .get_child("request-token", ns::FAST)
            .map(|r| r.attr("mechanism").unwrap_or_default().to_string()),
        fast_count: fast
            .and_then(|f| f.attr("count"))
            .and_then(|c| c.parse().ok()),
        fast_invalidate: fast.is_some_and(|f| matches!(f.attr("invalidate"), Some("true" | "1"))),
        resume: el.get_child("resume", crate::stream_mgmt::NS).cloned(),
    }
}

/// Base64 of a SASL2 element (empty text: empty data); `None` when it is not base64.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    if t.is_empty() || t == "=" {
        return Some(Vec::new());
    }
    B64.decode(t).ok()
}

/// The `<authentication/>` stream feature: the mechanisms, and what may come inline
/// (Bind 2, stream resumption when `resume`, FAST's mechanisms `fast` when there are any).
pub fn feature(mechanisms: &[&str], fast: &[&str], resume: bool) -> String {
    let mut f = format!("<authentication xmlns='{}'>", ns::SASL2);
    for m in mechanisms {
        f.push_str(&format!("<mechanism>{m}</mechanism>"));
    }
    f.push_str("<inline>");
    if resume {
        // XEP-0198's SASL2 integration: `<resume/>` inside `<authenticate/>`.
        f.push_str(&format!("<sm xmlns='{}'/>", crate::stream_mgmt::NS));
    }
    f.push_str(&format!(
        "<bind xmlns='{}'><inline><feature var='{}'/><feature var='{}'/></inline></bind>",
        ns::BIND2,
        crate::stream_mgmt::NS,
        ns::CARBONS
    ));
    if !fast.is_empty() {
        f.push_str(&format!("<fast xmlns='{}'>", ns::FAST));
        for m in fast {
            f.push_str(&format!("<mechanism>{m}</mechanism>"));
        }
        f.push_str("</fast>");
    }
    f.push_str("</inline></authentication>");
    f
}

/// A `<challenge/>`.
pub fn challenge(data: &str) -> String {
    format!(
        "<challenge xmlns='{}'>{}</challenge>",
        ns::SASL2,
        B64.encode(data)
    )
}

/// A `<failure/>`: the RFC 6120 condition and one text in the stream's language.
pub fn failure(condition: &str, lang: Language, text: &str) -> String {
    format!(
        "<failure xmlns='{}'><{condition} xmlns='{}'/><text xml:lang='{}'>{}</text></failure>",
        ns::SASL2,
        ns::SASL,
        lang.code(),
        escape(text)
    )
}

/// What a refusal says, in the stream's language.
pub fn failure_text(e: &SaslError, token: bool, lang: Language) -> String {
    let fr = lang == Language::Fr;
    match e {
        SaslError::NotAuthorized if token => if fr {
            "Jeton de connexion refusé (expiré, révoqué ou déjà utilisé) : il faut se reconnecter avec le mot de passe."
        } else {
            "Login token refused (expired, revoked or replayed): log in with the password again."
        }
        .into(),
        SaslError::NotAuthorized => if fr {
            "Identifiant ou mot de passe incorrect."
        } else {
            "Wrong login or password."
        }
        .into(),
        SaslError::BindingDowngrade | SaslError::BindingMismatch => if fr {
            "La connexion chiffrée n'est pas celle que le client a authentifiée (un intermédiaire ?) : connexion refusée."
        } else {
            "The encrypted connection is not the one the client authenticated (a party in the middle?): login refused."
        }
        .into(),
        SaslError::InvalidAuthzid => if fr {
            "On ne peut se connecter que pour son propre compte (identité d'autorisation refusée)."
        } else {
            "You can only log in as yourself (authorization identity refused)."
        }
        .into(),
        other if fr => format!("Demande d'authentification mal formée ({other})."),
        other => format!("Malformed authentication request ({other})."),
    }
}

/// The text of an unknown or not offered mechanism.
pub fn invalid_mechanism_text(lang: Language) -> &'static str {
    match lang {
        Language::Fr => "Cette méthode d'authentification n'est pas proposée ici.",
        _ => "This authentication mechanism is not offered here.",
    }
}

/// The resource Bind 2 gives: the client's tag (when it is a valid resource start),
/// a dot and a random part, so that each installation gets its own.
pub fn resource_for(tag: Option<&str>) -> String {
    let random = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let tag: String = tag
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && *c != '/' && *c != '@')
        .take(32)
        .collect();
    let tag = tag.trim();
    if tag.is_empty() {
        random.to_string()
    } else {
        format!("{tag}.{random}")
    }
}

/// The FAST mechanisms offered on a connection with these channel bindings, strongest
/// first: each bound HT mechanism whose type is offered, then HT-SHA-256-NONE.
pub fn fast_mechanisms(bindings: &[ChannelBinding<'_>]) -> Vec<&'static str> {
    ht::MECHANISMS
        .iter()
        .map(|(m, _)| *m)
        .filter(|m| fast_binding(m, bindings).is_some())
        .collect()
}

/// The channel-binding data an HT `mechanism` covers on this connection: empty for
/// `-NONE`; None for a mechanism not known here or bound with a type this connection
/// does not offer (a login with it is refused, never checked unbound).
pub fn fast_binding<'a>(mechanism: &str, bindings: &[ChannelBinding<'a>]) -> Option<&'a [u8]> {
    match ht::channel_binding(mechanism)? {
        None => Some(&[]),
        Some(kind) => bindings.iter().find(|b| b.kind == kind).map(|b| b.data),
    }
}

/// The outcome of a token login.
pub enum TokenLogin {
    /// This account's token: `answer` is the server's proof, for `<additional-data/>`.
    Valid {
        user: String,
        answer: Vec<u8>,
    },
    Refused(SaslError),
}

/// A token login with the HT `mechanism` on a connection with these channel `bindings`
/// ([`fast_binding`]): checks the proof against the live tokens the client `agent` was
/// issued for that mechanism (XEP-0484: a token logs in with its own mechanism only),
/// and the replay counter. Every refusal is one answer (unknown account, unknown
/// client, expired or replayed token, another mechanism's token, wrong proof or
/// channel, a binding this connection does not have).
pub async fn token_login(
    store: &dyn FastStore,
    mechanism: &str,
    bindings: &[ChannelBinding<'_>],
    initial: &[u8],
    agent: Option<&str>,
    count: Option<i64>,
) -> Result<TokenLogin, AuthStoreError> {
    let Some(cb) = fast_binding(mechanism, bindings) else {
        return Ok(TokenLogin::Refused(SaslError::NotAuthorized));
    };
    let first = match ht::parse_initial(initial) {
        Ok(f) => f,
        Err(e) => return Ok(TokenLogin::Refused(e)),
    };
    let (Some(user), Some(agent)) = (localpart(&first.username), agent) else {
        return Ok(TokenLogin::Refused(SaslError::NotAuthorized));
    };
    let tokens = store.fast_tokens(&user, agent).await?;
    let Some(token) = tokens
        .iter()
        .find(|t| t.mechanism == mechanism && ht::verify(&t.key_hash, &first.proof, cb))
    else {
        return Ok(TokenLogin::Refused(SaslError::NotAuthorized));
    };
    // A client that counted its logins with this token always does (XEP-0484 §3.3):
    // without it, a proof seen once could be sent again.
    if count.is_none() && token.last_count >= 0 {
        return Ok(TokenLogin::Refused(SaslError::NotAuthorized));
    }
    // The counter only moves forward; the older token goes once the newer is used. A
    // login without either writes nothing.
    let older = tokens.iter().any(|t| t.issued_ms < token.issued_ms);
    if (count.is_some() || older)
        && !store
            .fast_used(&user, agent, &token.key_hash, count)
            .await?
    {
        return Ok(TokenLogin::Refused(SaslError::NotAuthorized));
    }
    Ok(TokenLogin::Valid {
        user,
        answer: ht::responder(&token.key_hash, cb),
    })
}

/// Issues a token to `user`'s client `agent` for the HT `mechanism` and `days`: the
/// `<token/>` element.
pub async fn issue(
    store: &dyn FastStore,
    user: &str,
    agent: &str,
    mechanism: &str,
    days: u32,
) -> Result<String, AuthStoreError> {
    let token = ht::new_token();
    let expires = chrono::Utc::now() + chrono::Duration::days(i64::from(days));
    store
        .fast_issue(
            user,
            agent,
            mechanism,
            &ht::token_key(&token),
            expires.timestamp_millis(),
        )
        .await
        .map_err(|e: StoreError| AuthStoreError::from(e))?;
    Ok(format!(
        "<token xmlns='{}' expiry='{}' token='{}'/>",
        ns::FAST,
        expires.format("%Y-%m-%dT%H:%M:%SZ"),
        token
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use causerie_proto::scram::{TLS_EXPORTER, TLS_SERVER_END_POINT};

    /// XEP-0484: a token logs in with the mechanism it was issued for only, bound to
    /// this connection's data for that mechanism's type; the server's answer covers the
    /// same channel. A bound mechanism whose binding the connection lacks is refused.
    #[tokio::test]
    async fn a_token_logs_in_with_its_own_mechanism_and_channel_only() {
        let (_dir, store) = crate::auth::tests::store_with_alice().await;
        let token_of = |el: String| {
            let start = el.find("token='").unwrap() + 7;
            el[start..].split('\'').next().unwrap().to_string()
        };
        const EXPORTER: [u8; 32] = [1; 32];
        const END_POINT: [u8; 32] = [2; 32];
        const BOTH: &[ChannelBinding<'static>] = &[
            ChannelBinding {
                kind: TLS_EXPORTER,
                data: &EXPORTER,
            },
            ChannelBinding {
                kind: TLS_SERVER_END_POINT,
                data: &END_POINT,
            },
        ];
        let login = |mechanism: &'static str,
                     bindings: &'static [ChannelBinding<'static>],
                     token: String,
                     cb: &'static [u8]| {
            let store = store.clone();
            async move {
                let mut initial = b"alice\0".to_vec();
                initial.extend(ht::initiator(token.as_bytes(), cb));
                match token_login(&store, mechanism, bindings, &initial, Some("ua"), None)
                    .await
                    .unwrap()
                {
                    TokenLogin::Valid { user, answer } => {
                        assert_eq!(user, "alice");
                        assert_eq!(answer, ht::responder(token.as_bytes(), cb));
                        true
                    }
                    TokenLogin::Refused(e) => {
                        assert_eq!(e, SaslError::NotAuthorized);
                        false
                    }
                }
            }
        };
        let expr = token_of(
            issue(&store, "alice", "ua", ht::HT_SHA_256_EXPR, 30)
                .await
                .unwrap(),
        );
        assert!(
            !login(ht::HT_SHA_256_NONE, BOTH, expr.clone(), &[]).await,
            "unbound"
        );
        assert!(
            !login(ht::HT_SHA_256_ENDP, BOTH, expr.clone(), &END_POINT).await,
            "another type"
        );
        assert!(
            !login(ht::HT_SHA_256_EXPR, BOTH, expr.clone(), &END_POINT).await,
            "another channel"
        );
        assert!(
            !login(ht::HT_SHA_256_EXPR, &BOTH[1..], expr.clone(), &EXPORTER).await,
            "not offered"
        );
        assert!(login(ht::HT_SHA_256_EXPR, BOTH, expr, &EXPORTER).await);
        let endp = token_of(
            issue(&store, "alice", "ua", ht::HT_SHA_256_ENDP, 30)
                .await
                .unwrap(),
        );
        assert!(login(ht::HT_SHA_256_ENDP, BOTH, endp, &END_POINT).await);
        assert_eq!(
            fast_mechanisms(BOTH),
            [
                ht::HT_SHA_256_EXPR,
                ht::HT_SHA_256_ENDP,
                ht::HT_SHA_256_NONE
            ]
        );
        assert_eq!(fast_mechanisms(&[]), [ht::HT_SHA_256_NONE]);
        assert_eq!(fast_binding("HT-SHA-256-UNIQ", BOTH), None);
    }

    #[test]
    fn the_console_shows_what_the_client_named() {
        let agent = |software: Option<&str>, device: Option<&str>| UserAgent {
            id: Some("d4565fa7".into()),
            software: software.map(str::to_owned),
            device: device.map(str::to_owned),
        };
        assert_eq!(
            agent(Some("Conversations"), Some("Pixel 7"))
                .label()
                .as_deref(),
            Some("Conversations · Pixel 7")
        );
        assert_eq!(agent(Some("Gajim"), None).label().as_deref(), Some("Gajim"));
        assert_eq!(
            agent(None, Some("Pixel 7")).label().as_deref(),
            Some("Pixel 7")
        );
        assert_eq!(agent(None, None).label(), None, "an id alone names nothing");
    }

    #[test]
    fn authenticate_is_read() {
        let el: Element = format!(
            "<authenticate xmlns='{}' mechanism='HT-SHA-256-NONE'>\
             <initial-response>YWxpY2U=</initial-response>\
             <user-agent id='d4565fa7'><software>Conv</software><device>Phone</device></user-agent>\
             <bind xmlns='{}'><tag>Conv</tag><enable xmlns='urn:xmpp:sm:3' resume='true'/></bind>\
             <request-token xmlns='{}' mechanism='HT-SHA-256-NONE'/>\
             <fast xmlns='{}' count='4' invalidate='true'/></authenticate>",
            ns::SASL2,
            ns::BIND2,
            ns::FAST,
            ns::FAST
        )
        .parse()
        .unwrap();
        let r = parse(&el);
        assert_eq!(r.mechanism, "HT-SHA-256-NONE");
        assert_eq!(r.initial.unwrap(), b"alice");
        assert_eq!(r.agent.id.as_deref(), Some("d4565fa7"));
        assert_eq!(r.agent.device.as_deref(), Some("Phone"));
        let b = r.bind.unwrap();
        assert_eq!(b.tag.as_deref(), Some("Conv"));
        assert_eq!(b.sm, Some((true, None)));
        assert!(!b.carbons);
        assert_eq!(r.request_token.as_deref(), Some("HT-SHA-256-NONE"));
        assert_eq!(r.fast_count, Some(4));
        assert!(r.fast_invalidate);
    }

    /// A channel-binding refusal says what happened, not « malformed ».
    #[test]
    fn a_binding_refusal_says_the_connection_is_not_the_client_s() {
        for e in [SaslError::BindingMismatch, SaslError::BindingDowngrade] {
            assert_eq!(e.condition(), "not-authorized");
            let fr = failure_text(&e, false, Language::Fr);
            assert!(fr.contains("connexion chiffrée"), "{fr}");
            let en = failure_text(&e, false, Language::En);
            assert!(en.contains("encrypted connection"), "{en}");
        }
    }

    #[test]
    fn resources_start_with_the_tag() {
        let r = resource_for(Some("Conversations"));
        assert!(r.starts_with("Conversations."), "{r}");
        assert_ne!(r, resource_for(Some("Conversations")));
        assert_eq!(resource_for(Some("a/b@c")).split('.').next(), Some("abc"));
        assert_eq!(resource_for(None).len(), 8);
    }
}
