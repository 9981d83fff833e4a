"""Real servers for end-to-end tests: gunicorn on an already bound 127.0.0.1 socket, health
checks with timeouts, and stopping by process group (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
import pathlib
import re
import select
import signal
import socket
import subprocess
import sys
import time
import typing as t

import requests

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent  # the repository
SECRET_KEY = "e2e-test-key-0123456789abcdefghijklmnopqrstuvwxyz"  # fixed, >= 32 bytes
REQUEST_TIMEOUT = 10.0  # seconds, for every HTTP request the end-to-end tests make
START_TIMEOUT = 20.0  # seconds for a server to answer its health check
STOP_TIMEOUT = 5.0  # seconds after SIGTERM (then SIGKILL), and again after SIGKILL
ACCESS_LOG_FORMAT = "%(p)s %(m)s %(U)s %(s)s"  # worker pid, method, path (never the query), status

#: Variables of the caller's environment that would change what the servers do.
_DROPPED_ENV = (
    "GITHUB_OAUTH_CLIENT_ID",
    "GITHUB_OAUTH_CLIENT_SECRET",
    "OAUTH_MIDDLEWARE_SECRET_KEY",
    "OAUTH_MIDDLEWARE_REDIRECT_URI",
    "OAUTH_MIDDLEWARE_ALLOW_INSECURE_HTTP",
    "DEMO_AUTO_APPROVE",
    "GUNICORN_CMD_ARGS",
    "WEB_CONCURRENCY",
    "FORWARDED_ALLOW_IPS",
    "PORT",
    "PYTHONWARNINGS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


# -- processes ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Server:
    """A server process started in its own session, with its stderr in a file."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    stderr_path: pathlib.Path
    access_log: pathlib.Path | None = None

    def stderr(self, tail: int = 200) -> str:
        try:
            lines = self.stderr_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-tail:])

    def worker_pids(self) -> set[str]:
        """The pids of the gunicorn workers that wrote an access log line so far."""
        if self.access_log is None or not self.access_log.exists():
            return set()
        return {line.split(" ", 1)[0] for line in self.access_log.read_text().splitlines() if line.startswith("<")}

    def stop(self) -> None:
        """SIGTERM to the process group, then SIGKILL; always reaps the process.

        The leader is waited for without being reaped (``WNOWAIT``) so that its pid, the group's
        id, cannot be reused while stray members of the group are killed.
        """
        process = self.process
        if process.returncode is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
                if _exited(process.pid, STOP_TIMEOUT):
                    break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # a worker still exiting: no strays
        process.wait(timeout=STOP_TIMEOUT)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _exited(pid: int, timeout: float) -> bool:
    """Whether child ``pid`` exits within ``timeout`` seconds; it is left unreaped (a zombie)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None:
                return True
        except ChildProcessError:  # already reaped
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


#: Servers running now (started by start_gunicorn); a failing test's report gets their stderr.
LIVE: list[Server] = []


def server_env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in _DROPPED_ENV}
    env.update(PYTHONUNBUFFERED="1", NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    env.update(extra)
    return env


def http_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment between us and 127.0.0.1
    return session


def wait_healthy(server: Server, path: str = "/healthz") -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last: object = None
    with http_session() as session:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise AssertionError(
                    f"{server.name} exited with {server.process.returncode} while starting:\n{server.stderr()}"
                )
            try:
                response = session.get(server.url + path, timeout=2)
                if response.status_code == 200:
                    return
                last = response.status_code
            except requests.RequestException as exc:
                last = exc
            time.sleep(0.1)
    raise AssertionError(f"{server.name} not healthy after {START_TIMEOUT}s ({last!r}):\n{server.stderr()}")


def _gunicorn_extra_options() -> list[str]:
    names = {setting.name for setting in importlib.import_module("gunicorn.config").KNOWN_SETTINGS}
    # gunicorn >= 25 opens a control socket at one fixed path per user by default: two servers
    # (or a developer's own gunicorn) would fight over it
    return ["--no-control-socket"] if "control_socket_disable" in names else []


def start_gunicorn(
    name: str,
    app: str,
    *,
    workers: int,
    chdir: pathlib.Path,
    logdir: pathlib.Path,
    env: dict[str, str],
    health_path: str = "/healthz",
) -> Server:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        listener.set_inheritable(True)
        port = listener.getsockname()[1]
        fd = listener.fileno()
        stderr_path = logdir / f"{name}.stderr.log"
        access_log = logdir / f"{name}.access.log"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"fd://{fd}",  # the socket bound above: 127.0.0.1, an ephemeral port, no race
            "--chdir",
            str(chdir),
            "--graceful-timeout",
            "2",
            "--timeout",
            "30",
            "--access-logfile",
            str(access_log),
            "--access-logformat",
            ACCESS_LOG_FORMAT,
            *_gunicorn_extra_options(),
            app,
        ]
        with open(stderr_path, "wb") as stderr:
            process = subprocess.Popen(
                command,
                cwd=chdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                pass_fds=(fd,),
                start_new_session=True,
            )
    finally:
        listener.close()  # gunicorn holds its own copy; the port is freed when it exits
    server = Server(name, process, f"http://127.0.0.1:{port}", stderr_path, access_log)
    LIVE.append(server)
    try:
        wait_healthy(server, health_path)
    except BaseException:
        LIVE.remove(server)
        server.stop()
        raise
    return server


def stop(server: Server) -> None:
    if server in LIVE:
        LIVE.remove(server)
    server.stop()


def read_line(stream: t.IO[bytes], timeout: float) -> str:
    """One line from a pipe, waiting at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    data = b""
    fd = stream.fileno()
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise TimeoutError(f"no complete line within {timeout}s (got {data!r})")
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace")


def start_announced(
    name: str, command: list[str], *, cwd: pathlib.Path, env: dict[str, str], logdir: pathlib.Path
) -> tuple[Server, str]:
    """Start ``command`` (a server that binds 127.0.0.1 port 0 and prints ``listening on URL ``
    first) in its own session: the server with its URL (stop it with :func:`stop`), and that first line."""
    stderr_path = logdir / f"{name}.stderr.log"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
    server = Server(name, process, "", stderr_path)
    LIVE.append(server)
    try:
        assert process.stdout is not None
        banner = read_line(process.stdout, START_TIMEOUT)
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+) ", banner)
        assert match, f"unexpected banner {banner!r}:\n{server.stderr()}"
        server.url = match.group(1)
    except BaseException:
        stop(server)
        raise
    return server, banner
