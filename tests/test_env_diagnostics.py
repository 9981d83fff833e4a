"""Configuration from text that says what went wrong: near-miss variable names, account ids in
``allowed_users`` (``id:583231``), and an all-digit login that was probably meant as an id."""

from __future__ import annotations

import logging
import os
import re
import typing as t

import pytest
import webtest
from conftest import CLIENT_ID, CLIENT_SECRET, HTTPS, SECRET_KEY, GitHubMock, downstream, log_in, start_login

from oauth_middleware import ConfigurationError, cli, config, env

BASE = {
    "GITHUB_OAUTH_CLIENT_ID": CLIENT_ID,
    "GITHUB_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
    "OAUTH_MIDDLEWARE_SECRET_KEY": SECRET_KEY,
}


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("oauth_")]


# -- near misses ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("OAUTH_MIDLEWARE_SECURE", "OAUTH_MIDDLEWARE_SECURE"),
        ("OAUTH_MIDDLEWARESECURE", "OAUTH_MIDDLEWARE_SECURE"),
        ("OAUTH_MIDDLEWEAR_REQUIRE_LOGIN", "OAUTH_MIDDLEWARE_REQUIRE_LOGIN"),
        ("GITHUB_OAUTH_CLIENTID", "GITHUB_OAUTH_CLIENT_ID"),
        ("GITHUB_OAUTH_CLIENT_SECRET_FIEL", "GITHUB_OAUTH_CLIENT_SECRET_FILE"),
        ("oauth_middleware_max_age", "OAUTH_MIDDLEWARE_MAX_AGE"),
        ("GITHUB_CLIENT_ID", "GITHUB_OAUTH_CLIENT_ID"),
    ],
)
def test_a_variable_close_to_one_of_ours_is_reported_with_the_right_name(
    caplog: pytest.LogCaptureFixture, name: str, meant: str
) -> None:
    assert env.near_misses({name: "1"}) == {name: meant}
    with caplog.at_level(logging.WARNING):
        config.from_env(downstream, {**BASE, name: "1"})
    assert warnings_of(caplog) == ["environment variable %s is not read: did you mean %s?" % (name, meant)]


def test_ordinary_variables_are_not_mistaken_for_ours() -> None:
    ordinary = [
        "PATH", "HOME", "PYTHONPATH", "VIRTUAL_ENV", "GITHUB_TOKEN", "GITHUB_ACTIONS", "GITHUB_REPOSITORY",
        "GITHUB_SHA", "GITHUB_WORKSPACE", "OAUTHLIB_INSECURE_TRANSPORT", "OAUTHLIB_RELAX_TOKEN_SCOPE",
        "SECRET_KEY", "DJANGO_SECRET_KEY", "FLASK_SECRET_KEY", "DATABASE_URL", "GUNICORN_CMD_ARGS",
        "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "HTTPS_PROXY", "NO_PROXY",
    ]  # fmt: skip
    assert env.near_misses(dict.fromkeys(ordinary, "x")) == {}


def test_a_missing_secret_points_at_the_misspelt_variable(caplog: pytest.LogCaptureFixture) -> None:
    """Issue 14: ``GITHUB_OAUTH_CLIENTID`` used to yield only "client_id is not set"."""
    environ = {**BASE, "GITHUB_OAUTH_CLIENTID": CLIENT_ID}
    del environ["GITHUB_OAUTH_CLIENT_ID"]
    with pytest.raises(ConfigurationError) as info:
        config.options_from_env(environ)
    message = str(info.value)
    assert message.startswith("GITHUB_OAUTH_CLIENT_ID is not set")
    assert "(GITHUB_OAUTH_CLIENTID is set: did you mean GITHUB_OAUTH_CLIENT_ID?)" in message
    assert CLIENT_ID not in message and info.value.option == "client_id"


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch) -> t.Callable[..., None]:
    for name in list(os.environ):
        if name.startswith(("OAUTH_MIDDLEWARE_", "GITHUB_OAUTH_")):
            monkeypatch.delenv(name)

    def set_(**variables: str) -> None:
        for name, value in {**BASE, **variables}.items():
            monkeypatch.setenv(name, value)

    return set_


def test_check_shows_the_near_miss(capsys: pytest.CaptureFixture[str], clean: t.Callable[..., None]) -> None:
    clean(OAUTH_MIDLEWARE_SECURE="1")
    assert cli.main(["check"]) == 0
    out, err = capsys.readouterr()
    assert (
        err
        == "warning: environment variable OAUTH_MIDLEWARE_SECURE is not read: did you mean OAUTH_MIDDLEWARE_SECURE?\n"
    )
    assert out.startswith("The configuration is valid.")


