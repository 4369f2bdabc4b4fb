"""Frozen, versioned reference models: ``quality__reference_model``.

A risk-adjusted measure is scored with a model fitted once on a stated data window (default:
the first 24 calendar months of discharges, fewer when the data hold fewer complete months)
and stored; every later build scores with the stored model instead of refitting in-sample, so
an expected value, and last year's O/E, do not move when new months of data arrive. This is
how the CMS hospital-wide measures work: the model is estimated on a fixed reference period
and its coefficients are published with the measure year (CMS/Yale CORE, Hybrid Hospital-Wide
Mortality Measure methodology report, 2022; Krumholz HM, et al. Circulation 2006;113:1683-92),
and how Steyerberg recommends validating a prediction model: freeze it, then test it on later
data (Clinical Prediction Models, 2nd ed. 2019, ch. 17, temporal validation).

Each row of the table is one version of one model (key = measure id, or ``IMORT/ICU`` for the
ICU model): the model JSON (terms, levels, coefficients), ``model_hash`` (SHA-256 of the
coefficients, terms, window and spec hash), ``spec_hash`` (SHA-256 of the measure's spec and
the covariate definitions, :func:`spec_hash`), the data window, when and why it was fitted.
The newest version of a key is the one in use; ``cmo measures model refit`` appends a new
version and keeps the old ones. A stored model whose ``spec_hash`` differs from the code's is
stale: ``cmo measures run`` stops and says to refit (:class:`StaleModel`).

Why a warehouse table and not a JSON file in the data directory: the model belongs to the data
it was fitted on, and the table is written atomically with the build (``Warehouse.write``),
on DuckDB and Spark alike, travels with a copied warehouse and reaches the web's read-only
serving snapshot; a file beside it could be lost or paired with another warehouse.
``--save-models``/``--model-file`` still export and import models as JSON.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from cmo.errors import CmoError
from cmo.measures import risk

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.warehouse import Warehouse

TABLE = "quality__reference_model"
SCHEMA = {
    "measure_id": "string",  # the model's key: a measure id, or IMORT/ICU
    "version": "int64",
    "model_hash": "string",
    "spec_hash": "string",
    "window_start": "date",
    "window_end": "date",
    "fitted_at": "timestamp",
    "n_fit": "int64",
    "n_reference": "int64",
    "reason": "string",
    "model_json": "string",
}
DEFAULT_WINDOW_MONTHS = 24
# The spec fields that define who is counted and what counts as the outcome: a change makes a
# stored model stale. Wording fields (title, citation, description) do not.
SPEC_FIELDS = ("measure_id", "version", "kind", "unit_of_analysis", "risk_adjusted")


class StaleModel(CmoError):
    """A stored reference model was fitted for another measure spec or covariate set."""


def spec_hash(spec_row: dict[str, Any], extras: tuple[str, ...] = ()) -> str:
    """SHA-256 of the measure's defining spec fields and the covariate definitions."""
    data = {
        "spec": {k: spec_row.get(k) for k in SPEC_FIELDS},
        "covariates": risk.covariate_spec(extras),
    }
    return _sha(data)


def model_hash(model: dict[str, Any]) -> str:
    """SHA-256 of what scores a stay: terms, levels, coefficients, plus the window and spec."""
    keys = (
        "measure_id",
        "terms",
        "age_levels",
        "system_levels",
        "flags",
        "extras",
        "coef",
        "reference_rate",
        "window_start",
        "window_end",
        "spec_hash",
    )
    return _sha({k: model.get(k) for k in keys})


