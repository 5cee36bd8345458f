//! XML namespaces used on the wire, in one place.

pub const STREAM: &str = "http://etherx.jabber.org/streams";
pub const CLIENT: &str = "jabber:client";
pub const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";
pub const STREAMS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
pub const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
pub const TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
pub const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
pub const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
pub const SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
pub const ROSTER: &str = "jabber:iq:roster";
pub const ROSTER_VER: &str = "urn:xmpp:features:rosterver";
pub const PRE_APPROVAL: &str = "urn:xmpp:features:pre-approval";
pub const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
pub const DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
pub const PING: &str = "urn:xmpp:ping";
pub const VCARD: &str = "vcard-temp";
pub const VERSION: &str = "jabber:iq:version";
pub const DELAY: &str = "urn:xmpp:delay";
pub const MSGOFFLINE: &str = "msgoffline";
/// Causerie's roster item extension: the contact refused our request.
pub const CAUSERIE_ROSTER: &str = "urn:causerie:roster:0";
/// Causerie's vCard extension: the directory's profile of the card's owner
/// (`<profile xmlns='urn:causerie:directory:0'>student</profile>`).
pub const CAUSERIE_DIRECTORY: &str = "urn:causerie:directory:0";
pub const CARBONS: &str = "urn:xmpp:carbons:2";
pub const FORWARD: &str = "urn:xmpp:forward:0";
pub const HINTS: &str = "urn:xmpp:hints";
/// XEP-0191 blocking command.
pub const BLOCKING: &str = "urn:xmpp:blocking";
/// XEP-0191's error condition (`<blocked/>`).
pub const BLOCKING_ERRORS: &str = "urn:xmpp:blocking:errors";
/// XEP-0352 client state indication.
pub const CSI: &str = "urn:xmpp:csi:0";
/// XEP-0012 last activity.
pub const LAST: &str = "jabber:iq:last";
/// XEP-0359 unique and stable stanza ids (`stanza-id`, `origin-id`).
pub const SID: &str = "urn:xmpp:sid:0";
/// XEP-0004 data forms.
pub const DATA: &str = "jabber:x:data";
/// XEP-0313 message archive management.
pub const MAM: &str = "urn:xmpp:mam:2";
/// XEP-0313's extended queries (`before-id`, `after-id`, `ids`, `flip-page`).
pub const MAM_EXTENDED: &str = "urn:xmpp:mam:2#extended";
/// XEP-0059 result set management.
pub const RSM: &str = "http://jabber.org/protocol/rsm";
/// XEP-0114: the namespace of an external component's stream and stanzas.
pub const COMPONENT: &str = "jabber:component:accept";
/// XEP-0357 push notifications.
pub const PUSH: &str = "urn:xmpp:push:0";
/// XEP-0060 publish-subscribe (the push notifications are publishes).
pub const PUBSUB: &str = "http://jabber.org/protocol/pubsub";
/// XEP-0004 data forms.
pub const DATA_FORMS: &str = "jabber:x:data";
/// XEP-0424 message retraction (the retraction and the archive's tombstone).
pub const RETRACT: &str = "urn:xmpp:message-retract:1";
/// XEP-0425 moderated retraction (a room's moderator, or the school's staff).
pub const MODERATE: &str = "urn:xmpp:message-moderate:1";
/// XEP-0428 fallback indication.
pub const FALLBACK: &str = "urn:xmpp:fallback:0";
/// XEP-0388 Extensible SASL Profile.
pub const SASL2: &str = "urn:xmpp:sasl:2";
/// XEP-0440: the channel-binding types a server offers, in the stream features.
pub const SASL_CB: &str = "urn:xmpp:sasl-cb:0";
/// XEP-0386 Bind 2.
pub const BIND2: &str = "urn:xmpp:bind:0";
/// XEP-0484 Fast Authentication Streamlining Tokens.
pub const FAST: &str = "urn:xmpp:fast:0";
