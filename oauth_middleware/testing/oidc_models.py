"""The data of :class:`~oauth_middleware.testing.FakeOIDC`: signing keys, its users and small
encoding helpers."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import typing as t
from collections.abc import Mapping

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from oauth_middleware.oidc._jwt import require_jwt


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256(verifier: str) -> str:
    return b64(hashlib.sha256(verifier.encode("ascii")).digest())


class Key:
    """A signing key pair with its public JWK."""

    def __init__(self, kind: str, number: int) -> None:
        self.kid = "%s-%d-%s" % (kind, number, secrets.token_hex(4))
        self.private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        if kind == "rsa":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.alg = "RS256"
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.alg = "ES256"
        jwt = require_jwt()
        algorithm = jwt.get_algorithm_by_name(self.alg)
        self.jwk: dict[str, t.Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        self.jwk.update(kid=self.kid, use="sig", alg=self.alg)

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def changed(claims: dict[str, t.Any], changes: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """``claims`` with ``changes`` applied: a ``None`` value removes the claim."""
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def default_users() -> dict[str, dict[str, t.Any]]:
    return {
        "alice": {
            "sub": "248289761001",
            "preferred_username": "alice",
            "name": "Alice Example",
            "email": "alice@example.com",
            "email_verified": True,
            "groups": ["staff", "admins"],
        },
        "bob": {
            "sub": "248289761002",
            "preferred_username": "bob",
            "email": "bob@example.org",
            "email_verified": False,
            "groups": "staff",
        },
    }
