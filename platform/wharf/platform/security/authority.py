"""Wharf's local certificate authority, for `localhost` and private domains no public CA can sign.

Made once in the data dir, like Caddy's internal issuer: a root (ten years) whose key is used only
to sign the intermediate, and an intermediate (one year, re-signed by the root well before it
expires) that signs short-lived leaf certificates. Layout, every key 0600 in a 0700 folder:

    <data>/ca/root.crt                      the root, public: `wharfd ca` and GET /api/ca.pem
    <data>/ca/root/root.key                 the root key: read by `ensure_authority` only
    <data>/ca/intermediate/intermediate.pem the intermediate certificate followed by its key

The intermediate's certificate and key share one file so that a renewal replaces both at once
(a rename) and a reader never pairs a new certificate with an old key.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT_LIFETIME = datetime.timedelta(days=3650)
INTERMEDIATE_LIFETIME = datetime.timedelta(days=365)
# The root re-signs the intermediate once less than this is left.
INTERMEDIATE_RENEW_BEFORE = datetime.timedelta(days=120)
BACKDATE = datetime.timedelta(minutes=5)
AUTHORITY_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    key_cert_sign=True,
    crl_sign=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    encipher_only=False,
    decipher_only=False,
)


@dataclass(frozen=True)
class AuthorityPaths:
    folder: Path

    @property
    def root_cert(self) -> Path:
        return self.folder / "root.crt"

    @property
    def root_key(self) -> Path:
        return self.folder / "root" / "root.key"

    @property
    def intermediate(self) -> Path:
        return self.folder / "intermediate" / "intermediate.pem"


def authority_paths(data_dir: Path) -> AuthorityPaths:
    return AuthorityPaths(data_dir / "ca")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` 0600 in a 0700 folder, replacing any old file in one rename."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _authority_certificate(
    *,
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    lifetime: datetime.timedelta,
    path_length: int,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Wharf"),
                      x509.NameAttribute(NameOID.COMMON_NAME, subject)])  # fmt: skip
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer is not None else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(AUTHORITY_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _create_root(paths: AuthorityPaths) -> None:
    """Make the root in a scratch folder and move it into place: concurrent first starts agree on one."""
    paths.folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=paths.folder.parent, prefix=".ca-"))
    try:
        staged = AuthorityPaths(scratch)
        key = ec.generate_private_key(ec.SECP256R1())
        root = _authority_certificate(subject="Wharf Local Root CA", key=key, issuer=None, issuer_key=key,
                                      lifetime=ROOT_LIFETIME, path_length=1)  # fmt: skip
        write_private(staged.root_key, _key_pem(key))
        staged.root_cert.write_bytes(_cert_pem(root))
        staged.root_cert.chmod(0o644)
        scratch.chmod(0o700)
        try:
            scratch.rename(paths.folder)
        except OSError:
            if not paths.root_cert.exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _intermediate_due(paths: AuthorityPaths) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(paths.intermediate.read_bytes())
    except (OSError, ValueError):
        return True
    return cert.not_valid_after_utc - _now() < INTERMEDIATE_RENEW_BEFORE


def ensure_authority(data_dir: Path) -> AuthorityPaths:
    """Create the root once and keep a current intermediate; the only reader of the root key."""
    paths = authority_paths(data_dir)
    if not paths.root_cert.exists():
        _create_root(paths)
    if _intermediate_due(paths):
        root = x509.load_pem_x509_certificate(paths.root_cert.read_bytes())
        root_key = serialization.load_pem_private_key(paths.root_key.read_bytes(), password=None)
        assert isinstance(root_key, ec.EllipticCurvePrivateKey)
        key = ec.generate_private_key(ec.SECP256R1())
        intermediate = _authority_certificate(subject="Wharf Local Intermediate CA", key=key, issuer=root,
                                              issuer_key=root_key, lifetime=INTERMEDIATE_LIFETIME,
                                              path_length=0)  # fmt: skip
        write_private(paths.intermediate, _cert_pem(intermediate) + _key_pem(key))
    return paths


def root_pem(data_dir: Path) -> str:
    """The root certificate in PEM, creating the authority on first use."""
    return ensure_authority(data_dir).root_cert.read_text(encoding="ascii")


@dataclass(frozen=True)
class Leaf:
    """A leaf certificate: the chain (leaf, then intermediate) and the key, both PEM."""

    chain_pem: bytes
    key_pem: bytes
    not_after: datetime.datetime


def _subject_name(hostname: str) -> x509.GeneralName:
    """An IP address SAN for an address (TLS clients match addresses against those only), else a DNS name."""
    try:
        return x509.IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        return x509.DNSName(hostname)


def issue_leaf(intermediate_file: Path, hostnames: list[str], lifetime: datetime.timedelta) -> Leaf:
    """Sign a server certificate for ``hostnames`` with the intermediate (never the root)."""
    blob = intermediate_file.read_bytes()
    issuer = x509.load_pem_x509_certificate(blob)
    issuer_key = serialization.load_pem_private_key(blob, password=None)
    assert isinstance(issuer_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    not_after = min(now + lifetime, issuer.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([_subject_name(h) for h in hostnames]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
        .sign(issuer_key, hashes.SHA256())
    )
    return Leaf(chain_pem=_cert_pem(cert) + _cert_pem(issuer), key_pem=_key_pem(key), not_after=not_after)
