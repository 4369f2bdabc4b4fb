"""The directory: the one identity of sites, departments, units and practitioners.

Every domain (staff, review, safety, board) links to these rows with foreign keys. Rows come
from the warehouse (``core__*`` / ``fhir__*``) through the sync that ``cmo measures run`` and
``cmo demo`` run, or are entered by hand (an applicant the warehouse has never seen). A row the
warehouse no longer has is kept and marked inactive, never deleted: credential files, reviews
and events still point at it.
"""
