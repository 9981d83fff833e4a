"""Take ``docs/screenshot.png``: the demo's profile page, logged in through a real headless browser.

    .venv/bin/pip install -e '.[test]' playwright    # and Chromium: apt-get install -y chromium
    .venv/bin/python scripts/screenshot.py           # -> docs/screenshot.png

It starts ``gunicorn --workers 2 demo_app:app`` on an ephemeral 127.0.0.1 port with the embedded
fake GitHub (its consent page shown), logs in as octocat in headless Chromium driven by Playwright,
screenshots ``/profile`` at a fixed 1000x700 viewport and stops everything.

Chromium is the system one (``--chromium PATH``, else ``$CHROMIUM_PATH``, else ``chromium``,
``chromium-browser``, ``google-chrome`` on ``PATH``): ``playwright install`` is not needed.
tests/test_browser.py logs in with :func:`log_in` from here, so CI checks this script's steps too.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import typing as t
import urllib.error
import urllib.request

from playwright.sync_api import Browser, Page, Playwright, ViewportSize, expect, sync_playwright

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "screenshot.png"
VIEWPORT: ViewportSize = {"width": 1000, "height": 700}
CONSENT_PATH = "/_fake_github/login/oauth/authorize"

#: Flags for Chromium run headless as root in a container, without talking to anything but the
#: page's server (the background-networking flags keep it from calling Google's services).
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",  # root, and containers without user namespaces; only our own pages are loaded
    "--disable-gpu",
    "--disable-dev-shm-usage",  # small /dev/shm in containers
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-proxy-server",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

STEP_TIMEOUT = 5.0  # seconds for each browser wait (navigation, click, assertion)
LAUNCH_TIMEOUT = 15.0  # seconds for Chromium to start
START_TIMEOUT = 20.0  # seconds for the demo to answer /healthz
STOP_TIMEOUT = 5.0  # seconds after SIGTERM, then SIGKILL

#: Variables that would make the demo use real GitHub, auto-approve, or bind elsewhere.
_DROPPED_ENV = (
    "GITHUB_OAUTH_CLIENT_ID",
    "GITHUB_OAUTH_CLIENT_SECRET",
    "OAUTH_MIDDLEWARE_SECRET_KEY",
    "OAUTH_MIDDLEWARE_REDIRECT_URI",
    "OAUTH_MIDDLEWARE_ALLOW_INSECURE_HTTP",
    "DEMO_AUTO_APPROVE",
    "GUNICORN_CMD_ARGS",
    "WEB_CONCURRENCY",
    "PORT",
)


# -- the browser --------------------------------------------------------------------------------


def find_chromium(explicit: str | None = None) -> str | None:
    """The Chromium executable to drive: ``explicit``, ``$CHROMIUM_PATH``, or one on ``PATH``."""
    for candidate in (explicit, os.environ.get("CHROMIUM_PATH")):
        if candidate:
            return candidate if os.access(candidate, os.X_OK) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def launch(playwright: Playwright, executable: str) -> Browser:
    """Headless Chromium with a fresh temporary profile (Playwright makes and removes it)."""
    return playwright.chromium.launch(
        executable_path=executable,
        args=list(CHROMIUM_ARGS),
        timeout=LAUNCH_TIMEOUT * 1000,
    )


def open_consent_page(page: Page, base_url: str) -> None:
    """From the home page, "Log in with GitHub": ends on the fake GitHub's consent page."""
    page.goto(base_url + "/")
    page.get_by_role("link", name="Log in with GitHub").click()
    expect(page).to_have_url(re.compile("^" + re.escape(base_url + CONSENT_PATH) + r"\?"))
    expect(page.get_by_role("heading", name="Authorize application")).to_be_visible()


def approve(page: Page, base_url: str, login: str = "octocat") -> None:
    """On the consent page, pick ``login`` and Approve: ends back on the home page, logged in."""
    page.get_by_role("radio", name=re.compile("^" + re.escape(login) + r"\b")).check()
    page.get_by_role("button", name="Approve").click()
    expect(page).to_have_url(base_url + "/")
    expect(page.get_by_role("button", name="Log out " + login)).to_be_visible()


