"""The command line: oauth-middleware / python -m oauth_middleware (keygen, check, fake-github, fake-oidc)."""

from __future__ import annotations

import importlib.metadata
import os
import pathlib
import re
import subprocess
import sys
import threading
import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import webtest
from support import CLIENT_ID, CLIENT_SECRET, SECRET_KEY, oidc_provider, servers

from oauth_middleware import cli, config, validation
from oauth_middleware.testing import __main__ as standalone

ROOT = pathlib.Path(__file__).resolve().parent.parent
OTHER_KEY = "o" * 16 + "fedcba9876543210fedc"  # 36 bytes


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> t.Callable[..., None]:
    """Clear the caller's configuration, then set the three secrets and ``OAUTH_MIDDLEWARE_*``."""
    for name in list(os.environ):
        if name.startswith(("OAUTH_MIDDLEWARE_", "GITHUB_OAUTH_")):
            monkeypatch.delenv(name)

    def set_(**variables: str) -> None:
        monkeypatch.setenv("GITHUB_OAUTH_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("GITHUB_OAUTH_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("OAUTH_MIDDLEWARE_SECRET_KEY", SECRET_KEY)
        for name, value in variables.items():
            monkeypatch.setenv("OAUTH_MIDDLEWARE_" + name, value)

    return set_


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def exits(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[object, str, str]:
    with pytest.raises(SystemExit) as info:
        cli.main(list(argv))
    out, err = capsys.readouterr()
    return info.value.code, out, err


# -- keygen ---------------------------------------------------------------------------------------


def test_keygen_prints_a_fresh_key_and_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "keygen")
    assert status == 0
    key = out.strip()
    assert out == key + "\n" and re.fullmatch(r"[A-Za-z0-9_-]{43}", key)
    assert "OAUTH_MIDDLEWARE_SECRET_KEY" in err and key not in err
    assert validation.secret_keys(key, validation.Context("secret_key"))  # long and random enough
    assert run(capsys, "keygen")[1].strip() != key


# -- check ----------------------------------------------------------------------------------------


def settings(out: str) -> dict[str, tuple[str, str]]:
    """The settings table of ``check``: option -> (value, source)."""
    rows = re.findall(r"^  (\w+) +(.+?) {2,}(\S+)$", out, flags=re.MULTILINE)
    return {option: (value, source) for option, value, source in rows}


def test_check_prints_every_option_with_secrets_masked(
    capsys: pytest.CaptureFixture[str], environ: t.Callable[..., None]
) -> None:
    environ(SECRET_KEY=OTHER_KEY + "," + SECRET_KEY, REQUIRE_LOGIN="/admin,/api", TIMEOUT="3,20", MAX_AGE="3600")
    status, out, err = run(capsys, "check")
    assert (status, err) == (0, "")
    assert out.startswith("The configuration is valid.")
    table = settings(out)
    assert list(table) == ["option", *config.option_parameters()]
    assert table["client_id"] == ("****" + CLIENT_ID[-4:], "GITHUB_OAUTH_CLIENT_ID")
    assert table["client_secret"] == ("****", "GITHUB_OAUTH_CLIENT_SECRET")
    assert table["secret_key"] == ("2 keys", "OAUTH_MIDDLEWARE_SECRET_KEY")
    assert table["require_login"] == ("/admin,/api", "OAUTH_MIDDLEWARE_REQUIRE_LOGIN")
    assert table["timeout"] == ("3,20", "OAUTH_MIDDLEWARE_TIMEOUT")
    assert table["max_age"] == ("3600", "OAUTH_MIDDLEWARE_MAX_AGE")
    assert table["provider"] == ("https://github.com", "default")
    assert table["secure"] == ("auto", "default")
    assert table["revalidate_after"] == ("auto (never)", "default")
    assert table["public_paths"] == ("(none)", "default")
    assert table["clock"] == ("time.time", "default")
    for secret in (CLIENT_ID, CLIENT_SECRET, SECRET_KEY, OTHER_KEY):
        assert secret not in out
    assert "https://<your host><SCRIPT_NAME>/auth/callback" in out
    assert "https://github.com/settings/developers" in out
    assert "OAUTH_MIDDLEWARE_REDIRECT_URI" in out


def test_check_shows_effective_values_and_file_sources(
    capsys: pytest.CaptureFixture[str],
    environ: t.Callable[..., None],
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environ(ALLOWED_ORGS="Octo-Org", CALLBACK_PATH="/oauth/done")
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(CLIENT_SECRET + "\n")
    monkeypatch.delenv("GITHUB_OAUTH_CLIENT_SECRET")
    monkeypatch.setenv("GITHUB_OAUTH_CLIENT_SECRET_FILE", str(secret_file))
    status, out, _ = run(capsys, "check")
    assert status == 0
    table = settings(out)
    assert table["client_secret"] == ("****", "GITHUB_OAUTH_CLIENT_SECRET_FILE")
    assert table["allowed_orgs"] == ("octo-org", "OAUTH_MIDDLEWARE_ALLOWED_ORGS")
    assert table["scope"] == ("read:user,user:email,read:org", "default")
    assert table["revalidate_after"] == ("auto (600 seconds)", "default")
    assert "https://<your host><SCRIPT_NAME>/oauth/done" in out


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://app.example.com", "https://app.example.com/auth/callback"),
        ("https://App.Example.com/", "https://app.example.com/auth/callback"),
        ("https://example.com:8443/tools/app/", "https://example.com:8443/tools/app/auth/callback"),
    ],
)
def test_check_url_prints_the_exact_callback(
    capsys: pytest.CaptureFixture[str], environ: t.Callable[..., None], url: str, expected: str
) -> None:
    environ()
    status, out, _ = run(capsys, "check", "--url", url)
    assert status == 0
    assert "\n  %s\n" % expected in out
    assert "OAUTH_MIDDLEWARE_REDIRECT_URI=%s" % expected in out


