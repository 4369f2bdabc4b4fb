"""The warehouse: one Ibis connection factory for DuckDB (default) and Spark.

Tables are named ``<layer>__<name>`` (``fhir__patient``, ``core__inpatient_stay``,
``quality__measure_result``). Writes are atomic: a table is built under a staging name and
swapped in with a rename inside one transaction (DuckDB), so readers never see a half-written
table and a failed or killed load leaves the previous table in place.
"""

from cmo.warehouse.connection import (
    ENGINES,
    Warehouse,
    connect,
)

__all__ = ["ENGINES", "Warehouse", "connect"]
