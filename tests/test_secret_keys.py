"""Secret keys that are obviously not random are refused, with a message that says how to make one;
a key made by ``secrets.token_urlsafe(32)`` (what ``oauth-middleware keygen`` prints) passes."""

from __future__ import annotations

import base64
import fractions
import math
import random
import secrets
import typing as t

import pytest
from conftest import CLIENT_ID, CLIENT_SECRET, downstream
from hypothesis import given, settings
from hypothesis import strategies as st

from oauth_middleware import ConfigurationError, OAuthMiddleware, config
from oauth_middleware.validation import MIN_DISTINCT_KEY_BYTES, looks_random


def refused(key: object) -> str:
    with pytest.raises(ConfigurationError) as info:
        OAuthMiddleware(downstream, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, secret_key=key)
    assert info.value.option == "secret_key"
    return str(info.value)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        pytest.param("changeme" * 4, "repeats a pattern of 8 bytes", id="changeme-x4"),
        pytest.param("a" * 32, "repeats a pattern of 1 byte", id="one-character"),
        pytest.param(b"\x00" * 32, "repeats a pattern of 1 byte", id="zero-bytes"),
        pytest.param("0123456789" * 4, "repeats a pattern of 10 bytes", id="digits-x4"),
        pytest.param("abcabcabcabcabcabcabcabcabcabcab", "repeats a pattern of 3 bytes", id="cut-pattern"),
        pytest.param("aaaabbbbccccddddeeeeffffgggggggg", "only 7 distinct", id="seven-characters"),
        pytest.param("passwd" + "1" * 26, "only 6 distinct", id="padded-password"),
    ],
)
def test_obviously_non_random_keys_are_refused(key: str | bytes, reason: str) -> None:
    message = refused(key)
    assert reason in message and "not random" in message
    assert "oauth-middleware keygen" in message
    assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in message
    assert (key if isinstance(key, str) else key.decode("latin-1")) not in message


def test_each_key_of_a_rotation_list_is_checked() -> None:
    good = secrets.token_urlsafe(32)
    assert refused([good, "x" * 40]).startswith("secret_key[1] is not random")


def test_a_non_random_key_from_the_environment_names_the_variable() -> None:
    environ = {
        "GITHUB_OAUTH_CLIENT_ID": CLIENT_ID,
        "GITHUB_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "OAUTH_MIDDLEWARE_SECRET_KEY": "changeme" * 4,
    }
    with pytest.raises(ConfigurationError) as info:
        config.from_env(downstream, environ)
    assert str(info.value).startswith("OAUTH_MIDDLEWARE_SECRET_KEY is not random")
    assert "changeme" not in str(info.value) and info.value.env == "OAUTH_MIDDLEWARE_SECRET_KEY"


def _token(data: bytes) -> str:
    """``secrets.token_urlsafe`` of these bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@settings(max_examples=300)
@given(st.randoms(use_true_random=True))
def test_random_keys_pass(rng: random.Random) -> None:
    """Keys as keygen makes them, from true random bytes (``st.binary`` is not used: it tries
    the all-zero key on purpose, whose token ``"AAAA..."`` is refused, rightly, by design)."""
    for key in (_token(rng.randbytes(32)), secrets.token_urlsafe(32), rng.randbytes(32)):
        assert looks_random(key.encode() if isinstance(key, str) else key) is None


def test_a_token_urlsafe_key_fails_with_probability_below_2_to_the_minus_100() -> None:
    """The proof behind the sampled test above. A ``token_urlsafe(32)`` key is 43 characters of
    which the first 42 are independent and uniform over the 64 URL-safe characters (252 of the 256
    random bits). The rule refuses a key (a) with fewer than MIN_DISTINCT_KEY_BYTES distinct
    characters, or (b) equal to itself shifted by p <= 21 (a repeated pattern).
    (a) the first 42 characters then lie in some set of 7 characters: at most C(64, 7) * (7/64)**42;
    (b) each of the last 42 - p of the first 42 characters is then fixed by an earlier one:
    at most sum over p of 64 ** -(42 - p)."""
    distinct = MIN_DISTINCT_KEY_BYTES - 1
    bound_a = math.comb(64, distinct) * fractions.Fraction(distinct, 64) ** 42
    bound_b = sum(fractions.Fraction(1, 64 ** (42 - p)) for p in range(1, 22))
    assert bound_a + bound_b < fractions.Fraction(1, 2**100)
    assert len(secrets.token_urlsafe(32)) == 43 and MIN_DISTINCT_KEY_BYTES == 8


def test_the_key_rule_is_the_one_documented() -> None:
    """What the README promises for secret_key: patterns and fewer than 8 distinct characters."""
    examples: dict[str, t.Any] = {
        "Aa1-" * 8: "repeats a pattern of 4 bytes",
        "abcdefgh" + "hgfedcba" * 3: None,  # palindromic, 8 distinct, no period: allowed
        "abcdefg" + "gfedcba" * 3 + "abcd": "only 7 distinct",
    }
    for key, reason in examples.items():
        found = looks_random(key.encode())
        assert (found is None) if reason is None else (reason in (found or "")), key
