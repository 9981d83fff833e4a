"""The browser side of :class:`~oauth_middleware.testing.FakeGitHub`: the consent page.

``GET``/``POST /login/oauth/authorize`` checks the client, the redirect URI and the PKCE
challenge, shows a page to pick an account and approve or deny (or approves at once with
``auto_approve``), and redirects back with a code or with GitHub's ``access_denied`` error.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from webob import Request, Response

from .models import (
    _AUTHORIZE_ERRORS_DOC,
    _CODE,
    _PKCE_RE,
    CODE_LIFETIME,
    FakeUser,
    _add_query,
    _equal,
    _Grant,
    _Reject,
    _split_scope,
    _text_params,
)
from .state import FakeState

_ACCESS_DENIED_DESCRIPTION = "The user has denied your application access."
_ACCESS_DENIED_URI = _AUTHORIZE_ERRORS_DOC + "#access-denied"
#: Characters never allowed in a redirect URI (controls, space, and what breaks out of a header).
_BAD_URI_CHAR_RE = re.compile(r"[\x00-\x20\x7f#\\]")

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} &middot; FakeGitHub</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 34rem; margin: 3rem auto; padding: 0 1rem;
       color: #1f2328; }}
code {{ background: #f6f8fa; padding: 0 .2em; word-break: break-all; }}
fieldset {{ border: 1px solid #d0d7de; border-radius: 6px; margin: 1rem 0; }}
label {{ display: block; margin: .3rem 0; }}
button {{ font-size: 1rem; padding: .4rem 1.2rem; margin-right: .5rem; }}
</style>
</head>
<body>
<p><strong>FakeGitHub</strong> &mdash; a test double, not GitHub.</p>
{body}
</body>
</html>
"""


class ConsentPages(FakeState):
    """``/login/oauth/authorize``: the consent page and the redirect back with a code."""

    def _page(self, title: str, body: str, status: int = 200) -> Response:
        response = Response(
            _PAGE.format(title=html.escape(title), body=body),
            status=status,
            content_type="text/html",
            charset="utf-8",
        )
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
        )
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    def _error_page(self, status: int, title: str, message: str) -> _Reject:
        body = f"<h1>{html.escape(title)}</h1>\n<p>{html.escape(message)}</p>"
        return _Reject(self._page(title, body, status))

    def _redirect(self, location: str) -> Response:
        response = Response(status=302)
        response.headers["Location"] = location
        response.headers["Cache-Control"] = "no-store"
        return response

    def _authorize(self, request: Request) -> Response:
        params = _text_params(request.POST if request.method == "POST" else request.GET)
        client_id = params.get("client_id")
        if client_id is None or not _equal(client_id, self.client_id):
            raise self._error_page(404, "Page not found", "This is not the web page you are looking for.")
        redirect_uri = self._check_redirect_uri(params.get("redirect_uri"))
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method")
        if challenge is not None:
            if method != "S256":
                raise self._error_page(
                    400, "Bad request", "code_challenge_method must be S256 when a code_challenge is sent."
                )
            if not _PKCE_RE.match(challenge):
                raise self._error_page(400, "Bad request", "code_challenge is malformed.")
        state = params.get("state")
        scopes = _split_scope(params.get("scope"))

        with self._lock:
            users = list(self._users.values())
        if request.method == "GET":
            if self.auto_approve is False:
                return self._consent_page(request, params, users, scopes, redirect_uri)
            login = users[0].login if self.auto_approve is True else str(self.auto_approve)
            approved = True
        else:
            approved = params.get("authorize") == "1"
            login = params.get("login") or ""

        if not approved:
            denied = [
                ("error", "access_denied"),
                ("error_description", _ACCESS_DENIED_DESCRIPTION),
                ("error_uri", _ACCESS_DENIED_URI),
            ]
            if state is not None:
                denied.append(("state", state))
            return self._redirect(_add_query(redirect_uri, denied))
        if not any(user.login == login for user in users):
            raise self._error_page(400, "Bad request", "Pick one of the listed accounts.")
        grant = _Grant(
            client_id=self.client_id,
            login=login,
            scopes=scopes,
            expires_at=self.clock() + CODE_LIFETIME,
            redirect_uri=redirect_uri,
            code_challenge=challenge,
        )
        with self._lock:
            code = self._store(_CODE, grant)
        answer = [("code", code)]
        if state is not None:
            answer.append(("state", state))
        return self._redirect(_add_query(redirect_uri, answer))

    def _check_redirect_uri(self, redirect_uri: str | None) -> str:
        registered = self.redirect_uris
        if redirect_uri is None:
            if registered:
                return registered[0]
            raise self._error_page(400, "Bad request", "redirect_uri is required (no callback URL is registered).")
        if registered is not None:
            if redirect_uri not in registered:
                raise self._error_page(
                    400,
                    "Redirect URI mismatch",
                    "The redirect_uri MUST match the registered callback URL for this application.",
                )
            return redirect_uri
        parts = urlsplit(redirect_uri)
        if parts.scheme not in ("http", "https") or not parts.netloc or _BAD_URI_CHAR_RE.search(redirect_uri):
            raise self._error_page(
                400, "Redirect URI mismatch", "The redirect_uri must be an absolute http or https URL."
            )
        return redirect_uri

    def _consent_page(
        self,
        request: Request,
        params: Mapping[str, str],
        users: Sequence[FakeUser],
        scopes: Sequence[str],
        redirect_uri: str,
    ) -> Response:
        esc = html.escape
        hidden = "\n".join(
            f'<input type="hidden" name="{name}" value="{esc(params[name])}">'
            for name in ("client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method")
            if name in params
        )
        choices = "\n".join(
            f'<label><input type="radio" name="login" value="{esc(user.login)}"{" checked" if i == 0 else ""}>'
            f" {esc(user.login)}{' (' + esc(user.name) + ')' if user.name else ''}</label>"
            for i, user in enumerate(users)
        )
        scope_text = ", ".join(f"<code>{esc(scope)}</code>" for scope in scopes) or "public data only"
        action = esc(request.script_name + "/login/oauth/authorize")
        body = f"""<h1>Authorize application</h1>
<p>The application <code>{esc(self.client_id)}</code> wants to access your account.</p>
<p>Scopes: {scope_text}</p>
<p>You will be sent back to <code>{esc(redirect_uri)}</code>.</p>
<form method="post" action="{action}">
{hidden}
<fieldset><legend>Sign in as</legend>
{choices}
</fieldset>
<button type="submit" name="authorize" value="1">Approve</button>
<button type="submit" name="authorize" value="0">Deny</button>
</form>"""
        return self._page("Authorize application", body)