def test_check_prints_redirect_uri_when_set(capsys: pytest.CaptureFixture[str], environ: t.Callable[..., None]) -> None:
    environ(REDIRECT_URI="https://app.example.com/auth/callback")
    status, out, _ = run(capsys, "check")
    assert status == 0 and "\n  https://app.example.com/auth/callback\n" in out and "<your host>" not in out
    status, out, _ = run(capsys, "check", "--url", "https://other.example.com")
    assert status == 0 and "--url gives https://other.example.com/auth/callback" in out


def test_check_github_enterprise(capsys: pytest.CaptureFixture[str], environ: t.Callable[..., None]) -> None:
    environ(GITHUB_URL="https://ghe.example.com")
    status, out, _ = run(capsys, "check")
    assert status == 0
    assert settings(out)["provider"] == ("https://ghe.example.com", "OAUTH_MIDDLEWARE_GITHUB_URL")
    assert "https://ghe.example.com/settings/developers" in out


def test_check_prints_the_insecure_http_warning_once(
    capsys: pytest.CaptureFixture[str], environ: t.Callable[..., None]
) -> None:
    environ(ALLOW_INSECURE_HTTP="1", GITHUB_URL="http://127.0.0.1:8001")
    status, out, err = run(capsys, "check", "--url", "http://localhost:5000")
    assert status == 0
    assert err == "warning: allow_insecure_http=True: OAuth over plain http is for local development only\n"
    assert "\n  http://localhost:5000/auth/callback\n" in out


def test_check_refuses_an_http_url_without_allow_insecure_http(
    capsys: pytest.CaptureFixture[str], environ: t.Callable[..., None]
) -> None:
    environ()
    status, out, err = run(capsys, "check", "--url", "http://app.example.com")
    assert status == 2 and "--url is plain http" in err and "OAUTH_MIDDLEWARE_ALLOW_INSECURE_HTTP" in err


@pytest.mark.parametrize("url", ["app.example.com", "https://", "https://app.example.com/?x=1", "https://[::1"])
def test_check_refuses_a_malformed_url(
    capsys: pytest.CaptureFixture[str], environ: t.Callable[..., None], url: str
) -> None:
    environ()
    status, _, err = run(capsys, "check", "--url", url)
    assert status == 2 and err.startswith("error: --url must be the site's base URL")


