"""Authenticated encryption of cookie values (AES-256-GCM, keys derived with HKDF).

Each purpose ("session", "flow") gets its own key derived from every configured secret, so a value
sealed for one purpose never opens as another. The first secret encrypts, every secret decrypts
(rotation, the :class:`cryptography.fernet.MultiFernet` order). A short key id in front of each
value picks the right key without trial decryption.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import typing as t

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_ID_SIZE = 4
NONCE_SIZE = 12
TAG_SIZE = 16
#: Shortest secret accepted, in bytes (RFC 6749 10.10 asks for at least 128 bits of entropy; we
#: ask for 256 bits of input so a passphrase-like key still has room).
MIN_SECRET_BYTES = 32


_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class InvalidValue(ValueError):
    """A sealed value did not open: tampered, truncated, wrong key or not ours."""


def _derive(secret: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


class Cipher:
    """Seal and open byte strings for one purpose, with one or more secrets.

    .. code-block:: python

        cipher = Cipher([new_secret, old_secret], purpose="session")
        value = cipher.seal(b"payload", aad=b"cookie-name")
        assert cipher.open(value, aad=b"cookie-name") == b"payload"

    :param secrets: one or more secrets of at least :data:`MIN_SECRET_BYTES` bytes; the first
        encrypts, all decrypt.
    :param purpose: a label bound into the derived keys.
    """

    def __init__(self, secrets: t.Sequence[bytes], *, purpose: str) -> None:
        if not secrets:
            raise ValueError("at least one secret is required")
        info = b"oauth_middleware/v1/" + purpose.encode()
        self._keys: dict[bytes, AESGCM] = {}
        self._seal_kid = b""
        for secret in secrets:
            kid = _derive(secret, info + b"/kid", KEY_ID_SIZE)
            self._keys.setdefault(kid, AESGCM(_derive(secret, info + b"/key", 32)))
            self._seal_kid = self._seal_kid or kid
        self._seal_key = self._keys[self._seal_kid]

    def seal(self, data: bytes, *, aad: bytes) -> str:
        """Encrypt and authenticate ``data`` (bound to ``aad``); returns URL-safe base64 text."""
        nonce = os.urandom(NONCE_SIZE)
        blob = self._seal_kid + nonce + self._seal_key.encrypt(nonce, data, aad)
        return base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii")

    @property
    def key_id(self) -> str:
        """The id of the sealing key, in hex: the same in every process given the same first
        secret (for diagnostics: it reveals nothing a sealed value does not already carry)."""
        return self._seal_kid.hex()

    def foreign_key_id(self, value: str) -> str | None:
        """The key id (hex) of ``value`` if it is well formed but sealed with a key this cipher
        does not have (another worker's key, or one removed from the rotation); ``None`` if the
        key is ours or ``value`` is not a sealed value at all.

        For diagnostics only: the key id is not authenticated, so an altered key id looks the
        same. It decides nothing; :meth:`open` refuses such a value either way.
        """
        try:
            blob = _decode(value)
        except InvalidValue:
            return None
        kid = blob[:KEY_ID_SIZE]
        return None if kid in self._keys else kid.hex()

    def open(self, value: str, *, aad: bytes) -> bytes:
        """Decrypt ``value``; raise :class:`InvalidValue` for anything that is not intact and ours."""
        blob = _decode(value)
        key = self._keys.get(blob[:KEY_ID_SIZE])
        if key is None:
            raise InvalidValue("unknown key")
        nonce = blob[KEY_ID_SIZE : KEY_ID_SIZE + NONCE_SIZE]
        try:
            return key.decrypt(nonce, blob[KEY_ID_SIZE + NONCE_SIZE :], aad)
        except InvalidTag as exc:
            raise InvalidValue("authentication failed") from exc


def _decode(value: str) -> bytes:
    """The bytes of a sealed value: key id, nonce, ciphertext and tag (not yet authenticated)."""
    # strict: one spelling per value, so any changed character is a different (refused) value
    if not _BASE64URL.fullmatch(value):
        raise InvalidValue("not base64url")
    try:
        blob = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidValue("not base64") from exc
    if base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii") != value:
        raise InvalidValue("not canonical base64")
    if len(blob) < KEY_ID_SIZE + NONCE_SIZE + TAG_SIZE:
        raise InvalidValue("too short")
    return blob
