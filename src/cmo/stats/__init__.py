"""Statistics for improvement: intervals, control charts, funnel plots, CUSUM/VLAD, chart specs.

numpy/scipy/statsmodels/pandas only (no Ibis, no Django), so the web app, the measures build
and reports can all import it cheaply. See docs/statistics.md for methods and citations.
"""
