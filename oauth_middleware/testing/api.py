"""The REST API of :class:`~oauth_middleware.testing.FakeGitHub`.

``GET /user``, ``/user/emails``, ``/user/orgs``, ``/user/teams`` (paginated, with GitHub's rate
limit headers) and ``DELETE /applications/{client_id}/token``, at the root and under ``/api/v3``.
"""

from __future__ import annotations

import base64
import json
import logging
import typing as t
from collections.abc import Callable
from urllib.parse import urlencode

from webob import Request, Response

from .models import (
    _ACCESS,
    _API_PREFIX,
    _DOCS,
    _NOT_FOUND,
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    RATE_LIMIT,
    FakeUser,
    _avatar,
    _equal,
    _Grant,
    _node_id,
    _Reject,
    _stable_id,
)
from .state import FakeState

log = logging.getLogger("oauth_middleware.testing.fake_github")

_BAD_CREDENTIALS = {"message": "Bad credentials", "documentation_url": _DOCS + "/rest"}
_RATE_LIMITED = {
    "message": "API rate limit exceeded for user ID %d.",
    "documentation_url": _DOCS + "/rest/overview/resources-in-the-rest-api#rate-limiting",
}
_REQUIRES_AUTHENTICATION = {"message": "Requires authentication", "documentation_url": _DOCS + "/rest"}