@pytest.mark.parametrize(
    ("variables", "words"),
    [
        ({"MAX_AGE": "a week"}, "error: OAUTH_MIDDLEWARE_MAX_AGE must be a whole number"),
        ({"MAX_AGE": "0"}, "error: OAUTH_MIDDLEWARE_MAX_AGE must be a positive"),
        ({"REQUIRE_LOGN": "1"}, "did you mean OAUTH_MIDDLEWARE_REQUIRE_LOGIN?"),
        ({"SECRET_KEY": "short"}, "error: OAUTH_MIDDLEWARE_SECRET_KEY is 5 bytes long"),
        (
            {"GITHUB_URL": "http://127.0.0.1:8001"},
            "error: OAUTH_MIDDLEWARE_GITHUB_URL (its authorize_url) is plain http",
        ),
    ],
)
def test_check_fails_with_the_message_and_status_2(
    capsys: pytest.CaptureFixture[str], environ: t.Callable[..., None], variables: dict[str, str], words: str
) -> None:
    environ(**variables)
    status, out, err = run(capsys, "check")
    assert (status, out) == (2, "")
    assert words in err and err.endswith("\n") and err.count("\n") == 1
    assert CLIENT_SECRET not in err and SECRET_KEY not in err


def test_check_reports_a_missing_secret(
    capsys: pytest.CaptureFixture[str], environ: t.Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    environ()
    monkeypatch.delenv("GITHUB_OAUTH_CLIENT_SECRET")
    status, out, err = run(capsys, "check")
    assert (status, out) == (2, "")
    assert err.startswith("error: GITHUB_OAUTH_CLIENT_SECRET is not set") and "GITHUB_OAUTH_CLIENT_SECRET_FILE" in err


# -- argument handling ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--help"], ("keygen", "check", "fake-github", "fake-oidc")),
        (["fake-oidc", "--help"], ("usage: oauth-middleware fake-oidc", "--port", "--auto-approve", "end_session")),
        (["keygen", "--help"], ("usage: oauth-middleware keygen", "OAUTH_MIDDLEWARE_SECRET_KEY")),
        (["check", "--help"], ("usage: oauth-middleware check", "--url BASE_URL", "exits 0")),
        (["fake-github", "--help"], ("usage: oauth-middleware fake-github", "--port", "--auto-approve", "GITHUB_URL")),
    ],
)
def test_help(capsys: pytest.CaptureFixture[str], argv: list[str], words: tuple[str, ...]) -> None:
    code, out, _ = exits(capsys, *argv)
    assert code == 0
    for word in words:
        assert word.lower() in out.lower()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = exits(capsys, "--version")
    assert code == 0 and out.startswith("oauth-middleware 1.")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        ([], "required: COMMAND"),
        (["frobnicate"], "invalid choice"),
        (["check", "--bogus"], "oauth-middleware check: error: unrecognized arguments: --bogus"),
        (["keygen", "extra"], "oauth-middleware keygen: error: unrecognized arguments: extra"),
        (["fake-github", "--port", "http"], "oauth-middleware fake-github: error: argument --port"),
        (["fake-github", "--bogus"], "oauth-middleware fake-github: error: unrecognized arguments: --bogus"),
        (["fake-oidc", "--bogus"], "oauth-middleware fake-oidc: error: unrecognized arguments: --bogus"),
        (["fake-oidc", "--auto-approve", "mallory"], "oauth-middleware fake-oidc: error: argument --auto-approve"),
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], words: str) -> None:
    code, _, err = exits(capsys, *argv)
    assert code == 2 and words in err


def test_console_script_is_registered() -> None:
    entry_points = importlib.metadata.distribution("oauth-login-middleware").entry_points
    (script,) = [entry for entry in entry_points if entry.group == "console_scripts"]
    assert (script.name, script.value) == ("oauth-middleware", "oauth_middleware.cli:main")


def test_python_dash_m(tmp_path: pathlib.Path) -> None:
    def python_m(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "oauth_middleware", *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )

    helped = python_m("--help")
    assert helped.returncode == 0 and helped.stdout.startswith("usage: python -m oauth_middleware ")
    made = python_m("keygen")
    assert made.returncode == 0 and re.fullmatch(r"[A-Za-z0-9_-]{43}\n", made.stdout)
    assert "OAUTH_MIDDLEWARE_SECRET_KEY" in made.stderr


