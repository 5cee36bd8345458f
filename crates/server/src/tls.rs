//! TLS: the server certificate and the rustls configuration.
//!
//! A configured certificate/key pair (PEM) is used as is. Without one, a
//! self-signed certificate for the domain is generated at first start and
//! kept in `data_dir/tls/` so that clients which pinned it keep trusting it
//! across restarts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("cannot write the generated certificate to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
    #[error("the certificate and key do not form a usable pair: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Where the certificate and key come from.
pub fn cert_paths(config: &Config) -> (PathBuf, PathBuf, bool) {
    match (&config.tls.cert, &config.tls.key) {
        (Some(c), Some(k)) => (c.clone(), k.clone(), false),
        _ => {
            let dir = config.data_dir.join("tls");
            (dir.join("cert.pem"), dir.join("key.pem"), true)
        }
    }
}

/// Loads (or, for the generated pair, creates) the certificate and builds the
/// rustls server configuration.
pub fn load(config: &Config) -> Result<Arc<ServerConfig>, TlsError> {
    load_bound(config).map(|(server, _)| server)
}

/// The rustls configuration and the certificate's `tls-server-end-point` channel-binding
/// data ([`server_end_point`]).
pub type Loaded = (Arc<ServerConfig>, Option<Box<[u8]>>);

