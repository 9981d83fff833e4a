"""Who may come in: allow-lists of users, organisations and teams, memberships in the environ,
the email fill-in, GitHub Enterprise and custom providers (issue 4, items 1-3).

Most tests log in for real against an in-process FakeGitHub; the few that need GitHub answers the
fake cannot give (a hostile pagination link, an unverified primary email) put a canned answer in
front of it with the `github` fixture's FaultAdapter.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing as t
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import webob
import webtest
from support import HTTPS, SECRET_KEY, FakeClock, GitHubMock, downstream, log_in, start_login

from oauth_middleware import ConfigurationError, GitHub, OAuthMiddleware, Provider
from oauth_middleware.access import MAX_GROUPS
from oauth_middleware.testing import FakeGitHub, FakeUser, FaultAdapter, WSGITransportAdapter

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}
SESSION = "__Host-oauth_session"
ORGS_URL = re.compile(r"https://api\.github\.com/user/orgs(\?.*)?$")
TEAMS_URL = re.compile(r"https://api\.github\.com/user/teams(\?.*)?$")
EMAILS_URL = re.compile(r"https://api\.github\.com/user/emails(\?.*)?$")


echo = downstream  # the shared echo app: identity, token and memberships as JSON


class Recorder:
    """Wraps the fake: remembers every server-side call the middleware makes (method and path)."""

    def __init__(self, app: t.Any) -> None:
        self.app = app
        self.calls: list[tuple[str, str]] = []

    def __call__(self, environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> t.Iterable[bytes]:
        self.calls.append((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
        return t.cast(t.Iterable[bytes], self.app(environ, start_response))

    def paths(self) -> list[str]:
        return [path for _, path in self.calls]


@dataclasses.dataclass
class Site:
    """A middleware wired in-process to a FakeGitHub, and a browser for both."""

    fake: FakeGitHub
    middleware: OAuthMiddleware
    recorder: Recorder

    def __post_init__(self) -> None:
        self.app = webtest.TestApp(self.middleware, extra_environ=HTTPS)
        self.github = webtest.TestApp(self.fake)  # the browser's view of GitHub

    def log_in(
        self, login: str | None = None, *, status: int = 302, headers: dict[str, str] | None = None
    ) -> webtest.TestResponse:
        """A whole login: login path -> GitHub's authorize page -> callback. ``login`` picks the
        account on the consent form; ``None`` lets the fake approve as its first user."""
        location = urlsplit(str(self.app.get("/auth/login?next=/x", status=302).location))
        assert self.fake.base_url == "%s://%s" % (location.scheme, location.netloc)
        if login is None:
            answer = self.github.get(location.path + "?" + location.query, status=302)
        else:
            form = dict(parse_qsl(location.query), login=login, authorize="1")
            answer = self.github.post(location.path, form, status=302)
        callback = urlsplit(str(answer.location))
        return self.app.get(callback.path + "?" + callback.query, status=status, headers=headers or {})

    def whoami(self, **kwargs: t.Any) -> dict[str, t.Any]:
        return t.cast(dict[str, t.Any], self.app.get("/x", **kwargs).json)


def make_users() -> list[FakeUser]:
    return [
        # GitHub keeps the case an org was created with; allow-lists match whatever the case
        FakeUser("octocat", 1, name="Mona", email="octocat@github.test", orgs=["Octo-Org"], teams=["Octo-Org/ops"]),
        FakeUser("hubot", 2, email="hubot@github.test"),
        FakeUser("mona", 3, email="mona@github.test", orgs=["other-org"], teams=["other-org/ops"]),
        FakeUser("member", 4, email="member@github.test", orgs=["Octo-Org"], teams=["Octo-Org/devs"]),
        FakeUser("MonaLisa", 6, email="monalisa@github.test"),
        FakeUser("outsider", 5, email="outsider@github.test", orgs=["third-org"], teams=["third-org/ops"]),
    ]


@pytest.fixture
def make_site(clock: FakeClock) -> t.Callable[..., Site]:
    def make(
        *,
        users: list[FakeUser] | None = None,
        base_url: str = FakeGitHub.BASE_URL,
        provider: Provider | None = None,
        **options: t.Any,
    ) -> Site:
        fake = FakeGitHub(users=users or make_users(), auto_approve=True, base_url=base_url, clock=clock)
        options.setdefault("secret_key", SECRET_KEY)
        middleware = OAuthMiddleware(
            echo,
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            provider=provider or fake.provider(),
            clock=clock,
            **options,
        )
        recorder = Recorder(fake)
        middleware.http.mount(fake.base_url + "/", WSGITransportAdapter(recorder))
        return Site(fake, middleware, recorder)

    return make


def session_set(response: webtest.TestResponse) -> bool:
    """Whether the response stores a session (a Set-Cookie of the session with a value)."""
    return any(
        h.startswith(SESSION + "=") and not h.startswith(SESSION + "=;") and "Max-Age=0" not in h
        for h in response.headers.getall("Set-Cookie")
    )


# -- allowed_users ---------------------------------------------------------------------------------


@pytest.mark.parametrize("login", ["octocat", "mona", "MonaLisa"])
def test_allowed_users_admits_listed_logins_case_insensitively(make_site: t.Any, login: str) -> None:
    site = make_site(allowed_users=["OctoCat", "MONA", "monalisa"])
    response = site.log_in(login)
    assert response.location.endswith("/x")
    assert session_set(response)
    assert site.whoami()["remote_user"] == login


def test_allowed_users_refuses_others_with_403_and_no_session(make_site: t.Any) -> None:
    site = make_site(allowed_users=["OctoCat", "MONA"])
    response = site.log_in("hubot", status=403, headers=BROWSER)
    assert not session_set(response)
    assert SESSION not in site.app.cookies
    assert site.whoami()["remote_user"] is None  # and nothing was stored for later either


def test_not_allowed_page_explains_the_usual_causes_without_listing_the_allow_lists(make_site: t.Any) -> None:
    site = make_site(allowed_users=["OctoCat", "MONA"], allowed_orgs=["secret-org-name"])
    response = site.log_in("hubot", status=403, headers=BROWSER)
    assert response.content_type == "text/html"
    text = response.text
    assert "hubot" in text  # says which GitHub account was used
    assert "private" in text  # private membership
    assert "OAuth application access" in text  # third-party application restrictions
    assert "SAML single sign-on" in text
    for secret in ("octocat", "mona", "secret-org-name"):
        assert secret not in text.lower()
    assert response.headers["Cache-Control"] == "no-store"


def test_not_allowed_json_for_api_clients(make_site: t.Any) -> None:
    site = make_site(allowed_users=["octocat"])
    response = site.log_in("hubot", status=403, headers=JSON)
    assert response.content_type == "application/json"
    assert response.json["error"] == "not_allowed"
    assert "octocat" not in response.text
    assert not session_set(response)


# -- allowed_orgs and allowed_teams ----------------------------------------------------------------


def test_allowed_orgs_admits_members_case_insensitively(make_site: t.Any) -> None:
    site = make_site(allowed_orgs=["OCTO-org"])
    assert session_set(site.log_in("octocat"))
    assert site.whoami()["remote_user"] == "octocat"
    assert ("GET", "/api/v3/user/orgs") in site.recorder.calls


def test_allowed_orgs_refuses_non_members(make_site: t.Any) -> None:
    site = make_site(allowed_orgs=["octo-org"])
    response = site.log_in("hubot", status=403, headers=BROWSER)
    assert not session_set(response)
    assert site.whoami()["remote_user"] is None


@pytest.mark.parametrize(
    ("options", "scope"),
    [
        pytest.param({}, "read:user user:email", id="no-lists"),
        pytest.param({"allowed_users": ["octocat"]}, "read:user user:email", id="users-only"),
        pytest.param({"allowed_orgs": ["octo-org"]}, "read:user user:email read:org", id="orgs"),
        pytest.param({"allowed_teams": ["octo-org/ops"]}, "read:user user:email read:org", id="teams"),
        pytest.param(
            {"allowed_orgs": ["octo-org"], "scope": "read:user read:org"}, "read:user read:org", id="already-asked"
        ),
    ],
)
def test_read_org_is_requested_only_when_memberships_decide(
    make_site: t.Any, options: dict[str, t.Any], scope: str
) -> None:
    site = make_site(**options)
    assert start_login(site.app)["scope"] == scope


def test_membership_on_the_third_page_of_orgs_is_found(make_site: t.Any) -> None:
    orgs = ["org-%03d" % i for i in range(249)] + ["octo-org"]
    site = make_site(users=[FakeUser("many", 9, email="many@github.test", orgs=orgs)], allowed_orgs=["octo-org"])
    assert session_set(site.log_in())
    body = site.whoami()
    assert body["remote_user"] == "many"
    # found on page 3; the session keeps the allowed one first, then others up to MAX_GROUPS
    assert body["groups"][0] == "octo-org" and body["groups"][1:] == orgs[: MAX_GROUPS - 1]
    assert site.recorder.paths().count("/api/v3/user/orgs") == 3  # pages of 100 via Link: rel="next"


def test_allowed_teams_admits_team_members_case_insensitively(make_site: t.Any) -> None:
    site = make_site(allowed_teams=["octo-ORG/OPS"])
    assert session_set(site.log_in("octocat"))
    assert site.whoami()["remote_user"] == "octocat"


@pytest.mark.parametrize(
    "login",
    [
        pytest.param("mona", id="same-slug-in-another-org"),
        pytest.param("member", id="org-member-in-another-team"),
        pytest.param("hubot", id="no-teams"),
    ],
)
def test_allowed_teams_refuses_everyone_else(make_site: t.Any, login: str) -> None:
    site = make_site(allowed_teams=["octo-org/ops"])
    response = site.log_in(login, status=403, headers=BROWSER)
    assert not session_set(response)


@pytest.mark.parametrize(
    ("login", "admitted"),
    [
        pytest.param("octocat", True, id="by-org"),
        pytest.param("hubot", True, id="by-user"),
        pytest.param("mona", True, id="by-team"),
        pytest.param("outsider", False, id="none"),
    ],
)
def test_matching_any_one_list_is_enough(make_site: t.Any, login: str, admitted: bool) -> None:
    site = make_site(allowed_users=["hubot"], allowed_orgs=["octo-org"], allowed_teams=["other-org/ops"])
    response = site.log_in(login, status=302 if admitted else 403)
    assert session_set(response) is admitted
    assert site.whoami()["remote_user"] == (login if admitted else None)


# -- environ["oauth_middleware.groups"] ------------------------------------------------------------


def test_groups_list_orgs_and_teams_on_authenticated_requests(make_site: t.Any) -> None:
    site = make_site(allowed_orgs=["octo-org"])
    site.log_in("octocat")
    assert site.whoami()["groups"] == ["Octo-Org", "Octo-Org/ops"]


def test_groups_are_empty_without_allow_lists_and_never_fetched(make_site: t.Any) -> None:
    site = make_site()
    site.log_in("octocat")
    assert site.whoami()["groups"] == []
    assert not {"/api/v3/user/orgs", "/api/v3/user/teams"} & set(site.recorder.paths())


def test_groups_cannot_be_forged_by_the_client_or_upstream(make_site: t.Any) -> None:
    site = make_site(allowed_orgs=["octo-org"])
    forged = {"oauth_middleware.groups": ["admins"], "REMOTE_USER": "root"}
    headers = {"X-Forwarded-Groups": "admins", "Remote-Groups": "admins", "Oauth-Middleware-Groups": "admins"}
    anonymous = site.whoami(extra_environ=forged, headers=headers)
    assert anonymous["groups"] is None and anonymous["remote_user"] is None
    site.log_in("member")  # in octo-org, team devs
    body = site.whoami(extra_environ=forged, headers=headers)
    assert body["remote_user"] == "member"
    assert body["groups"] == ["Octo-Org", "Octo-Org/devs"]


def test_groups_are_a_fresh_copy_per_request(make_site: t.Any) -> None:
    seen: list[list[str]] = []

    def greedy(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
        seen.append(list(environ["oauth_middleware.groups"]))
        environ["oauth_middleware.groups"].append("admins")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    site = make_site(allowed_orgs=["octo-org"])
    site.middleware.app = greedy
    site.log_in("octocat")
    site.app.get("/x")
    site.app.get("/x")
    assert seen == [["Octo-Org", "Octo-Org/ops"]] * 2


# -- pagination never leaves the API host ----------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/user/orgs?page=2",
        "https://api.github.com.evil.example/user/orgs?page=2",
        "https://api.github.com@evil.example/user/orgs?page=2",
        "http://api.github.com/user/orgs?page=2",
        "//evil.example/user/orgs?page=2",
    ],
)
def test_pagination_link_to_another_host_is_not_followed(make_app: t.Any, github: GitHubMock, link: str) -> None:
    faults = github.faults
    stolen: list[t.Any] = []

    def thief(request: t.Any) -> tuple[int, dict[str, str], str]:
        stolen.append(request)
        return 200, {"Content-Type": "application/json"}, json.dumps([{"login": "evil-org"}])

    orgs = [{"login": "octo-org", "id": 1}]
    faults.answer(ORGS_URL, method="GET", json=orgs, headers={"Link": '<%s>; rel="next"' % link})
    faults.answer(TEAMS_URL, method="GET", json=[])
    faults.respond(re.compile(r"https?://[^/]*evil\.example.*"), thief, method="GET")
    faults.respond(re.compile(r"http://api\.github\.com/.*"), thief, method="GET")
    app = make_app(echo, allowed_orgs=["octo-org"])
    log_in(app)
    assert stolen == []
    sent_elsewhere = [
        call.request
        for call in faults.calls
        if urlsplit(str(call.request.url)).hostname not in ("github.com", "api.github.com")
        or not str(call.request.url).startswith("https://")
    ]
    assert sent_elsewhere == []
    assert all(
        "Authorization" not in call.request.headers
        for call in faults.calls
        if not str(call.request.url).startswith("https://api.github.com/")
    )
    assert app.get("/x").json["groups"] == ["octo-org"]  # the first page still counts


# -- configuration errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "option"),
    [
        pytest.param({"allowed_teams": ["noslash"]}, "allowed_teams", id="team-without-slash"),
        pytest.param({"allowed_teams": ["octo-org/"]}, "allowed_teams", id="team-without-slug"),
        pytest.param({"allowed_teams": ["/ops"]}, "allowed_teams", id="team-without-org"),
        pytest.param({"allowed_teams": ["a/b/c"]}, "allowed_teams", id="team-two-slashes"),
        pytest.param({"allowed_orgs": "octo-org"}, "allowed_orgs", id="orgs-as-string"),
        pytest.param({"allowed_users": "octocat"}, "allowed_users", id="users-as-string"),
        pytest.param({"allowed_teams": "octo-org/ops"}, "allowed_teams", id="teams-as-string"),
        pytest.param({"allowed_orgs": ["octo org"]}, "allowed_orgs", id="org-with-space"),
        pytest.param({"allowed_orgs": [" octo-org"]}, "allowed_orgs", id="org-with-leading-space"),
        pytest.param({"allowed_users": ["octocat, hubot"]}, "allowed_users", id="users-comma-joined"),
        pytest.param({"allowed_teams": ["octo-org/ops team"]}, "allowed_teams", id="team-with-space"),
        pytest.param({"allowed_orgs": [""]}, "allowed_orgs", id="empty-org"),
        pytest.param({"allowed_users": [None]}, "allowed_users", id="non-string-user"),
        pytest.param({"allowed_orgs": 42}, "allowed_orgs", id="not-a-list"),
    ],
)
def test_bad_allow_lists_are_configuration_errors(
    make_middleware: t.Any, options: dict[str, t.Any], option: str
) -> None:
    with pytest.raises(ConfigurationError, match=option):
        make_middleware(**options)


# -- email fill-in ---------------------------------------------------------------------------------


def test_private_email_is_filled_in_from_the_primary_verified_address(make_site: t.Any) -> None:
    site = make_site(users=[FakeUser("private", 5, email=None)])
    site.log_in()
    assert site.whoami()["user"]["email"] == "private@users.fake.test"
    assert "/api/v3/user/emails" in site.recorder.paths()


def test_public_email_is_kept_without_asking_for_the_list(make_site: t.Any) -> None:
    site = make_site(users=[FakeUser("public", 6, email="public@example.com")])
    site.log_in()
    assert site.whoami()["user"]["email"] == "public@example.com"
    assert "/api/v3/user/emails" not in site.recorder.paths()


def test_email_is_not_fetched_without_an_email_scope(make_site: t.Any) -> None:
    site = make_site(users=[FakeUser("private", 5, email=None)], scope=("read:user",))
    site.log_in()
    body = site.whoami()
    assert body["token"]["scope"] == ["read:user"]
    assert body["user"]["email"] is None
    assert site.recorder.paths() == ["/login/oauth/access_token", "/api/v3/user"]


def test_scope_user_also_reads_emails(make_site: t.Any) -> None:
    site = make_site(users=[FakeUser("private", 5, email=None)], scope="user")
    site.log_in()
    assert site.whoami()["user"]["email"] == "private@users.fake.test"


def _emails_mock(github: GitHubMock, emails: list[dict[str, t.Any]], granted: str) -> None:
    github.token_body = dict(github.token_body, scope=granted)
    github.user_body = dict(github.user_body, email=None)
    github.faults.answer(EMAILS_URL, method="GET", json=emails)


def test_unverified_primary_email_is_not_used(make_app: t.Any, github: GitHubMock) -> None:
    emails = [
        {"email": "unverified@example.com", "primary": True, "verified": False, "visibility": "private"},
        {"email": "secondary@example.com", "primary": False, "verified": True, "visibility": None},
    ]
    _emails_mock(github, emails, "read:user,user:email")
    app = make_app(echo)
    log_in(app)
    assert app.get("/x").json["user"]["email"] is None


def test_primary_verified_email_is_found_anywhere_in_the_list(make_app: t.Any, github: GitHubMock) -> None:
    emails = [
        {"email": "secondary@example.com", "primary": False, "verified": True, "visibility": None},
        {"email": "primary@example.com", "primary": True, "verified": True, "visibility": "private"},
    ]
    _emails_mock(github, emails, "read:user,user:email")
    app = make_app(echo)
    log_in(app)
    assert app.get("/x").json["user"]["email"] == "primary@example.com"


def test_email_is_not_fetched_when_github_granted_less_than_asked(make_app: t.Any, github: GitHubMock) -> None:
    _emails_mock(github, [{"email": "p@example.com", "primary": True, "verified": True}], "read:user")
    app = make_app(echo)  # asks for read:user and user:email; the user granted only read:user
    log_in(app)
    assert app.get("/x").json["user"]["email"] is None
    assert not any(EMAILS_URL.match(str(call.request.url)) for call in github.calls)


# -- GitHub Enterprise Server ----------------------------------------------------------------------


def test_github_enterprise_endpoints() -> None:
    provider = GitHub("https://ghe.example.com/")
    assert provider.authorize_url == "https://ghe.example.com/login/oauth/authorize"
    assert provider.token_url == "https://ghe.example.com/login/oauth/access_token"
    assert provider.api_base_url == "https://ghe.example.com/api/v3/"
    assert provider.api_url("user/orgs") == "https://ghe.example.com/api/v3/user/orgs"
    assert GitHub().api_base_url == "https://api.github.com/"


def test_whole_login_against_github_enterprise(make_site: t.Any) -> None:
    site = make_site(
        base_url="https://ghe.example.com", provider=GitHub("https://ghe.example.com"), allowed_orgs=["octo-org"]
    )
    assert urlsplit(str(site.app.get("/auth/login", status=302).location)).netloc == "ghe.example.com"
    site.log_in("octocat")
    body = site.whoami()
    assert body["remote_user"] == "octocat"
    assert body["user"]["html_url"] == "https://ghe.example.com/octocat"
    assert body["groups"] == ["Octo-Org", "Octo-Org/ops"]
    assert site.recorder.paths() == [
        "/login/oauth/access_token",
        "/api/v3/user",
        "/api/v3/user/orgs",
        "/api/v3/user/teams",
    ]


# -- a provider of your own ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Gitea(Provider):
    name: str = "gitea"
    authorize_url: str = "https://gitea.example.com/login/oauth/authorize"
    token_url: str = "https://gitea.example.com/login/oauth/access_token"
    api_base_url: str = "https://gitea.example.com/"
    profile_path: str = "api/v1/user"
    username_field: str = "username"


def test_custom_provider_logs_in_with_its_own_username_field(make_app: t.Any, faults: FaultAdapter) -> None:
    token = faults.answer(
        "https://gitea.example.com/login/oauth/access_token",
        method="POST",
        json={"access_token": "gitea-token-1", "token_type": "bearer", "scope": ""},
    )
    profile = faults.answer(
        "https://gitea.example.com/api/v1/user",
        method="GET",
        json={"id": 7, "username": "tea-lover", "full_name": "Tea Lover", "email": "tea@example.com"},
    )
    app = make_app(echo, provider=Gitea(), scope="read:user")
    params = start_login(app)
    assert params["redirect_uri"] == "https://app.example.com/auth/callback"
    app.get("/auth/callback", {"code": "gitea-code", "state": params["state"]}, status=302)
    assert token.call_count == 1 and profile.call_count == 1
    assert faults.calls[1].request.headers["Authorization"] == "Bearer gitea-token-1"
    body = app.get("/x").json
    assert body["remote_user"] == "tea-lover"
    assert body["user"]["username"] == "tea-lover" and body["user"]["email"] == "tea@example.com"
    assert body["groups"] == []
    assert parse_qs(urlsplit(str(app.get("/auth/login").location)).query)["scope"] == ["read:user"]


def test_custom_provider_authorize_url_is_used(make_app: t.Any) -> None:
    location = urlsplit(str(make_app(echo, provider=Gitea()).get("/auth/login", status=302).location))
    assert (location.netloc, location.path) == ("gitea.example.com", "/login/oauth/authorize")


def test_identity_is_absent_for_anonymous_requests(make_site: t.Any) -> None:
    site = make_site(allowed_orgs=["octo-org"])
    request = webob.Request.blank("/x", base_url="https://app.example.com", headers={"Remote-User": "octocat"})
    body = json.loads(request.get_response(site.middleware).body)
    identity = {key: body[key] for key in ("remote_user", "user", "token", "groups")}
    assert identity == {"remote_user": None, "user": None, "token": None, "groups": None}
    assert body["identity_headers"] == {}


def test_memberships_kept_are_bounded_with_the_allowed_ones_first() -> None:
    """A user in hundreds of orgs still gets a small session; the allowed membership survives."""
    from oauth_middleware.access import AccessPolicy

    policy = AccessPolicy.build(allowed_orgs=["Octo-Org"], allowed_teams=["octo-org/ops"])
    groups = ["org%d" % i for i in range(300)] + ["octo-org", "octo-org/ops", "org1"]
    kept = policy.keep(groups)
    assert len(kept) == MAX_GROUPS
    assert kept[:2] == ["octo-org", "octo-org/ops"]
    assert len(set(kept)) == len(kept)
    assert policy.admits("someone", kept)


def test_allowed_users_by_account_id_survives_a_login_taken_over(make_site: t.Any) -> None:
    """Logins can be renamed and re-registered; the numeric id cannot. An id entry admits that
    account only, whatever its login; another account that took the login is refused."""
    site = make_site(allowed_users=[1])  # octocat's id
    assert session_set(site.log_in("octocat"))
    assert site.whoami()["remote_user"] == "octocat"
    impostor = make_site(users=[FakeUser("octocat", 999, email="new@github.test")], allowed_users=[1])
    impostor.log_in("octocat", status=403, headers=BROWSER)


def test_the_account_id_is_in_the_environ_as_text(make_site: t.Any) -> None:
    """``oauth_middleware.user_id``: for REMOTE_USER-style consumers (Django's RemoteUserMiddleware)."""

    def user_id_app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [repr(environ.get("oauth_middleware.user_id")).encode()]

    site = make_site()
    site.middleware.app = user_id_app
    assert site.app.get("/x", headers={"Oauth-Middleware-User-Id": "1"}).text == "None"  # never from a client
    site.log_in("octocat")
    assert site.app.get("/x").text == "'1'"


@pytest.mark.parametrize("entry", [0, -3, True], ids=["zero", "negative", "bool"])
def test_allowed_users_ids_must_be_positive_whole_numbers(entry: object) -> None:
    from oauth_middleware.access import AccessPolicy

    with pytest.raises(ConfigurationError, match="allowed_users"):
        AccessPolicy.build(allowed_users=[entry])  # type: ignore[list-item]