# -- fake-github ----------------------------------------------------------------------------------


def test_fake_github_arguments_reach_the_standalone_server(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int, t.Any]] = []
    monkeypatch.setattr(standalone, "serve", lambda host, port, fake: calls.append((host, port, fake)))
    argv = ["fake-github", "--host", "127.0.0.2", "--port", "9000", "--client-id", "cid", "--auto-approve", "hubot"]
    assert cli.main(argv) == 0
    ((host, port, fake),) = calls
    assert (host, port, fake.client_id) == ("127.0.0.2", 9000, "cid")


@pytest.mark.e2e
def test_fake_github_serves_a_login_for_a_middleware_configured_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    servers: list[t.Any] = []
    started = threading.Event()

    def make_server(host: str, port: int, fake: t.Any) -> t.Any:
        server = original(host, port, fake)
        servers.append(server)
        started.set()
        return server

    original = standalone.make_server
    monkeypatch.setattr(standalone, "make_server", make_server)
    status: list[int] = []
    argv = ["fake-github", "--port", "0", "--auto-approve", "octocat"]
    thread = threading.Thread(target=lambda: status.append(cli.main(argv)), daemon=True)
    thread.start()
    try:
        assert started.wait(10), "the fake did not start"
        base = "http://127.0.0.1:%d" % servers[0].server_port
        environ = {
            "GITHUB_OAUTH_CLIENT_ID": "fake-client-id",
            "GITHUB_OAUTH_CLIENT_SECRET": "fake-client-secret",
            "OAUTH_MIDDLEWARE_SECRET_KEY": SECRET_KEY,
            "OAUTH_MIDDLEWARE_GITHUB_URL": base,
            "OAUTH_MIDDLEWARE_ALLOW_INSECURE_HTTP": "yes",
            "OAUTH_MIDDLEWARE_REQUIRE_LOGIN": "true",
            "OAUTH_MIDDLEWARE_TIMEOUT": "5",
        }

        def hello(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [("hello %s" % environ["REMOTE_USER"]).encode()]

        with pytest.warns(UserWarning, match="allow_insecure_http"):
            app = webtest.TestApp(config.from_env(hello, environ))
        login = app.get("/auth/login", params={"next": "/page"})
        authorize = login.headers["Location"]
        assert authorize.startswith(base + "/login/oauth/authorize?")
        consent = requests.get(authorize, allow_redirects=False, timeout=5)
        callback = consent.headers["Location"]
        assert consent.status_code == 302 and "code" in parse_qs(urlsplit(callback).query)
        done = app.get(callback)
        assert (done.status_int, done.headers["Location"]) == (302, "/page")
        assert app.get("/page").text == "hello octocat"
    finally:
        if servers:
            servers[0].shutdown()
        thread.join(timeout=10)
    assert not thread.is_alive() and status == [0]
    assert "FakeGitHub listening on %s " % base in capsys.readouterr().out


# -- fake-oidc ------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_fake_oidc_serves_a_login_for_a_middleware_configured_from_its_printed_variables(
    tmp_path: pathlib.Path,
) -> None:
    """``oauth-middleware fake-oidc --port 0`` as a process on 127.0.0.1: the variables it prints
    (and nothing else but the session key) configure a middleware that logs alice in through its
    consent page, over real HTTP: discovery, token exchange, JWKS, id_token validation."""
    stderr_path = tmp_path / "fake-oidc.stderr.log"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "oauth_middleware", "fake-oidc", "--port", "0"],
            cwd=ROOT,
            env=servers.server_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
    server = servers.Server("fake-oidc", process, "", stderr_path)
    try:
        assert process.stdout is not None
        banner = ""
        while "or in Python" not in banner:  # bounded: read_line times out, and EOF ends the banner
            line = servers.read_line(process.stdout, servers.START_TIMEOUT)
            assert line, "fake-oidc exited:\n" + server.stderr()
            banner += line
        printed = dict(re.findall(r"^    ([A-Z_]+)=(\S+)$", banner, re.M))
        issuer = printed["OAUTH_MIDDLEWARE_OIDC_ISSUER"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", issuer) and printed["OAUTH_MIDDLEWARE_PROVIDER"] == "oidc"
        environ = {**printed, "OAUTH_MIDDLEWARE_SECRET_KEY": SECRET_KEY, "OAUTH_MIDDLEWARE_REQUIRE_LOGIN": "true"}

        def hello(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [("hello %s (%s)" % (environ["REMOTE_USER"], environ["oauth_middleware.user_id"])).encode()]

        with pytest.warns(UserWarning, match="allow_insecure_http"):
            app = webtest.TestApp(config.from_env(hello, environ))
        authorize = app.get("/auth/login", params={"next": "/page"}).headers["Location"]
        assert authorize.startswith(issuer + "/authorize?")
        with servers.http_session() as browser:
            consent = browser.get(authorize, timeout=servers.REQUEST_TIMEOUT)
            assert consent.status_code == 200 and "Sign in to fake-oidc-client" in consent.text
            action, fields = oidc_provider.first_form(consent.text, issuer)
            approved = browser.post(
                action,
                data={**fields, "user": "alice", "decision": "approve"},
                allow_redirects=False,
                timeout=servers.REQUEST_TIMEOUT,
            )
        callback = approved.headers["Location"]
        assert approved.status_code == 302 and "code" in parse_qs(urlsplit(callback).query)
        done = app.get(callback)
        assert (done.status_int, done.headers["Location"]) == (302, "/page")
        assert app.get("/page").text == "hello alice (248289761001)"
    finally:
        servers.stop(server)
    assert "FakeOIDC listening on %s " % issuer in banner


# -- sessions list|revoke (server-side sessions) -------------------------------------------------


@pytest.fixture
def shared_store(monkeypatch: pytest.MonkeyPatch) -> t.Any:
    """``OAUTH_MIDDLEWARE_STORE=memory`` resolved to one store shared with the test: the command
    builds its own middleware, as an operator's shell would, and sees the app's sessions."""
    from oauth_middleware.store import MemoryStore

    store = MemoryStore()
    monkeypatch.setattr(validation, "MemoryStore", lambda: store)
    monkeypatch.setenv("OAUTH_MIDDLEWARE_STORE", "memory")
    return store


def test_sessions_list_and_revoke_a_user(
    capsys: pytest.CaptureFixture[str], environ: t.Callable[..., None], shared_store: t.Any
) -> None:
    from oauth_middleware import OAuthMiddleware
    from oauth_middleware.testing import session_cookie

    environ()
    app = OAuthMiddleware.from_env(lambda e, s: [])
    for user, account in (("octocat", 583231), ("octocat", 583231), ("hubot", 2)):
        session_cookie(app, {"login": user, "id": account})
    status, out, _ = run(capsys, "sessions", "list")
    assert (status, out.split("\n")[:3]) == (0, ["user id\tsessions", "2\t1", "583231\t2"])
    status, _, err = run(capsys, "sessions", "revoke", "octocat")  # a login, not the account id
    assert status == 1 and "USER is the account id" in err
    assert len(app.user_sessions("583231")) == 2  # nothing ended, and it says so
    status, out, _ = run(capsys, "sessions", "list", "583231")
    assert len(out.split()) == 2
    status, out, _ = run(capsys, "sessions", "revoke", "583231")
    assert (status, out.strip()) == (0, "ended 2 session(s) of 1 user(s)")
    assert app.user_sessions("583231") == set() and len(app.user_sessions("2")) == 1
    status, out, _ = run(capsys, "sessions", "revoke", "--all")
    assert (status, out.strip()) == (0, "ended 1 session(s) of 1 user(s)")  # 583231 has none left


def test_sessions_without_a_store_says_why(capsys: pytest.CaptureFixture[str], environ: t.Callable[..., None]) -> None:
    environ()
    status, _, err = run(capsys, "sessions", "list")
    assert status == 2 and "OAUTH_MIDDLEWARE_STORE is not set" in err


def test_sessions_revoke_needs_a_user_or_all(
    capsys: pytest.CaptureFixture[str], environ: t.Callable[..., None], shared_store: t.Any
) -> None:
    environ()
    code, _, err = exits(capsys, "sessions", "revoke")
    assert code == 2 and "USER or --all" in err
