"""The Redis store against a real redis-server (STORE-1, 2, 5, 6, 7, 8): namespacing, TTLs as Redis
sees them, leases across clients, an ACL user with only the commands the docs list, TLS, sessions
that leave no token in Redis, and faults (down, never answering, restarted, flushed) that raise
StoreUnavailable promptly and never hang. The Store contract itself runs in tests/test_store.py.

Fault timings are bounded generously only to catch a hang (never a speed assertion); the measured
worst cases are printed (``pytest -s``) and reported in bench/RESULTS.md.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import pathlib
import subprocess
import sys
import time
import traceback
import typing as t

import pytest

redis = pytest.importorskip("redis", reason="redis-py is not installed: pip install -e '.[test]'")

from support.contention import contend  # noqa: E402
from support.redis_server import RedisServer, Silent, free_port, redis_server_binary, start_redis  # noqa: E402

from oauth_middleware import ConfigurationError  # noqa: E402
from oauth_middleware.crypto import Cipher  # noqa: E402
from oauth_middleware.leases import Lease  # noqa: E402
from oauth_middleware.redis_store import ACL_COMMANDS, RedisStore  # noqa: E402
from oauth_middleware.session import Lifetimes, Session  # noqa: E402
from oauth_middleware.store import StoreUnavailable  # noqa: E402
from oauth_middleware.tickets import SESSION_PREFIX, StoreSessions  # noqa: E402

KEY = b"redis-test-key-3Jk8Xq1Lm5Vt9Rw2Zp7Cd4Nh6"
TOKEN = "gho_redisTestToken0123456789abcdefABCDE"
REFRESH = "ghr_redisRefreshToken0123456789abcdefABCDEFGHIJ"
PASSWORD = "Pw-9fK2xQ7-never-in-a-message"
HANG = 5.0  # seconds: an operation that takes longer than this hangs (the socket timeouts are 0.2-0.5 s)


@pytest.fixture
def server(redis_server: RedisServer) -> RedisServer:
    """The shared server, empty."""
    with redis_server.client() as admin:
        admin.flushall()
        admin.script_flush()
    return redis_server


@pytest.fixture
def own_server(tmp_path: pathlib.Path) -> t.Iterator[RedisServer]:
    """A server of this test's own, which it may stop or restart."""
    if redis_server_binary() is None:
        pytest.skip("no redis-server on PATH (.ci/run installs Debian's redis-server package)")
    started = start_redis(tmp_path / "redis")
    yield started
    started.stop()


def make_sessions(store: RedisStore) -> StoreSessions:
    return StoreSessions(
        Cipher([KEY], purpose="ticket"), store, name="oauth_session", lifetimes=Lifetimes(max_age=3600), clock=time.time
    )


def new_session(login: str = "octocat", account: int = 583231) -> Session:
    token = {"access_token": TOKEN, "refresh_token": REFRESH, "token_type": "bearer", "expires_in": 28800}
    return Session.new(user={"login": login, "id": account}, token=token, username=login, now=time.time())


def jar(headers: list[tuple[str, str]]) -> dict[str, str]:
    return {value.split("=", 1)[0]: value.split("=", 1)[1].split(";", 1)[0] for _, value in headers}


def every_operation(store: RedisStore) -> dict[str, t.Callable[[], object]]:
    return {
        "get": lambda: store.get("k"),
        "put": lambda: store.put("k", b"v", ttl=10),
        "put_if_absent": lambda: store.put("k", b"v", ttl=10, only_if_absent=True),
        "delete": lambda: store.delete("k", "l"),
        "compare_and_delete": lambda: store.compare_and_delete("k", b"v"),
        "compare_and_expire": lambda: store.compare_and_expire("k", b"v", ttl=10),
        "index_add": lambda: store.index_add("user:1", "s", ttl=10),
        "index_members": lambda: store.index_members("user:1"),
        "index_remove": lambda: store.index_remove("user:1", "s"),
        "indexes": lambda: store.indexes("user:"),
        "ping": store.ping,
    }


