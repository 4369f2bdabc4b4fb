"""The directory: the one identity of sites, departments, units and practitioners.

Every domain (staff, review, safety, board) links to these rows with foreign keys. Rows come
from the warehouse (``core__*`` / ``fhir__*``) through the sync that ``cmo measures run`` and
``cmo demo`` run, or are entered by hand (an applicant the warehouse has never seen). A row the
warehouse no longer has is kept and marked inactive, never deleted: credential files, reviews
and events still point at it.
"""

from __future__ import annotations

from cmo.web.registry import Domain, DomainConfig, NavItem

VIEW = "directory.view_directory"

_READERS = (
    "cmo",
    "quality_analyst",
    "medical_staff_office",
    "department_chair",
    "safety_officer",
)


class DirectoryConfig(DomainConfig):
    name = "cmo.directory"
    label = "directory"
    verbose_name = "Directory"
    domain = Domain(
        name="directory",
        title="Directory",
        urls="cmo.directory.urls",
        api="cmo.directory.api:router",
        nav=(NavItem("Directory", "directory:practitioners", permission=VIEW, order=50),),
        capabilities=(
            (
                "view_directory",
                "See the directory: sites, departments, practitioners and their memberships",
            ),
        ),
        grants={role: ("view_directory",) for role in _READERS},
        scope="cmo.directory.scope:source",
        sync="cmo.directory.sync:apply_payload",
        exports=(
            "directory.Site",
            "directory.Department",
            "directory.Unit",
            "directory.Practitioner",
            "directory.Membership",
        ),
        order=90,
    )
