"""End to end over real sockets: the demo under gunicorn (two sync workers, the embedded fake GitHub
in sealed mode) and the standalone fake GitHub as its own process in front of a one-worker app.

Everything binds 127.0.0.1 only. gunicorn gets an already bound listening socket (``--bind
fd://N``, the socket bound to port 0 by this module), so there is no window in which another
process could take the port; the standalone fake is started with ``--port 0`` and announces its
URL. Every wait has a timeout, servers run in their own session and are stopped by process group
(SIGTERM, then SIGKILL), and a failing test's report carries the servers' stderr.
"""

from __future__ import annotations

import collections.abc
import concurrent.futures
import dataclasses
import html.parser
import json
import os
import pathlib
import sys
import tempfile
import textwrap
import threading
import time
import typing as t
from urllib.parse import urljoin, urlsplit

import pytest
import requests

pytest.importorskip("gunicorn", reason="gunicorn is needed for the end-to-end tests")

pytestmark = pytest.mark.e2e

from support.servers import (  # noqa: E402  (after the skip: they need gunicorn)
    LIVE,
    REQUEST_TIMEOUT,
    ROOT,
    SECRET_KEY,
    Server,
    http_session,
    server_env,
    start_announced,
    start_gunicorn,
    stop,
)


class _ServerLogReporter:
    """A pytest plugin, registered while this module runs: adds the servers' stderr to the report
    of a failing test (a module can't define hooks itself)."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> t.Iterator[None]:
        outcome = yield
        report = outcome.get_result()  # type: ignore[attr-defined]
        if report.failed and getattr(item, "module", None) is sys.modules[__name__]:
            for server in LIVE:
                report.sections.append((f"{server.name} stderr (last lines)", server.stderr() or "(empty)"))


@pytest.fixture(scope="module", autouse=True)
def _report_server_logs(request: pytest.FixtureRequest) -> t.Iterator[None]:
    plugin = _ServerLogReporter()
    request.config.pluginmanager.register(plugin, "test_e2e_server_logs")
    yield
    request.config.pluginmanager.unregister(plugin)


# -- HTML forms ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # hidden/text inputs
    radios: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    buttons: list[tuple[str | None, str | None, str]] = dataclasses.field(default_factory=list)

    def data(self, *, button: str, **choices: str) -> list[tuple[str, str]]:
        """The body a browser would post: the fields, the chosen radios, the clicked button."""
        body = list(self.fields)
        for name, choice in choices.items():
            assert choice in self.radios.get(name, []), f"{choice!r} is not offered for {name!r}: {self.radios}"
            body.append((name, choice))
        clicked = [(name, value) for name, value, text in self.buttons if text == button]
        assert len(clicked) == 1, f"no single {button!r} button in {self.buttons}"
        button_name, button_value = clicked[0]
        if button_name is not None:
            body.append((button_name, button_value or ""))
        return body


class FormParser(html.parser.HTMLParser):
    """The forms and images of a page (stdlib only)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.images: list[dict[str, str | None]] = []
        self._form: Form | None = None
        self._button: list[t.Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "img":
            self.images.append(attr)
        elif tag == "form":
            self._form = Form(action=attr.get("action") or "", method=(attr.get("method") or "get").lower())
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input":
            kind, name, value = (attr.get("type") or "text").lower(), attr.get("name"), attr.get("value") or ""
            if name is None:
                return
            if kind == "radio":
                self._form.radios.setdefault(name, []).append(value)
            elif kind in ("hidden", "text"):
                self._form.fields.append((name, value))
        elif tag == "button":
            self._button = [attr.get("name"), attr.get("value"), ""]

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button[2] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self._form is not None:
            name, value, text = self._button
            self._form.buttons.append((name, value, text.strip()))
            self._button = None
        elif tag == "form":
            self._form = None


def parse_page(text: str) -> FormParser:
    parser = FormParser()
    parser.feed(text)
    parser.close()
    return parser


def only_form(text: str, action_path: str) -> Form:
    forms = [form for form in parse_page(text).forms if urlsplit(form.action).path == action_path]
    assert len(forms) == 1, f"expected one form posting to {action_path}, got {forms}"
    return forms[0]


# -- flows --------------------------------------------------------------------------------------

HTML = {"Accept": "text/html,application/xhtml+xml"}
JSON = {"Accept": "application/json"}
CONSENT_PATH = "/_fake_github/login/oauth/authorize"


def open_consent_page(session: requests.Session, base: str, path: str = "/private") -> requests.Response:
    """Navigate to a protected page; the browser lands on the fake's consent page."""
    response = session.get(base + path, headers=HTML, timeout=REQUEST_TIMEOUT)
    assert response.status_code == 200, response.text
    assert urlsplit(response.url).path == CONSENT_PATH
    assert [(r.status_code, urlsplit(r.url).path) for r in response.history] == [(302, path), (302, "/auth/login")]
    assert "Authorize application" in response.text
    return response


def answer_consent(
    session: requests.Session, consent: requests.Response, *, button: str, login: str | None = None
) -> requests.Response:
    """Post the consent form as a browser would, following the redirects."""
    form = only_form(consent.text, CONSENT_PATH)
    assert form.method == "post"
    assert {name for name, _ in form.fields} >= {"client_id", "redirect_uri", "state", "code_challenge"}
    choices = {"login": login} if login is not None else {}
    return session.post(
        urljoin(consent.url, form.action),
        data=form.data(button=button, **choices),
        headers=HTML,
        timeout=REQUEST_TIMEOUT,
    )


def log_in(session: requests.Session, base: str, login: str) -> requests.Response:
    consent = open_consent_page(session, base)
    response = answer_consent(session, consent, button="Approve", login=login)
    assert response.status_code == 200, response.text
    assert response.url == base + "/private"
    return response


def set_cookies(response: requests.Response) -> list[str]:
    """The raw ``Set-Cookie`` headers of one response, unjoined."""
    return list(response.raw.headers.getlist("Set-Cookie"))


def cookie_attributes(header: str) -> tuple[str, str, dict[str, str]]:
    name_value, *attributes = [part.strip() for part in header.split(";")]
    name, _, value = name_value.partition("=")
    parsed = {}
    for attribute in attributes:
        key, _, val = attribute.partition("=")
        parsed[key.lower()] = val
    return name, value, parsed


# -- the demo under gunicorn --------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> t.Iterator[Server]:
    """``gunicorn --workers 2 demo_app:app`` with the embedded fake GitHub (sealed, consent page)."""
    with tempfile.TemporaryDirectory(prefix="oauth-e2e-") as logdir:
        env = server_env(OAUTH_MIDDLEWARE_SECRET_KEY=SECRET_KEY)
        server = start_gunicorn("demo", "demo_app:app", workers=2, chdir=ROOT, logdir=pathlib.Path(logdir), env=env)
        try:
            yield server
        finally:
            stop(server)


def test_demo_announces_the_fake(demo: Server) -> None:
    with http_session() as session:
        home = session.get(demo.url + "/", headers=HTML, timeout=REQUEST_TIMEOUT)
    assert home.status_code == 200
    assert 'id="fake-banner"' in home.text
    assert 'id="login"' in home.text


def test_login_profile_api_and_logout(demo: Server) -> None:
    base = demo.url
    with http_session() as session:
        private = log_in(session, base, "octocat")
        hops = [(r.status_code, urlsplit(r.url).path) for r in private.history]
        assert hops == [(302, CONSENT_PATH), (302, "/auth/callback")]
        assert "&lt;p" not in private.text, "the demo escaped its own markup (demo_app.render: body=Markup(inner))"
        assert "<p id='private'>" in private.text
        assert "Log out octocat" in private.text

        # the callback set the session cookie: HttpOnly, SameSite=Lax, not Secure over http
        callback = private.history[-1]
        headers = [cookie_attributes(header) for header in set_cookies(callback)]
        sessions = [(value, attrs) for name, value, attrs in headers if name == "oauth_session"]
        assert len(sessions) == 1, set_cookies(callback)
        value, attrs = sessions[0]
        assert value
        assert "httponly" in attrs
        assert attrs.get("samesite", "").lower() == "lax"
        assert attrs.get("path") == "/"
        assert "secure" not in attrs and "domain" not in attrs
        flows = [attrs for name, _, attrs in headers if name.startswith("oauth_session.flow.")]
        assert flows and all(attrs.get("max-age") == "0" for attrs in flows)  # single use: cleared
        jar = {cookie.name: cookie for cookie in session.cookies}
        assert set(jar) == {"oauth_session"}
        cookie = jar["oauth_session"]
        assert cookie.has_nonstandard_attr("HttpOnly")
        assert (cookie.get_nonstandard_attr("SameSite") or "").lower() == "lax"
        assert not cookie.secure and not cookie.domain_specified and cookie.domain == "127.0.0.1"

        me = session.get(base + "/api/me", headers=JSON, timeout=REQUEST_TIMEOUT)
        assert me.status_code == 200
        body = me.json()
        assert body["login"] == "octocat"
        assert body["user"]["id"] == 583231
        assert body["user"]["name"] == "monalisa octocat"
        assert body["user"]["email"] == "octocat@github.com"
        assert set(body["scope"]) == {"read:user", "user:email"}

        profile = session.get(base + "/profile", headers=HTML, timeout=REQUEST_TIMEOUT)
        assert profile.status_code == 200
        assert "@octocat" in profile.text
        assert "monalisa octocat" in profile.text
        assert "octocat@github.com" in profile.text
        avatars = [img for img in parse_page(profile.text).images if img.get("alt") == "avatar of octocat"]
        assert len(avatars) == 1
        assert avatars[0]["src"] == body["user"]["avatar_url"]
        assert body["user"]["avatar_url"].startswith("data:image/svg+xml,")

        # log out with the page's form, as a browser posts it (same-origin Origin header)
        form = only_form(profile.text, "/auth/logout")
        assert form.method == "post"
        logout = session.post(
            urljoin(profile.url, form.action),
            data=form.data(button="Log out octocat"),
            headers={**HTML, "Origin": base},
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT,
        )
        assert logout.status_code == 303, logout.text
        assert urlsplit(logout.headers["Location"]).path == "/"
        cleared = [attrs for name, _, attrs in map(cookie_attributes, set_cookies(logout)) if name == "oauth_session"]
        assert cleared and cleared[0].get("max-age") == "0"
        assert "oauth_session" not in {cookie.name for cookie in session.cookies}

        after = session.get(base + "/api/me", headers=JSON, timeout=REQUEST_TIMEOUT)
        assert after.status_code == 401
        assert after.json()["error"] == "login_required"
        home = session.get(base + "/", headers=HTML, timeout=REQUEST_TIMEOUT)
        assert "You are not logged in." in home.text


def test_anonymous_clients(demo: Server) -> None:
    with http_session() as session:
        me = session.get(demo.url + "/api/me", headers=JSON, timeout=REQUEST_TIMEOUT)
        assert me.status_code == 401
        assert me.headers["Content-Type"].startswith("application/json")
        assert me.json()["error"] == "login_required"

        # a protected page asked for by a non-browser: the middleware's 401 JSON, no redirect
        private = session.get(demo.url + "/private", headers=JSON, allow_redirects=False, timeout=REQUEST_TIMEOUT)
        assert private.status_code == 401
        assert private.json()["login_url"] == "/auth/login?next=/private"

        # a cross-site logout post is refused
        cross = session.post(
            demo.url + "/auth/logout",
            data={"next": "/"},
            headers={"Origin": "http://evil.example"},
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT,
        )
        assert cross.status_code == 403
        assert not list(session.cookies)


def test_deny_on_the_consent_page(demo: Server) -> None:
    with http_session() as session:
        consent = open_consent_page(session, demo.url)
        denied = answer_consent(session, consent, button="Deny", login="octocat")
        assert denied.status_code == 403
        assert urlsplit(denied.url).path == "/auth/callback"
        assert "error=access_denied" in urlsplit(denied.url).query
        assert [(r.status_code, urlsplit(r.url).path) for r in denied.history] == [(302, CONSENT_PATH)]
        assert "Login was cancelled" in denied.text
        # no session; the flow cookie was used up
        assert not [cookie.name for cookie in session.cookies if cookie.name.startswith("oauth_session")]
        me = session.get(demo.url + "/api/me", headers=JSON, timeout=REQUEST_TIMEOUT)
        assert me.status_code == 401


CLIENTS = 8
REQUESTS_PER_CLIENT = 20


def test_concurrent_clients_across_two_workers(demo: Server) -> None:
    base = demo.url
    barrier = threading.Barrier(CLIENTS)

    def client(number: int) -> list[str]:
        login = "octocat" if number % 2 == 0 else "hubot"
        failures: list[str] = []
        with http_session() as session:
            barrier.wait(timeout=REQUEST_TIMEOUT)  # log in at the same time
            try:
                log_in(session, base, login)
            except (AssertionError, requests.RequestException) as exc:
                return [f"client {number} ({login}): login failed: {exc!r}"]
            for attempt in range(REQUESTS_PER_CLIENT):
                try:
                    response = session.get(base + "/api/me", headers=JSON, timeout=REQUEST_TIMEOUT)
                    seen = response.json().get("login") if response.status_code == 200 else None
                except (requests.RequestException, ValueError) as exc:
                    failures.append(f"client {number} ({login}) request {attempt}: {exc!r}")
                    continue
                if seen != login:
                    failures.append(f"client {number} ({login}) request {attempt}: {response.status_code} {seen!r}")
        return failures

    with concurrent.futures.ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = [pool.submit(client, number) for number in range(CLIENTS)]
        failures = [failure for future in futures for failure in future.result(timeout=45)]
    assert failures == []

    # both workers served requests (which ones is up to the kernel); top up with concurrent
    # requests in the unlikely case one worker took everything, for a few seconds at most
    deadline = time.monotonic() + 5
    while len(demo.worker_pids()) < 2 and time.monotonic() < deadline:
        with concurrent.futures.ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            list(pool.map(lambda _: requests.get(base + "/healthz", timeout=REQUEST_TIMEOUT), range(CLIENTS)))
    assert len(demo.worker_pids()) >= 2, demo.worker_pids()


# -- the standalone fake GitHub as its own process ----------------------------------------------

HELLO_APP = '''\
"""A hello app behind OAuthMiddleware, logging in against a standalone fake GitHub."""

import os

from oauth_middleware import GitHub, OAuthMiddleware

FAKE = os.environ["E2E_FAKE_GITHUB_URL"]


def hello(environ, start_response):
    body = ("hello %s" % environ.get("REMOTE_USER", "anonymous")).encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


app = OAuthMiddleware(
    hello,
    client_id="fake-client-id",
    client_secret="fake-client-secret",
    secret_key=os.environ["OAUTH_MIDDLEWARE_SECRET_KEY"],
    provider=GitHub(FAKE, api_base_url=FAKE + "/api/v3/"),
    allow_insecure_http=True,
    require_login=True,
    public_paths=["/healthz"],
    timeout=5,
)
'''


@pytest.fixture
def standalone_fake(tmp_path: pathlib.Path) -> t.Iterator[Server]:
    """``python -m oauth_middleware.testing --port 0 --auto-approve octocat``."""
    command = [sys.executable, "-m", "oauth_middleware.testing", "--port", "0", "--auto-approve", "octocat"]
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    server, banner = start_announced(
        "standalone fake GitHub", command, cwd=ROOT, env=server_env(PYTHONPATH=pythonpath), logdir=tmp_path
    )
    try:
        assert "'fake-client-id'" in banner and "'fake-client-secret'" in banner
        yield server
    finally:
        stop(server)


@pytest.fixture
def hello_app(tmp_path: pathlib.Path, standalone_fake: Server) -> t.Iterator[Server]:
    """A one-sync-worker gunicorn serving a hello app written to ``tmp_path``."""
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "e2e_hello_app.py").write_text(textwrap.dedent(HELLO_APP))
    env = server_env(
        OAUTH_MIDDLEWARE_SECRET_KEY=SECRET_KEY,
        E2E_FAKE_GITHUB_URL=standalone_fake.url,
        PYTHONPATH=os.pathsep.join(filter(None, [str(app_dir), str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    server = start_gunicorn("hello app", "e2e_hello_app:app", workers=1, chdir=app_dir, logdir=tmp_path, env=env)
    try:
        yield server
    finally:
        stop(server)


def wait_for_lines(server: Server, expected: collections.abc.Sequence[str], timeout: float = 3.0) -> str:
    """The server's stderr once it has every ``expected`` line fragment (it logs after answering)."""
    deadline = time.monotonic() + timeout
    while True:
        text = server.stderr()
        if all(fragment in text for fragment in expected) or time.monotonic() >= deadline:
            return text
        time.sleep(0.05)


def test_standalone_fake_as_its_own_process(standalone_fake: Server, hello_app: Server) -> None:
    with http_session() as session:
        anonymous = session.get(hello_app.url + "/whoami", headers=JSON, timeout=REQUEST_TIMEOUT)
        assert anonymous.status_code == 401

        # browser: app -> /auth/login -> fake's authorize (auto-approved) -> app's callback, which
        # calls the fake's token endpoint and /user over a socket from the app's only worker
        response = session.get(hello_app.url + "/whoami", headers=HTML, timeout=REQUEST_TIMEOUT)
        assert response.status_code == 200, response.text
        assert response.text == "hello octocat"
        hops = [(r.status_code, f"{urlsplit(r.url).port}{urlsplit(r.url).path}") for r in response.history]
        app_port, fake_port = urlsplit(hello_app.url).port, urlsplit(standalone_fake.url).port
        assert hops == [
            (302, f"{app_port}/whoami"),
            (302, f"{app_port}/auth/login"),
            (302, f"{fake_port}/login/oauth/authorize"),
            (302, f"{app_port}/auth/callback"),
        ]
        authorize = urlsplit(response.history[2].url)
        assert "code_challenge_method=S256" in authorize.query
        assert f"redirect_uri=http%3A%2F%2F127.0.0.1%3A{app_port}%2Fauth%2Fcallback" in authorize.query

        again = session.get(hello_app.url + "/whoami", headers=JSON, timeout=REQUEST_TIMEOUT)
        assert again.status_code == 200 and again.text == "hello octocat"

    expected = ["GET /login/oauth/authorize -> 302", "POST /login/oauth/access_token -> 200", "GET /api/v3/user -> 200"]
    log = wait_for_lines(standalone_fake, expected)
    for fragment in expected:
        assert fragment in log, log
    assert "code=" not in log and "state=" not in log  # the fake never logs query strings
    assert json.dumps(SECRET_KEY)[1:-1] not in hello_app.stderr()
