from __future__ import annotations

from cmo.web.registry import Domain, DomainConfig, NavItem

# Capabilities: permissions of this app (``board.<codename>``), created by cmo.web.roles.
VIEW_REPORT = "board.view_report"
EDIT_REPORT = "board.edit_report"
VIEW_DEPARTMENT = "board.view_department_scorecard"
EXPORT = "board.export_scorecard"

CAPABILITIES = (
    ("view_report", "See the published board quality reports (de-identified aggregates)"),
    ("edit_report", "Prepare a draft board report, edit its summary and publish it"),
    ("view_department_scorecard", "See a department's scorecard (chairs: their departments)"),
    ("export_scorecard", "Export the board scorecard as CSV and FHIR MeasureReport"),
)

GRANTS = {
    "board_member": ("view_report",),
    "cmo": ("view_report", "edit_report", "view_department_scorecard", "export_scorecard"),
    "quality_analyst": ("view_report", "view_department_scorecard", "export_scorecard"),
    "department_chair": ("view_report", "view_department_scorecard"),  # scoped to theirs
    "medical_staff_office": ("view_report",),
    "safety_officer": ("view_report",),
}


class BoardConfig(DomainConfig):
    # DomainConfig is in this module's namespace too: ``default`` says which config is the app's.
    default = True
    name = "cmo.board"
    label = "board"
    verbose_name = "Board report"
    domain = Domain(
        name="board",
        title="Board quality report",
        urls="cmo.board.urls",
        api="cmo.board.api:router",
        nav=(
            NavItem("Board report", "board:latest", permission=VIEW_REPORT, order=60),
            NavItem("Department scorecard", "board:department", VIEW_DEPARTMENT, order=61),
        ),
        capabilities=CAPABILITIES,
        grants=GRANTS,
        landing={"board_member": "board:latest"},
        order=60,
    )