/// [`load`], with the certificate's `tls-server-end-point` data.
pub fn load_bound(config: &Config) -> Result<Loaded, TlsError> {
    let (cert_path, key_path, generated) = cert_paths(config);
    if generated && !(cert_path.exists() && key_path.exists()) {
        generate(&config.domain, &cert_path, &key_path)?;
        tracing::info!(cert = %cert_path.display(), "generated a self-signed certificate");
    }
    let certs = read_certs(&cert_path)?;
    let end_point = server_end_point(&certs[0]);
    if end_point.is_none() {
        tracing::info!(cert = %cert_path.display(), "the certificate cannot be read for its signature's hash, or it names none this server knows (Ed25519, RSASSA-PSS): tls-server-end-point channel binding not offered");
    }
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| TlsError::Read {
        path: key_path.clone(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    server.alpn_protocols = vec![b"xmpp-client".to_vec()];
    // Stateless resumption tickets (keys rotated every 6 hours): any number of
    // clients may resume, and the server keeps nothing per client (rustls's
    // default is a stateful cache of 256 sessions, which thousands of pupils
    // logging in at 8:00 would churn). One ticket per connection is enough for
    // a client's next one (rustls sends 2).
    server.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()?;
    server.send_tls13_tickets = 1;
    // TLS 1.2 only with the extended master secret (RFC 7627, every TLS 1.2 stack of the
    // last decade): then its exporter is unique to the connection and SCRAM's -PLUS
    // binds with it as on TLS 1.3 (RFC 9266 §4.2; `transport::Channel`), so that no TLS
    // connection to this server is one where channel binding could be stripped.
    server.require_ems = true;
    Ok((Arc::new(server), end_point))
}

/// The `tls-server-end-point` channel-binding data of the server's certificate (RFC 5929
/// §4.1): the hash of the certificate (DER) with the hash function of its signature
/// algorithm, SHA-256 where that is MD5 or SHA-1. None where the algorithm names no
/// single hash (Ed25519: RFC 5929 leaves it undefined), where the hash is in its
/// parameters (RSASSA-PSS, not read here) or the certificate cannot be read: the type
/// is then not offered.
///
/// XEP-0440's security considerations ask servers to implement this type (a client
/// that knows no other can still bind); it binds the certificate only, so
/// `tls-exporter` comes first in the offer.
pub fn server_end_point(cert: &CertificateDer<'_>) -> Option<Box<[u8]>> {
    use sha2::Digest;
    use x509_cert::der::Decode;
    let der: &[u8] = cert.as_ref();
    let parsed = x509_cert::Certificate::from_der(der).ok()?;
    let hash = |d: &[u8]| -> Box<[u8]> { d.into() };
    Some(match parsed.signature_algorithm.oid.to_string().as_str() {
        // md5WithRSAEncryption, sha1WithRSAEncryption, ecdsa-with-SHA1: SHA-256.
        "1.2.840.113549.1.1.4" | "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1"
        // sha256WithRSAEncryption, ecdsa-with-SHA256.
        | "1.2.840.113549.1.1.11" | "1.2.840.10045.4.3.2" => hash(&sha2::Sha256::digest(der)),
        // sha224WithRSAEncryption, ecdsa-with-SHA224.
        "1.2.840.113549.1.1.14" | "1.2.840.10045.4.3.1" => hash(&sha2::Sha224::digest(der)),
        // sha384WithRSAEncryption, ecdsa-with-SHA384.
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => hash(&sha2::Sha384::digest(der)),
        // sha512WithRSAEncryption, ecdsa-with-SHA512.
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => hash(&sha2::Sha512::digest(der)),
        _ => return None,
    })
}

/// aws-lc-rs's suites and key exchanges (rustls's default provider), without TLS 1.3's
/// `TLS_AES_256_GCM_SHA384`.
///
/// aws-lc-rs rather than ring: a full handshake's X25519 (a key pair and an agreement)
/// took 42-66 µs with aws-lc-rs against 66-97 µs with ring on this project's benchmark
/// machine, and the key exchange was the largest part of a TLS login's handshake
/// (BENCHMARKS.md, "aws-lc-rs"); a resumption runs it too (TLS 1.3's PSK with (EC)DHE).
/// Its groups also offer X25519MLKEM768 to the clients that ask for it first (OpenSSL 3.5,
/// browsers): rustls follows the client's order of groups, so a client without it gets
/// X25519 with no extra round trip.
///
/// Without `TLS_AES_256_GCM_SHA384`: its key schedule and transcript hash are SHA-384,
/// which no CPU instruction computes: in the login profile it was a tenth of the
/// handshake's CPU, where SHA-256 runs on the SHA extensions. Every TLS 1.3 client
/// implements `TLS_AES_128_GCM_SHA256` (RFC 8446 §9.1), so none is refused; a client that
/// prefers ChaCha20 (no AES instructions, as on older phones) still gets it, the client's
/// order is kept. TLS 1.2's suites are kept as they are.
fn provider() -> rustls::crypto::CryptoProvider {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider
        .cipher_suites
        .retain(|s| s.suite() != rustls::CipherSuite::TLS13_AES_256_GCM_SHA384);
    provider
}

/// Makes [`provider`] the process's rustls provider, for the libraries that build their
/// own TLS configuration without naming one or that prefer the process's (async-nats's
/// TLS to a NATS server, reqwest's to the portal's CAS server): with both ring and
/// aws-lc-rs in the build, rustls cannot pick one for them. Idempotent.
pub fn install_process_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may have installed one meanwhile: either is fine.
        let _ = provider().install_default();
    }
}

/// The certificates of a PEM file, in order.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn generate(domain: &str, cert_path: &Path, key_path: &Path) -> Result<(), TlsError> {
    let mut names = vec![domain.to_string()];
    if domain != "localhost" {
        names.push("localhost".into());
    }
    let ck =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    if let Some(dir) = cert_path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    write_private(key_path, ck.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(cert_path, ck.cert.pem()).map_err(|source| TlsError::Write {
        path: cert_path.to_path_buf(),
        source,
    })
}