def test_check_shows_the_near_miss_behind_a_missing_secret(
    capsys: pytest.CaptureFixture[str], clean: t.Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    clean(GITHUB_OAUTH_CLIENTID=CLIENT_ID)
    monkeypatch.delenv("GITHUB_OAUTH_CLIENT_ID")
    assert cli.main(["check"]) == 2
    out, err = capsys.readouterr()
    warning, error = err.splitlines()
    assert warning.startswith("warning: environment variable GITHUB_OAUTH_CLIENTID is not read: did you mean")
    assert error.startswith("error: GITHUB_OAUTH_CLIENT_ID is not set") and "did you mean" in error
    assert out == ""


# -- account ids in allowed_users -----------------------------------------------------------------


def test_account_ids_are_written_with_id_prefix(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        middleware = config.from_env(downstream, {**BASE, "OAUTH_MIDDLEWARE_ALLOWED_USERS": "Octocat, id:583231,ID:7"})
    assert middleware.policy.users == {"octocat"} and middleware.policy.user_ids == {583231, 7}
    assert warnings_of(caplog) == []


@pytest.mark.parametrize("entry", ["id:", "id:abc", "id:0", "id:-5", "id:12x", "id:١٢"])
def test_a_malformed_id_is_refused_naming_the_variable(entry: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        config.options_from_env({**BASE, "OAUTH_MIDDLEWARE_ALLOWED_USERS": "octocat," + entry})
    assert str(info.value).startswith("OAUTH_MIDDLEWARE_ALLOWED_USERS must be logins and account ids")
    assert "id:583231" in str(info.value)
    assert (info.value.option, info.value.env) == ("allowed_users", "OAUTH_MIDDLEWARE_ALLOWED_USERS")


def test_an_all_digit_entry_is_a_login_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        middleware = config.from_env(downstream, {**BASE, "OAUTH_MIDDLEWARE_ALLOWED_USERS": "583231,octocat"})
    assert middleware.policy.users == {"583231", "octocat"} and middleware.policy.user_ids == frozenset()
    assert warnings_of(caplog) == [
        "OAUTH_MIDDLEWARE_ALLOWED_USERS: '583231' is read as a login; if it is an account id, write id:583231"
    ]


def test_an_id_entry_admits_the_account_and_a_digit_entry_does_not(github: GitHubMock) -> None:
    """The finding (issue 10, 12): ``ALLOWED_USERS=1`` admitted the login "1" and refused account
    1; ``id:1`` admits account 1 (octocat in GitHub's example) whatever its login."""
    admitted = config.from_env(downstream, {**BASE, "OAUTH_MIDDLEWARE_ALLOWED_USERS": "id:1"})
    app = webtest.TestApp(admitted, extra_environ=HTTPS)
    log_in(app)
    assert app.get("/").json["remote_user"] == "octocat"

    refused = config.from_env(downstream, {**BASE, "OAUTH_MIDDLEWARE_ALLOWED_USERS": "1"})
    app = webtest.TestApp(refused, extra_environ=HTTPS)
    state = start_login(app)["state"]
    app.get("/auth/callback", {"code": "a1b2c3d4e5f6a7b8c9d0", "state": state}, status=403)


def test_paste_settings_take_ids_too(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    for name in list(os.environ):
        if name.startswith(("OAUTH_MIDDLEWARE_", "GITHUB_OAUTH_")):
            monkeypatch.delenv(name)
    local = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "secret_key": SECRET_KEY}
    with caplog.at_level(logging.WARNING):
        middleware = config.filter_app_factory(downstream, {}, **local, allowed_users="octocat\nid:583231\n42")
    assert middleware.policy.users == {"octocat", "42"} and middleware.policy.user_ids == {583231}
    assert warnings_of(caplog) == ["allowed_users: '42' is read as a login; if it is an account id, write id:42"]


def test_check_shows_ids_as_written(capsys: pytest.CaptureFixture[str], clean: t.Callable[..., None]) -> None:
    clean(OAUTH_MIDDLEWARE_ALLOWED_USERS="id:583231,hubot")
    assert cli.main(["check"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  allowed_users +hubot,id:583231 +OAUTH_MIDDLEWARE_ALLOWED_USERS$", out, flags=re.MULTILINE)
