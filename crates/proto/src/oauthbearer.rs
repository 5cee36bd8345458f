//! OAUTHBEARER (RFC 7628), server side: the client's only message parsed into the
//! authorization identity it names and the bearer token it carries.
//!
//! Causerie accepts it for one kind of token only: the short-lived, single-use login
//! token the web client gets after the portal's single sign-on (CAS); what the token
//! is worth is the caller's business (crates/server/src/auth.rs). Written by hand: the
//! message is one GS2 header and a few `key=value` pairs separated by 0x01, and no
//! maintained crate parses the server side of it.

use crate::scram::SaslError;

/// The client's initial response, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerResponse {
    /// The authorization identity of the GS2 header (`a=`), if any: a bare JID or a
    /// localpart.
    pub authzid: Option<String>,
    /// The token of `auth=Bearer <token>`.
    pub token: String,
}

/// Longest token accepted (the server's own are 43 characters).
const MAX_TOKEN: usize = 512;

/// Parses `gs2-header 0x01 *(kvpair 0x01) 0x01` (RFC 7628 §3.1).
pub fn parse(message: &[u8]) -> Result<BearerResponse, SaslError> {
    let text = std::str::from_utf8(message).map_err(|_| SaslError::Malformed("not UTF-8"))?;
    // GS2 header: cbind flag ("n" or "y": OAUTHBEARER has no channel binding), authzid.
    let (flag, rest) = text
        .split_once(',')
        .ok_or(SaslError::Malformed("no GS2 header"))?;
    if flag != "n" && flag != "y" {
        return Err(SaslError::Malformed("channel binding is not supported"));
    }
    let (authz, rest) = rest
        .split_once(',')
        .ok_or(SaslError::Malformed("no GS2 header"))?;
    let authzid = match authz {
        "" => None,
        a => Some(
            a.strip_prefix("a=")
                .ok_or(SaslError::Malformed("bad authorization identity"))?
                .replace("=2C", ",")
                .replace("=3D", "="),
        ),
    };
    let pairs = rest
        .strip_prefix('\u{1}')
        .and_then(|r| r.strip_suffix("\u{1}\u{1}"))
        .ok_or(SaslError::Malformed("bad key-value pairs"))?;
    let mut token = None;
    for pair in pairs.split('\u{1}') {
        let (key, value) = pair
            .split_once('=')
            .ok_or(SaslError::Malformed("bad key-value pair"))?;
        if key == "auth" {
            // The scheme is case-insensitive (RFC 6750 §2.1).
            let (scheme, t) = value
                .split_once(' ')
                .ok_or(SaslError::Malformed("bad auth value"))?;
            if !scheme.eq_ignore_ascii_case("bearer") || t.is_empty() || t.len() > MAX_TOKEN {
                return Err(SaslError::Malformed("bad bearer token"));
            }
            token = Some(t.to_string());
        }
        // host= and port= are informational.
    }
    Ok(BearerResponse {
        authzid: authzid.filter(|a| !a.is_empty()),
        token: token.ok_or(SaslError::Malformed("no bearer token"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strophes_message_is_read() {
        // What Strophe.js sends: an authzid, then auth=Bearer.
        let r = parse(b"n,a=lea.martin@ecole.test,\x01auth=Bearer abc_DEF-123\x01\x01").unwrap();
        assert_eq!(r.authzid.as_deref(), Some("lea.martin@ecole.test"));
        assert_eq!(r.token, "abc_DEF-123");
    }

    #[test]
    fn rfc_7628_example_with_host_and_port_is_read() {
        let r = parse(
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01",
        )
        .unwrap();
        assert_eq!(r.token, "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
        let r = parse(b"n,,\x01auth=bearer t\x01\x01").unwrap();
        assert_eq!((r.authzid, r.token.as_str()), (None, "t"));
    }

    #[test]
    fn malformed_messages_are_refused() {
        for bad in [
            &b""[..],
            b"n,,",
            b"n,,\x01\x01",
            b"n,,\x01auth=Basic dXNlcjpwYXNz\x01\x01",
            b"n,,\x01auth=Bearer \x01\x01",
            b"n,,\x01auth=Bearer t\x01",
            b"p=tls-unique,,\x01auth=Bearer t\x01\x01",
            b"n,u=x,\x01auth=Bearer t\x01\x01",
            b"n,,\x01noequals\x01\x01",
            b"\xff,,\x01auth=Bearer t\x01\x01",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("n,,\x01auth=Bearer {}\x01\x01", "a".repeat(513));
        assert!(parse(long.as_bytes()).is_err());
    }
}
