from __future__ import annotations

import json
import logging
import pathlib
import typing as t

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oauth_middleware.redirects import MAX_NEXT_LENGTH, is_safe_next, safe_next

CASES_PATH = pathlib.Path(__file__).parent / "data" / "redirect_cases.json"
CASES: list[dict[str, t.Any]] = json.loads(CASES_PATH.read_text(encoding="utf-8"))
SAFE_COUNT = 17

LOGGER_NAME = "oauth_middleware.redirects"


@pytest.mark.parametrize(
    ("value", "safe"),
    [pytest.param(case["next"], case["safe"], id=str(index)) for index, case in enumerate(CASES)],
)
def test_corpus(value: str, safe: bool) -> None:
    assert is_safe_next(value) is safe
    assert safe_next(value) == (value if safe else "/")


def test_corpus_accepts_exactly_the_safe_values() -> None:
    assert len(CASES) == 970
    accepted = [case["next"] for case in CASES if is_safe_next(case["next"])]
    assert len(accepted) == SAFE_COUNT
    assert accepted == [case["next"] for case in CASES if case["safe"]]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("//evil.com", id="scheme-relative"),
        pytest.param("///evil.com", id="triple-slash"),
        pytest.param("/\\evil.com", id="slash-backslash"),
        pytest.param("/\\/evil.com", id="slash-backslash-slash"),
        pytest.param("/a\\b", id="backslash-later"),
        pytest.param("/%2F%2Fevil.com", id="encoded-double-slash"),
        pytest.param("/%252F%252Fevil.com", id="double-encoded-double-slash"),
        pytest.param("/%5Cevil.com", id="encoded-backslash"),
        pytest.param("/%2525252F%2525252Fevil.com", id="encoded-four-times"),
        pytest.param("/%252525252Fx", id="still-changing-after-four-rounds"),
        pytest.param("/\t/evil.com", id="raw-tab"),
        pytest.param("/%09/evil.com", id="encoded-tab"),
        pytest.param("/%20/evil.com", id="encoded-space-between-slashes"),
        pytest.param(" /dashboard", id="leading-space"),
        pytest.param("/dash board", id="raw-space"),
        pytest.param("/x/../../evil", id="dot-dot-segments"),
        pytest.param("/x/./y", id="dot-segment"),
        pytest.param("/x/..", id="trailing-dot-dot"),
        pytest.param("/x/.", id="trailing-dot"),
        pytest.param("/x/..?a=1", id="trailing-dot-dot-before-query"),
        pytest.param("/x/%2e%2e", id="encoded-trailing-dot-dot"),
        pytest.param("/x/%2e%2e/y", id="encoded-dot-dot"),
        pytest.param("/javascript:alert(1)", id="javascript"),
        pytest.param("/JavaScript:alert(1)", id="javascript-mixed-case"),
        pytest.param("/%6Aavascript:alert(1)", id="javascript-encoded"),
        pytest.param("/x%01javascript:alert(1)", id="javascript-after-0x01"),
        pytest.param("/https:evil.com", id="https-after-slash"),
        pytest.param("/HTTP:evil.com", id="http-upper-case"),
        pytest.param("/<script>", id="angle-bracket"),
        pytest.param("/%3Cscript%3E", id="encoded-angle-bracket"),
        pytest.param("/%0d%0aSet-Cookie:x=1", id="encoded-crlf"),
        pytest.param("/\r\nSet-Cookie:x=1", id="raw-crlf"),
        pytest.param("/%00", id="encoded-nul"),
        pytest.param("/%7F", id="encoded-del"),
        pytest.param("/\x7f", id="raw-del"),
        pytest.param("/caf\u00e9", id="raw-non-ascii"),
        pytest.param("/\u3031evil.com", id="raw-kana-lookalike"),
        pytest.param("https://evil.com", id="absolute-https"),
        pytest.param("javascript:alert(1)", id="javascript-scheme"),
        pytest.param("evil.com/x", id="no-leading-slash"),
        pytest.param("/view/?param=//evil.com", id="double-slash-in-query"),
        pytest.param("/" + "a" * MAX_NEXT_LENGTH, id="too-long"),
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
    ],
)
def test_hostile_values_fall_back_to_default(value: str | None) -> None:
    if value is not None:
        assert not is_safe_next(value)
    assert safe_next(value) == "/"
    assert safe_next(value, default="/home") == "/home"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("/", id="root"),
        pytest.param("/a" * (MAX_NEXT_LENGTH // 2), id="max-length"),
        pytest.param("/search?q=a%2Bb&page=2", id="encoded-query"),
        pytest.param("/url%20with%20spaces/", id="encoded-space"),
        pytest.param("/%E2%9C%93/done", id="encoded-utf8"),
        pytest.param("/%2541", id="double-encoded-letter"),
        pytest.param("/file.txt", id="dot-in-name"),
        pytest.param("/x/...", id="three-dots"),
        pytest.param("/x/..y", id="dot-dot-prefix"),
        pytest.param("/x?a=/..", id="dot-dot-in-query-only"),
        pytest.param("/docs/page#section-2", id="fragment"),
        pytest.param("/100%", id="lone-percent"),
    ],
)
def test_safe_values_are_kept(value: str) -> None:
    assert len(value) <= MAX_NEXT_LENGTH
    assert is_safe_next(value)
    assert safe_next(value) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("/auth/login", "/", id="equal"),
        pytest.param("/auth/login?next=/x", "/", id="equal-with-query"),
        pytest.param("/auth/login#top", "/", id="equal-with-fragment"),
        pytest.param("/auth/login/extra", "/", id="under"),
        pytest.param("/auth/%6Cogin", "/", id="percent-encoded"),
        pytest.param("/auth/loginx", "/auth/loginx", id="sibling-kept"),
        pytest.param("/auth", "/auth", id="parent-kept"),
        pytest.param("/home?from=/auth/login", "/home?from=/auth/login", id="in-query"),
    ],
)
def test_forbidden_paths(value: str, expected: str) -> None:
    assert safe_next(value, forbidden=("/auth/login",)) == expected


