"""The README is short, its links lead somewhere, and its test command is real.

The options table lives in the docs now, generated from the code (tests/test_docs.py checks it
against the constructor); the README's example runs as written (tests/test_docs.py too).
"""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_fits_in_two_screens() -> None:
    assert len(README.splitlines()) < 150


def test_readme_links_into_the_docs_lead_to_files_that_exist() -> None:
    targets = re.findall(r"\]\(([^)#:]+)\)", README)
    assert len([target for target in targets if target.startswith("docs/")]) >= 10
    for target in targets:
        assert (ROOT / target).exists(), target


def test_ci_runs_the_readme_test_command() -> None:
    command = re.search(r"```sh\n(python3 -m venv .+ pytest)\n```", README)
    assert command is not None
    assert command.group(1) in (ROOT / ".ci" / "run").read_text()


def test_the_several_hosts_section_names_what_exists() -> None:
    """The extra it installs, the store URL it shows and the variable it names all work."""
    import configparser

    import pytest

    from oauth_middleware import OAuthMiddleware
    from oauth_middleware.options import BY_NAME
    from oauth_middleware.redis_store import RedisStore

    section = README.split("## Several hosts: Redis", 1)[1].split("\n## ", 1)[0]
    extras = configparser.ConfigParser()
    extras.read(ROOT / "setup.cfg")
    for extra in re.findall(r"\.\[(\w+)\]", section):
        assert extra in extras["options.extras_require"], extra
    url = re.search(r'store="(rediss://[^"]+)"', section)
    assert url is not None
    pytest.importorskip("redis")
    middleware = OAuthMiddleware(
        lambda environ, start_response: [],
        client_id="id",
        client_secret="secret",
        secret_key="readme-test-key-7Hq2Vx9Lm4Rt8Kd3Wp6Zc1Nf5",
        store=url.group(1),
    )
    assert isinstance(middleware.store, RedisStore)  # built, not connected: nothing is sent yet
    assert "OAUTH_MIDDLEWARE_STORE" in section and BY_NAME["store"].env == "OAUTH_MIDDLEWARE_STORE"
    assert "sessions revoke" in section