def _sha(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def default_window(
    stays: ir.Table, data_end: date, months: int = DEFAULT_WINDOW_MONTHS
) -> tuple[date, date]:
    """The first ``months`` calendar months of discharges: from the 1st of the month of the
    earliest discharge to the end of the ``months``-th month, cut at the end of the last
    complete month before the data end (the data end itself when it is a month end; the data
    end when not one month is complete)."""
    first = stays.discharge_date.min().execute()
    if first is None or pd.isna(first):
        return data_end, data_end
    start = pd.Timestamp(first).date().replace(day=1)
    end = (pd.Timestamp(start) + pd.DateOffset(months=months) - pd.Timedelta(days=1)).date()
    month_end = (pd.Timestamp(data_end) + pd.offsets.MonthEnd(0)).date()
    last_complete = data_end if month_end == data_end else _previous_month_end(data_end)
    if last_complete < start:
        last_complete = data_end
    return start, min(end, last_complete)


def _previous_month_end(day: date) -> date:
    return (pd.Timestamp(day.replace(day=1)) - pd.Timedelta(days=1)).date()


def stamp(
    model: dict[str, Any],
    key: str,
    version: int,
    spec: str,
    window: tuple[date, date],
    reason: str,
) -> dict[str, Any]:
    """``model`` with its identity: key, version, spec hash, window, reason and model hash."""
    out = dict(model)
    out.update(
        measure_id=key,
        model_version=version,
        spec_hash=spec,
        window_start=window[0].isoformat(),
        window_end=window[1].isoformat(),
        window=f"{window[0]} to {window[1]}",
        reason=reason,
    )
    out["model_hash"] = model_hash(out)
    return out


def versions(wh: Warehouse, key: str | None = None) -> pd.DataFrame:
    """Every stored version (newest last per key), without the model JSON."""
    if not wh.exists(TABLE):
        return pd.DataFrame(columns=[c for c in SCHEMA if c != "model_json"])
    t = wh.table(TABLE)
    if key is not None:
        t = t.filter(t.measure_id == key)
    t = t.drop("model_json").order_by(["measure_id", "version"])
    frame: pd.DataFrame = t.to_pandas()
    for col in ("window_start", "window_end"):
        frame[col] = [pd.Timestamp(v).date() for v in frame[col]]
    return frame


def load(wh: Warehouse) -> dict[str, dict[str, Any]]:
    """The model in use per key: its newest version."""
    if not wh.exists(TABLE):
        return {}
    rows = wh.table(TABLE).select("measure_id", "version", "model_json").to_pandas()
    out: dict[str, dict[str, Any]] = {}
    for row in rows.sort_values(["measure_id", "version"]).itertuples():
        out[str(row.measure_id)] = json.loads(str(row.model_json))
    return out


def next_version(wh: Warehouse, key: str) -> int:
    frame = versions(wh, key)
    return int(frame["version"].max()) + 1 if len(frame) else 1


def store(wh: Warehouse, models: list[dict[str, Any]]) -> int:
    """Append stamped models as new versions (the table is rewritten atomically with the old
    versions kept); returns the number of rows in the table."""
    import ibis

    old = wh.table(TABLE).to_pandas() if wh.exists(TABLE) else pd.DataFrame(columns=list(SCHEMA))
    new = pd.DataFrame(
        [
            {
                "measure_id": m["measure_id"],
                "version": int(m["model_version"]),
                "model_hash": m["model_hash"],
                "spec_hash": m["spec_hash"],
                "window_start": date.fromisoformat(m["window_start"]),
                "window_end": date.fromisoformat(m["window_end"]),
                "fitted_at": datetime.fromisoformat(m["fitted_at"]).replace(tzinfo=None),
                "n_fit": int(m["n_fit"]),
                "n_reference": int(m["n_reference"]),
                "reason": m.get("reason", ""),
                "model_json": json.dumps(m),
            }
            for m in models
        ],
        columns=list(SCHEMA),
    )
    both = pd.concat([old[list(SCHEMA)], new], ignore_index=True) if len(old) else new
    for col in ("window_start", "window_end"):
        both[col] = pd.to_datetime(both[col]).dt.date
    both["fitted_at"] = pd.to_datetime(both["fitted_at"])
    wh.write(TABLE, ibis.memtable(both, schema=ibis.schema(SCHEMA)))
    return wh.count(TABLE)
