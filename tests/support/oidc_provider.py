"""panva's oidc-provider (OpenID Certified, npm, pinned in tests/oidc_provider/package.json and
package-lock.json) run with Node on 127.0.0.1 for the interoperability tests, and a helper to
read its login and consent forms."""

from __future__ import annotations

import hashlib
import html
import http.cookiejar
import pathlib
import re
import shutil
import socket
import subprocess
import typing as t
import urllib.parse
from urllib.parse import urljoin

import pytest
import requests

from tests.support.servers import Server, server_env, wait_healthy

HARNESS = pathlib.Path(__file__).parent.parent / "oidc_provider"
INSTALL = HARNESS / ".install"  # ignored by git: node_modules and npm's cache
NPM_TIMEOUT = 300  # seconds for `npm ci`
CLIENT_ID = "harness-client"
CLIENT_SECRET = "harness-client-secret-0123456789abcdef"
REDIRECT_URI = "https://app.example.com/auth/callback"
TIMEOUT = 10  # seconds, every request
MAX_HOPS = 12  # redirects and forms followed by the "browser" in one login
NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "ENETUNREACH", "network")


def install() -> None:
    """`npm ci` the pinned oidc-provider into tests/oidc_provider/.install (once per lock file)."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node/npm are not installed (.ci/run installs them from Debian when it can)")
    lock = (HARNESS / "package-lock.json").read_bytes()
    stamp = INSTALL / "installed-lock.sha256"
    digest = hashlib.sha256(lock).hexdigest()
    INSTALL.mkdir(exist_ok=True)
    for name in ("package.json", "package-lock.json", "server.js"):
        shutil.copyfile(HARNESS / name, INSTALL / name)
    if stamp.exists() and stamp.read_text() == digest and (INSTALL / "node_modules" / "oidc-provider").is_dir():
        return
    try:
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--cache", str(INSTALL / "npm-cache")],
            cwd=INSTALL,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
            env=server_env(),
        )
    except subprocess.TimeoutExpired:
        pytest.skip("npm ci did not finish in %d s: is the npm registry reachable?" % NPM_TIMEOUT)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-5:])
        if any(marker in result.stderr for marker in NETWORK_ERRORS):
            pytest.skip("the npm registry cannot be reached: " + tail)
        pytest.fail("npm ci failed:\n" + tail)
    stamp.write_text(digest)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(tmp_path_factory: pytest.TempPathFactory, redirect_uri: str = REDIRECT_URI) -> t.Iterator[Server]:
    """Install if need be, start oidc-provider on a free port, yield it, stop it by PID.

    :param redirect_uri: the client's one registered redirect URI (its origin + ``/`` is the
        registered post_logout_redirect_uri).
    """
    install()
    port = free_port()
    stderr_path = tmp_path_factory.mktemp("oidc-provider") / "stderr.log"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            ["node", "server.js", str(port), redirect_uri],
            cwd=INSTALL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=server_env(NODE_ENV="test"),
            start_new_session=True,  # its own process group: stopped by PID with everything it started
        )
    server = Server("oidc-provider", process, "http://127.0.0.1:%d" % port, stderr_path)
    try:
        wait_healthy(server, "/.well-known/openid-configuration")
        yield server
    finally:
        server.stop()


def first_form(page: str, base: str) -> tuple[str, dict[str, str]]:
    """The first form of ``page``: its absolute action and its named inputs' values."""
    match = re.search(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', page, re.S)
    assert match, "no form on the provider's page"
    fields = {}
    for tag in re.findall(r"<input[^>]*>", match.group(2)):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[html.unescape(name.group(1))] = html.unescape(value.group(1)) if value else ""
    return urljoin(base, html.unescape(match.group(1))), fields


class Proxy:
    """A WSGI application that forwards each request to ``base_url`` (the running oidc-provider)
    and returns its answer as it is (redirects not followed), so WebTest can drive the provider's
    own pages: its forms, its cookies, its redirects.

    :param base_url: ``http://127.0.0.1:PORT``.
    """

    HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length"})

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.http.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))  # WebTest keeps them

    def __call__(self, environ: t.Any, start_response: t.Any) -> list[bytes]:
        url = self.base_url + urllib.parse.quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
        if environ.get("QUERY_STRING"):
            url += "?" + environ["QUERY_STRING"]
        headers = {
            key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        headers.pop("Host", None)
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        answer = self.http.request(
            environ["REQUEST_METHOD"], url, headers=headers, data=body, allow_redirects=False, timeout=10
        )
        kept = [(name, value) for name, value in answer.raw.headers.items() if name.lower() not in self.HOP_BY_HOP]
        start_response("%d %s" % (answer.status_code, answer.reason), kept)
        return [answer.content]
