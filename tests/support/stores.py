"""Store doubles for the tests: a store that stops answering on demand."""

from __future__ import annotations

import typing as t

from oauth_middleware.store import MemoryStore, StoreUnavailable


class DownStore(MemoryStore):
    """A store that stops answering when ``down`` is set."""

    down = False

    def __getattribute__(self, name: str) -> t.Any:
        attribute = super().__getattribute__(name)
        if name in {
            "get",
            "put",
            "delete",
            "compare_and_delete",
            "compare_and_expire",
            "index_add",
        } and super().__getattribute__("down"):

            def refuse(*args: t.Any, **kwargs: t.Any) -> t.Any:
                raise StoreUnavailable("connection refused")

            return refuse
        return attribute
