"""Certificate helpers: make a self-signed cert/key pair, read DER from PEM,
fetch the certificate a server presents (STARTTLS or direct TLS)."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from raw import RawClient


def make_self_signed(directory: Path, domain: str, common_name: str) -> tuple[Path, Path, bytes]:
    """Write cert.pem + key.pem (PKCS#8) into ``directory``; return paths and the cert's DER."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, cert.public_bytes(serialization.Encoding.DER)


def first_cert_der(pem_path: Path) -> bytes:
    """DER of the first certificate of a PEM file (the leaf)."""
    certs = x509.load_pem_x509_certificates(Path(pem_path).read_bytes())
    assert certs, f"no certificate in {pem_path}"
    return certs[0].public_bytes(serialization.Encoding.DER)


def cert_names(der: bytes) -> set[str]:
    """CN and DNS SANs of a certificate."""
    cert = x509.load_der_x509_certificate(der)
    names = {a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)}
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names |= set(san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    return names


def fingerprint(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).fingerprint(hashes.SHA256()).hex(":")


def served_cert_starttls(server) -> bytes:
    with RawClient(server.host, server.c2s_port, server.domain) as c:
        c.connect()
        c.open_stream()
        c.starttls()
        assert c.peer_cert_der
        return c.peer_cert_der


def served_cert_direct(server) -> bytes:
    with RawClient(server.host, server.c2s_tls_port, server.domain) as c:
        c.connect(direct_tls=True)
        assert c.peer_cert_der
        return c.peer_cert_der