class RestAPI(FakeState):
    """The ``/user`` family of endpoints and token revocation."""

    def _api(self, request: Request, path: str) -> Response:
        routes: dict[str, Callable[[FakeUser], list[dict[str, t.Any]]] | None] = {
            "/user": None,
            "/user/emails": self._emails,
            "/user/orgs": self._orgs,
            "/user/teams": self._teams,
        }
        if path.startswith("/applications/") and path.endswith("/token"):
            with self._lock:
                self.api_requests += 1
            log.debug("fake github: api applications/token %s", request.method)
            return self._delete_token(request, path) if request.method == "DELETE" else self._json(_NOT_FOUND, 404)
        if path not in routes or request.method != "GET":
            log.debug("fake github: no route (%s)", request.method)
            return self._json(_NOT_FOUND, 404)
        with self._lock:
            self.api_requests += 1
        log.debug("fake github: api %s", path)
        grant, user = self._authenticate(request)
        headers = self._rate_headers(user.login)
        if int(dict(headers)["x-ratelimit-used"]) > RATE_LIMIT:
            body = dict(_RATE_LIMITED, message=_RATE_LIMITED["message"] % user.id)
            return self._json(body, 403, headers)
        headers += [
            ("x-oauth-scopes", ", ".join(grant.scopes)),
            ("x-accepted-oauth-scopes", ""),
            ("x-github-media-type", "github.v3; format=json"),
            ("x-github-api-version-selected", "2022-11-28"),
            ("cache-control", "private, max-age=60, s-maxage=60"),
            ("vary", "Accept, Authorization, Cookie, X-GitHub-OTP"),
        ]
        lister = routes[path]
        if lister is None:
            return self._json(self._profile(user), headers=headers)
        if path == "/user/emails" and not {"user", "user:email"} & set(grant.scopes):
            # GitHub hides the endpoint from tokens without the scope.
            return self._json(
                {
                    "message": "Not Found",
                    "documentation_url": _DOCS + "/rest/users/emails#list-email-addresses-for-the-authenticated-user",
                },
                404,
                headers,
            )
        return self._paginate(request, lister(user), headers)

    def _authenticate(self, request: Request) -> tuple[_Grant, FakeUser]:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if not header:
            raise _Reject(self._json(_REQUIRES_AUTHENTICATION, 401, self._rate_headers(None)))
        if scheme.lower() not in ("bearer", "token") or not value:
            raise _Reject(self._json(_BAD_CREDENTIALS, 401, self._rate_headers(None)))
        with self._lock:
            grant = self._find(_ACCESS, value, consume=False)
            user = None if grant is None else self._users.get(grant.login)
        if grant is None or user is None or (grant.expires_at is not None and self.clock() >= grant.expires_at):
            raise _Reject(self._json(_BAD_CREDENTIALS, 401, self._rate_headers(None)))
        return grant, user

    def _paginate(self, request: Request, items: list[dict[str, t.Any]], headers: list[tuple[str, str]]) -> Response:
        def number(name: str, default: int) -> int:
            try:
                value = int(request.GET.get(name, ""))
            except ValueError:
                return default
            return value if value > 0 else default

        per_page = min(number("per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
        page = number("page", 1)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        others = [(k, v) for k, v in request.GET.items() if k not in ("page", "per_page")]
        if "per_page" in request.GET:
            others.insert(0, ("per_page", str(per_page)))

        def link(number: int, rel: str) -> str:
            return f'<{request.path_url}?{urlencode([("page", str(number)), *others])}>; rel="{rel}"'

        links: list[str] = []
        if page > 1:
            links.append(link(min(page - 1, last), "prev"))
        if page < last:
            links.append(link(page + 1, "next"))
            links.append(link(last, "last"))
        if page > 1:
            links.append(link(1, "first"))
        if links:
            headers = [*headers, ("link", ", ".join(links))]
        return self._json(chunk, headers=headers)

    def _profile(self, user: FakeUser) -> dict[str, t.Any]:
        return user.profile(api_url=self.base_url + _API_PREFIX, html_url=self.base_url)

    def _emails(self, user: FakeUser) -> list[dict[str, t.Any]]:
        return user.email_entries()

    def _org(self, login: str) -> dict[str, t.Any]:
        number = _stable_id("org", login)
        org_api = f"{self.base_url}{_API_PREFIX}/orgs/{login}"
        return {
            "login": login,
            "id": number,
            "node_id": _node_id("Organization", number),
            "url": org_api,
            "repos_url": f"{org_api}/repos",
            "events_url": f"{org_api}/events",
            "hooks_url": f"{org_api}/hooks",
            "issues_url": f"{org_api}/issues",
            "members_url": f"{org_api}/members{{/member}}",
            "public_members_url": f"{org_api}/public_members{{/member}}",
            "avatar_url": _avatar(number),
            "description": None,
        }

    def _orgs(self, user: FakeUser) -> list[dict[str, t.Any]]:
        return [self._org(login) for login in user.orgs]

    def _teams(self, user: FakeUser) -> list[dict[str, t.Any]]:
        teams = []
        for entry in user.teams:
            org_login, _, slug = entry.partition("/")
            number = _stable_id("team", entry)
            team_api = f"{self.base_url}{_API_PREFIX}/teams/{number}"
            organization = self._org(org_login)
            organization.update(
                {
                    "name": org_login,
                    "company": None,
                    "blog": "",
                    "location": None,
                    "email": None,
                    "is_verified": False,
                    "has_organization_projects": True,
                    "has_repository_projects": True,
                    "public_repos": 0,
                    "public_gists": 0,
                    "followers": 0,
                    "following": 0,
                    "html_url": f"{self.base_url}/{org_login}",
                    "created_at": "2008-01-14T04:33:35Z",
                    "updated_at": "2008-01-14T04:33:35Z",
                    "type": "Organization",
                }
            )
            teams.append(
                {
                    "id": number,
                    "node_id": _node_id("Team", number),
                    "url": team_api,
                    "html_url": f"{self.base_url}/orgs/{org_login}/teams/{slug}",
                    "name": slug.replace("-", " ").title(),
                    "slug": slug,
                    "description": None,
                    "privacy": "closed",
                    "notification_setting": "notifications_enabled",
                    "permission": "pull",
                    "members_url": f"{team_api}/members{{/member}}",
                    "repositories_url": f"{team_api}/repos",
                    "parent": None,
                    "members_count": 1,
                    "repos_count": 0,
                    "created_at": "2008-01-14T04:33:35Z",
                    "updated_at": "2008-01-14T04:33:35Z",
                    "organization": organization,
                }
            )
        return teams

    def _delete_token(self, request: Request, path: str) -> Response:
        path_client_id = path[len("/applications/") : -len("/token")]
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            decoded = ""
        user, _, password = decoded.partition(":")
        if (
            scheme.lower() != "basic"
            or not _equal(user, self.client_id)
            or not _equal(password, self.client_secret)
            or not _equal(path_client_id, self.client_id)
        ):
            return self._json(_NOT_FOUND, 404)
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            data = None
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not self.revoke(token):
            return self._json(_NOT_FOUND, 404)
        return Response(status=204)  # webob sends no Content-Type with a 204
