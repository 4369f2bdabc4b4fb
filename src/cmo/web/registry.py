"""The registry of domain apps: how a domain (quality, directory, staff, review, safety, board)
plugs itself into the shell without the shell importing it.

A domain app is one Django app folder whose ``AppConfig`` subclasses :class:`DomainConfig` and
declares a :class:`Domain`: its URL module (mounted at ``/<name>/``), its API router (mounted at
``/api/<name>/``), its navigation entries, its capabilities (Django permissions of the app) and
which roles get them, and its dashboard tiles. ``DomainConfig.ready`` registers it; the shell's
URL root, API, navigation and role set-up read :func:`domains`. Adding a domain is a new folder
plus one INSTALLED_APPS line (the NetBox plug-in pattern).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from django.apps import AppConfig

from cmo.sync import resolve  # re-exported: the one "module:attr" resolver


@dataclass(frozen=True)
class NavItem:
    """A link in the top navigation, shown to users holding ``permission`` (``app.codename``)."""

    label: str
    url_name: str  # e.g. "staff:queue"
    permission: str | None = None
    order: int = 100


@dataclass(frozen=True)
class Tile:
    """One number on the overview page: what it counts, the count, a line of context and the
    page where one acts on it. ``attention`` marks what needs someone today (an overdue
    clock, a current worse signal, an expired credential)."""

    title: str
    value: str
    detail: str = ""
    url: str | None = None
    attention: bool = False


@dataclass(frozen=True)
class Domain:
    """What a domain app contributes to the shell. ``name`` is the one name used everywhere:
    app label, URL prefix ``/<name>/``, API prefix ``/api/<name>/``, tables ``<name>__*``,
    docs page ``docs/<name>.md``, tests ``tests/<name>/``."""

    name: str
    title: str
    urls: str | None = None  # dotted module with ``app_name = name`` and ``urlpatterns``
    api: str | None = None  # "module:attribute" of a ninja Router
    nav: tuple[NavItem, ...] = ()
    # Capabilities are the app's permissions: (codename, description).
    capabilities: tuple[tuple[str, str], ...] = ()
    # role -> codenames of this domain's capabilities that the role holds.
    grants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # New roles this domain brings (role name -> label), e.g. a committee; the shell's roles
    # (cmo, quality_analyst, ..., compliance) need not be repeated.
    roles: Mapping[str, str] = field(default_factory=dict)
    # role -> url name of the page that role lands on (first registered domain wins).
    landing: Mapping[str, str] = field(default_factory=dict)
    # "module:function" of ``f(request) -> list[Tile]``: this domain's numbers on the overview
    # page (``/overview/``), only those the request's user may see.
    tiles: str | None = None
    order: int = 100
    # "module:attribute" of a :class:`ScopeSource`: which departments and sites a user is
    # limited to (the directory declares it; the shell's scope asks it, never imports it).
    scope: str | None = None
    # "module:function" of ``f(rows) -> summary``: applies the rows that ``cmo.sync.READERS``
    # read from the warehouse for this domain to its tables (the directory's sync).
    sync: str | None = None
    # Models ("app_label.ModelName") copied one way into warehouse tables ``app__<app>_<model>``
    # by the sync, so builds and the board report can join them (cmo.web.export).
    exports: tuple[str, ...] = ()
    # Derived tables for the warehouse: table suffix -> "module:function" of ``f() ->
    # pyarrow.Table``, written as ``app__<name>_<suffix>``. For rows that must not leave whole
    # (a de-identified view of a model, such as the safety events without any identity).
    export_tables: Mapping[str, str] = field(default_factory=dict)
    # "module:function" of ``f() -> int``: fill the domain's page caches, run in the background
    # by ``cmo serve`` at start; returns the number of pages built.
    warm: str | None = None
    # "module:function" of ``f(warehouse: Path) -> None``: seed the domain's demo data (files,
    # events, cases) from the demo warehouse, read-only; run by ``cmo demo`` (cmo.web.seed).
    demo: str | None = None


_DOMAINS: dict[str, Domain] = {}


def register(domain: Domain) -> None:
    """Register a domain (called from ``DomainConfig.ready``); the same name twice is a bug."""
    known = _DOMAINS.get(domain.name)
    if known is not None and known is not domain:
        raise RuntimeError(f"domain {domain.name!r} registered twice")
    _DOMAINS[domain.name] = domain


def domains() -> list[Domain]:
    """Registered domains in their display order."""
    return sorted(_DOMAINS.values(), key=lambda d: (d.order, d.name))


class DomainConfig(AppConfig):
    """Base ``AppConfig`` of a domain app: registers ``domain`` when Django is ready."""

    domain: ClassVar[Domain]
    default_auto_field = "django.db.models.BigAutoField"
    # Django picks the one AppConfig subclass found in an app's apps.py; this base class, imported
    # there, must not count as a candidate, while every subclass does.
    default = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.default = "default" not in cls.__dict__ or bool(cls.__dict__["default"])

    def ready(self) -> None:
        if self.label != self.domain.name:
            # One name everywhere: the app label is the permission prefix and the table prefix.
            raise RuntimeError(f"app label {self.label!r} differs from domain {self.domain.name!r}")
        register(self.domain)
        self.connect_signals()

    def connect_signals(self) -> None:
        """Override to connect the domain's signals."""


class ScopeSource(Protocol):
    """Where a user's department and site scope is kept (the directory app implements it)."""

    def departments(self, user: Any) -> list[str]:
        """Codes of the departments the user is limited to (a chair's)."""

    def sites(self, user: Any) -> list[str]:
        """Codes of the sites the user is limited to."""

    def assign(self, user: Any, departments: Iterable[str], sites: Iterable[str] = ()) -> None:
        """Set the user's departments and sites by code (``cmo user add --department``)."""


def scope_source() -> ScopeSource | None:
    """The registered scope source (the first domain declaring one), if any."""
    for domain in domains():
        if domain.scope:
            source: ScopeSource = resolve(domain.scope)
            return source
    return None


Tiles = Callable[[Any], list[dict[str, Any]]]

__all__ = [
    "Domain",
    "DomainConfig",
    "NavItem",
    "ScopeSource",
    "Tiles",
    "domains",
    "register",
    "resolve",
    "scope_source",
]
