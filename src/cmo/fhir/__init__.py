"""FHIR R4 Bulk Data ingest: explicit per-resource schemas, flattening, quarantine, merge by id."""
