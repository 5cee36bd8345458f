//! SASL for XMPP: SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677), their `-PLUS`
//! variants with the channel binding the caller offers (RFC 5056; the connection's data
//! comes from the transport), and PLAIN (RFC 4616), server side, without I/O.
//!
//! The server stores, per hash function, the salt, the iteration count,
//! StoredKey and ServerKey ([`ScramKeys`]); never the password nor the
//! SaltedPassword (which would let a thief log in). PLAIN is checked by
//! recomputing StoredKey from the given password, so there is one credential
//! format for every mechanism.
//!
//! Written here rather than taken from the `sasl` crate, whose server side
//! stores the SaltedPassword (password-equivalent) and pins older RustCrypto
//! releases; see docs/ARCHITECTURE.md.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    Sha1,
    Sha256,
}

impl ScramHash {
    /// The SASL mechanism name.
    pub fn mechanism(self) -> &'static str {
        match self {
            ScramHash::Sha1 => "SCRAM-SHA-1",
            ScramHash::Sha256 => "SCRAM-SHA-256",
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => {
                let mut m = <Hmac<Sha1> as KeyInit>::new_from_slice(key)
                    .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            ScramHash::Sha256 => {
                let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
                    .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => Sha1::digest(data).to_vec(),
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => {
                let mut out = vec![0u8; 20];
                pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, &mut out);
                out
            }
            ScramHash::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

/// What the server keeps for one hash function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramKeys {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

/// Why authentication failed. Each maps to a SASL failure condition (RFC 6120 §6.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// Wrong credentials or unknown user: `not-authorized`.
    #[error("credentials rejected")]
    NotAuthorized,
    /// The client's message does not follow the mechanism: `malformed-request`.
    #[error("malformed SASL message: {0}")]
    Malformed(&'static str),
    /// A password or username that SASLprep refuses: `malformed-request`.
    #[error("invalid username or password characters")]
    InvalidCharacters,
    /// Channel binding of a type this server does not offer on this connection:
    /// `malformed-request`.
    #[error("channel binding not supported")]
    ChannelBindingUnsupported,
    /// The client says it could bind the channel but believes this server cannot,
    /// while the server offered channel binding: someone removed the `-PLUS`
    /// mechanisms on the way (RFC 5802 §6): `not-authorized`.
    #[error("channel binding was offered but the client did not see it")]
    BindingDowngrade,
    /// The channel the client bound is not this connection's TLS channel: `not-authorized`.
    #[error("the channel binding does not match this connection")]
    BindingMismatch,
    /// The client asked to act as another identity than the one it authenticates as
    /// (the authzid, RFC 6120 §6.3.8): `invalid-authzid` (RFC 6120 §6.5.6).
    #[error("the authorization identity is not the authenticated user")]
    InvalidAuthzid,
}

impl SaslError {
    /// The `<failure/>` child condition.
    pub fn condition(&self) -> &'static str {
        match self {
            SaslError::NotAuthorized | SaslError::BindingDowngrade | SaslError::BindingMismatch => {
                "not-authorized"
            }
            SaslError::InvalidAuthzid => "invalid-authzid",
            _ => "malformed-request",
        }
    }
}

/// Prepares a password with SASLprep (RFC 4013), as RFC 5802 §5.1 requires.
pub fn prepare_password(password: &str) -> Result<String, SaslError> {
    stringprep::saslprep(password)
        .map(|p| p.into_owned())
        .map_err(|_| SaslError::InvalidCharacters)
}

/// Derives the stored keys for `password` with a fresh random salt.
pub fn derive_keys(
    hash: ScramHash,
    password: &str,
    iterations: u32,
) -> Result<ScramKeys, SaslError> {
    let mut salt = vec![0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    derive_keys_with_salt(hash, password, &salt, iterations)
}

/// Derives the stored keys for `password` with the given salt.
pub fn derive_keys_with_salt(
    hash: ScramHash,
    password: &str,
    salt: &[u8],
    iterations: u32,
) -> Result<ScramKeys, SaslError> {
    let password = prepare_password(password)?;
    let salted = hash.salted_password(password.as_bytes(), salt, iterations);
    let client_key = hash.hmac(&salted, b"Client Key");
    Ok(ScramKeys {
        salt: salt.to_vec(),
        iterations,
        stored_key: hash.hash(&client_key),
        server_key: hash.hmac(&salted, b"Server Key"),
    })
}

/// Keys for an account that does not exist, so that an exchange or a password check runs
/// the same steps as for one that does: `iterations` as real keys have, a salt stable per
/// username (repeated probes look alike), and keys no password derives to.
pub fn fake_keys(hash: ScramHash, username: &str, iterations: u32) -> ScramKeys {
    let salt = hash.hash(format!("causerie-unknown:{username}").as_bytes());
    ScramKeys {
        salt: salt[..16].to_vec(),
        iterations,
        stored_key: vec![0; 32],
        server_key: vec![0; 32],
    }
}

/// Checks a plaintext password against stored keys, in constant time: it must derive
/// both the StoredKey and the ServerKey (a pair that does not agree with itself, e.g.
/// damaged in storage, accepts no password).
pub fn verify_password(hash: ScramHash, keys: &ScramKeys, password: &str) -> bool {
    match derive_keys_with_salt(hash, password, &keys.salt, keys.iterations) {
        Ok(k) => {
            bool::from(k.stored_key.ct_eq(&keys.stored_key) & k.server_key.ct_eq(&keys.server_key))
        }
        Err(_) => false,
    }
}

/// A parsed PLAIN message (RFC 4616): `authzid NUL authcid NUL passwd`.
#[derive(Debug, PartialEq, Eq)]
pub struct PlainCredentials {
    pub authzid: Option<String>,
    pub username: String,
    pub password: String,
}

/// Parses the (already base64-decoded) PLAIN message.
pub fn parse_plain(msg: &[u8]) -> Result<PlainCredentials, SaslError> {
    let text = std::str::from_utf8(msg).map_err(|_| SaslError::Malformed("PLAIN is not UTF-8"))?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(username), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed(
            "PLAIN needs three NUL-separated fields",
        ));
    };
    if username.is_empty() || password.is_empty() {
        return Err(SaslError::Malformed("empty PLAIN username or password"));
    }
    Ok(PlainCredentials {
        authzid: (!authzid.is_empty()).then(|| authzid.to_string()),
        username: username.to_string(),
        password: password.to_string(),
    })
}

/// XEP-0474's downgrade protection hash (SSDP) of what the server advertised: its SASL
/// mechanisms (those of the profile the client uses, SASL or SASL2) and, when XEP-0440
/// advertised some, its channel-binding types, each list sorted (octet order) and
/// joined by U+001E, the two lists separated by U+001F, hashed with the SCRAM
/// mechanism's hash, in base64. The server sends it as the `h` attribute of its first
/// message ([`ScramServer::with_candidates`]); the client's proof covers it, so a list
/// changed on the way is seen by a client that checks it and fails the proof otherwise.
pub fn downgrade_hash(
    hash: ScramHash,
    mechanisms: &[&str],
    channel_bindings: Option<&[&str]>,
) -> String {
    let joined = |list: &[&str]| {
        let mut sorted = list.to_vec();
        sorted.sort_unstable();
        sorted.join("\u{1e}")
    };
    let mut s = joined(mechanisms);
    if let Some(types) = channel_bindings {
        s.push('\u{1f}');
        s.push_str(&joined(types));
    }
    B64.encode(hash.hash(s.as_bytes()))
}

/// The client's channel-binding flag (RFC 5802 §7, `gs2-cbind-flag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CbindFlag {
    /// `n`: the client does not bind the channel.
    No,
    /// `y`: the client could bind but believes the server cannot.
    Unused,
    /// `p=<type>`: the client binds the channel with this type (`tls-exporter`, …).
    Bound(String),
}

