"""Constants and small helpers shared by the test modules (import them from ``support``)."""

from __future__ import annotations

import json
import pathlib
import re
import typing as t
from urllib.parse import parse_qs, urlencode, urlsplit

import webtest

DATA = pathlib.Path(__file__).parent.parent / "data"
EXAMPLES = DATA / "github-examples"
SECRET_KEY = "k" * 16 + "0123456789abcdef0123"  # 36 bytes, fixed so failures are reproducible
CLIENT_ID = "Iv1.test-client-id"
CLIENT_SECRET = "test-client-secret-5f3a9c1e"
TOKEN = "gho_16C7e42F292c6912E7710c838347Ae178B4a"  # from token_success.json
TOKEN_URL = "https://github.com/login/oauth/access_token"
USER_URL = "https://api.github.com/user"
HTTPS = {"wsgi.url_scheme": "https", "HTTP_HOST": "app.example.com"}


def example(name: str) -> t.Any:
    text = (EXAMPLES / name).read_text()
    return json.loads(text) if name.endswith(".json") else text


def downstream(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
    """The wrapped app: echoes what it was given as JSON."""
    body = json.dumps(
        {
            "path": environ.get("PATH_INFO"),
            "remote_user": environ.get("REMOTE_USER"),
            "user": environ.get("oauth_middleware.user"),
            "token": environ.get("oauth_middleware.token"),
            "groups": environ.get("oauth_middleware.groups"),
            "cookie": environ.get("HTTP_COOKIE"),
            "identity_headers": {k: v for k, v in environ.items() if "USER" in k and k != "REMOTE_USER"},
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def start_login(app: webtest.TestApp, next_url: str | None = None, **kwargs: t.Any) -> dict[str, str]:
    """GET the login path; return the authorize URL's query parameters."""
    url = "/auth/login" + ("?" + urlencode({"next": next_url}) if next_url is not None else "")
    response = app.get(url, status=302, **kwargs)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return {k: v[0] for k, v in query.items()}


def log_in(app: webtest.TestApp, next_url: str | None = None) -> webtest.TestResponse:
    """A whole login through the `github` fixture's GitHub; returns the callback's response."""
    params = start_login(app, next_url)
    return app.get("/auth/callback", {"code": "a1b2c3d4e5f6a7b8c9d0", "state": params["state"]}, status=302)


def cookie_names(response: webtest.TestResponse) -> list[str]:
    return [re.split("[=;]", h, maxsplit=1)[0] for h in response.headers.getall("Set-Cookie")]
