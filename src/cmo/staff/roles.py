"""Role helpers of the staff app."""

from __future__ import annotations

from typing import Any


def assign_departments(user: Any, codes: list[str]) -> None:
    """Limit a chair to these department codes through the shell's scope source (the
    directory's ``UserScope``)."""
    from cmo.web.registry import scope_source

    source = scope_source()
    if source is None:
        raise RuntimeError("department scope needs the directory app")
    source.assign(user, codes)