def test_forbidden_uses_custom_default() -> None:
    own = ("/auth/login", "/auth/callback", "/auth/logout")
    assert safe_next("/auth/callback?code=x", default="/home", forbidden=own) == "/home"
    assert safe_next("/auth/logout", default="/home", forbidden=own) == "/home"
    assert safe_next("/profile", default="/home", forbidden=own) == "/profile"


def test_forbidden_trailing_slash_is_ignored() -> None:
    assert safe_next("/auth/login", forbidden=("/auth/login/",)) == "/"
    assert safe_next("/auth/login/x", forbidden=("/auth/login/",)) == "/"


PRINTABLE_ASCII = {chr(c) for c in range(0x21, 0x7F)}


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_safe_next_result_is_always_a_local_path(value: str) -> None:
    result = safe_next(value)
    if result == "/":
        return
    assert result == value
    assert result.startswith("/")
    assert not result.startswith(("//", "/\\"))
    for char in "\r\n\t\\ ":
        assert char not in result
    assert set(result) <= PRINTABLE_ASCII


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("/\\.%2eEfF5cC09 ab:?#")))
def test_safe_next_result_is_local_path_for_url_like_text(value: str) -> None:
    result = safe_next(value)
    assert result == "/" or (result == value and is_safe_next(result))
    assert not result.startswith(("//", "/\\"))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_safe_next_is_idempotent(value: str) -> None:
    once = safe_next(value)
    assert safe_next(once) == once


def test_rejected_value_is_logged_escaped(caplog: pytest.LogCaptureFixture) -> None:
    value = "/x\r\nSet-Cookie: session=forged" + "a" * 500
    with caplog.at_level(logging.DEBUG, logger=LOGGER_NAME):
        assert safe_next(value) == "/"
    records = [r for r in caplog.records if r.name == LOGGER_NAME]
    assert records
    for record in records:
        assert record.levelno == logging.DEBUG
        message = record.getMessage()
        assert "\r" not in message
        assert "\n" not in message
        assert "\\r\\n" in message
        assert "a" * 101 not in message


def test_missing_value_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOGGER_NAME):
        assert safe_next(None) == "/"
        assert safe_next("") == "/"
        assert safe_next("/ok") == "/ok"
    assert not [r for r in caplog.records if r.name == LOGGER_NAME]
