//! The Hashed Token SASL mechanism HT-SHA-256-NONE (draft-schmaus-kitten-sasl-ht, now
//! draft-ietf-kitten-sasl-ht) as XEP-0484 FAST uses it, server side, without I/O.
//!
//! One round trip: the client sends `authcid NUL HMAC(token, "Initiator" || cb-data)`,
//! the server answers (in SASL2's `<additional-data/>`) with
//! `HMAC(token, "Responder" || cb-data)`. With `-NONE` the channel-binding data is
//! empty; `-EXPR` binds with `tls-exporter`'s data (RFC 9266), `-ENDP` with
//! `tls-server-end-point`'s (RFC 5929) ([`channel_binding`]). `-UNIQ` (`tls-unique`,
//! undefined in TLS 1.3) is not known here. XEP-0484 binds a token to the mechanism it
//! was issued for: the token store records it.
//!
//! Tokens are stored hashed: a token is [`TOKEN_BYTES`] random bytes written in
//! base64url, longer than SHA-256's 64-byte block, and HMAC (RFC 2104 §2) first
//! replaces such a key by its SHA-256 digest. So `HMAC(token, m)` equals
//! `HMAC(SHA-256(token), m)`: the server keeps only [`token_key`] and never the token.
//! That digest is still what a token login needs (a stolen database row logs in until
//! the token expires or is revoked), but the token the client holds is not in it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::scram::{SaslError, TLS_EXPORTER, TLS_SERVER_END_POINT};

/// The HT mechanism without channel binding.
pub const HT_SHA_256_NONE: &str = "HT-SHA-256-NONE";
/// Bound with the `tls-exporter` data.
pub const HT_SHA_256_EXPR: &str = "HT-SHA-256-EXPR";
/// Bound with the `tls-server-end-point` data.
pub const HT_SHA_256_ENDP: &str = "HT-SHA-256-ENDP";

/// The HT mechanisms known here, strongest first, with the channel-binding type each
/// binds with (None: `-NONE`).
pub const MECHANISMS: [(&str, Option<&str>); 3] = [
    (HT_SHA_256_EXPR, Some(TLS_EXPORTER)),
    (HT_SHA_256_ENDP, Some(TLS_SERVER_END_POINT)),
    (HT_SHA_256_NONE, None),
];

/// The channel-binding type of an HT mechanism known here: `Some(None)` for `-NONE`,
/// `None` for a mechanism not known.
pub fn channel_binding(mechanism: &str) -> Option<Option<&'static str>> {
    MECHANISMS
        .iter()
        .find(|(m, _)| *m == mechanism)
        .map(|(_, cb)| *cb)
}

/// Random bytes in a token: 88 characters once encoded, more than the 64-byte block.
pub const TOKEN_BYTES: usize = 66;

/// The client's initial message, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtInitial {
    pub username: String,
    pub proof: Vec<u8>,
}

/// Parses `authcid NUL proof`.
pub fn parse_initial(msg: &[u8]) -> Result<HtInitial, SaslError> {
    let Some(nul) = msg.iter().position(|b| *b == 0) else {
        return Err(SaslError::Malformed("HT: no NUL after the username"));
    };
    let username = std::str::from_utf8(&msg[..nul])
        .map_err(|_| SaslError::Malformed("HT: the username is not UTF-8"))?;
    if username.is_empty() {
        return Err(SaslError::Malformed("HT: empty username"));
    }
    let proof = msg[nul + 1..].to_vec();
    if proof.len() != 32 {
        return Err(SaslError::Malformed("HT: the proof is not a SHA-256 HMAC"));
    }
    Ok(HtInitial {
        username: username.to_string(),
        proof,
    })
}

/// A new token (base64url, no padding).
pub fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    B64URL.encode(bytes)
}

/// What the server stores for `token`: the key HMAC uses for it (its SHA-256, the
/// token being longer than the hash's block).
pub fn token_key(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn hmac(key: &[u8], label: &[u8], cb: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    m.update(label);
    m.update(cb);
    m.finalize().into_bytes().to_vec()
}

/// The client's proof for a stored key (or a token: the same value).
pub fn initiator(key: &[u8], cb: &[u8]) -> Vec<u8> {
    hmac(key, b"Initiator", cb)
}

/// The server's answer, sent in `<additional-data/>`.
pub fn responder(key: &[u8], cb: &[u8]) -> Vec<u8> {
    hmac(key, b"Responder", cb)
}

/// Whether `proof` is the initiator's proof for `key` over the channel-binding data
/// `cb` (empty for `-NONE`), in constant time.
pub fn verify(key: &[u8], proof: &[u8], cb: &[u8]) -> bool {
    bool::from(initiator(key, cb).ct_eq(proof))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored digest computes the same HMAC as the token itself, so the server can
    /// check a proof made with the token it no longer has.
    #[test]
    fn the_stored_key_proves_like_the_token() {
        let token = new_token();
        assert_eq!(token.len(), 88);
        let key = token_key(&token);
        assert_ne!(key, token.as_bytes());
        let with_token = initiator(token.as_bytes(), &[]);
        assert_eq!(initiator(&key, &[]), with_token);
        assert!(verify(&key, &with_token, &[]));
        // -EXPR: the proof covers the channel; another channel's proof fails.
        let bound = initiator(token.as_bytes(), &[7; 32]);
        assert!(verify(&key, &bound, &[7; 32]));
        assert!(!verify(&key, &bound, &[8; 32]));
        assert!(!verify(&key, &bound, &[]));
        assert_eq!(responder(&key, b""), responder(token.as_bytes(), b""));
        assert_ne!(responder(&key, b""), with_token, "two labels, two values");
        // A short token would not reduce: its digest is another key.
        let short = "s3cret";
        assert_ne!(
            initiator(&token_key(short), &[]),
            initiator(short.as_bytes(), &[])
        );
        assert!(!verify(&token_key(&new_token()), &with_token, &[]));
    }

    /// RFC 4231 test case 2 through the same HMAC: the label is the start of the message.
    #[test]
    fn hmac_is_rfc_4231() {
        let out = hmac(b"Jefe", b"what do ya want ", b"for nothing?");
        assert_eq!(
            out.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn each_mechanism_binds_with_its_type() {
        assert_eq!(channel_binding(HT_SHA_256_NONE), Some(None));
        assert_eq!(channel_binding(HT_SHA_256_EXPR), Some(Some("tls-exporter")));
        assert_eq!(
            channel_binding(HT_SHA_256_ENDP),
            Some(Some("tls-server-end-point"))
        );
        assert_eq!(channel_binding("HT-SHA-256-UNIQ"), None);
        assert_eq!(channel_binding("SCRAM-SHA-256"), None);
    }

    #[test]
    fn initial_messages_parse() {
        let mut msg = b"alice\0".to_vec();
        msg.extend([7u8; 32]);
        let p = parse_initial(&msg).unwrap();
        assert_eq!(p.username, "alice");
        assert_eq!(p.proof, vec![7u8; 32]);
        assert!(parse_initial(b"alice").is_err());
        assert!(parse_initial(b"alice\0short").is_err());
        let mut empty = b"\0".to_vec();
        empty.extend([7u8; 32]);
        assert!(parse_initial(&empty).is_err());
    }
}
