"""`cmo spc` and `cmo funnel`: control charts and funnel plots from a CSV file, for analysts.

Heavy imports (pandas, scipy, vl-convert) happen inside the commands so `cmo --help` is fast.
Bad input gives one line on stderr and exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import pandas as pd

CHART_HELP = (
    "Chart type: run (median, runs rules only), i (individual values), mr (moving ranges), "
    "xbar/s (subgroup means/SDs; rows sharing --x form a subgroup), t (time between rare "
    "events), p (proportion, needs --n), pprime (Laney P′, large n), c (counts), u (rate, "
    "needs --n), uprime (Laney U′), g (cases between rare events)."
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _read_csv(path: Path) -> pd.DataFrame:
    import pandas as pd

    if not path.exists():
        raise _fail(f"file not found: {path}")
    if path.is_dir():
        raise _fail(f"{path} is a folder, not a CSV file")
    try:
        data = pd.read_csv(path, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise _fail(f"cannot read {path} as CSV: {str(exc).splitlines()[0]}") from None
    if data.empty:
        raise _fail(f"{path} has no data rows")
    return data


def _column(data: pd.DataFrame, name: str, option: str) -> pd.Series:
    if name not in data.columns:
        cols = ", ".join(map(str, data.columns))
        raise _fail(f"{option}: no column {name!r} in the file (columns: {cols})")
    return data[name]


def _numeric(
    data: pd.DataFrame, name: str, option: str, *, allow_negative: bool = False
) -> pd.Series:
    """The column as numbers; one-line errors for text, blanks and negative values."""
    import pandas as pd

    raw = _column(data, name, option)
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise _fail(
            f"{option}: column {name!r} has a non-numeric value {raw.iloc[i]!r} on line {i + 2}"
        )
    if values.isna().any():
        i = int(values.isna().to_numpy().nonzero()[0][0])
        raise _fail(f"{option}: column {name!r} is empty on line {i + 2}")
    if not allow_negative and (values < 0).any():
        i = int((values < 0).to_numpy().nonzero()[0][0])
        raise _fail(
            f"{option}: column {name!r} has a negative value {values.iloc[i]:g} on line {i + 2}"
        )
    return values.astype(float)


def _no_zero(values: pd.Series, name: str, option: str) -> None:
    if (values == 0).any():
        i = int((values == 0).to_numpy().nonzero()[0][0])
        raise _fail(
            f"{option}: column {name!r} is 0 on line {i + 2} (a rate needs a denominator > 0)"
        )


def _x_values(data: pd.DataFrame, name: str) -> pd.Series:
    """Numbers stay numbers; ISO dates become dates; anything else is a category (dots only)."""
    import pandas as pd

    raw = _column(data, name, "--x")
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return raw
    dates = pd.to_datetime(raw, errors="coerce", format="ISO8601")
    if dates.notna().all():
        return dates
    return pd.Series(
        pd.Categorical(raw.astype(str), categories=list(dict.fromkeys(raw.astype(str))))
    )


def _exclude(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise typer.BadParameter(
            "give point numbers separated by commas, e.g. 3,17", param_hint="--exclude"
        ) from None
    if any(v < 1 for v in values):
        raise typer.BadParameter("point numbers start at 1", param_hint="--exclude")
    return values


def _write_chart(spec: dict[str, Any], png: Path | None, svg: Path | None) -> None:
    from cmo.stats.charts import to_png, to_svg

    if png is not None:
        png.write_bytes(to_png(spec))
    if svg is not None:
        svg.write_text(to_svg(spec), encoding="utf-8")


def spc(
    file: Annotated[Path, typer.Argument(help="CSV file with a header row.", show_default=False)],
    y: Annotated[str, typer.Option("--y", help="Column with the values, counts or numerators.")],
    chart: Annotated[str, typer.Option("--chart", help=CHART_HELP)] = "run",
    x: Annotated[
        str | None,
        typer.Option(
            "--x",
            help="Column with the subgroup (period, date or sample number). Default: row order.",
        ),
    ] = None,
    n: Annotated[
        str | None, typer.Option("--n", help="Column with the denominators (p, pprime, u, uprime).")
    ] = None,
    freeze: Annotated[
        int | None,
        typer.Option(
            "--freeze",
            min=2,
            help="Compute centre line and limits from the first K subgroups only.",
        ),
    ] = None,
    part: Annotated[
        str | None,
        typer.Option(
            "--part", help="Column with phase labels; limits are recalculated where it changes."
        ),
    ] = None,
    exclude: Annotated[
        str | None,
        typer.Option(
            "--exclude", help="Subgroup numbers (from 1) left out of the limits, e.g. 3,17."
        ),
    ] = None,
    multiply: Annotated[
        float, typer.Option("--multiply", help="Scale y, e.g. 100 for percent.")
    ] = 1.0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the per-subgroup result as CSV.")
    ] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Render the chart as PNG.")] = None,
    svg: Annotated[Path | None, typer.Option("--svg", help="Render the chart as SVG.")] = None,
    title: Annotated[str | None, typer.Option("--title", help="Chart title.")] = None,
) -> None:
    """Run chart or Shewhart control chart with the Anhøj runs rules (qicharts2 semantics).

    Example: cmo spc falls.csv --chart u --x month --y falls --n patient_days --multiply 1000
    """
    from cmo.stats.spc import CHARTS, MIN_POINTS, NEEDS_N, control_chart

    if chart not in CHARTS:
        raise typer.BadParameter(f"choose one of {', '.join(CHARTS)}", param_hint="--chart")
    if chart in NEEDS_N and n is None:
        raise typer.BadParameter(
            f"a {chart} chart needs the denominator column --n", param_hint="--n"
        )
    data = _read_csv(file)
    y_vals = _numeric(data, y, "--y", allow_negative=chart in {"run", "i", "mr", "xbar", "s"})
    n_vals = None
    if n is not None:
        n_vals = _numeric(data, n, "--n")
        _no_zero(n_vals, n, "--n")
        if chart in {"p", "pprime"} and (y_vals > n_vals).any():
            i = int((y_vals > n_vals).to_numpy().nonzero()[0][0])
            raise _fail(
                f"--y: numerator {y_vals.iloc[i]:g} exceeds the denominator on line {i + 2}"
            )
    if chart == "t" and (y_vals <= 0).any():
        i = int((y_vals <= 0).to_numpy().nonzero()[0][0])
        raise _fail(f"--y: a t chart needs times between events > 0 (line {i + 2})")
    x_vals = _x_values(data, x) if x is not None else None
    parts = list(_column(data, part, "--part").astype(str)) if part is not None else None
    subgroups = x_vals.nunique() if x_vals is not None else len(data)
    if subgroups < MIN_POINTS[chart]:
        raise _fail(
            f"too few points for a {chart} chart: {subgroups} subgroups, "
            f"need at least {MIN_POINTS[chart]}"
        )
    if chart in {"xbar", "s"} and (x_vals is None or x_vals.value_counts().max() < 2):
        raise _fail(f"an {chart} chart needs subgroups of 2 or more rows sharing the same --x")
    if freeze is not None and freeze > subgroups:
        raise typer.BadParameter(f"only {subgroups} subgroups in the file", param_hint="--freeze")
    try:
        result = control_chart(
            y_vals,
            n_vals,
            chart=chart,
            x=x_vals,
            freeze=freeze,
            part=parts,
            exclude=_exclude(exclude),
            multiply=multiply,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if out is not None:
        result.to_csv(out, index=False)
    if png is not None or svg is not None:
        from cmo.stats.charts import control_chart_spec
        from cmo.stats.spc import CHART_NAMES

        spec = control_chart_spec(
            result,
            title=title or f"{CHART_NAMES[chart]}: {y}" + (f" per {n}" if n else ""),
            y_title=y if n is None else f"{y} / {n}",
            x_title=x or "Subgroup",
            percent=chart in {"p", "pprime"} and multiply == 1,
        )
        _write_chart(spec, png, svg)
    typer.echo(_spc_summary(result, chart))


def _spc_summary(result: pd.DataFrame, chart: str) -> str:
    n_sigma = int(result["sigma_signal"].sum())
    runs = bool(result["runs_signal"].any())
    parts = result["part"].nunique()
    cls = ", ".join(f"{v:.4g}" for v in result.groupby("part")["cl"].first())
    return (
        f"{chart} chart: {len(result)} subgroups, {parts} part{'s' if parts > 1 else ''}, "
        f"centre line {cls}; {n_sigma} outside the limits; "
        f"runs signal: {'yes' if runs else 'no'}"
    )


def funnel(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV file with one row per unit (or several, summed).", show_default=False
        ),
    ],
    numerator: Annotated[
        str, typer.Option("--numerator", help="Column with the events (observed).")
    ],
    denominator: Annotated[
        str | None,
        typer.Option("--denominator", help="Column with the denominators (proportions)."),
    ] = None,
    expected: Annotated[
        str | None, typer.Option("--expected", help="Column with the expected events (O/E ratios).")
    ] = None,
    label: Annotated[str | None, typer.Option("--label", help="Column naming each unit.")] = None,
    od: Annotated[
        str | None,
        typer.Option(
            "--od",
            help="Overdispersion adjustment: shmi (log scale, truncated) or cqc (winsorised).",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the per-unit result as CSV.")
    ] = None,
    png: Annotated[
        Path | None, typer.Option("--png", help="Render the funnel plot as PNG.")
    ] = None,
    svg: Annotated[
        Path | None, typer.Option("--svg", help="Render the funnel plot as SVG.")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Chart title.")] = None,
) -> None:
    """Funnel plot with exact 95% and 99.8% limits (Spiegelhalter 2005) and outlier flags.

    Example: cmo funnel hospitals.csv --numerator deaths --expected expected --label trust --od shmi
    """
    from cmo.stats.funnel import OD_METHODS
    from cmo.stats.funnel import funnel as make_funnel

    if (denominator is None) == (expected is None):
        raise typer.BadParameter(
            "give exactly one of --denominator or --expected", param_hint="--denominator"
        )
    if od is not None and od not in OD_METHODS:
        raise typer.BadParameter(f"choose one of {', '.join(OD_METHODS)}", param_hint="--od")
    data = _read_csv(file)
    num = _numeric(data, numerator, "--numerator")
    size_col, option = (denominator, "--denominator") if denominator else (expected, "--expected")
    assert size_col is not None
    size = _numeric(data, size_col, option)
    _no_zero(size, size_col, option)
    if denominator and (num > size).any():
        i = int((num > size).to_numpy().nonzero()[0][0])
        raise _fail(f"--numerator: {num.iloc[i]:g} exceeds the denominator on line {i + 2}")
    labels = _column(data, label, "--label").astype(str) if label else None
    if (labels.nunique() if labels is not None else len(data)) < 2:
        raise _fail("too few units for a funnel plot: need at least 2")
    try:
        result = make_funnel(
            num,
            size if denominator else None,
            expected=size if expected else None,
            labels=labels,
            od=od,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if out is not None:
        result.to_csv(out, index=False)
    if png is not None or svg is not None:
        from cmo.stats.charts import funnel_spec

        what = f"{numerator} / {size_col}"
        _write_chart(funnel_spec(result, title=title or f"Funnel plot: {what}"), png, svg)
    typer.echo(_funnel_summary(result))


def _funnel_summary(result: pd.DataFrame) -> str:
    attrs = result.attrs
    n95, n998 = int(result["outlier_95"].sum()), int(result["outlier_99_8"].sum())
    text = f"{len(result)} units, target {attrs['target']:.4g}; "
    text += f"{n95} outside 95%, {n998} outside 99.8%"
    if attrs.get("od") and attrs["phi"] == attrs["phi"]:
        text += f"; {attrs['od']} phi {attrs['phi']:.3g}, tau2 {attrs['tau2']:.3g}"
    elif attrs.get("od"):
        text += f"; {attrs['od']}: too few units to estimate overdispersion, exact limits kept"
    flagged = result.loc[result["outlier_99_8"], "label"].astype(str).tolist()
    if flagged:
        text += f" ({', '.join(flagged[:10])}{'…' if len(flagged) > 10 else ''})"
    return text


def register(app: typer.Typer) -> None:
    """Add `cmo spc` and `cmo funnel` to the `cmo` command."""
    app.command("spc", no_args_is_help=True)(spc)
    app.command("funnel", no_args_is_help=True)(funnel)