def worst_unavailable(store: RedisStore) -> float:
    """Run every operation; each must raise StoreUnavailable before HANG; the slowest, in seconds."""
    worst = 0.0
    for name, operation in every_operation(store).items():
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as raised:
            operation()
        elapsed = time.monotonic() - started
        assert elapsed < HANG, "%s took %.2f s" % (name, elapsed)
        assert PASSWORD not in "".join(traceback.format_exception(raised.value))
        worst = max(worst, elapsed)
    return worst


# -- without redis-py --------------------------------------------------------------------------------


def test_without_redis_py_the_package_works_and_the_store_says_how_to_install_it() -> None:
    code = (
        """
import sys
sys.modules["redis"] = None  # as if redis-py were not installed
import oauth_middleware, oauth_middleware.redis_store, oauth_middleware.tickets, oauth_middleware.leases
from oauth_middleware import ConfigurationError, OAuthMiddleware
key = "Zq3v8Lm1Xr7Tk2Wp9Nc4Bd6Hf0Js5Gy8Ua3Ee7Ri1O"
OAuthMiddleware(lambda e, s: [], client_id="id", client_secret="secret", secret_key=key)
try:
    oauth_middleware.redis_store.RedisStore(url="redis://app:%s@127.0.0.1:6379/0")
except ConfigurationError as exc:
    print(exc)
"""
        % PASSWORD
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "pip install 'oauth-login-middleware[redis]'" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr


# -- configuration -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({}, "exactly one of client= (a redis-py client) and url="),
        ({"url": "http://app:%s@cache.internal/" % PASSWORD}, "must be redis://"),
        ({"url": "redis://app:%s@cache.internal:port/0" % PASSWORD}, "not 'redis://app:***@cache.internal:<not"),
        ({"url": "redis://127.0.0.1", "prefix": ""}, "prefix must be a non-empty printable ASCII string"),
        ({"url": "redis://127.0.0.1", "socket_timeout": 0}, "socket_timeout must be a number of seconds above 0"),
        ({"url": "redis://127.0.0.1", "socket_connect_timeout": 600}, "socket_connect_timeout must be"),
        ({"url": "redis://127.0.0.1", "health_check_interval": -1}, "health_check_interval must be whole seconds"),
        ({"client": object()}, "client must be a redis.Redis or redis.cluster.RedisCluster"),
        ({"url": "redis://127.0.0.1", "ssl_ca_certs": "/ca.pem"}, "ssl_ca_certs applies to a rediss:// url only"),
        ({"client": "decoding"}, "decode_responses=False"),
    ],
)
def test_bad_options_say_how_to_fix_them_and_never_show_the_password(options: dict[str, t.Any], says: str) -> None:
    if options.get("client") == "decoding":
        options["client"] = redis.Redis(decode_responses=True)
    with pytest.raises(ConfigurationError) as raised:
        RedisStore(**options)
    assert says in str(raised.value)
    assert PASSWORD not in "".join(traceback.format_exception(raised.value))


def test_the_store_shows_where_it_connects_without_the_password(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="oauth_middleware"):
        store = RedisStore(url="redis://app:%s@cache.internal:6379/2" % PASSWORD)
    assert repr(store) == "<RedisStore redis://app:***@cache.internal:6379/2 prefix='oauth_middleware:'>"
    assert "without TLS: use rediss://" in caplog.text  # a password in clear over a network
    assert PASSWORD not in caplog.text
    store.close()


# -- on a real server --------------------------------------------------------------------------------


def test_prefixes_are_namespaces(server: RedisServer) -> None:
    first, second = RedisStore(url=server.url, prefix="app1:"), RedisStore(url=server.url, prefix="app2:")
    first.put("session:x", b"one", ttl=60)
    second.put("session:x", b"two", ttl=60)
    first.index_add("user:1", "a", ttl=60)
    assert (first.get("session:x"), second.get("session:x")) == (b"one", b"two")
    assert second.indexes("user:") == [] and second.index_members("user:1") == set()
    assert second.delete("session:x") == 1 and first.get("session:x") == b"one"
    with server.client() as admin:
        assert sorted(admin.keys("*")) == [b"app1:i:user:1", b"app1:v:session:x"]


