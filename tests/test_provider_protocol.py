"""The provider seam (issue 11): a provider that is not GitHub plugs in without touching the core,
and the provider-neutral modules name no provider in what users and operators read."""

from __future__ import annotations

import ast
import base64
import dataclasses
import hashlib
import json
import logging
import pathlib
import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest
import webtest
from webob import Request, Response

import oauth_middleware
from oauth_middleware import OAuthMiddleware
from oauth_middleware.crypto import Cipher
from oauth_middleware.flow import Flow, FlowCookies
from oauth_middleware.providers import Identity, Provider
from oauth_middleware.session import Session
from oauth_middleware.testing import WSGITransportAdapter

PACKAGE = pathlib.Path(oauth_middleware.__file__).parent
#: Modules that must not name a provider in their user-visible text (pages, errors, logs).
NEUTRAL_MODULES = ("middleware", "errors", "flow", "session", "renewal", "oauth", "access", "api")
SECRET = "k" * 8 + "Zq3v9XwY2p7LmN4rT6sB1cD5fG8hJ0aE"
GITEA = "https://gitea.example.test"


def _string_literals(path: pathlib.Path) -> list[tuple[int, str]]:
    """Every str constant in ``path`` except docstrings (which users never see)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


@pytest.mark.parametrize("module", NEUTRAL_MODULES)
def test_provider_neutral_modules_name_no_provider_in_their_texts(module: str) -> None:
    """Error pages and log lines of the core take the provider's display name; "GitHub" lives
    in GitHubProvider only."""
    found = [(line, text) for line, text in _string_literals(PACKAGE / (module + ".py")) if "github" in text.lower()]
    assert found == []


# -- a Gitea-shaped provider in a few lines, and a small fake of it ------------------------------


def gitea() -> Provider:
    return Provider(
        name="gitea",
        authorize_url=GITEA + "/login/oauth/authorize",
        token_url=GITEA + "/login/oauth/access_token",
        api_base_url=GITEA + "/api/v1/",
    )


@dataclasses.dataclass
class FakeGitea:
    """Token endpoint (PKCE S256 checked, codes single use) and ``/api/v1/user``."""

    user: dict[str, t.Any] = dataclasses.field(
        default_factory=lambda: {"id": 42, "login": "gitea-user", "email": "g@example.test", "full_name": "G"}
    )
    token_error: str | None = None
    codes: dict[str, str] = dataclasses.field(default_factory=dict)  # code -> challenge

    def issue_code(self, authorize_url: str) -> tuple[str, str]:
        query = parse_qs(urlsplit(authorize_url).query)
        code = "code-%d" % len(self.codes)
        self.codes[code] = query["code_challenge"][0]
        return code, query["state"][0]

    def __call__(self, environ: t.Any, start_response: t.Any) -> t.Iterable[bytes]:
        request = Request(environ)
        if request.path == "/login/oauth/access_token":
            if self.token_error:
                body: dict[str, t.Any] = {"error": self.token_error}
            else:
                challenge = self.codes.pop(request.POST.get("code", ""), None)
                verifier = request.POST.get("code_verifier", "").encode()
                expected = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
                if challenge != expected:
                    body = {"error": "invalid_grant"}
                else:
                    body = {"access_token": "gto_1", "token_type": "bearer", "id_token": "eyJ.gitea.idtoken"}
            return Response(json=body)(environ, start_response)
        if request.path == "/api/v1/user" and request.authorization:
            return Response(json=self.user)(environ, start_response)
        return Response(status=404)(environ, start_response)


def _seen(environ: t.Any, start_response: t.Any) -> list[bytes]:
    keys = ("REMOTE_USER", "oauth_middleware.user_id", "oauth_middleware.token", "oauth_middleware.user")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({key: environ.get(key) for key in keys}).encode()]


def _app(fake: FakeGitea, **options: t.Any) -> webtest.TestApp:
    middleware = OAuthMiddleware(
        _seen,
        provider=gitea(),
        client_id="gitea-client",
        client_secret="gitea-secret-0123456789",
        secret_key=SECRET,
        scope="read:user",
        **options,
    )
    middleware.http.mount(GITEA + "/", WSGITransportAdapter(fake))
    return webtest.TestApp(middleware, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "app.test"})


def _start(app: webtest.TestApp, fake: FakeGitea) -> tuple[str, str]:
    location = app.get("/auth/login").headers["Location"]
    assert location.startswith(GITEA + "/login/oauth/authorize?")
    return fake.issue_code(location)


def test_a_provider_that_is_not_github_logs_in_end_to_end() -> None:
    fake = FakeGitea()
    app = _app(fake)
    code, state = _start(app, fake)
    assert app.get("/auth/callback", {"code": code, "state": state}).status_int == 302
    seen = app.get("/").json
    assert seen["REMOTE_USER"] == "gitea-user"
    assert seen["oauth_middleware.user_id"] == "42"  # Identity.sub, as text
    assert seen["oauth_middleware.user"]["email"] == "g@example.test"
    # the token's id_token is kept for the app (oauth.py used to drop it)
    assert seen["oauth_middleware.token"]["id_token"] == "eyJ.gitea.idtoken"


def test_its_error_pages_name_it() -> None:
    fake = FakeGitea()
    app = _app(fake)
    _, state = _start(app, fake)
    page = app.get("/auth/callback", {"error": "access_denied", "state": state}, status=403)
    assert "access was not granted on Gitea." in page.text and "GitHub" not in page.text

    _, state = _start(app, fake)
    page = app.get("/auth/callback", {"error": "server_error", "state": state}, status=502)
    assert "Gitea refused the login request (server_error)." in page.text

    fake.token_error = "unauthorized_client"
    code, state = _start(app, fake)
    page = app.get("/auth/callback", {"code": code, "state": state}, headers={"Accept": "application/json"}, status=502)
    assert page.json["error_description"] == "Gitea refused the token request (unauthorized_client)."


def test_its_not_allowed_page_and_logs_name_it(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeGitea()
    app = _app(fake, allowed_users=["someone-else"])
    code, state = _start(app, fake)
    with caplog.at_level(logging.INFO, logger="oauth_middleware"):
        page = app.get("/auth/callback", {"code": code, "state": state}, status=403)
    assert "You are logged in to Gitea as gitea-user, but that account is not allowed" in page.text
    assert "organisation" not in page.text  # GitHub's org/SAML advice stays with GitHub
    assert "gitea-user logged in at Gitea but is not in the allow-lists" in caplog.text
    assert "github" not in caplog.text.lower()
    assert "oauth_session=" not in page.headers.get("Set-Cookie", "")


def test_github_keeps_its_texts() -> None:
    """Nothing changes for GitHub users: its name and its org/SAML advice fill the same texts."""
    github = oauth_middleware.GitHub()
    assert github.display_name == "GitHub"
    assert "SAML single sign-on" in github.not_allowed_help("octocat")
    assert github.adjust_scope(("read:user",), needs_groups=True) == ("read:user", "read:org")
    assert gitea().adjust_scope(("read:user",), needs_groups=True) == ("read:user",)
    assert github.token_error("bad_verification_code").startswith("The login code expired")


def test_a_flow_carries_a_nonce_and_flow_cookies_without_one_still_open() -> None:
    flows = FlowCookies(Cipher([SECRET.encode()], purpose="flow"), name="oauth_session", clock=lambda: 1000.0)
    with_nonce = Flow.start(next_url="/", redirect_uri="https://app.test/cb", now=1000.0, nonce=True)
    name, value = flows.dump(with_nonce, secure=True)[1].split(";")[0].split("=", 1)
    taken, _ = flows.take(with_nonce.state, {name: value}, secure=True)
    assert taken is not None and taken.nonce == with_nonce.nonce and len(taken.nonce or "") >= 43

    old = Flow.start(next_url="/", redirect_uri="https://app.test/cb", now=1000.0)
    assert old.nonce is None
    name, value = flows.dump(old, secure=True)[1].split(";")[0].split("=", 1)
    assert b'"o"' not in flows.cipher.open(value, aad=name.encode())  # the record written before nonces
    taken, _ = flows.take(old.state, {name: value}, secure=True)
    assert taken is not None and taken.nonce is None


def test_sessions_keep_a_text_sub_and_old_cookies_keep_their_numeric_id() -> None:
    old = Session.from_json(
        b'{"v":1,"iat":1,"s":1,"c":1,"n":"octocat","u":{"login":"octocat","id":583231},"t":{},"g":[]}'
    )
    assert old.user_id == "583231"
    github = Session.new(user={"id": 583231}, token={}, username="octocat", now=1, sub="583231")
    assert b'"i"' not in github.to_json()  # the same cookie as before for GitHub
    oidc = Session.new(user={}, token={}, username="alice", now=1, sub="248289761001")
    assert Session.from_json(oidc.to_json()).user_id == "248289761001"


def test_identity_admission_by_sub_only_for_opaque_subs() -> None:
    from oauth_middleware.access import AccessPolicy

    policy = AccessPolicy.of(frozenset({"1", 7}), frozenset(), frozenset())
    assert not policy.admits_identity(Identity(sub="1", username="x"), [])  # GitHub: "1" is a login
    assert policy.admits_identity(Identity(sub="7", username="x"), [])  # an id entry
    assert policy.admits_identity(Identity(sub="1", username="x", sub_is_name=True), [])
