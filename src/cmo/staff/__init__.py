"""The medical staff office (issue 15): credential files, expirables, exclusion screening,
appointments and privileges. A domain app of the web shell (``cmo.web.registry``)."""