/// The channel-binding types this server knows (RFC 5056 names): `tls-exporter` (RFC
/// 9266), which binds the connection, and `tls-server-end-point` (RFC 5929), which binds
/// the certificate only. Not `tls-unique` (undefined in TLS 1.3, RFC 9266 §1).
pub const TLS_EXPORTER: &str = "tls-exporter";
pub const TLS_SERVER_END_POINT: &str = "tls-server-end-point";

/// The channel binding a server offers on a connection: its type (RFC 5056 name) and
/// the connection's data for that type.
#[derive(Debug, Clone, Copy)]
pub struct ChannelBinding<'a> {
    pub kind: &'a str,
    pub data: &'a [u8],
}

/// The client's first SCRAM message, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// The username (`n=`), unescaped.
    pub username: String,
    /// The authorization identity from the GS2 header (`a=`), if any.
    pub authzid: Option<String>,
    /// The channel-binding flag.
    pub cbind: CbindFlag,
    nonce: String,
    gs2_header: String,
    /// The channel-binding data the client's final message must carry after the GS2
    /// header (empty without binding); set by [`ClientFirst::check_binding`].
    cb_data: Vec<u8>,
    bare: String,
}

impl ClientFirst {
    /// Checks the client's flag against the mechanism it chose (`plus`: a `-PLUS` one),
    /// the bindings offered on this connection (`offered`, each type with this
    /// connection's data) and whether this server binds channels for such a client at all
    /// (`supported`: on every TLS connection it ends, and where TLS ends before it, a
    /// relay could have come through one of those), as RFC 5802 §6 says, and keeps the
    /// data its final message must have bound:
    /// - a `-PLUS` mechanism needs `p=` with one of the offered types;
    /// - `p=` with a mechanism without `-PLUS` is malformed;
    /// - `y` where the server supports binding is a downgrade: the client did not see
    ///   the `-PLUS` mechanisms, someone took them out (or relays it through a door
    ///   where they are not offered);
    /// - `n`, or `y` where the server supports no binding, binds nothing.
    pub fn check_binding(
        &mut self,
        plus: bool,
        offered: &[ChannelBinding<'_>],
        supported: bool,
    ) -> Result<(), SaslError> {
        let supported = supported || !offered.is_empty();
        match (&self.cbind, plus) {
            (CbindFlag::Bound(kind), true) => match offered.iter().find(|o| o.kind == kind) {
                Some(o) => {
                    self.cb_data = o.data.to_vec();
                    Ok(())
                }
                None => Err(SaslError::ChannelBindingUnsupported),
            },
            (_, true) => Err(SaslError::Malformed(
                "a -PLUS mechanism without channel binding",
            )),
            (CbindFlag::Bound(_), false) => Err(SaslError::Malformed(
                "channel binding with a mechanism without -PLUS",
            )),
            (CbindFlag::Unused, false) if supported => Err(SaslError::BindingDowngrade),
            (CbindFlag::No | CbindFlag::Unused, false) => Ok(()),
        }
    }
}

/// Parses `client-first-message` (RFC 5802 §7).
pub fn parse_client_first(msg: &[u8]) -> Result<ClientFirst, SaslError> {
    let text = std::str::from_utf8(msg).map_err(|_| SaslError::Malformed("not UTF-8"))?;
    // gs2-header = gs2-cbind-flag "," [ authzid ] ","
    let mut it = text.splitn(3, ',');
    let cbind = it
        .next()
        .ok_or(SaslError::Malformed("missing GS2 header"))?;
    let authz = it
        .next()
        .ok_or(SaslError::Malformed("missing GS2 header"))?;
    let bare = it
        .next()
        .ok_or(SaslError::Malformed("missing client-first-bare"))?;
    // Whether "y" and "p=" are acceptable depends on the mechanism and on what was
    // offered on the connection: ClientFirst::check_binding.
    let flag = match cbind {
        "n" => CbindFlag::No,
        "y" => CbindFlag::Unused,
        c => match c.strip_prefix("p=") {
            // cb-name = 1*(ALPHA / DIGIT / "." / "-")
            Some(name)
                if !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') =>
            {
                CbindFlag::Bound(name.to_string())
            }
            _ => return Err(SaslError::Malformed("bad channel binding flag")),
        },
    };
    let authzid = match authz {
        "" => None,
        a => Some(unescape_saslname(
            a.strip_prefix("a=")
                .ok_or(SaslError::Malformed("bad authzid"))?,
        )?),
    };
    let gs2_header = format!("{cbind},{authz},");
    let mut username = None;
    let mut nonce = None;
    for (i, attr) in bare.split(',').enumerate() {
        match (i, attr.split_at_checked(2)) {
            (0, Some(("m=", _))) => {
                return Err(SaslError::Malformed("mandatory extension not supported"));
            }
            (0, Some(("n=", v))) => username = Some(unescape_saslname(v)?),
            (1, Some(("r=", v))) => nonce = Some(v.to_string()),
            (0 | 1, _) => return Err(SaslError::Malformed("bad client-first-bare")),
            _ => {} // extensions are ignored
        }
    }
    let username = username.ok_or(SaslError::Malformed("missing username"))?;
    let nonce = nonce.ok_or(SaslError::Malformed("missing nonce"))?;
    if username.is_empty()
        || nonce.is_empty()
        || !nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
    {
        return Err(SaslError::Malformed("bad username or nonce"));
    }
    Ok(ClientFirst {
        username,
        authzid,
        cbind: flag,
        nonce,
        gs2_header,
        cb_data: Vec::new(),
        bare: bare.to_string(),
    })
}

fn unescape_saslname(s: &str) -> Result<String, SaslError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('=') {
        out.push_str(&rest[..pos]);
        let code = rest.get(pos + 1..pos + 3);
        match code {
            Some("2C") => out.push(','),
            Some("3D") => out.push('='),
            _ => return Err(SaslError::Malformed("bad escape in saslname")),
        }
        rest = &rest[pos + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The server between its first message and the client's final one.
#[derive(Debug, Clone)]
pub struct ScramServer {
    hash: ScramHash,
    keys: ScramKeys,
    /// More keys the proof may match, of the same salt and iteration count as `keys`
    /// (an account's app passwords): the client derived its proof with the salt sent.
    others: Vec<ScramKeys>,
    /// `false` for an unknown user: the exchange runs to its end with fake
    /// keys, so that a client cannot tell unknown users from wrong passwords.
    known: bool,
    client_first: ClientFirst,
    server_first: String,
    nonce: String,
}

impl ScramServer {
    /// Answers the client's first message. `keys` is `None` for an unknown
    /// user; `fake_salt_seed` then makes a stable fake salt for that name.
    pub fn new(
        hash: ScramHash,
        client_first: ClientFirst,
        keys: Option<ScramKeys>,
        default_iterations: u32,
    ) -> (ScramServer, String) {
        Self::with_candidates(
            hash,
            client_first,
            keys.into_iter().collect(),
            default_iterations,
            None,
        )
    }

    /// Answers the client's first message for an account with several credentials (its
    /// password and its app passwords): the salt and iteration count sent are the first
    /// candidate's, and only the candidates that share them can match the proof (the
    /// others are left out here). No candidate: an unknown user, as [`Self::new`] with
    /// `None`. [`Self::finish_which`] tells which candidate matched. `ssdp`: XEP-0474's
    /// [`downgrade_hash`], sent as the optional attribute `h` (RFC 5802 §7 lets a
    /// server-first-message carry extensions; clients that do not know it ignore it).
    pub fn with_candidates(
        hash: ScramHash,
        client_first: ClientFirst,
        mut candidates: Vec<ScramKeys>,
        default_iterations: u32,
        ssdp: Option<&str>,
    ) -> (ScramServer, String) {
        let keys = (!candidates.is_empty()).then(|| candidates.remove(0));
        let others: Vec<ScramKeys> = match &keys {
            Some(k) => candidates
                .into_iter()
                .filter(|c| c.salt == k.salt && c.iterations == k.iterations)
                .collect(),
            None => Vec::new(),
        };
        let mut rnd = [0u8; 18];
        rand::rng().fill_bytes(&mut rnd);
        let nonce = format!("{}{}", client_first.nonce, B64.encode(rnd));
        let known = keys.is_some();
        let keys =
            keys.unwrap_or_else(|| fake_keys(hash, &client_first.username, default_iterations));
        let mut server_first = format!(
            "r={},s={},i={}",
            nonce,
            B64.encode(&keys.salt),
            keys.iterations
        );
        if let Some(h) = ssdp {
            server_first.push_str(",h=");
            server_first.push_str(h);
        }
        let msg = server_first.clone();
        (
            ScramServer {
                hash,
                keys,
                others,
                known,
                client_first,
                server_first,
                nonce,
            },
            msg,
        )
    }

    /// The username the client gave.
    pub fn username(&self) -> &str {
        &self.client_first.username
    }

    /// Checks `client-final-message`; on success returns `server-final-message`
    /// (`v=…`), to send in `<success/>`.
    pub fn finish(&self, msg: &[u8]) -> Result<String, SaslError> {
        self.finish_which(msg).map(|(v, _)| v)
    }

    /// [`Self::finish`], with the index of the candidate the proof matched (0: the first
    /// of [`Self::with_candidates`], or the keys of [`Self::new`]). Every candidate is
    /// checked, whichever matches.
    pub fn finish_which(&self, msg: &[u8]) -> Result<(String, usize), SaslError> {
        let text = std::str::from_utf8(msg).map_err(|_| SaslError::Malformed("not UTF-8"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or(SaslError::Malformed("missing proof"))?;
        let mut channel = None;
        let mut nonce = None;
        for (i, attr) in without_proof.split(',').enumerate() {
            match (i, attr.split_at_checked(2)) {
                (0, Some(("c=", v))) => channel = Some(v),
                (1, Some(("r=", v))) => nonce = Some(v),
                (0 | 1, _) => return Err(SaslError::Malformed("bad client-final-message")),
                _ => {}
            }
        }
        let channel = B64
            .decode(channel.ok_or(SaslError::Malformed("missing channel binding"))?)
            .map_err(|_| SaslError::Malformed("bad base64 in channel binding"))?;
        let header = self.client_first.gs2_header.as_bytes();
        if channel.get(..header.len()) != Some(header) {
            return Err(SaslError::Malformed(
                "channel binding does not match GS2 header",
            ));
        }
        // The bound data, compared in constant time: it is this TLS channel's.
        let data = &channel[header.len()..];
        if !bool::from(data.ct_eq(&self.client_first.cb_data)) {
            return Err(SaslError::BindingMismatch);
        }
        if nonce != Some(self.nonce.as_str()) {
            return Err(SaslError::Malformed("nonce mismatch"));
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| SaslError::Malformed("bad base64 in proof"))?;
        let auth_message = format!(
            "{},{},{}",
            self.client_first.bare, self.server_first, without_proof
        );
        let mut matched: Option<usize> = None;
        for (i, keys) in std::iter::once(&self.keys).chain(&self.others).enumerate() {
            let client_signature = self.hash.hmac(&keys.stored_key, auth_message.as_bytes());
            if proof.len() != client_signature.len() {
                continue;
            }
            let client_key: Vec<u8> = proof
                .iter()
                .zip(&client_signature)
                .map(|(a, b)| a ^ b)
                .collect();
            let ok = bool::from(self.hash.hash(&client_key).ct_eq(&keys.stored_key));
            if ok && matched.is_none() {
                matched = Some(i);
            }
        }
        let Some(i) = matched.filter(|_| self.known) else {
            return Err(SaslError::NotAuthorized);
        };
        let keys = if i == 0 {
            &self.keys
        } else {
            &self.others[i - 1]
        };
        let server_signature = self.hash.hmac(&keys.server_key, auth_message.as_bytes());
        Ok((format!("v={}", B64.encode(server_signature)), i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a whole exchange with a fixed server nonce, as the RFC examples do.
    fn exchange(
        hash: ScramHash,
        keys: ScramKeys,
        client_first: &str,
        server_nonce_suffix: &str,
        client_final: &str,
    ) -> (String, Result<String, SaslError>) {
        let cf = parse_client_first(client_first.as_bytes()).unwrap();
        let (mut server, _) = ScramServer::new(hash, cf, Some(keys), 4096);
        server.nonce = format!("{}{}", server.client_first.nonce, server_nonce_suffix);
        server.server_first = format!(
            "r={},s={},i={}",
            server.nonce,
            B64.encode(&server.keys.salt),
            server.keys.iterations
        );
        let sf = server.server_first.clone();
        (sf, server.finish(client_final.as_bytes()))
    }

    #[test]
    fn rfc5802_sha1_vector() {
        let salt = B64.decode("QSXCR+Q6sek8bf92").unwrap();
        let keys = derive_keys_with_salt(ScramHash::Sha1, "pencil", &salt, 4096).unwrap();
        let (sf, result) = exchange(
            ScramHash::Sha1,
            keys,
            "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
            "3rfcNHYJY1ZVvWVs7j",
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
        );
        assert_eq!(
            sf,
            "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
        );
        assert_eq!(result.unwrap(), "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
    }

    #[test]
    fn rfc7677_sha256_vector() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let keys = derive_keys_with_salt(ScramHash::Sha256, "pencil", &salt, 4096).unwrap();
        let (_, result) = exchange(
            ScramHash::Sha256,
            keys,
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        );
        assert_eq!(
            result.unwrap(),
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn wrong_proof_is_not_authorized() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let keys = derive_keys_with_salt(ScramHash::Sha256, "eraser", &salt, 4096).unwrap();
        let (_, result) = exchange(
            ScramHash::Sha256,
            keys,
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        );
        assert_eq!(result.unwrap_err(), SaslError::NotAuthorized);
    }

    /// XEP-0474's example: SHA-1 of the two lists, sorted, with its separators; the
    /// `h` attribute ends the server's first message and the client's proof covers it.
    #[test]
    fn the_downgrade_hash_is_xep_0474_s() {
        assert_eq!(
            downgrade_hash(
                ScramHash::Sha1,
                &["SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"],
                Some(&["tls-server-end-point", "tls-exporter"]),
            ),
            "G6k/rBLDqgOhRRaCuuatSDFkJ08="
        );
        // Without XEP-0440's list, no separator; the order given does not matter.
        assert_eq!(
            downgrade_hash(ScramHash::Sha256, &["PLAIN", "SCRAM-SHA-256"], None),
            B64.encode(Sha256::digest(b"PLAIN\x1eSCRAM-SHA-256"))
        );
        let keys = derive_keys_with_salt(ScramHash::Sha256, "pencil", b"sel", 4096).unwrap();
        let cf = parse_client_first(b"n,,n=user,r=abc").unwrap();
        let (server, first) =
            ScramServer::with_candidates(ScramHash::Sha256, cf, vec![keys], 4096, Some("SSDP="));
        assert!(first.ends_with(",i=4096,h=SSDP="), "{first}");
        assert_eq!(server.server_first, first);
    }

    /// RFC 5802 §6: what each flag may do with each mechanism, with and without an
    /// offer of channel binding on the connection.
    #[test]
    fn the_binding_flag_must_fit_the_mechanism_and_the_offer() {
        let data = [7u8; 32];
        let cert = [9u8; 32];
        let both = [
            ChannelBinding {
                kind: "tls-exporter",
                data: &data,
            },
            ChannelBinding {
                kind: "tls-server-end-point",
                data: &cert,
            },
        ];
        let offer = &both[..1];
        let check = |first: &str, plus: bool, offered: &[ChannelBinding<'_>]| {
            let mut cf = parse_client_first(first.as_bytes()).unwrap();
            cf.check_binding(plus, offered, false).map(|()| cf.cb_data)
        };
        assert_eq!(
            check("p=tls-exporter,,n=a,r=b", true, offer),
            Ok(data.to_vec())
        );
        // Each offered type binds with its own data; a type not offered is refused.
        assert_eq!(
            check("p=tls-exporter,,n=a,r=b", true, &both),
            Ok(data.to_vec())
        );
        assert_eq!(
            check("p=tls-server-end-point,,n=a,r=b", true, &both),
            Ok(cert.to_vec())
        );
        assert_eq!(
            check("p=tls-server-end-point,,n=a,r=b", true, offer),
            Err(SaslError::ChannelBindingUnsupported)
        );
        assert_eq!(
            check("p=tls-unique,,n=a,r=b", true, &both),
            Err(SaslError::ChannelBindingUnsupported)
        );
        assert_eq!(
            check("p=tls-exporter,,n=a,r=b", true, &[]),
            Err(SaslError::ChannelBindingUnsupported)
        );
        assert!(matches!(
            check("n,,n=a,r=b", true, offer),
            Err(SaslError::Malformed(_))
        ));
        assert!(matches!(
            check("y,,n=a,r=b", true, offer),
            Err(SaslError::Malformed(_))
        ));
        assert!(matches!(
            check("p=tls-exporter,,n=a,r=b", false, offer),
            Err(SaslError::Malformed(_))
        ));
        // A downgrade: the client could bind, did not see that this server can.
        assert_eq!(
            check("y,,n=a,r=b", false, offer),
            Err(SaslError::BindingDowngrade)
        );
        assert_eq!(SaslError::BindingDowngrade.condition(), "not-authorized");
        assert_eq!(check("y,,n=a,r=b", false, &[]), Ok(vec![]));
        // A door without binding on a server that binds elsewhere: still a downgrade.
        let mut cf = parse_client_first(b"y,,n=a,r=b").unwrap();
        assert_eq!(
            cf.check_binding(false, &[], true),
            Err(SaslError::BindingDowngrade)
        );
        let mut cf = parse_client_first(b"n,,n=a,r=b").unwrap();
        assert_eq!(cf.check_binding(false, &[], true), Ok(()));
        assert_eq!(check("n,,n=a,r=b", false, offer), Ok(vec![]));
        assert_eq!(check("n,,n=a,r=b", false, &[]), Ok(vec![]));
    }

    /// SCRAM-SHA-256-PLUS: the proof covers the GS2 header and the channel's data; the
    /// same proof over another channel's data is refused.
    #[test]
    fn a_bound_exchange_needs_this_channel_s_data() {
        let hash = ScramHash::Sha256;
        let salt = b"sel-du-compte-16".to_vec();
        let keys = derive_keys_with_salt(hash, "pencil", &salt, 4096).unwrap();
        let ours = [1u8; 32];
        let theirs = [2u8; 32];
        let run = |bound: &[u8]| {
            let mut cf = parse_client_first(b"p=tls-exporter,,n=user,r=abc").unwrap();
            cf.check_binding(
                true,
                &[ChannelBinding {
                    kind: "tls-exporter",
                    data: &ours,
                }],
                true,
            )
            .unwrap();
            let (server, _) = ScramServer::new(hash, cf, Some(keys.clone()), 4096);
            let mut cbind = b"p=tls-exporter,,".to_vec();
            cbind.extend_from_slice(bound);
            let without = format!("c={},r={}", B64.encode(&cbind), server.nonce);
            let auth = format!(
                "{},{},{}",
                server.client_first.bare, server.server_first, without
            );
            let salted = hash.salted_password(b"pencil", &salt, 4096);
            let client_key = hash.hmac(&salted, b"Client Key");
            let sig = hash.hmac(&hash.hash(&client_key), auth.as_bytes());
            let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
            server.finish(format!("{without},p={}", B64.encode(proof)).as_bytes())
        };
        assert!(run(&ours).is_ok());
        assert_eq!(run(&theirs).unwrap_err(), SaslError::BindingMismatch);
        assert_eq!(run(b"").unwrap_err(), SaslError::BindingMismatch);
    }

    #[test]
    fn unknown_user_fails_only_at_the_end() {
        let cf = parse_client_first(b"n,,n=ghost,r=abc").unwrap();
        let (server, first) = ScramServer::new(ScramHash::Sha256, cf, None, 4096);
        assert!(first.starts_with("r=abc"));
        let final_msg = format!("c=biws,r={},p={}", server.nonce, B64.encode([0u8; 32]));
        assert_eq!(
            server.finish(final_msg.as_bytes()).unwrap_err(),
            SaslError::NotAuthorized
        );
    }

    /// A proof made with any of the candidates (same salt) logs in, and says which; the
    /// server's signature is that candidate's.
    #[test]
    fn any_candidate_of_the_same_salt_matches() {
        use hmac::Mac as _;
        let salt = b"sel-du-compte-16".to_vec();
        let hash = ScramHash::Sha256;
        let keys: Vec<ScramKeys> = ["main", "app-one", "app-two"]
            .iter()
            .map(|p| derive_keys_with_salt(hash, p, &salt, 4096).unwrap())
            .collect();
        let other_salt =
            derive_keys_with_salt(hash, "elsewhere", b"autre-sel-16-oct", 4096).unwrap();
        let proof_for = |password: &str, server: &ScramServer| {
            let salted = hash.salted_password(password.as_bytes(), &salt, 4096);
            let client_key = hash.hmac(&salted, b"Client Key");
            let stored = hash.hash(&client_key);
            let without = format!("c=biws,r={}", server.nonce);
            let auth = format!(
                "{},{},{}",
                server.client_first.bare, server.server_first, without
            );
            let sig = hash.hmac(&stored, auth.as_bytes());
            let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
            let mut m =
                <Hmac<Sha256> as KeyInit>::new_from_slice(&hash.hmac(&salted, b"Server Key"))
                    .unwrap();
            m.update(auth.as_bytes());
            (
                format!("{without},p={}", B64.encode(proof)),
                format!("v={}", B64.encode(m.finalize().into_bytes())),
            )
        };
        let mut all = keys.clone();
        all.push(other_salt);
        for (password, want) in [
            ("main", Some(0)),
            ("app-two", Some(2)),
            ("app-one", Some(1)),
            ("elsewhere", None),
            ("nope", None),
        ] {
            let cf = parse_client_first(b"n,,n=lea,r=abc").unwrap();
            let (server, first) = ScramServer::with_candidates(hash, cf, all.clone(), 4096, None);
            assert!(first.contains(&format!("s={}", B64.encode(&salt))));
            let (msg, v) = proof_for(password, &server);
            match want {
                Some(i) => assert_eq!(
                    server.finish_which(msg.as_bytes()).unwrap(),
                    (v, i),
                    "{password}"
                ),
                None => assert_eq!(
                    server.finish_which(msg.as_bytes()).unwrap_err(),
                    SaslError::NotAuthorized
                ),
            }
        }
    }

    #[test]
    fn malformed_messages() {
        for bad in [
            &b""[..],
            b"n,,",
            b"x,,n=a,r=b",
            b"n,,r=b,n=a",
            b"n,,n=a",
            b"n,,m=ext,n=a,r=b",
            b"n,,n=a=ZZ,r=b",
            b"\xff\xfe",
        ] {
            assert!(parse_client_first(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_client_first(b"p=tls-exporter,,n=a,r=b")
                .unwrap()
                .cbind,
            CbindFlag::Bound("tls-exporter".into())
        );
        for bad in [
            &b"p=,,n=a,r=b"[..],
            b"p=tls exporter,,n=a,r=b",
            b"x,,n=a,r=b",
        ] {
            assert!(parse_client_first(bad).is_err(), "{bad:?}");
        }
        let cf = parse_client_first(b"n,a=x=2Cy,n=us=3Der,r=nonce").unwrap();
        assert_eq!(cf.username, "us=er");
        assert_eq!(cf.authzid.as_deref(), Some("x,y"));
    }

    #[test]
    fn plain_messages() {
        let p = parse_plain(b"\0alice\0s3cret").unwrap();
        assert_eq!(p.username, "alice");
        assert_eq!(p.password, "s3cret");
        assert_eq!(p.authzid, None);
        assert!(parse_plain(b"alice\0s3cret").is_err());
        assert!(parse_plain(b"\0alice\0").is_err());
        assert!(parse_plain(b"\0a\0b\0c").is_err());
    }

    #[test]
    fn password_verification_uses_stored_keys_only() {
        for hash in [ScramHash::Sha1, ScramHash::Sha256] {
            let keys = derive_keys(hash, "Mot de passe é", 4096).unwrap();
            assert!(verify_password(hash, &keys, "Mot de passe é"));
            assert!(!verify_password(hash, &keys, "mot de passe é"));
            assert!(!keys.stored_key.windows(5).any(|w| w == b"passe"));
            let mut damaged = keys.clone();
            damaged.server_key[0] ^= 1;
            assert!(!verify_password(hash, &damaged, "Mot de passe é"));
        }
    }
}
