"""Trusted time: RFC 3161 time-stamp tokens over a manifest hash.

``request_token`` asks a time-stamping authority (TSA) over HTTP(S) for a token over a SHA-256 digest and checks
the answer (status granted, the same message imprint, the same nonce) before it is kept. ``verify_token`` checks a
stored response: the imprint equals the manifest's hash, the signed attributes bind the token's content, and,
with the TSA's certificate, the signature. The DER is read with ``asn1crypto``; signatures are checked with
``cryptography``. The token is plain RFC 3161, so ``openssl ts -verify`` checks it too.
"""
from __future__ import annotations

import hashlib
import secrets
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from asn1crypto import algos, cms, tsp
from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

#: Largest response read from a TSA (a token with its certificate chain is a few KiB).
MAX_RESPONSE = 1024 * 1024


class TSAError(Exception):
    """A time-stamp could not be had, or a token does not verify. One line."""


@dataclass(frozen=True)
class Stamp:
    gen_time: datetime
    serial: int
    policy: str


def endpoint(url: str) -> str:
    """scheme://host[:port]/path of a URL, without user information (for messages)."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def build_request(digest: bytes, nonce: int) -> bytes:
    req: bytes = tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
        "nonce": nonce, "cert_req": True,
    }).dump()
    return req


def request_token(url: str, digest: bytes, *, timeout: float = 30.0) -> bytes:
    """The DER TimeStampResp of the TSA at ``url`` for ``digest`` (SHA-256), checked; TSAError otherwise."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise TSAError("the TSA URL must be http:// or https://")
    nonce = secrets.randbits(63)
    req = urllib.request.Request(url, data=build_request(digest, nonce), method="POST",
                                 headers={"Content-Type": "application/timestamp-query"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (scheme checked above)
            data: bytes = resp.read(MAX_RESPONSE + 1)
    except urllib.error.HTTPError as exc:
        raise TSAError(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise TSAError(f"no answer: {getattr(exc, 'reason', exc)}") from None
    if len(data) > MAX_RESPONSE:
        raise TSAError(f"the answer is larger than {MAX_RESPONSE} bytes")
    try:
        nonce_back = _tst_info(data)["nonce"].native
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise TSAError(f"malformed time-stamp token ({type(exc).__name__})") from None
    if nonce_back != nonce:
        raise TSAError("the answer carries another nonce than the request (a replayed or foreign token)")
    verify_token(data, digest)
    return data


def _response(data: bytes) -> tsp.TimeStampResp:
    try:
        resp = tsp.TimeStampResp.load(data, strict=True)
        status = resp["status"]["status"].native
    except (ValueError, TypeError, KeyError):
        raise TSAError("not an RFC 3161 time-stamp response") from None
    if status not in ("granted", "granted_with_mods"):
        text = resp["status"]["status_string"].native if resp["status"]["status_string"] else None
        raise TSAError(f"the TSA did not grant the time-stamp ({status}{': ' + str(text) if text else ''})")
    return resp


def _signed_data(data: bytes) -> cms.SignedData:
    resp = _response(data)
    token = resp["time_stamp_token"]
    if token["content_type"].native != "signed_data":
        raise TSAError("the token is not CMS SignedData")
    signed: cms.SignedData = token["content"]
    return signed


def _tst_info(data: bytes) -> tsp.TSTInfo:
    signed = _signed_data(data)
    try:
        content = signed["encap_content_info"]
        if content["content_type"].native != "tst_info":
            raise TSAError("the token does not carry a TSTInfo")
        info: tsp.TSTInfo = content["content"].parsed
        info.native  # parse it all now: a malformed token fails here, not later  # noqa: B018
    except (ValueError, TypeError, KeyError) as exc:
        raise TSAError(f"malformed TSTInfo ({type(exc).__name__})") from None
    return info


_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512, "sha224": hashes.SHA224,
}


def verify_token(data: bytes, digest: bytes, certs: Sequence[bytes] = ()) -> Stamp:
    """Check a stored TimeStampResp against the SHA-256 ``digest`` it should cover; with ``certs`` (PEM or DER
    certificates of the TSA) the token's signature must verify with one of them. Any malformed part of the
    token is a TSAError, never an exception of the parser."""
    try:
        return _verify_token(data, digest, certs)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError) as exc:
        raise TSAError(f"malformed time-stamp token ({type(exc).__name__})") from None


def _verify_token(data: bytes, digest: bytes, certs: Sequence[bytes]) -> Stamp:
    signed = _signed_data(data)
    info = _tst_info(data)
    imprint = info["message_imprint"]
    if imprint["hash_algorithm"]["algorithm"].native != "sha256":
        raise TSAError("the token's message imprint is not SHA-256")
    if imprint["hashed_message"].native != digest:
        raise TSAError("the token covers another hash than this manifest's (the manifest was changed, or the "
                       "token belongs to another manifest)")
    signers = signed["signer_infos"]
    if len(signers) != 1:
        raise TSAError("the token must have exactly one signer")
    signer: cms.SignerInfo = signers[0]
    digest_name = signer["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES:
        raise TSAError(f"unsupported digest algorithm {digest_name}")
    attrs = signer["signed_attrs"]
    if not attrs:
        raise TSAError("the token has no signed attributes")
    content = signed["encap_content_info"]["content"].contents
    found = {a["type"].native: a["values"][0].native for a in attrs}
    if found.get("content_type") != "tst_info":
        raise TSAError("the signed content type is not TSTInfo")
    if found.get("message_digest") != hashlib.new(digest_name, content).digest():
        raise TSAError("the signed attributes do not bind the token's content (TSTInfo changed)")
    if certs:
        signed_bytes = b"\x31" + attrs.dump()[1:]  # what was signed: the attributes as a SET OF, not [0]
        signature = signer["signature"].native
        if not any(_verifies(c, signature, signed_bytes, digest_name, signer["signature_algorithm"])
                   for c in certs):
            raise TSAError("the token's signature does not verify with the given TSA certificate(s)")
    return Stamp(info["gen_time"].native, int(info["serial_number"].native), str(info["policy"].native))


def _verifies(cert_data: bytes, signature: bytes, signed: bytes, digest_name: str,
              algorithm: algos.SignedDigestAlgorithm) -> bool:
    try:
        cert = (cx509.load_pem_x509_certificate(cert_data) if cert_data.lstrip().startswith(b"-----")
                else cx509.load_der_x509_certificate(cert_data))
    except ValueError:
        raise TSAError("a --tsa-cert is not an X.509 certificate") from None
    key = cert.public_key()
    algo = _HASHES[digest_name]()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if algorithm.signature_algo == "rsassa_pss":
                params = algorithm["parameters"]
                key.verify(signature, signed, padding.PSS(padding.MGF1(_HASHES[params["hash_algorithm"][
                    "algorithm"].native]()), params["salt_length"].native), algo)
            else:
                key.verify(signature, signed, padding.PKCS1v15(), algo)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed, ec.ECDSA(algo))
        else:
            return False
    except (InvalidSignature, ValueError, KeyError):
        return False
    return True
