"""One exception family for user errors: each says in one line what is wrong and what to do.

The ``cmo`` command prints ``cmo: error: <message>`` (and the hint on a second line) and exits
with the error's ``exit_code``; the traceback is shown only with ``cmo --debug``. Anything that
is not a :class:`CmoError` is a bug and keeps its traceback.

Analytics code (warehouse, fhir, measures, stats) raises these; it never imports Django or
Typer for it, so the same errors reach the CLI, the web app and the tests.
"""

from __future__ import annotations


class CmoError(Exception):
    """A user error: bad input, a missing file, a locked warehouse. Never a bug."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(CmoError):
    """A setting (environment variable or option) has a value cmo cannot use."""


class InputError(CmoError):
    """An input path is missing, unreadable, or not what the command expects."""


class WarehouseError(CmoError):
    """The warehouse cannot be opened or used."""


class WarehouseLocked(WarehouseError):
    """Another process holds the warehouse's write lock (a running ingest or build)."""

    exit_code = 3


class NotAWarehouse(WarehouseError):
    """The file exists but is not a DuckDB database (or is empty, or corrupt)."""


class WarehouseCorrupt(WarehouseError):
    """The file is a DuckDB database but its checksums or catalog do not hold."""


class WarehouseReadOnly(WarehouseError):
    """The warehouse file or its folder cannot be written."""


class MissingExtra(CmoError):
    """An optional part of cmo is not installed (e.g. ``--engine spark`` without pyspark)."""

    def __init__(self, extra: str, what: str) -> None:
        super().__init__(
            f"{what} needs the optional '{extra}' extra, which is not installed",
            f"install it with: pip install 'cmo[{extra}]'",
        )
        self.extra = extra


class UnknownName(CmoError):
    """A name the user gave (a measure id, a role, an engine) is not one cmo knows."""

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...]) -> None:
        shown = ", ".join(sorted(known)[:20]) + (" …" if len(known) > 20 else "")
        super().__init__(f"unknown {kind} {name!r}", f"expected one of: {shown}")
        self.kind = kind
        self.name = name


__all__ = [
    "CmoError",
    "ConfigError",
    "InputError",
    "MissingExtra",
    "NotAWarehouse",
    "UnknownName",
    "WarehouseCorrupt",
    "WarehouseError",
    "WarehouseLocked",
    "WarehouseReadOnly",
]