def log_in(page: Page, base_url: str, login: str = "octocat") -> None:
    """The whole login as a user does it; every wait is bounded by the page's default timeout."""
    open_consent_page(page, base_url)
    approve(page, base_url, login)


# -- the demo server ----------------------------------------------------------------------------


def _gunicorn_extra_options() -> list[str]:
    names = {setting.name for setting in importlib.import_module("gunicorn.config").KNOWN_SETTINGS}
    # gunicorn >= 25 opens a control socket at one fixed path per user by default
    return ["--no-control-socket"] if "control_socket_disable" in names else []


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, then SIGKILL; always reaps it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=STOP_TIMEOUT)
            return
        except subprocess.TimeoutExpired:
            continue
    process.wait(timeout=STOP_TIMEOUT)


def _wait_healthy(process: subprocess.Popen[bytes], url: str, stderr_path: pathlib.Path) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy to 127.0.0.1
    deadline = time.monotonic() + START_TIMEOUT
    last: object = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the demo exited with %s:\n%s" % (process.returncode, stderr_path.read_text()))
        try:
            with opener.open(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
                last = response.status
        except (OSError, urllib.error.URLError) as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError("the demo is not healthy after %ss (%r):\n%s" % (START_TIMEOUT, last, stderr_path.read_text()))


@contextlib.contextmanager
def demo_server(workdir: pathlib.Path) -> t.Iterator[str]:
    """``gunicorn --workers 2 demo_app:app`` on 127.0.0.1, an ephemeral port; yields its URL.

    gunicorn gets the listening socket already bound (``--bind fd://N``), so no other process can
    take the port in between. Its stderr goes to ``workdir/demo.stderr.log``.
    """
    env = {name: value for name, value in os.environ.items() if name not in _DROPPED_ENV}
    env.update(PYTHONUNBUFFERED="1", OAUTH_MIDDLEWARE_SECRET_KEY=secrets.token_urlsafe(32))
    stderr_path = workdir / "demo.stderr.log"
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        listener.set_inheritable(True)
        port, fd = listener.getsockname()[1], listener.fileno()
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--bind",
            f"fd://{fd}",
            "--chdir",
            str(ROOT),
            "--graceful-timeout",
            "2",
            *_gunicorn_extra_options(),
            "demo_app:app",
        ]
        with open(stderr_path, "wb") as stderr:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                pass_fds=(fd,),
                start_new_session=True,
            )
    finally:
        listener.close()  # gunicorn holds its own copy
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(process, url, stderr_path)
        yield url
    finally:
        _stop(process)


# -- the screenshot -----------------------------------------------------------------------------


def take_screenshot(output: pathlib.Path, chromium: str, login: str = "octocat") -> None:
    """Log in as ``login`` and save the profile page, exactly the viewport, to ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="oauth-screenshot-") as workdir,
        demo_server(pathlib.Path(workdir)) as base_url,
        sync_playwright() as playwright,
    ):
        browser = launch(playwright, chromium)
        try:
            context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1, locale="en-US")
            context.set_default_timeout(STEP_TIMEOUT * 1000)
            page = context.new_page()
            log_in(page, base_url, login)
            page.goto(base_url + "/profile")
            expect(page.locator("#profile")).to_be_visible()
            expect(page.locator("#login-name")).to_have_text("@" + login)
            avatar = page.locator("#profile img")
            expect(avatar).to_be_visible()
            expect(avatar).not_to_have_js_property("naturalWidth", 0)  # the avatar (a data: URL) is decoded
            page.screenshot(path=str(output), full_page=False, animations="disabled")
            context.close()
        finally:
            browser.close()


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--output", type=pathlib.Path, default=DEFAULT_OUTPUT, help="PNG to write (%(default)s)")
    parser.add_argument("--chromium", help="the Chromium executable (default: $CHROMIUM_PATH, or found on PATH)")
    parser.add_argument("--login", default="octocat", help="the fake GitHub user to log in as (%(default)s)")
    args = parser.parse_args(argv)
    chromium = find_chromium(args.chromium)
    if chromium is None:
        parser.error("no Chromium found: apt-get install -y chromium, or pass --chromium PATH")
    started = time.monotonic()
    take_screenshot(args.output, chromium, args.login)
    print("wrote %s in %.1fs" % (args.output, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
