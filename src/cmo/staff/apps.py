from __future__ import annotations

from cmo.web.registry import Domain, DomainConfig, NavItem

# Capabilities: the permissions of this app (``staff.<codename>``), see models.Capability.
VIEW_FILES = "staff.view_files"
EDIT_FILES = "staff.edit_files"
VIEW_APPLICATIONS = "staff.view_applications"
MOVE_APPLICATIONS = "staff.move_applications"
VIEW_PRIVILEGES = "staff.view_privileges"
REVIEW_SCREENING = "staff.review_screening"

CAPABILITIES = (
    ("view_files", "See credential files, expirables and verifications (every view is logged)"),
    ("edit_files", "Edit credential files, record verifications, run screening, confirm holds"),
    ("view_applications", "See appointment applications and their state (no clinical detail)"),
    ("move_applications", "Move an application through the steps the user's role may take"),
    ("view_privileges", "See privilege delineations, grants and case volumes"),
    ("review_screening", "See exclusion-screening runs and confirm or clear possible matches"),
)

ALL = ("view_files", "view_applications", "move_applications", "view_privileges")
GRANTS = {
    "medical_staff_office": (*ALL, "edit_files", "review_screening"),
    "cmo": ALL,  # the CMO records the medical executive committee's step
    "department_chair": ALL,  # scoped to their departments (cmo.web.scope.scope_of)
    "credentials_committee": ALL,
    "board_member": ("view_applications", "move_applications"),  # approval, no clinical detail
    "compliance": ("review_screening",),
}


class StaffConfig(DomainConfig):
    # DomainConfig is in this module's namespace too: without ``default`` Django finds two
    # AppConfig classes here and falls back to a plain AppConfig (the domain never registers).
    default = True
    name = "cmo.staff"
    label = "staff"
    verbose_name = "Medical staff"
    domain = Domain(
        name="staff",
        title="Medical staff",
        urls="cmo.staff.urls",
        api="cmo.staff.api:router",
        nav=(
            NavItem("Medical staff", "staff:queue", permission=VIEW_FILES, order=30),
            NavItem("Screening", "staff:screening", permission=REVIEW_SCREENING, order=31),
            NavItem("Applications", "staff:applications", permission=VIEW_APPLICATIONS, order=32),
        ),
        capabilities=CAPABILITIES,
        grants=GRANTS,
        roles={"credentials_committee": "Credentials committee"},
        landing={"medical_staff_office": "staff:queue", "credentials_committee": "staff:queue"},
        demo="cmo.staff.demo:seed",
        tiles="cmo.staff.tiles:tiles",
        order=30,
    )
