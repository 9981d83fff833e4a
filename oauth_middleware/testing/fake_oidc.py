"""An in-process fake OpenID Connect provider, and a factory of hostile id_tokens.

:class:`FakeOIDC` is a WSGI application answering like an OpenID Provider on the endpoints of the
authorization-code flow: discovery (``/.well-known/openid-configuration``), keys (``/jwks``, RSA
and EC keys made with :mod:`cryptography`, rotatable), the browser's ``/authorize`` (auto-approve
or a consent page), ``/token`` (PKCE S256 required, codes single use, refresh tokens rotated on
every use), ``/userinfo`` and the browser's ``/logout`` (RP-initiated logout: the
``end_session_endpoint``). Tokens are signed with PyJWT (``pip install 'oauth-login-middleware[oidc]'``).

:meth:`FakeOIDC.hostile_token` makes the id_tokens an attacker or a broken provider would send
(``alg: none``, HS256 keyed with the public key, wrong ``aud``, a JWE, ...): see
:data:`HOSTILE_KINDS`.

.. code-block:: python

    fake = FakeOIDC(auto_approve="alice")
    http = requests.Session()
    fake.mount(http)                     # server-side calls reach the fake without a socket
    discovery = Discovery(fake.issuer, http=http)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
import typing as t
from collections.abc import Iterable, Mapping
from urllib.parse import urlencode, urlsplit

import requests
from webob import Request, Response

from oauth_middleware.oidc._jwt import require_jwt
from oauth_middleware.oidc.idtoken import token_hash
from oauth_middleware.oidc.provider import OpenIDConnect

from .oidc_models import Key as _Key
from .oidc_models import b64 as _b64
from .oidc_models import changed as _changed
from .oidc_models import default_users as _default_users
from .oidc_models import s256 as _s256
from .transport import WSGITransportAdapter

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from oauth_middleware.oauth import OAuthClient

#: Seconds an authorization code stays redeemable.
CODE_LIFETIME = 60
#: Seconds an access token and an id_token live.
TOKEN_LIFETIME = 3600

#: What :meth:`FakeOIDC.hostile_token` can make, and what each one is.
HOSTILE_KINDS: dict[str, str] = {
    "alg_none": "unsigned, header alg 'none'",
    "hs256_public_key": "HS256, HMAC keyed with the provider's RSA public key (PEM)",
    "unknown_kid": "signed with a key the JWKS does not publish",
    "bad_signature": "a valid token with its signature replaced",
    "expired": "exp one hour ago",
    "not_yet_valid": "nbf one hour ahead",
    "iat_future": "iat one day ahead",
    "wrong_aud": "aud is another client",
    "extra_aud_no_azp": "aud lists us and another client, no azp",
    "wrong_azp": "azp is another client",
    "wrong_iss": "iss is another issuer",
    "missing_nonce": "no nonce claim",
    "wrong_nonce": "another login's nonce",
    "bad_at_hash": "at_hash of another access token",
    "jwe": "a five-part JWE instead of a JWS",
    "huge": "a 1 MB token",
    "missing_sub": "no sub claim",
}


class FakeOIDC:
    """A fake OpenID Provider, as a WSGI application.

    .. code-block:: python

        fake = FakeOIDC(auto_approve="alice")
        fake.mount(http)                             # in-process, for server-side calls
        token = fake.id_token("alice", nonce="n-0S6_WzA2Mj")
        fake.rotate_keys()                           # new keys; old ones withdrawn

    :param base_url: the issuer (no trailing slash).
    :param client_id: the one registered client.
    :param client_secret: its secret (``client_secret_basic`` or ``client_secret_post``).
    :param redirect_uris: accepted redirect URIs; empty accepts any.
    :param users: username -> claims (``sub`` required); alice and bob by default.
    :param auto_approve: log in as this user without a consent page.
    :param signing_alg: ``"RS256"`` or ``"ES256"``.
    :param clock: seconds since the epoch, for ``iat``/``exp``.
    :param post_logout_redirect_uris: where ``/logout`` may send the browser back; empty accepts
        any, but only with a valid ``id_token_hint``.
    """

    def __init__(
        self,
        base_url: str = "https://oidc.fake.test",
        *,
        client_id: str = "fake-oidc-client",
        client_secret: str = "fake-oidc-client-secret-7d2c9e41b6a05f38",  # 40 bytes: an HMAC key
        redirect_uris: Iterable[str] = (),
        users: Mapping[str, Mapping[str, t.Any]] | None = None,
        auto_approve: str | None = None,
        signing_alg: str = "RS256",
        clock: t.Callable[[], float] = time.time,
        post_logout_redirect_uris: Iterable[str] = (),
    ) -> None:
        if signing_alg not in ("RS256", "ES256"):
            raise ValueError("signing_alg must be 'RS256' or 'ES256'")
        self.base_url = base_url.rstrip("/")
        self.issuer = self.base_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = tuple(redirect_uris)
        self.post_logout_redirect_uris = tuple(post_logout_redirect_uris)
        #: Each accepted ``/logout``: ``{"sub": ..., "post_logout_redirect_uri": ...}``.
        self.logouts: list[dict[str, str | None]] = []
        self.users: dict[str, dict[str, t.Any]] = {
            name: dict(claims) for name, claims in (users or _default_users()).items()
        }
        self.auto_approve = auto_approve
        self.signing_alg = signing_alg
        self.clock = clock
        #: ``"ok"``, ``"down"`` (HTTP 503) or ``"garbage"`` (200 with a non-JSON body).
        self.jwks_mode = "ok"
        #: Requests served, per endpoint name (``"jwks"``, ``"discovery"``, ``"token"``, ...).
        self.requests: dict[str, int] = {}
        #: Extra discovery fields, or ``None`` values to drop fields.
        self.discovery_overrides: dict[str, t.Any] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._keys: list[_Key] = []
        self._old_keys: list[_Key] = []
        self._ghost: _Key | None = None  # a key never published, for "unknown_kid"
        self.rotate_keys()
        self._codes: dict[str, dict[str, t.Any]] = {}
        self._access: dict[str, dict[str, t.Any]] = {}
        self._refresh: dict[str, dict[str, t.Any]] = {}

    # -- keys ------------------------------------------------------------------------------------

    def rotate_keys(self, *, keep_old: bool = False) -> None:
        """New RSA and EC signing keys; the old ones are withdrawn from the JWKS unless ``keep_old``."""
        with self._lock:
            self._generation += 1
            self._old_keys = list(self._keys) if keep_old else []
            self._keys = [_Key("rsa", self._generation), _Key("ec", self._generation)]

    def signing_key(self, alg: str | None = None) -> _Key:
        """The current key for ``alg`` (default: :attr:`signing_alg`)."""
        alg = alg or self.signing_alg
        return next(key for key in self._keys if key.alg == alg)

    def jwks(self) -> dict[str, t.Any]:
        """The published key set."""
        return {"keys": [key.jwk for key in self._keys + self._old_keys]}

    def discovery_document(self) -> dict[str, t.Any]:
        document: dict[str, t.Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": self.base_url + "/authorize",
            "token_endpoint": self.base_url + "/token",
            "userinfo_endpoint": self.base_url + "/userinfo",
            "jwks_uri": self.base_url + "/jwks",
            "end_session_endpoint": self.base_url + "/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "profile", "email", "groups", "offline_access"],
        }
        for name, value in self.discovery_overrides.items():
            if value is None:
                document.pop(name, None)
            else:
                document[name] = value
        return document

    # -- tokens ----------------------------------------------------------------------------------

    def claims_for(
        self, user: str = "alice", *, nonce: str | None = None, access_token: str | None = None, **overrides: t.Any
    ) -> dict[str, t.Any]:
        """The id_token claims for ``user``; ``overrides`` replace or add claims (``None`` drops one)."""
        now = int(self.clock())
        claims: dict[str, t.Any] = {
            "iss": self.issuer,
            "sub": self.users[user]["sub"],
            "aud": self.client_id,
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
            "auth_time": now,
        }
        for name in ("preferred_username", "email", "email_verified", "groups", "name"):
            if name in self.users[user]:
                claims[name] = self.users[user][name]
        if nonce is not None:
            claims["nonce"] = nonce
        if access_token is not None:
            claims["at_hash"] = token_hash(access_token, self.signing_alg)
        return _changed(claims, overrides)

    def sign(self, claims: Mapping[str, t.Any], *, alg: str | None = None, key: _Key | None = None) -> str:
        """``claims`` as a JWS signed with the current key for ``alg`` (or ``key``)."""
        key = key or self.signing_key(alg)
        return t.cast(str, require_jwt().encode(dict(claims), key.private, algorithm=key.alg, headers={"kid": key.kid}))

    def id_token(
        self, user: str = "alice", *, nonce: str | None = None, access_token: str | None = None, **overrides: t.Any
    ) -> str:
        """A valid, signed id_token for ``user`` (see :meth:`claims_for` for the arguments)."""
        return self.sign(self.claims_for(user, nonce=nonce, access_token=access_token, **overrides))

    def hostile_token(
        self, kind: str, user: str = "alice", *, nonce: str | None = None, access_token: str | None = None
    ) -> str:
        """An id_token of one of the :data:`HOSTILE_KINDS`, otherwise valid for ``nonce``/``access_token``."""
        now = int(self.clock())
        changes: dict[str, dict[str, t.Any]] = {
            "expired": {"iat": now - 2 * TOKEN_LIFETIME, "exp": now - TOKEN_LIFETIME},
            "not_yet_valid": {"nbf": now + TOKEN_LIFETIME},
            "iat_future": {"iat": now + 86400, "exp": now + 86400 + TOKEN_LIFETIME},
            "wrong_aud": {"aud": "another-client"},
            "extra_aud_no_azp": {"aud": [self.client_id, "another-client"]},
            "wrong_azp": {"aud": [self.client_id, "another-client"], "azp": "another-client"},
            "wrong_iss": {"iss": self.issuer + ".evil.example"},
            "missing_nonce": {"nonce": None},
            "wrong_nonce": {"nonce": "another-login-" + secrets.token_urlsafe(8)},
            "bad_at_hash": {"at_hash": token_hash("another-access-token", self.signing_alg)},
            "missing_sub": {"sub": None},
        }
        if kind not in HOSTILE_KINDS:
            raise ValueError("kind must be one of %s" % sorted(HOSTILE_KINDS))
        claims = _changed(self.claims_for(user, nonce=nonce, access_token=access_token), changes.get(kind, {}))
        payload = _b64(json.dumps(claims).encode())
        key = self.signing_key("RS256")
        if kind == "alg_none":
            return _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." + payload + "."
        if kind == "hs256_public_key":
            signing_input = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode()) + "." + payload
            # the classic key-confusion forgery: HMAC keyed with the public key everyone can fetch
            mac = hmac.new(key.public_pem(), signing_input.encode("ascii"), hashlib.sha256).digest()
            return signing_input + "." + _b64(mac)
        if kind == "unknown_kid":
            if self._ghost is None:
                self._ghost = _Key("rsa", 0)
            return self.sign(claims, key=self._ghost)
        if kind == "bad_signature":
            real = self.sign(claims, alg="RS256")
            return real.rsplit(".", 1)[0] + "." + _b64(secrets.token_bytes(256))
        if kind == "jwe":
            header = _b64(json.dumps({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": key.kid}).encode())
            parts = [
                secrets.token_bytes(256),
                secrets.token_bytes(12),
                secrets.token_bytes(64),
                secrets.token_bytes(16),
            ]
            return ".".join([header] + [_b64(part) for part in parts])
        if kind == "huge":
            return self.sign(dict(claims, padding="x" * (1024 * 1024)), alg="RS256")
        return self.sign(claims, alg="RS256")

    # -- wiring ----------------------------------------------------------------------------------

    def provider(self, browser_base_url: str | None = None, **options: t.Any) -> OpenIDConnect:
        """An :class:`~oauth_middleware.oidc.OpenIDConnect` for this fake (``options`` are its
        keyword arguments).

        :param browser_base_url: where the *browser* reaches the fake, when it differs from
            :attr:`base_url` (a prefix of the app's own site, as the demo mounts it): the
            discovered authorization and end-session endpoints are rewritten to it; server-side
            calls still go to :attr:`base_url`.
        """
        provider = _BrowserBase(self.issuer, **options)
        provider.fake_base = self.base_url
        provider.browser_base = (browser_base_url or self.base_url).rstrip("/")
        return provider

    def mount(self, http: requests.Session) -> None:
        """Serve every request ``http`` makes under :attr:`base_url` in-process (no socket)."""
        http.mount(self.base_url + "/", WSGITransportAdapter(self))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        routes: dict[str, t.Callable[[Request], Response]] = {
            "/.well-known/openid-configuration": self._discovery,
            "/jwks": self._jwks,
            "/authorize": self._authorize,
            "/token": self._token,
            "/userinfo": self._userinfo,
            "/logout": self._end_session,
        }
        handler = routes.get(request.path_info)
        if handler is None:
            response = self._json({"error": "not_found"}, 404)
        else:
            name = request.path_info.rsplit("/", 1)[-1].replace("openid-configuration", "discovery")
            with self._lock:
                self.requests[name] = self.requests.get(name, 0) + 1
            response = handler(request)
        response.headers["Cache-Control"] = "no-store"
        return response(environ, start_response)

    @staticmethod
    def _json(body: t.Any, status: int = 200) -> Response:
        return Response(json.dumps(body).encode(), status=status, content_type="application/json")

    def _discovery(self, request: Request) -> Response:
        return self._json(self.discovery_document())

    def _jwks(self, request: Request) -> Response:
        if self.jwks_mode == "down":
            return Response(b"Service Unavailable", status=503, content_type="text/plain")
        if self.jwks_mode == "garbage":
            return Response(b"<html>{not json", status=200, content_type="application/json")
        return self._json(self.jwks())

    def _authorize(self, request: Request) -> Response:
        params = {k: v for k, v in request.params.items() if isinstance(v, str)}
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != self.client_id or (self.redirect_uris and redirect_uri not in self.redirect_uris):
            return Response("Unknown client or redirect_uri", status=400, content_type="text/plain")
        if (
            params.get("response_type") != "code"
            or "openid" not in params.get("scope", "").split()
            or params.get("code_challenge_method") != "S256"
            or not params.get("code_challenge")
        ):
            return self._back(redirect_uri, {"error": "invalid_request", "state": params.get("state", "")})
        user = self.auto_approve
        if request.method == "POST":
            if request.POST.get("decision") != "approve":
                return self._back(redirect_uri, {"error": "access_denied", "state": params.get("state", "")})
            user = str(request.POST.get("user", ""))
        if user is None or user not in self.users:
            return self._consent_page(request, params)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = {
                "user": user,
                "redirect_uri": redirect_uri,
                "challenge": params["code_challenge"],
                "nonce": params.get("nonce"),
                "scope": params.get("scope", ""),
                "expires": self.clock() + CODE_LIFETIME,
            }
        return self._back(redirect_uri, {"code": code, "state": params.get("state", ""), "iss": self.issuer})

    @staticmethod
    def _back(redirect_uri: str, params: Mapping[str, str]) -> Response:
        response = Response(status=302)
        response.location = redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(params)
        return response

    def _consent_page(self, request: Request, params: Mapping[str, str]) -> Response:
        hidden = "".join(
            '<input type="hidden" name="%s" value="%s">' % (html.escape(k), html.escape(v)) for k, v in params.items()
        )
        options = "".join('<option value="%s">%s</option>' % (html.escape(u), html.escape(u)) for u in self.users)
        body = (
            "<!doctype html><title>Fake OIDC: sign in</title><h1>Sign in to %s</h1>"
            '<form method="post" action="%s/authorize">%s<select name="user">%s</select>'
            '<button name="decision" value="approve">Approve</button>'
            '<button name="decision" value="deny">Deny</button></form>'
        ) % (html.escape(self.client_id), html.escape(request.script_name), hidden, options)  # wherever it is mounted
        return Response(body, content_type="text/html", charset="utf-8")

    def _client_ok(self, request: Request) -> bool:
        client_id, secret = request.POST.get("client_id"), request.POST.get("client_secret")
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            except ValueError:
                return False
        return client_id == self.client_id and hmac.compare_digest(str(secret or ""), self.client_secret)

    def _token(self, request: Request) -> Response:
        if request.method != "POST":
            return self._json({"error": "invalid_request"}, 405)
        if not self._client_ok(request):
            return self._json({"error": "invalid_client"}, 401)
        grant_type = request.POST.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                grant = self._codes.pop(str(request.POST.get("code", "")), None)  # single use
                verifier = str(request.POST.get("code_verifier", ""))
                if (
                    grant is None
                    or grant["expires"] < self.clock()
                    or grant["redirect_uri"] != request.POST.get("redirect_uri")
                    or not hmac.compare_digest(_s256(verifier), grant["challenge"])
                ):
                    return self._json({"error": "invalid_grant"}, 400)
            elif grant_type == "refresh_token":
                grant = self._refresh.pop(str(request.POST.get("refresh_token", "")), None)  # rotated
                if grant is None:
                    return self._json({"error": "invalid_grant"}, 400)
                grant = dict(grant, nonce=None)  # a refreshed id_token carries no nonce (Core 12.2)
            else:
                return self._json({"error": "unsupported_grant_type"}, 400)
            access_token = secrets.token_urlsafe(32)
            refresh_token = secrets.token_urlsafe(32)
            self._access[access_token] = grant
            self._refresh[refresh_token] = grant
        id_token = self.id_token(grant["user"], nonce=grant["nonce"], access_token=access_token)
        return self._json(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "refresh_token": refresh_token,
                "id_token": id_token,
                "scope": grant["scope"],
            }
        )

    def _userinfo(self, request: Request) -> Response:
        authorization = request.headers.get("Authorization", "")
        grant = self._access.get(authorization[7:]) if authorization.startswith("Bearer ") else None
        if grant is None:
            response = self._json({"error": "invalid_token"}, 401)
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        return self._json(dict(self.users[grant["user"]]))

    def _end_session(self, request: Request) -> Response:
        """RP-Initiated Logout 1.0: ``id_token_hint``, when given, must be one of ours (expired
        is fine), ``client_id`` ours, ``post_logout_redirect_uri`` registered (when any are; else
        on the fake's own origin, or with a valid hint)."""
        params = {k: v for k, v in request.params.items() if isinstance(v, str)}
        client_id, back = params.get("client_id"), params.get("post_logout_redirect_uri")
        claims: dict[str, t.Any] | None = None
        if "id_token_hint" in params:
            claims = self._issued_claims(params["id_token_hint"])
            if claims is None:
                return Response("Invalid id_token_hint", status=400, content_type="text/plain")
        if client_id is not None and client_id != self.client_id:
            return Response("Unknown client", status=400, content_type="text/plain")
        same_origin = back is not None and urlsplit(back).netloc == request.host  # the demo's embedded fake
        if back and (
            back not in self.post_logout_redirect_uris
            if self.post_logout_redirect_uris
            else claims is None and not same_origin
        ):
            # none registered: only the holder of one of our id_tokens, or a page on the fake's own
            # origin, is sent back (no open redirect)
            return Response("Unregistered post_logout_redirect_uri", status=400, content_type="text/plain")
        with self._lock:
            self.logouts.append({"sub": claims.get("sub") if claims else None, "post_logout_redirect_uri": back})
        if back:
            state = {"state": params["state"]} if "state" in params else {}
            return self._back(back, state) if state else Response(status=302, location=back)
        return Response(
            "<!doctype html><title>Fake OIDC: logged out</title><h1>You are logged out of the fake provider</h1>",
            content_type="text/html",
            charset="utf-8",
        )

    def _issued_claims(self, token: str) -> dict[str, t.Any] | None:
        """The claims of an id_token this fake signed for its client (expired or not), else None."""
        jwt = require_jwt()
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = next(key for key in self._keys + self._old_keys if key.kid == kid)
            return t.cast(
                dict[str, t.Any],
                jwt.decode(
                    token,
                    key.private.public_key(),
                    algorithms=[key.alg],
                    audience=self.client_id,
                    issuer=self.issuer,
                    options={"verify_exp": False},
                ),
            )
        except (StopIteration, jwt.PyJWTError):
            return None


class _BrowserBase(OpenIDConnect):
    """:meth:`FakeOIDC.provider`: the browser's endpoints under another base URL."""

    fake_base = ""
    browser_base = ""

    def _for_browser(self, url: str) -> str:
        return self.browser_base + url[len(self.fake_base) :] if url.startswith(self.fake_base + "/") else url

    def authorization_endpoint(self, client: OAuthClient) -> str:
        return self._for_browser(super().authorization_endpoint(client))

    def end_session_endpoint(self, client: OAuthClient) -> str | None:
        endpoint = super().end_session_endpoint(client)
        return None if endpoint is None else self._for_browser(endpoint)
