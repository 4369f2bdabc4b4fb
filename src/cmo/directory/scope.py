"""The directory as the shell's scope source: a user's departments and sites by code."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cmo.directory.models import Department, Site, Source, UserScope


class DirectoryScope:
    """Implements :class:`cmo.web.registry.ScopeSource` with :class:`UserScope` rows."""

    def departments(self, user: Any) -> list[str]:
        return list(
            Department.objects.filter(scoped_users__user=user).values_list("code", flat=True)
        )

    def sites(self, user: Any) -> list[str]:
        return list(Site.objects.filter(scoped_users__user=user).values_list("code", flat=True))

    def assign(self, user: Any, departments: Iterable[str], sites: Iterable[str] = ()) -> None:
        """Link the user to these departments and sites; a code the directory has not seen yet
        gets a placeholder row (source manual) that the next sync fills in."""
        scope, _ = UserScope.objects.get_or_create(user=user)
        scope.departments.set([_entry(Department, code) for code in departments])
        scope.sites.set([_entry(Site, code) for code in sites])


def _entry(model: type[Department] | type[Site], code: str) -> Department | Site:
    found: Department | Site = model.objects.get_or_create(
        code=code, defaults={"name": code, "source": Source.MANUAL}
    )[0]
    return found


source = DirectoryScope()
