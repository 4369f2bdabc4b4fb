"""Scope in one place: what rows a user may see, built once from the user.

:class:`Scope` holds the user's roles, departments and sites (``None`` = all), whether they see
de-identified aggregates only, and answers capability questions. Analytics reads take its
``departments`` / ``sites`` lists; app-database queries go through :meth:`Scope.restrict` (or
``Model.objects.restrict(scope)`` for models whose manager is :class:`RestrictedQuerySet`),
after NetBox's ``RestrictedQuerySet.restrict(user)``.

Departments and sites come from the registered scope source (the directory app keeps each
user's departments); the shell asks it through the registry and never imports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import models

from cmo.web.registry import scope_source
from cmo.web.roles import DEIDENTIFIED_ROLES, SCOPED_ROLES, all_roles, perm

_M = TypeVar("_M", bound=models.Model)


@dataclass(frozen=True)
class Scope:
    """A user's view of the data. ``departments``/``sites``: codes, or None for all."""

    user: Any
    roles: frozenset[str] = frozenset()
    departments: list[str] | None = None
    sites: list[str] | None = None
    deidentified: bool = False
    _perms: frozenset[str] = field(default=frozenset(), repr=False)

    def can(self, capability: str) -> bool:
        """Does the user hold ``capability`` (``app.codename``; bare names are the core's)?"""
        return perm(capability) in self._perms

    @property
    def limited(self) -> bool:
        """True when rows are limited to some departments or sites."""
        return self.departments is not None or self.sites is not None

    def restrict(self, queryset: models.QuerySet[_M]) -> models.QuerySet[_M]:
        """``queryset`` limited to this scope, through the model's ``scope_fields``.

        A model says how its rows reach a department or site with a class attribute
        ``scope_fields = {"department": "<lookup to a directory Department code>",
        "site": "<lookup to a Site code>"}``. A limited scope on a model without a path for
        that dimension sees nothing (fail closed).
        """
        if not self.limited:
            return queryset
        paths: dict[str, str] = getattr(queryset.model, "scope_fields", {})
        allowed = models.Q()
        for dimension, codes in (("department", self.departments), ("site", self.sites)):
            if codes is None:
                continue
            path = paths.get(dimension)
            if path is None:
                return queryset.none()
            allowed |= models.Q(**{f"{path}__in": codes})
        return queryset.filter(allowed).distinct()


class RestrictedQuerySet(models.QuerySet[_M]):
    """A queryset with ``.restrict(scope)``; use ``objects = RestrictedQuerySet.as_manager()``."""

    def restrict(self, scope: Scope) -> RestrictedQuerySet[_M]:
        restricted: RestrictedQuerySet[_M] = scope.restrict(self)  # type: ignore[assignment]
        return restricted


def _codes(values: Iterable[str]) -> list[str]:
    return sorted(set(values))


def scope_of(user: Any) -> Scope:
    """Build the user's scope (a few queries; Django caches the permissions on the user)."""
    if not user.is_authenticated:
        return Scope(user=user, departments=[], sites=[], deidentified=True)
    known = all_roles()
    roles = frozenset(g.name for g in user.groups.all() if g.name in known)
    departments = sites = None
    if not user.is_superuser and roles & set(SCOPED_ROLES):
        # Fail closed: a scoped role without a scope source sees no department.
        source = scope_source()
        departments = _codes(source.departments(user)) if source else []
        sites = (_codes(source.sites(user)) if source else []) or None
    return Scope(
        user=user,
        roles=roles,
        departments=departments,
        sites=sites,
        deidentified=not user.is_superuser and bool(roles) and roles <= set(DEIDENTIFIED_ROLES),
        _perms=frozenset(user.get_all_permissions()),
    )


__all__ = ["RestrictedQuerySet", "Scope", "scope_of"]
