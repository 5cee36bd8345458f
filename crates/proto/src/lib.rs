//! Causerie's protocol layer: XMPP stream framing, stanza errors and SASL,
//! with no I/O, no async runtime and no database.
//!
//! - [`framing`]: bytes (TCP) or frames (WebSocket) into stream events;
//! - [`errors`]: stanza and stream errors (RFC 6120 §8.3, §4.9);
//! - [`scram`]: SCRAM-SHA-1/-256 and PLAIN, server side;
//! - [`ht`]: HT-SHA-256-NONE, the token mechanism of XEP-0484 FAST;
//! - [`oauthbearer`]: OAUTHBEARER's message (RFC 7628), for the single sign-on's login token;
//! - [`cas`]: the CAS protocol's validation answer and single log-out request;
//! - [`xml`]: attribute helpers over `minidom`;
//! - [`ns`](mod@ns): namespaces.
//!
//! Typed payloads come from `xmpp-parsers`, re-exported as [`parsers`].

pub mod cas;
pub mod errors;
pub mod framing;
pub mod ht;
pub mod ns;
pub mod oauthbearer;
pub mod scram;
pub mod xml;

pub use jid;
pub use minidom;
pub use minidom::Element;
pub use xmpp_parsers as parsers;
