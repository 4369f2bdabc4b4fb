"""One-way export of app-database tables to the warehouse (``app__<app>_<model>``).

Each domain lists the models analytics may join (``Domain.exports``); every row of each is
copied whole (columns = the model's concrete fields, foreign keys as ``<field>_id``), with an
explicit Arrow schema so an empty table still has its columns. The child process of the sync
writes Arrow IPC files; the CLI process writes them into the warehouse (the web never does).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
from django.apps import apps
from django.db import models

from cmo.web.registry import domains, resolve

PREFIX = "app__"

_TYPES: list[tuple[type[models.Field[Any, Any]], pa.DataType]] = [
    (models.BooleanField, pa.bool_()),
    (models.DateTimeField, pa.timestamp("us", tz="UTC")),  # before DateField: a subclass
    (models.DateField, pa.date32()),
    (models.FloatField, pa.float64()),
    (models.AutoField, pa.int64()),
    (models.BigAutoField, pa.int64()),
    (models.IntegerField, pa.int64()),
    (models.ForeignKey, pa.int64()),
]


def table_name(model: type[models.Model]) -> str:
    """``directory.Practitioner`` -> ``app__directory_practitioner``."""
    return f"{PREFIX}{model._meta.app_label}_{model._meta.model_name}"


def _arrow_type(f: models.Field[Any, Any]) -> pa.DataType:
    target = f.target_field if isinstance(f, models.ForeignKey) else f
    for kind, arrow in _TYPES:
        if isinstance(target, kind):
            return arrow
    return pa.string()  # text, choices, JSON (as text), decimals as text


def _value(f: models.Field[Any, Any], v: Any) -> Any:
    if isinstance(f, models.JSONField) and v is not None:
        return json.dumps(v, sort_keys=True)
    if _arrow_type(f) == pa.string() and v is not None:
        return str(v)
    return v


def arrow_table(model: type[models.Model]) -> pa.Table:
    """Every row of ``model`` as an Arrow table with its fields' types."""
    fields = [f for f in model._meta.concrete_fields]
    schema = pa.schema([pa.field(f.attname, _arrow_type(f)) for f in fields])
    names = [f.attname for f in fields]
    rows = model._default_manager.order_by("pk").values_list(*names)
    columns = {n: [] for n in names}  # type: dict[str, list[Any]]
    for row in rows.iterator(chunk_size=2000):
        for f, v in zip(fields, row, strict=True):
            columns[f.attname].append(_value(f, v))
    return pa.table(columns, schema=schema)


def exported_models() -> list[type[models.Model]]:
    """The models every registered domain exports, in registry order."""
    return [apps.get_model(label) for d in domains() for label in d.exports]


def derived_tables() -> dict[str, str]:
    """``app__<domain>_<suffix>`` -> the "module:function" that builds it, of every domain."""
    return {
        f"{PREFIX}{d.name}_{suffix}": ref
        for d in domains()
        for suffix, ref in d.export_tables.items()
    }


def write_files(out: Path) -> dict[str, int]:
    """Write one Arrow IPC file per exported model and per derived table into ``out``; returns
    rows per table."""
    tables = {table_name(model): arrow_table(model) for model in exported_models()}
    for name, ref in derived_tables().items():
        table = resolve(ref)()
        if not isinstance(table, pa.Table):
            raise TypeError(f"{ref} returned {type(table).__name__}, not a pyarrow.Table")
        tables[name] = table
    counts = {}
    for name, table in tables.items():
        path = str(out / f"{name}.arrow")
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        counts[name] = table.num_rows
    return counts
