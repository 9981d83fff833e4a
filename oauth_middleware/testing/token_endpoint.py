"""The server-to-server side of :class:`~oauth_middleware.testing.FakeGitHub`: the token endpoint.

``POST /login/oauth/access_token`` redeems a code (with PKCE and redirect URI checks) or a
refresh token, and answers like GitHub: errors with HTTP 200, the scope comma-joined, the body
form-encoded unless JSON or XML is asked for.
"""

from __future__ import annotations

import base64
import json
import logging
import typing as t
from collections.abc import Mapping, Sequence
from urllib.parse import unquote_plus, urlencode
from xml.sax.saxutils import escape as xml_escape

from webob import Request, Response

from .models import (
    _AUTHORIZE_ERRORS_DOC,
    _CODE,
    _PKCE_RE,
    _REFRESH,
    _TOKEN_ERRORS_DOC,
    ACCESS_TOKEN_LIFETIME,
    REFRESH_TOKEN_LIFETIME,
    _equal,
    _Grant,
    _s256,
    _text_params,
)
from .state import FakeState

log = logging.getLogger("oauth_middleware.testing.fake_github")

#: Token endpoint errors: ``error`` -> (``error_description``, ``error_uri``). Descriptions are
#: GitHub's, word for word; URIs are the absolute docs.github.com form GitHub sends today. The
#: refresh-token error really points at ``#bad-verification-code`` (an observed GitHub quirk).
_TOKEN_ERRORS: dict[str, tuple[str, str]] = {
    "bad_verification_code": (
        "The code passed is incorrect or expired.",
        _TOKEN_ERRORS_DOC + "#bad-verification-code",
    ),
    "bad_refresh_token": (
        "The refresh token passed is incorrect or expired.",
        _TOKEN_ERRORS_DOC + "#bad-verification-code",
    ),
    "incorrect_client_credentials": (
        "The client_id and/or client_secret passed are incorrect.",
        _TOKEN_ERRORS_DOC + "#incorrect-client-credentials",
    ),
    "redirect_uri_mismatch": (
        "The redirect_uri MUST match the registered callback URL for this application.",
        _AUTHORIZE_ERRORS_DOC + "#redirect-uri-mismatch2",
    ),
    "unverified_user_email": (
        "The user must have a verified primary email.",
        _TOKEN_ERRORS_DOC + "#unverified_user_email",
    ),
    "unsupported_grant_type": (
        "The grant_type passed is not supported.",
        _TOKEN_ERRORS_DOC,
    ),
}

#: Element order of an XML token answer (``token_success.xml``; the expiring fields appended).
_XML_TOKEN_ORDER = ("token_type", "scope", "access_token", "expires_in", "refresh_token", "refresh_token_expires_in")