def test_ttls_are_set_in_redis(server: RedisServer) -> None:
    store = RedisStore(url=server.url)
    with server.client() as admin:
        assert store.put("state:a", b"1", ttl=30, only_if_absent=True)
        assert 29_000 < admin.pttl("oauth_middleware:v:state:a") <= 30_000
        store.put("lock", b"mine", ttl=5)
        assert store.compare_and_expire("lock", b"mine", ttl=100)
        assert 99_000 < admin.pttl("oauth_middleware:v:lock") <= 100_000
        store.index_add("user:1", "s1", ttl=50)
        store.index_add("user:1", "s2", ttl=10)  # never shortens the index
        assert 49_000 < admin.pttl("oauth_middleware:i:user:1") <= 50_000
        store.index_add("user:1", "s3", ttl=200)
        assert 199_000 < admin.pttl("oauth_middleware:i:user:1") <= 200_000
        store.put("short", b"1", ttl=0.0001)  # below a millisecond: still expires, never persists
        assert admin.pttl("oauth_middleware:v:short") in (-2, 0, 1)


def test_a_session_key_lives_as_long_as_the_session_and_holds_no_token(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """STORE-1, STORE-2: a dump of every key in Redis reveals no token; MEMORY USAGE is reported."""
    store = RedisStore(url=server.url)
    sessions = make_sessions(store)
    cookies = jar(sessions.dump(new_session(), secure=True))
    [session_id] = sessions.user_sessions("583231")
    with server.client() as admin:
        keys = sorted(admin.keys("*"))
        assert keys == [
            b"oauth_middleware:i:user:583231",
            ("oauth_middleware:v:" + SESSION_PREFIX + session_id).encode(),
        ]
        everything = b"".join(key + t.cast(bytes, admin.dump(key)) for key in keys)
        everything += t.cast(bytes, admin.get(keys[1])) + b"".join(admin.smembers(keys[0]))
        for secret in (TOKEN, REFRESH, "octocat"):
            assert secret.encode() not in everything
        assert 3590_000 < admin.pttl(keys[1]) <= 3600_000
        assert 3590_000 < admin.pttl(keys[0]) <= 3600_000
        usage = {key: admin.memory_usage(key) for key in keys}
    loaded = sessions.load(cookies, secure=True, now=time.time())
    assert loaded is not None and loaded.session.token["access_token"] == TOKEN
    with capsys.disabled():
        print("\nMEMORY USAGE (bytes): session %d, user index %d" % (usage[keys[1]], usage[keys[0]]))
    assert usage[keys[1]] < 2048


def test_logout_on_one_host_ends_the_copied_ticket_on_the_other(server: RedisServer) -> None:
    """STORE-3, STORE-4 across two clients (two hosts)."""
    host_a, host_b = make_sessions(RedisStore(url=server.url)), make_sessions(RedisStore(url=server.url))
    cookies = jar(host_a.dump(new_session(), secure=True))
    assert host_b.load(cookies, secure=True, now=time.time()) is not None
    assert host_a.end(cookies, secure=True) is not None
    assert host_b.load(cookies, secure=True, now=time.time()) is None
    first, second = jar(host_a.dump(new_session(), secure=True)), jar(host_b.dump(new_session(), secure=True))
    assert host_b.users() == ["583231"] and len(host_a.user_sessions("583231")) == 2
    assert host_b.revoke_user("583231") == 2
    assert host_a.load(first, secure=True, now=time.time()) is None
    assert host_a.load(second, secure=True, now=time.time()) is None


def test_eight_threads_on_two_clients_never_hold_one_lease_at_once(server: RedisServer) -> None:
    """STORE-6 across two clients, as two hosts would be."""
    stores = [RedisStore(url=server.url), RedisStore(url=server.url)]
    assert contend(stores, threads=8, rounds=10) == (1, 80)
    assert stores[0].get("refresh:s") is None  # every lease released


def test_a_lease_is_renewed_in_redis_while_held_and_runs_out_when_its_holder_stops(server: RedisServer) -> None:
    store, other = RedisStore(url=server.url), RedisStore(url=server.url)
    with Lease.acquire(store, "refresh:s", seconds=0.3) as lease:  # type: ignore[union-attr]
        time.sleep(0.8)  # more than twice the lease: only the renewal (PEXPIRE) keeps it
        assert lease.held and Lease.acquire(other, "refresh:s", seconds=5) is None
    assert store.get("refresh:s") is None
    stuck = Lease.acquire(store, "refresh:t", seconds=0.3)
    assert stuck is not None
    stuck._stop.set()  # a holder that stopped renewing
    time.sleep(0.6)
    thief = Lease.acquire(other, "refresh:t", seconds=5)
    assert thief is not None
    stuck.release()  # late: must not free the new holder's lease
    assert thief.held
    thief.release()


def test_an_acl_user_with_only_the_listed_commands_can_do_everything(server: RedisServer) -> None:
    """STORE-8: the commands docs/deployment.md lists (ACL_COMMANDS) and keys under the prefix."""
    rules = ["on", ">" + PASSWORD, "resetkeys", "~acl:*", "resetchannels", "-@all"]
    rules += ["+" + command.lower() for command in ACL_COMMANDS]
    with server.client() as admin:
        admin.acl_setuser("oauthapp", reset=True)
        admin.execute_command("ACL", "SETUSER", "oauthapp", *rules)
        try:
            store = RedisStore(url="redis://oauthapp:%s@127.0.0.1:%d/0" % (PASSWORD, server.port), prefix="acl:")
            sessions = make_sessions(store)
            cookies = jar(sessions.dump(new_session(), secure=True))
            assert sessions.load(cookies, secure=True, now=time.time()) is not None
            admin.script_flush()  # as after a restart: NOSCRIPT, then SCRIPT LOAD
            lease = Lease.acquire(store, "refresh:s", seconds=5)
            assert lease is not None and lease.held
            lease.release()
            assert store.put("state:x", b"1", ttl=60, only_if_absent=True)
            assert not store.put("state:x", b"1", ttl=60, only_if_absent=True)
            assert store.compare_and_expire("state:x", b"1", ttl=60) and store.compare_and_delete("state:x", b"1")
            assert sessions.users() == ["583231"] and sessions.revoke_user("583231") == 1
            store.ping()
            # the ACL does bite: another prefix, or a command not listed
            other = RedisStore(url="redis://oauthapp:%s@127.0.0.1:%d/0" % (PASSWORD, server.port), prefix="x:")
            with pytest.raises(StoreUnavailable, match="NoPermissionError"):
                other.get("k")
            with pytest.raises(redis.exceptions.NoPermissionError):
                store.client.keys("*")
        finally:
            admin.acl_deluser("oauthapp")


def test_a_wrong_password_is_store_unavailable_and_never_shown(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    with server.client() as admin:
        admin.execute_command("ACL", "SETUSER", "oauthapp", "on", ">right-password", "~*", "+@all")
        try:
            store = RedisStore(url="redis://oauthapp:%s@127.0.0.1:%d/0" % (PASSWORD, server.port))
            with caplog.at_level(logging.DEBUG):
                worst = worst_unavailable(store)
            assert PASSWORD not in caplog.text
            with pytest.raises(StoreUnavailable, match="AuthenticationError"):
                store.get("k")
        finally:
            admin.acl_deluser("oauthapp")
    assert worst < HANG


def _certificates(directory: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
    """A private CA and a server certificate for 127.0.0.1 (files: ca, cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject: str, key: t.Any, issuer: str, signer: t.Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = certificate("test CA", ca_key, "test CA", ca_key, True)
    server_cert = certificate("127.0.0.1", server_key, "test CA", ca_key, False)
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def test_tls_with_rediss_verifies_the_server(tmp_path: pathlib.Path) -> None:
    """STORE-8: rediss:// with the server's CA works; without it (an unknown CA) it is refused."""
    if redis_server_binary() is None:
        pytest.skip("no redis-server on PATH (.ci/run installs Debian's redis-server package)")
    ca, cert, key = _certificates(tmp_path)
    tls_port = free_port()
    tls = ["--tls-port", str(tls_port), "--tls-cert-file", str(cert), "--tls-key-file", str(key)]
    tls += ["--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no"]
    try:
        tls_server = start_redis(tmp_path / "redis", *tls, attempts=1)
    except RuntimeError as exc:
        if "tls" in str(exc).lower() and ("bad directive" in str(exc).lower() or "not supported" in str(exc).lower()):
            pytest.skip("this redis-server was built without TLS")
        raise
    try:
        url = "rediss://127.0.0.1:%d/0" % tls_port
        store = RedisStore(url=url, ssl_ca_certs=str(ca))
        assert store.put("k", b"over TLS", ttl=10) and store.get("k") == b"over TLS"
        store.close()
        with pytest.raises(StoreUnavailable):  # the system's trust store does not know our CA
            RedisStore(url=url).get("k")
        with pytest.raises(StoreUnavailable):  # plain text to the TLS port
            RedisStore(url="redis://127.0.0.1:%d/0" % tls_port).get("k")
    finally:
        tls_server.stop()


# -- faults ------------------------------------------------------------------------------------------


def test_a_redis_that_goes_down_raises_store_unavailable_promptly(
    own_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """STORE-7: stopped mid-test; every operation, a lease and a session load fail fast."""
    url = "redis://:%s@127.0.0.1:%d/0" % (PASSWORD, own_server.port)
    with own_server.client() as admin:
        admin.config_set("requirepass", PASSWORD)
    store = RedisStore(url=url)
    sessions = make_sessions(store)
    cookies = jar(sessions.dump(new_session(), secure=True))
    own_server.stop()
    worst = worst_unavailable(store)
    with pytest.raises(StoreUnavailable):
        sessions.load(cookies, secure=True, now=time.time())
    with pytest.raises(StoreUnavailable):
        Lease.acquire(store, "refresh:s", seconds=5, wait=0.2)
    with capsys.disabled():
        print("\nRedis down: worst operation %.1f ms" % (worst * 1000))


def test_a_redis_that_never_answers_costs_one_socket_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    """STORE-7: slow means bounded by socket_timeout, not retried, never a hang."""
    silent = Silent()
    try:
        store = RedisStore(url="redis://:%s@127.0.0.1:%d/0" % (PASSWORD, silent.port), socket_timeout=0.2)
        worst = worst_unavailable(store)
        # one timeout, never retried (redis-py's own default retries 10 times: over 2 s here)
        assert worst < 1.0, "%.2f s for a socket_timeout of 0.2 s" % worst
        with pytest.raises(StoreUnavailable, match="Timeout"):
            store.get("k")
        store.close()
    finally:
        silent.stop()
    with capsys.disabled():
        print("\nRedis silent, socket_timeout 0.2 s: worst operation %.1f ms" % (worst * 1000))


def test_nothing_listening_is_store_unavailable() -> None:
    store = RedisStore(url="redis://app:%s@127.0.0.1:%d/0" % (PASSWORD, free_port()))
    assert worst_unavailable(store) < HANG


def test_a_restarted_redis_forgets_sessions_and_the_same_store_works_again(own_server: RedisServer) -> None:
    """STORE-7: the ticket simply no longer opens (a clean re-login); no new client needed."""
    store = RedisStore(url=own_server.url)
    sessions = make_sessions(store)
    cookies = jar(sessions.dump(new_session(), secure=True))
    assert sessions.load(cookies, secure=True, now=time.time()) is not None
    own_server.restart()  # same port, empty (persistence off): pooled connections are dead
    assert sessions.load(cookies, secure=True, now=time.time()) is None
    fresh = jar(sessions.dump(new_session(), secure=True))
    assert sessions.load(fresh, secure=True, now=time.time()) is not None
    lease = Lease.acquire(store, "refresh:s", seconds=5)  # the scripts are loaded again (NOSCRIPT)
    assert lease is not None
    lease.release()
    assert store.get("refresh:s") is None


def test_a_flushed_redis_means_a_clean_relogin(server: RedisServer) -> None:
    store = RedisStore(url=server.url)
    sessions = make_sessions(store)
    cookies = jar(sessions.dump(new_session(), secure=True))
    with server.client() as admin:
        admin.flushall()
        admin.script_flush()
    assert sessions.load(cookies, secure=True, now=time.time()) is None
    assert sessions.user_sessions("583231") == set() and sessions.revoke_user("583231") == 0
    assert store.put("refresh:s", b"t", ttl=5) and store.compare_and_delete("refresh:s", b"t")


def test_a_client_built_by_the_caller_is_used_as_given(server: RedisServer) -> None:
    client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=0.5)
    store = RedisStore(client, prefix="mine:")
    assert store.put("k", b"v", ttl=10) and store.get("k") == b"v"
    store.close()  # not ours to close
    assert client.get("mine:v:k") == b"v"
    assert json.dumps(repr(store)) == json.dumps("<RedisStore Redis prefix='mine:'>")
    client.close()


def test_the_redis_benchmark_runs_and_prints_its_tables() -> None:
    """bench/redis_store.py --quick (its own redis-server, stopped by PID); no timing asserted."""
    if redis_server_binary() is None:
        pytest.skip("no redis-server on PATH (.ci/run installs Debian's redis-server package)")
    root = pathlib.Path(__file__).parent.parent
    done = subprocess.run(
        [sys.executable, str(root / "bench" / "redis_store.py"), "--quick"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| operation | MemoryStore us | RedisStore us | difference us |" in done.stdout
    assert "| MEMORY USAGE of a session key" in done.stdout


def test_sessions_and_leases_on_a_redis_cluster(redis_cluster: t.Any) -> None:
    """Every operation is single-key: sessions spread over the nodes, and revoking a user deletes
    keys in several slots at once (no CROSSSLOT)."""
    client, other = redis_cluster.client(), redis_cluster.client()
    client.flushdb()
    try:
        store = RedisStore(client)
        sessions = make_sessions(store)
        tickets = [jar(sessions.dump(new_session(), secure=True)) for _ in range(8)]
        nodes = {
            client.get_node_from_key(key).port for key in client.scan_iter(match="oauth_middleware:v:*", count=1000)
        }
        assert len(nodes) > 1  # the session keys really live on several nodes
        assert all(sessions.load(ticket, secure=True, now=time.time()) is not None for ticket in tickets)
        assert contend([store, RedisStore(other)], threads=4, rounds=5) == (1, 20)
        assert sessions.revoke_user("583231") == 8
        assert all(sessions.load(ticket, secure=True, now=time.time()) is None for ticket in tickets)
    finally:
        client.close()
        other.close()


def test_a_sentinel_managed_master_survives_a_failover(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A client from Sentinel's ``master_for`` (built as docs/deployment.md shows): the master is
    stopped, Sentinel promotes the replica, and the same store serves the replicated session again."""
    import redis.sentinel
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    from support.redis_server import start_sentinel

    if redis_server_binary() is None:
        pytest.skip("no redis-server on PATH (.ci/run installs Debian's redis-server package)")
    master = start_redis(tmp_path / "master")
    started = [master]
    try:
        replica = start_redis(tmp_path / "replica", "--replicaof", "127.0.0.1", str(master.port))
        started.append(replica)
        with master.client() as admin:
            deadline = time.monotonic() + 20
            while admin.info("replication")["connected_slaves"] < 1:
                assert time.monotonic() < deadline, "the replica did not connect"
                time.sleep(0.1)
        sentinel = start_sentinel(tmp_path / "sentinel", master)
        started.append(sentinel)
        options = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
        sentinels: t.Any = t.cast(t.Any, redis.sentinel).Sentinel(
            [("127.0.0.1", sentinel.port)], sentinel_kwargs=options, **options
        )
        client = sentinels.master_for(
            "mymaster", retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)), **options
        )
        store = RedisStore(client)
        sessions = make_sessions(store)
        cookies = jar(sessions.dump(new_session(), secure=True))
        # the replica has the session (WAIT in steps shorter than the socket timeout)
        assert any(client.wait(1, 300) == 1 for _ in range(30)), "the replica did not acknowledge"
        master.stop()
        failed_over_at, unavailable, loaded = time.monotonic(), 0, None
        deadline = failed_over_at + 30
        while loaded is None and time.monotonic() < deadline:
            try:
                loaded = sessions.load(cookies, secure=True, now=time.time())
            except StoreUnavailable:
                unavailable += 1
                time.sleep(0.1)
        assert loaded is not None, "no failover within 30 s"
        assert sentinels.discover_master("mymaster") == ("127.0.0.1", replica.port)
        assert store.put("after", b"failover", ttl=10) and store.get("after") == b"failover"
        client.close()
        for connection in sentinels.sentinels:
            connection.close()
        with capsys.disabled():
            print("\nSentinel failover: store unavailable for %.1f s" % (time.monotonic() - failed_over_at))
    finally:
        for server in started:
            server.stop()


def test_the_acl_rule_in_the_docs_grants_exactly_the_commands_the_store_sends() -> None:
    """docs/deployment.md's ACL SETUSER line is the one the ACL test runs (ACL_COMMANDS)."""
    text = (pathlib.Path(__file__).parent.parent / "docs" / "deployment.md").read_text()
    [line] = [line for line in text.splitlines() if line.startswith("ACL SETUSER oauth ")]
    granted = [word[1:].upper() for word in line.split() if word.startswith("+")]
    assert granted == list(ACL_COMMANDS)
    assert "~oauth_middleware:*" in line and "-@all" in line


@pytest.mark.parametrize(
    ("name", "location"),
    [("redis_settings.py", "rediss://oauth:***@redis.internal:6380/0"), ("redis_sentinel.py", "Redis")],
)
def test_the_documented_redis_settings_build_a_store(name: str, location: str) -> None:
    """docs/deployment.md's examples run as written (neither connects until the first request)."""
    from support.docs import python_files

    namespace: dict[str, t.Any] = {}
    exec(compile(python_files("docs/deployment.md")[name], name, "exec"), namespace)
    store = namespace["store"]
    assert isinstance(store, RedisStore) and store.location == location
    store.close()


def test_a_cluster_node_down_fails_its_keys_promptly_and_the_others_still_work(tmp_path: pathlib.Path) -> None:
    """STORE-7 on Cluster: keys in the stopped node's slots are StoreUnavailable (fast); others answer."""
    from support.redis_server import start_cluster

    if redis_server_binary() is None:
        pytest.skip("no redis-server on PATH (.ci/run installs Debian's redis-server package)")
    cluster = start_cluster(tmp_path / "cluster")
    client: t.Any = cluster.client(socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        store = RedisStore(client)
        keys = ["session:%d" % number for number in range(30)]
        for key in keys:
            store.put(key, b"v", ttl=60)
        stopped = cluster.nodes[1].port
        on_stopped = {key for key in keys if client.get_node_from_key(store._value(key)).port == stopped}
        assert 0 < len(on_stopped) < len(keys)
        cluster.nodes[1].stop()
        for key in keys:
            started = time.monotonic()
            if key in on_stopped:
                with pytest.raises(StoreUnavailable):
                    store.get(key)
            else:
                assert store.get(key) == b"v"
            assert time.monotonic() - started < HANG
    finally:
        client.close()
        cluster.stop()
