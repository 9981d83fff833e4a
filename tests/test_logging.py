"""Nothing secret reaches the logs, even with every logger (ours and the libraries') at DEBUG."""

from __future__ import annotations

import json
import logging
import typing as t

import pytest
import webtest
from support import CLIENT_SECRET, TOKEN, example, start_login

LIBRARY_LOGGERS = ("requests_oauthlib", "oauthlib", "urllib3", "oauth_middleware", "requests")
SESSION = "__Host-oauth_session"


def debug_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in LIBRARY_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)


def record_texts(record: logging.LogRecord) -> list[str]:
    """Everything a handler could write for ``record``: message, raw args, traceback, stack."""
    texts = [record.getMessage(), str(record.msg), repr(record.args)]
    formatter = logging.Formatter("%(message)s")
    if record.exc_info:
        texts.append(formatter.formatException(record.exc_info))
    if record.exc_text:
        texts.append(record.exc_text)
    if record.stack_info:
        texts.append(record.stack_info)
    texts.append(formatter.format(record))
    return texts


def run_flows(testapp: webtest.TestApp, github: t.Any) -> dict[str, str]:
    """A whole flow (login, callback, authenticated request, logout), then a failed exchange.

    Returns every secret value that went by, by name.
    """
    code = "0a1b2c3d4e5f60718293"
    params = start_login(testapp, "/after")
    testapp.get("/auth/callback", {"code": code, "state": params["state"]}, status=302)
    session_value = str(testapp.cookies[SESSION])
    assert testapp.get("/page").json["remote_user"] == "octocat"
    testapp.post("/auth/logout", status=303)

    failed_code = "ffffeeeeddddccccbbbb"
    github.token_body = (
        200,
        {"Content-Type": "application/json"},
        json.dumps(example("token_error_bad_verification_code.json")),
    )
    failed = start_login(testapp)
    testapp.get("/auth/callback", {"code": failed_code, "state": failed["state"]}, status=502)

    verifiers = [call["code_verifier"][0] for call in github.token_calls]
    assert len(verifiers) == 2
    secrets = {
        "access token": TOKEN,
        "code": code,
        "failed code": failed_code,
        "state": params["state"],
        "failed state": failed["state"],
        "code challenge": params["code_challenge"],
        "client secret": CLIENT_SECRET,
        "session cookie": session_value,
        "session cookie head": session_value[:40],
    }
    secrets.update({"verifier %d" % i: verifier for i, verifier in enumerate(verifiers)})
    return secrets


def leaks(records: list[logging.LogRecord], secrets: dict[str, str]) -> list[tuple[str, str, str]]:
    return [
        (what, record.name, record.getMessage()[:200])
        for record in records
        for text in record_texts(record)
        for what, secret in secrets.items()
        if secret in text
    ]


def test_no_secret_is_logged_at_debug(
    testapp: webtest.TestApp, github: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    debug_everything(caplog)
    secrets = run_flows(testapp, github)
    records = caplog.records
    assert any(r.name.startswith("oauth_middleware") and r.levelno == logging.DEBUG for r in records)
    assert any("login succeeded" in r.getMessage() for r in records)
    assert any("bad_verification_code" in r.getMessage() for r in records)  # the failure is logged, safely
    assert leaks(records, secrets) == []


def test_the_leak_check_sees_library_records(
    testapp: webtest.TestApp, github: t.Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: without the package's log filter, requests-oauthlib's DEBUG records would leak.

    This proves the capture above really reaches those records, so its empty result means something.
    """
    for name in ("requests_oauthlib.oauth2_session", "oauthlib"):
        monkeypatch.setattr(logging.getLogger(name), "filters", [])
    debug_everything(caplog)
    found = {what for what, _, _ in leaks(caplog.records, run_flows(testapp, github))}
    assert {"access token", "code", "client secret", "verifier 0", "failed code"} <= found


def test_library_records_outside_our_calls_still_get_through(caplog: pytest.LogCaptureFixture) -> None:
    import oauth_middleware.oauth  # noqa: F401  (installs the filter)

    debug_everything(caplog)
    logging.getLogger("requests_oauthlib.oauth2_session").debug("hello")
    logging.getLogger("oauthlib").debug("hello from oauthlib")
    messages = [(r.name, r.getMessage()) for r in caplog.records]
    assert ("requests_oauthlib.oauth2_session", "hello") in messages
    assert ("oauthlib", "hello from oauthlib") in messages
