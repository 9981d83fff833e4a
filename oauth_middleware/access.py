"""Who may come in: allow-lists of users, GitHub organisations and teams, verified email domains
and provider groups.

A user is admitted when they match any configured list; with no list configured, every user the
provider authenticates is admitted. GitHub names are case-insensitive, so matching is too.
"""

from __future__ import annotations

import dataclasses
import typing as t

from .validation import Context, items, require_text

if t.TYPE_CHECKING:
    from .providers import Identity

#: Most memberships kept in a session (GitHub users can be in hundreds of orgs and teams; the
#: cookie must stay small). Those named in the allow-lists are kept first.
MAX_GROUPS = 100


@dataclasses.dataclass(frozen=True)
class AccessPolicy:
    """The allow-lists, normalised to lower case.

    .. code-block:: python

        policy = AccessPolicy.build(allowed_orgs=["octo-org"], allowed_teams=["octo-org/ops"])
        policy.admits("octocat", ["octo-org"])  # True

    :param users: allowed logins.
    :param user_ids: allowed numeric account ids (they never change; a login can be renamed and
        then registered by someone else).
    :param orgs: allowed organisation logins (membership, public or private).
    :param teams: allowed teams as ``"org/team-slug"``.
    :param domains: allowed domains of a verified email address (or Google's ``hd``).
    :param groups: allowed groups of the provider's groups claim (OpenID Connect).
    """

    users: frozenset[str] = frozenset()
    user_ids: frozenset[int] = frozenset()
    orgs: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls,
        *,
        allowed_users: t.Iterable[str | int] = (),
        allowed_orgs: t.Iterable[str] = (),
        allowed_teams: t.Iterable[str] = (),
    ) -> AccessPolicy:
        """Validate the options and build the policy (raises ConfigurationError).

        ``allowed_users`` takes logins (str) and numeric account ids (int).
        """
        return cls.of(
            validate_users(allowed_users, Context("allowed_users")),
            validate_orgs(allowed_orgs, Context("allowed_orgs")),
            validate_teams(allowed_teams, Context("allowed_teams")),
        )

    @classmethod
    def of(
        cls,
        users: t.Collection[str | int],
        orgs: frozenset[str],
        teams: frozenset[str],
        domains: frozenset[str] = frozenset(),
        groups: frozenset[str] = frozenset(),
    ) -> AccessPolicy:
        """The policy of allow-lists already validated by :func:`validate_users` and the others."""
        return cls(
            users=frozenset(user for user in users if isinstance(user, str)),
            user_ids=frozenset(user for user in users if isinstance(user, int)),
            orgs=orgs,
            teams=teams,
            domains=domains,
            groups=groups,
        )

    @property
    def restricted(self) -> bool:
        """True when at least one list is configured."""
        return bool(self.users or self.user_ids or self.orgs or self.teams or self.domains or self.groups)

    @property
    def needs_groups(self) -> bool:
        """True when admission depends on memberships (GitHub orgs and teams need ``read:org``)."""
        return bool(self.orgs or self.teams or self.groups)

    def keep(self, groups: t.Iterable[str]) -> list[str]:
        """The memberships to keep in the session: those the allow-lists name first, then the
        others, at most :data:`MAX_GROUPS`, without duplicates."""
        unique = list(dict.fromkeys(groups))
        named = [g for g in unique if self._names(g)]
        return (named + [g for g in unique if g not in named])[:MAX_GROUPS]

    def _names(self, group: str) -> bool:
        name = group.lower()
        return name in self.orgs or name in self.teams or name in self.groups

    def admits_identity(self, identity: Identity, groups: t.Iterable[str]) -> bool:
        """Whether ``identity`` with these memberships may come in: by user name (any case), by
        ``sub`` (a numeric ``sub`` matches an int entry; when :attr:`Identity.sub_is_name`, a str
        entry matches ``sub`` regardless of case), by a verified email's domain or a hosted domain, by group."""
        if not self.restricted:
            return True
        sub = identity.sub
        user_id: object = int(sub) if sub.isascii() and sub.isdigit() and len(sub) < 20 else None
        if self.admits(identity.username, groups, user_id) or (identity.sub_is_name and sub.lower() in self.users):
            return True
        if self.domains:
            email = identity.email or ""
            domain = email.rpartition("@")[2].lower() if "@" in email else ""
            hosted = (identity.hosted_domain or "").lower()
            if (domain and domain in self.domains) or (hosted and hosted in self.domains):
                return True
        return False

    def admits(self, username: str, groups: t.Iterable[str], user_id: object = None) -> bool:
        """Whether ``username`` (account ``user_id``) with these memberships (``"org"``,
        ``"org/team"``) may come in."""
        if not self.restricted:
            return True
        if username.lower() in self.users:
            return True
        if isinstance(user_id, int) and not isinstance(user_id, bool) and user_id in self.user_ids:
            return True
        return any(self._names(group) for group in groups)


def validate_users(value: object, ctx: Context) -> frozenset[str | int]:
    """``allowed_users``: logins (lower-cased) and positive account ids (int)."""
    entries = items(value, ctx, what="logins or ids")
    for entry in entries:
        if isinstance(entry, bool) or (isinstance(entry, int) and entry <= 0):
            raise ctx.error("%s ids must be positive whole numbers, got %r" % (ctx.name, entry))
    ids = frozenset(e for e in entries if isinstance(e, int))
    return ids | validate_orgs([e for e in entries if not isinstance(e, int)], ctx)


def validate_orgs(value: object, ctx: Context) -> frozenset[str]:
    """A list of names (``allowed_orgs``, the logins of ``allowed_users``), lower-cased."""
    names = items(value, ctx, what="names")
    for name in names:
        require_text(name, ctx, hint="each entry must be a non-empty name")
        if any(c.isspace() or c in ",;" for c in name):
            raise ctx.error("%s entries must be single names without spaces or commas, got %r" % (ctx.name, name))
    return frozenset(name.lower() for name in names)


def validate_domains(value: object, ctx: Context) -> frozenset[str]:
    """``allowed_domains``: email domains such as ``example.com``, lower-cased."""
    domains = validate_orgs(value, ctx)
    provider = ctx.done.get("provider")
    if domains and provider is not None and not provider.verifies_email:
        raise ctx.error(
            "%s needs a provider that vouches for email addresses (an OpenID Connect provider such as "
            "Google() or OpenIDConnect(issuer)); %s's are not checked by domain" % (ctx.name, provider.display_name)
        )
    for domain in domains:
        if domain.startswith(("@", ".")) or "." not in domain or "@" in domain or "/" in domain:
            raise ctx.error('%s entries must be domains like "example.com" (no "@"), got %r' % (ctx.name, domain))
    return domains


def validate_teams(value: object, ctx: Context) -> frozenset[str]:
    """``allowed_teams``: names like ``"org/team-slug"``, lower-cased."""
    teams = validate_orgs(value, ctx)
    for team in teams:
        org, _, slug = team.partition("/")
        if not org or not slug or "/" in slug:
            raise ctx.error('%s entries must look like "org/team-slug", got %r' % (ctx.name, team))
    return teams