/// Writes the key readable by its owner only.
fn write_private(path: &Path, data: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    opts.open(path)
        .and_then(|mut f| f.write_all(data))
        .map_err(|source| TlsError::Write {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        load(&config).unwrap();
        let (cert, key, generated) = cert_paths(&config);
        assert!(generated);
        let first = std::fs::read(&cert).unwrap();
        assert!(
            std::fs::read_to_string(&key)
                .unwrap()
                .contains("PRIVATE KEY")
        );
        load(&config).unwrap();
        assert_eq!(
            std::fs::read(&cert).unwrap(),
            first,
            "regenerated on restart"
        );
    }

    #[test]
    fn broken_pem_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        std::fs::write(&cert, "not a certificate").unwrap();
        std::fs::write(&key, "not a key").unwrap();
        let mut config = Config::default();
        config.tls.cert = Some(cert);
        config.tls.key = Some(key);
        let err = load(&config).unwrap_err().to_string();
        assert!(err.contains("c.pem"), "{err}");
    }

    /// The TLS 1.3 suite a client offering `suites` (in its order of preference) gets.
    fn negotiated(suites: &[rustls::CipherSuite]) -> rustls::CipherSuite {
        handshake(suites, None).0
    }

    /// The TLS 1.3 suite and key exchange group a client offering `suites` and, when
    /// given, `groups` (aws-lc-rs's, in its order of preference; else ring's defaults)
    /// gets.
    fn handshake(
        suites: &[rustls::CipherSuite],
        groups: Option<&[rustls::NamedGroup]>,
    ) -> (rustls::CipherSuite, rustls::NamedGroup) {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            domain: "localhost".into(),
            ..Config::default()
        };
        let server_config = load(&config).unwrap();
        let (cert, _, _) = cert_paths(&config);
        let mut roots = rustls::RootCertStore::empty();
        for c in read_certs(&cert).unwrap() {
            roots.add(c).unwrap();
        }
        let mut client_provider = rustls::crypto::ring::default_provider();
        client_provider.cipher_suites = suites
            .iter()
            .map(|want| {
                *rustls::crypto::ring::ALL_CIPHER_SUITES
                    .iter()
                    .find(|s| s.suite() == *want)
                    .unwrap()
            })
            .collect();
        if let Some(groups) = groups {
            client_provider.kx_groups = groups
                .iter()
                .map(|want| {
                    *rustls::crypto::aws_lc_rs::ALL_KX_GROUPS
                        .iter()
                        .find(|g| g.name() == *want)
                        .unwrap()
                })
                .collect();
        }
        let client_config = rustls::ClientConfig::builder_with_provider(Arc::new(client_provider))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut client =
            rustls::ClientConnection::new(Arc::new(client_config), "localhost".try_into().unwrap())
                .unwrap();
        let mut server = rustls::ServerConnection::new(server_config).unwrap();
        // The handshake in memory: each side's bytes handed to the other.
        for _ in 0..10 {
            let mut wire = Vec::new();
            client.write_tls(&mut wire).unwrap();
            server.read_tls(&mut wire.as_slice()).unwrap();
            server.process_new_packets().unwrap();
            let mut wire = Vec::new();
            server.write_tls(&mut wire).unwrap();
            client.read_tls(&mut wire.as_slice()).unwrap();
            client.process_new_packets().unwrap();
            if !client.is_handshaking() && !server.is_handshaking() {
                break;
            }
        }
        assert!(!server.is_handshaking(), "handshake did not finish");
        (
            server.negotiated_cipher_suite().unwrap().suite(),
            server.negotiated_key_exchange_group().unwrap().name(),
        )
    }

    #[test]
    fn the_key_exchange_follows_the_client_post_quantum_included() {
        use rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 as SUITE;
        use rustls::NamedGroup::*;
        // A client of ring (X25519 first, no post-quantum group) gets X25519 at once.
        assert_eq!(handshake(&[SUITE], None).1, X25519);
        // A client that offers the post-quantum hybrid first (OpenSSL 3.5, browsers) gets it.
        assert_eq!(
            handshake(&[SUITE], Some(&[X25519MLKEM768, X25519])).1,
            X25519MLKEM768
        );
        // One that prefers X25519 keeps it; one with P-256 only gets P-256.
        assert_eq!(
            handshake(&[SUITE], Some(&[X25519, X25519MLKEM768])).1,
            X25519
        );
        assert_eq!(handshake(&[SUITE], Some(&[secp256r1])).1, secp256r1);
    }

    #[test]
    fn tls13_suites_keep_to_sha256_and_the_client_s_order() {
        use rustls::CipherSuite::*;
        // A client preferring AES-256 (as OpenSSL does) gets AES-128 with SHA-256.
        assert_eq!(
            negotiated(&[
                TLS13_AES_256_GCM_SHA384,
                TLS13_AES_128_GCM_SHA256,
                TLS13_CHACHA20_POLY1305_SHA256
            ]),
            TLS13_AES_128_GCM_SHA256
        );
        // A client preferring ChaCha20 (no AES instructions) keeps it.
        assert_eq!(
            negotiated(&[
                TLS13_CHACHA20_POLY1305_SHA256,
                TLS13_AES_256_GCM_SHA384,
                TLS13_AES_128_GCM_SHA256
            ]),
            TLS13_CHACHA20_POLY1305_SHA256
        );
    }

    /// `tls-server-end-point` (RFC 5929 §4.1): the certificate hashed with its
    /// signature's hash (the generated certificate is ECDSA with SHA-256); SHA-384 for a
    /// certificate signed with SHA-384 (as Let's Encrypt's ECDSA ones are); none for
    /// Ed25519, whose signature names no hash.
    #[test]
    fn the_end_point_binding_hashes_the_certificate_with_its_signature_s_hash() {
        use sha2::Digest;
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let (_, end_point) = load_bound(&config).unwrap();
        let (cert, _, _) = cert_paths(&config);
        let der = read_certs(&cert).unwrap().remove(0);
        assert_eq!(end_point.as_deref(), Some(&sha2::Sha256::digest(&der)[..]));
        let signed = |alg: &'static rcgen::SignatureAlgorithm| {
            let key = rcgen::KeyPair::generate_for(alg).unwrap();
            let params = rcgen::CertificateParams::new(vec!["ecole.test".into()]).unwrap();
            params.self_signed(&key).unwrap().der().clone()
        };
        let p384 = signed(&rcgen::PKCS_ECDSA_P384_SHA384);
        assert_eq!(
            server_end_point(&p384).as_deref(),
            Some(&sha2::Sha384::digest(&p384)[..])
        );
        assert_eq!(server_end_point(&signed(&rcgen::PKCS_ED25519)), None);
        assert_eq!(server_end_point(&CertificateDer::from(vec![1, 2, 3])), None);
    }

    /// The `tls-exporter` data the server binds SCRAM's `-PLUS` logins to is the one the
    /// client computes (RFC 9266: label `EXPORTER-Channel-Binding`, empty context, 32
    /// bytes), different on each connection, on TLS 1.3 and on TLS 1.2 (which this
    /// server accepts only with the extended master secret). The interop suite checks
    /// the same value against a client of its own.
    #[tokio::test]
    async fn the_channel_binding_is_the_client_s_tls_exporter() {
        use crate::transport::Channel;
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            domain: "localhost".into(),
            ..Config::default()
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(load(&config).unwrap());
        let (cert, _, _) = cert_paths(&config);
        let mut roots = rustls::RootCertStore::empty();
        for c in read_certs(&cert).unwrap() {
            roots.add(c).unwrap();
        }
        let connect = |version: &'static rustls::SupportedProtocolVersion| {
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
            let (a, b) = tokio::io::duplex(64 * 1024);
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let acceptor = acceptor.clone();
            async move {
                let (client, server) = tokio::join!(
                    connector.connect("localhost".try_into().unwrap(), a),
                    acceptor.accept(b)
                );
                (client.unwrap(), server.unwrap())
            }
        };
        // What the client computes (RFC 9266).
        let exporter = |client: &tokio_rustls::client::TlsStream<tokio::io::DuplexStream>| {
            client
                .get_ref()
                .1
                .export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", Some(&[]))
                .unwrap()
        };
        let (client, server) = connect(&rustls::version::TLS13).await;
        let theirs = exporter(&client);
        assert_eq!(server.tls_exporter(), Some(theirs));
        let (_, again) = connect(&rustls::version::TLS13).await;
        assert_ne!(
            again.tls_exporter(),
            Some(theirs),
            "each connection its own"
        );
        // TLS 1.2 (with the extended master secret this server requires) binds as well.
        let (client, old) = connect(&rustls::version::TLS12).await;
        assert_eq!(old.tls_exporter(), Some(exporter(&client)));
        assert!(load(&config).unwrap().require_ems);
    }
}
