"""A real ``redis-server`` for tests and benchmarks: on a free 127.0.0.1 port, persistence off,
started in its own process group, ready when it answers ``PING``, stopped by PID.

Redis has no clock a test can move, so :func:`age_keys` makes time pass the way Redis sees it:
every key under a prefix loses the same number of milliseconds of its TTL (and goes when none is
left).
"""

from __future__ import annotations

import dataclasses
import pathlib
import shutil
import socket
import subprocess
import threading
import time
import typing as t

from .servers import Server

START_TIMEOUT = 10.0  # seconds for redis-server to answer PING
PING_TIMEOUT = 0.5  # seconds per PING attempt

if t.TYPE_CHECKING:
    import redis
    import redis.cluster


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ping(port: int, timeout: float = PING_TIMEOUT) -> bool:
    """Whether a Redis on 127.0.0.1:``port`` answers ``PING`` (plain RESP, no client library)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclasses.dataclass
class RedisServer:
    """A running redis-server; :meth:`restart` brings it back on the same port, empty."""

    directory: pathlib.Path
    port: int
    extra: tuple[str, ...]
    server: Server | None = None
    config: pathlib.Path | None = None  # a config file, first on the command line (Sentinel needs one)

    @property
    def url(self) -> str:
        return "redis://127.0.0.1:%d/0" % self.port

    def start(self) -> None:
        binary = redis_server_binary()
        assert binary is not None, "no redis-server on PATH"
        command = [
            binary,
            *([str(self.config)] if self.config else []),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--protected-mode",
            "yes",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            "--daemonize",
            "no",
            *self.extra,
        ]
        stderr_path = self.directory / ("redis-%d.log" % self.port)
        with open(stderr_path, "ab") as log:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        self.server = Server("redis-server", process, self.url, stderr_path)
        deadline = time.monotonic() + START_TIMEOUT
        while not ping(self.port):
            if process.poll() is not None or time.monotonic() > deadline:
                output = self.server.stderr()
                self.stop()
                raise RuntimeError("redis-server did not start on port %d:\n%s" % (self.port, output))
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self, **options: t.Any) -> redis.Redis:
        import redis

        options.setdefault("socket_timeout", 5)
        return redis.Redis(host="127.0.0.1", port=self.port, **options)


def start_redis(
    directory: pathlib.Path, *extra: str, attempts: int = 3, config: pathlib.Path | None = None
) -> RedisServer:
    """A redis-server on a free port (another process may take the port between the probe and the
    start: then a new port, ``attempts`` times)."""
    directory.mkdir(parents=True, exist_ok=True)
    for attempt in range(attempts):
        server = RedisServer(directory, free_port(), tuple(extra), config=config)
        try:
            server.start()
            return server
        except RuntimeError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def age_keys(client: redis.Redis, prefix: str, seconds: float) -> None:
    """Let ``seconds`` pass for every key under ``prefix``: its TTL shrinks by that much."""
    step = int(seconds * 1000)
    for key in client.scan_iter(match=prefix + "*", count=1000):
        remaining = int(client.pttl(key))
        if remaining < 0:
            continue  # no expiry (or gone meanwhile)
        if remaining <= step:
            client.delete(key)
        else:
            client.pexpire(key, remaining - step)


class Silent:
    """A TCP server on 127.0.0.1 that accepts connections and never answers (a hung Redis)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        deadline = time.monotonic() + 120  # bounded even if the test forgets to stop it
        while not self.stopped.is_set() and time.monotonic() < deadline:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:
                continue

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        for connection in [*self.held, self.listener]:
            connection.close()


@dataclasses.dataclass
class RedisCluster:
    """A Redis Cluster of ``len(nodes)`` primaries (no replicas), the slots split evenly."""

    nodes: list[RedisServer]

    def client(self, **options: t.Any) -> redis.cluster.RedisCluster:
        import redis.cluster

        options.setdefault("socket_timeout", 5)
        return redis.cluster.RedisCluster(host="127.0.0.1", port=self.nodes[0].port, **options)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def start_cluster(directory: pathlib.Path, size: int = 3) -> RedisCluster:
    """Start ``size`` nodes in cluster mode, give each a third of the 16384 slots, introduce them
    (CLUSTER MEET) and wait until every node says ``cluster_state:ok``."""
    cluster = RedisCluster([])
    # the bus port by default is the port + 10000: past 65535 for an ephemeral port
    buses = [free_port() for _ in range(size)]
    try:
        for number, bus in enumerate(buses):
            config = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", str(bus))
            cluster.nodes.append(start_redis(directory / ("node%d" % number), *config))
        clients: list[t.Any] = [node.client() for node in cluster.nodes]  # CLUSTER commands are untyped
        bounds = [16384 * number // size for number in range(size + 1)]
        for number, client in enumerate(clients):
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", bounds[number], bounds[number + 1] - 1)
        for node, bus in zip(cluster.nodes[1:], buses[1:], strict=True):
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", node.port, bus)
        deadline = time.monotonic() + START_TIMEOUT * 2
        while not all(b"cluster_state:ok" in client.execute_command("CLUSTER", "INFO") for client in clients):
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not become ready in %s s" % (START_TIMEOUT * 2))
            time.sleep(0.1)
        for client in clients:
            client.close()
        return cluster
    except BaseException:  # whatever failed, no node outlives the attempt
        cluster.stop()
        raise


def start_sentinel(directory: pathlib.Path, master: RedisServer, name: str = "mymaster") -> RedisServer:
    """A Sentinel (quorum 1) watching ``master``: it declares it down after 500 ms and fails over."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "sentinel.conf"  # Sentinel rewrites it: one file per sentinel
    config.write_text(
        "sentinel monitor %s 127.0.0.1 %d 1\n"
        "sentinel down-after-milliseconds %s 500\n"
        "sentinel failover-timeout %s 5000\n" % (name, master.port, name, name)
    )
    return start_redis(directory, "--sentinel", config=config)
