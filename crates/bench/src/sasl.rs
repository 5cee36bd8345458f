//! SASL client side: PLAIN and SCRAM-SHA-1/-256 (RFC 5802, RFC 7677).
//!
//! A real client derives the SaltedPassword once and keeps it (or ClientKey and
//! ServerKey) for the next logins with the same salt and iteration count; so do
//! we, per (hash, password, salt, iterations), so that the generator pays
//! PBKDF2 once and not at every login.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// A SASL mechanism the generator can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Mech {
    #[value(name = "plain")]
    Plain,
    #[value(name = "scram-sha-1")]
    ScramSha1,
    #[value(name = "scram-sha-256")]
    ScramSha256,
}

impl Mech {
    pub fn name(self) -> &'static str {
        match self {
            Mech::Plain => "PLAIN",
            Mech::ScramSha1 => "SCRAM-SHA-1",
            Mech::ScramSha256 => "SCRAM-SHA-256",
        }
    }
}

fn hmac(mech: Mech, key: &[u8], data: &[u8]) -> Vec<u8> {
    match mech {
        Mech::ScramSha1 => {
            let mut m = <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("any key length");
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        _ => {
            let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
    }
}

fn hash(mech: Mech, data: &[u8]) -> Vec<u8> {
    match mech {
        Mech::ScramSha1 => Sha1::digest(data).to_vec(),
        _ => Sha256::digest(data).to_vec(),
    }
}

/// SaltedPassword, derived once per (mechanism, password, salt, iterations).
#[derive(Clone)]
struct Keys {
    client_key: Vec<u8>,
    server_key: Vec<u8>,
}

type CacheKey = (Mech, String, Vec<u8>, u32);

fn cache() -> &'static Mutex<HashMap<CacheKey, Arc<OnceLock<Keys>>>> {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, Arc<OnceLock<Keys>>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// How many PBKDF2 derivations the generator ran (cache misses).
pub fn derivations() -> u64 {
    DERIVATIONS.load(std::sync::atomic::Ordering::Relaxed)
}
static DERIVATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn keys(mech: Mech, password: &str, salt: &[u8], iterations: u32) -> Keys {
    let cell = {
        let mut c = cache().lock().expect("cache lock");
        c.entry((mech, password.to_owned(), salt.to_vec(), iterations))
            .or_default()
            .clone()
    };
    cell.get_or_init(|| {
        DERIVATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let salted = match mech {
            Mech::ScramSha1 => {
                let mut out = vec![0u8; 20];
                pbkdf2::pbkdf2_hmac::<Sha1>(password.as_bytes(), salt, iterations, &mut out);
                out
            }
            _ => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
                out
            }
        };
        Keys {
            client_key: hmac(mech, &salted, b"Client Key"),
            server_key: hmac(mech, &salted, b"Server Key"),
        }
    })
    .clone()
}

/// The base64 payload of `<auth/>` for PLAIN.
pub fn plain(user: &str, password: &str) -> String {
    B64.encode(format!("\0{user}\0{password}"))
}

/// A SCRAM exchange in progress, client side.
pub struct Scram {
    mech: Mech,
    nonce: String,
    first_bare: String,
    server_signature: Vec<u8>,
}

impl Scram {
    /// Starts: returns the exchange and the base64 client-first-message.
    pub fn start(mech: Mech, user: &str) -> (Scram, String) {
        let mut raw = [0u8; 18];
        rand::rng().fill_bytes(&mut raw);
        let nonce = B64.encode(raw);
        let user = user.replace('=', "=3D").replace(',', "=2C");
        let first_bare = format!("n={user},r={nonce}");
        let msg = B64.encode(format!("n,,{first_bare}"));
        (
            Scram {
                mech,
                nonce,
                first_bare,
                server_signature: Vec::new(),
            },
            msg,
        )
    }

    /// Answers the server-first-message (base64) with the client-final-message (base64).
    pub fn respond(&mut self, challenge_b64: &str, password: &str) -> Result<String> {
        let server_first = B64
            .decode(challenge_b64.trim())
            .context("challenge is not base64")?;
        let server_first = String::from_utf8(server_first).context("challenge is not UTF-8")?;
        let (mut r, mut s, mut i) = (None, None, None);
        for part in server_first.split(',') {
            match part.split_at_checked(2) {
                Some(("r=", v)) => r = Some(v),
                Some(("s=", v)) => s = Some(v),
                Some(("i=", v)) => i = Some(v),
                _ => {}
            }
        }
        let (Some(r), Some(s), Some(i)) = (r, s, i) else {
            bail!("server-first-message lacks r, s or i: {server_first}");
        };
        if !r.starts_with(&self.nonce) {
            bail!("server nonce does not extend ours");
        }
        let salt = B64.decode(s).context("salt is not base64")?;
        let iterations: u32 = i.parse().context("bad iteration count")?;
        let keys = keys(self.mech, password, &salt, iterations);
        let without_proof = format!("c=biws,r={r}");
        let auth_message = format!("{},{server_first},{without_proof}", self.first_bare);
        let stored_key = hash(self.mech, &keys.client_key);
        let signature = hmac(self.mech, &stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = keys
            .client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        self.server_signature = hmac(self.mech, &keys.server_key, auth_message.as_bytes());
        Ok(B64.encode(format!("{without_proof},p={}", B64.encode(proof))))
    }

    /// Checks the server-final-message (`v=...`, base64) carried by `<success/>`.
    pub fn verify(&self, success_b64: &str) -> Result<()> {
        let raw = B64
            .decode(success_b64.trim())
            .context("success is not base64")?;
        let text = String::from_utf8_lossy(&raw);
        let v = text
            .strip_prefix("v=")
            .context("server-final-message without v=")?;
        if B64.decode(v.trim()).ok().as_deref() != Some(&self.server_signature[..]) {
            bail!("server signature does not verify");
        }
        Ok(())
    }
}

/// XEP-0484's HT-SHA-256 proof: `HMAC-SHA-256(token, label)` (no channel binding).
pub fn ht_proof(token: &str, label: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(token.as_bytes()).expect("any key");
    m.update(label);
    m.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use causerie_proto::scram::{self, ScramHash};

    /// Runs our client against the server side of causerie_proto.
    #[test]
    fn client_matches_the_server_side() {
        for (mech, hash) in [
            (Mech::ScramSha1, ScramHash::Sha1),
            (Mech::ScramSha256, ScramHash::Sha256),
        ] {
            let keys = scram::derive_keys(hash, "pencil", 4096).unwrap();
            let (mut client, first) = Scram::start(mech, "user");
            let first = B64.decode(first).unwrap();
            let cf = scram::parse_client_first(&first).unwrap();
            let (server, challenge) = scram::ScramServer::new(hash, cf, Some(keys), 4096);
            let fin = client.respond(&B64.encode(challenge), "pencil").unwrap();
            let ok = server.finish(&B64.decode(fin).unwrap()).unwrap();
            client.verify(&B64.encode(ok)).unwrap();
        }
    }
}