class _TokenError(Exception):
    """A token endpoint refusal, answered with HTTP 200 like GitHub does."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class TokenEndpoint(FakeState):
    """``POST /login/oauth/access_token``: codes and refresh tokens for access tokens."""

    def _access_token(self, request: Request) -> Response:
        with self._lock:
            self.token_requests += 1
        accept = request.headers.get("Accept", "")
        params = self._token_params(request)
        try:
            client_id, client_secret = self._client_credentials(request, params)
            if not (_equal(client_id, self.client_id) and _equal(client_secret, self.client_secret)):
                raise _TokenError("incorrect_client_credentials")
            grant_type = params.get("grant_type") or "authorization_code"
            if grant_type == "authorization_code":
                answer = self._redeem_code(client_id, params)
            elif grant_type == "refresh_token":
                answer = self._redeem_refresh_token(client_id, params)
            else:
                raise _TokenError("unsupported_grant_type")
        except _TokenError as error:
            description, uri = _TOKEN_ERRORS[error.error]
            log.debug("fake github: token request refused (%s)", error.error)
            body = {"error": error.error, "error_description": description, "error_uri": uri}
            return self._token_answer(accept, body, xml_order=("error", "error_description", "error_uri"))
        return self._token_answer(accept, answer, xml_order=_XML_TOKEN_ORDER)

    @staticmethod
    def _token_params(request: Request) -> dict[str, str]:
        params: dict[str, str] = dict(request.GET.items())
        if request.content_type == "application/json":
            try:
                data = json.loads(request.body or b"{}")
            except ValueError:
                data = {}
            if isinstance(data, dict):
                params.update({str(k): str(v) for k, v in data.items() if v is not None})
        else:
            params.update(_text_params(request.POST))
        return params

    @staticmethod
    def _client_credentials(request: Request, params: Mapping[str, str]) -> tuple[str, str]:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic" and value.strip():
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise _TokenError("incorrect_client_credentials") from None
            user, sep, password = decoded.partition(":")
            if not sep:
                raise _TokenError("incorrect_client_credentials")
            # RFC 6749 2.3.1 form-encodes both parts; most clients (requests) do not. Accept both.
            if "%" in user or "+" in user:
                user = unquote_plus(user)
            if "%" in password or "+" in password:
                password = unquote_plus(password)
            return user, password
        return params.get("client_id", ""), params.get("client_secret", "")

    def _redeem_code(self, client_id: str, params: Mapping[str, str]) -> dict[str, t.Any]:
        code = params.get("code", "")
        with self._lock:
            # Single use: the code is gone after the first attempt, successful or not.
            grant = self._find(_CODE, code, consume=True)
            user = None if grant is None else self._users.get(grant.login)
        if grant is None or user is None or grant.client_id != client_id:
            raise _TokenError("bad_verification_code")
        if grant.expires_at is not None and self.clock() >= grant.expires_at:
            raise _TokenError("bad_verification_code")
        redirect_uri = params.get("redirect_uri")
        if redirect_uri is not None and redirect_uri != grant.redirect_uri:
            raise _TokenError("redirect_uri_mismatch")
        if grant.code_challenge is not None:
            verifier = params.get("code_verifier", "")
            if not _PKCE_RE.match(verifier) or not _equal(_s256(verifier), grant.code_challenge):
                raise _TokenError("bad_verification_code")
        if not user.has_verified_primary_email():
            raise _TokenError("unverified_user_email")
        with self._lock:
            return self._token_body(_Grant(client_id, grant.login, grant.scopes, None))

    def _redeem_refresh_token(self, client_id: str, params: Mapping[str, str]) -> dict[str, t.Any]:
        refresh_token = params.get("refresh_token", "")
        with self._lock:
            grant = self._find(_REFRESH, refresh_token, consume=True)
            if (
                grant is None
                or grant.client_id != client_id
                or grant.login not in self._users
                or (grant.expires_at is not None and self.clock() >= grant.expires_at)
            ):
                raise _TokenError("bad_refresh_token")
            return self._token_body(_Grant(client_id, grant.login, grant.scopes, None))

    def _token_body(self, grant: _Grant) -> dict[str, t.Any]:
        """Issue tokens for ``grant`` and return the answer body, keys sorted like GitHub's."""
        token, refresh_token = self._issue(grant)
        body: dict[str, t.Any] = {"access_token": token}
        if refresh_token is not None:
            body["expires_in"] = ACCESS_TOKEN_LIFETIME
            body["refresh_token"] = refresh_token
            body["refresh_token_expires_in"] = REFRESH_TOKEN_LIFETIME
        body["scope"] = ",".join(grant.scopes)
        body["token_type"] = "bearer"
        return body

    @staticmethod
    def _token_answer(accept: str, body: Mapping[str, t.Any], *, xml_order: Sequence[str]) -> Response:
        """Encode a token endpoint answer as GitHub does: form by default, JSON or XML on request."""
        accept = accept.lower()
        if "application/json" in accept:
            text = json.dumps(dict(body), separators=(",", ":"))
            content_type = "application/json"
        elif "application/xml" in accept:
            items = "".join(f"<{key}>{xml_escape(str(body[key]))}</{key}>" for key in xml_order if key in body)
            text = f"<OAuth>{items}</OAuth>"
            content_type = "application/xml"
        else:
            text = urlencode([(key, str(value)) for key, value in body.items()])
            content_type = "application/x-www-form-urlencoded"
        response = Response(text.encode("utf-8"), status=200)
        response.headers["Content-Type"] = content_type + "; charset=utf-8"
        response.headers["Cache-Control"] = "no-store"
        return response
