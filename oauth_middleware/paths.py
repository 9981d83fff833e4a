"""Path rules: decide on exactly the path the wrapped app will route (PATH-1..3 in SECURITY.md).

A WSGI server hands the app ``PATH_INFO`` after percent-decoding (``%2e`` is already ``.``), and
routers differ in what they do with it next: Werkzeug adds a missing leading ``/`` and merges
``//`` (by redirecting), Pyramid's traversal skips empty segments, Django and Werkzeug never
resolve ``..``. A login check made on one reading of the path and a route taken on another is an
authentication bypass. So the middleware

* lets no path with a dot segment (``/a/../b``, ``/a/./b``, a trailing ``/..``) or without a
  leading ``/`` reach the app: ``GET``/``HEAD`` are redirected (308) to the canonical spelling,
  other methods refused (400), so the app only ever routes canonical paths;
* treats a path with empty segments (``//admin``, ``/static//x``) as protected when *either* the
  path as sent or the path with ``//`` merged is protected, so that no router's reading of it can
  reach a protected view anonymously, while ``/go/https://example.com`` still reaches an app that
  routes such paths.
"""

from __future__ import annotations

import typing as t

__all__ = ["PrefixSet", "is_canonical", "canonical_path", "merge_slashes"]


def is_canonical(path: str) -> bool:
    """True if ``path`` (a decoded ``PATH_INFO``) starts with ``/`` and has no dot segment.

    ``""`` (the mount point itself) counts as canonical: every router treats it as ``/``.
    Empty segments (``//``) are allowed; see :class:`PrefixSet` for how they are matched.
    """
    if not path:
        return True
    if path[0] != "/":
        return False
    if "/." not in path:
        return True  # the common case: one substring scan
    return not any(segment in (".", "..") for segment in path.split("/"))


def canonical_path(path: str) -> str:
    """``path`` with a leading ``/`` and its dot segments removed (RFC 3986 section 5.2.4).

    Empty segments are kept, except that the result never starts with ``//`` (which a browser
    would read as another host). ``/a/b/..`` is ``/a/``, ``/a/.`` is ``/a/``, ``/../x`` is ``/x``.
    """
    segments = ("/" + path).split("/")[1:]
    out: list[str] = []
    for segment in segments:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments and segments[-1] in (".", ".."):
        out.append("")  # a final dot segment names a directory: keep the trailing slash
    return "/" + "/".join(out).lstrip("/")


def merge_slashes(path: str) -> str:
    """``path`` with every run of ``/`` merged into one, as Werkzeug and Pyramid read it."""
    while "//" in path:
        path = path.replace("//", "/")
    return path


class PrefixSet:
    """Path prefixes matched on segment boundaries: ``/admin`` holds ``/admin`` and ``/admin/x``,
    not ``/administrator``. Built once; a lookup is a set probe and one ``startswith``.

    .. code-block:: python

        protected = PrefixSet(["/admin"])
        assert "/admin/users" in protected and "/administrator" not in protected
    """

    def __init__(self, prefixes: t.Iterable[str]) -> None:
        prefixes = tuple(prefixes)
        self.everything = "/" in prefixes
        self.exact = frozenset(prefixes)
        self.parents = tuple(p + "/" for p in prefixes)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and (self.everything or path in self.exact or path.startswith(self.parents))

    def __bool__(self) -> bool:
        return bool(self.exact)
