"""Board pages: the CMO edits the draft's summary and publishes; the publication is frozen
(rebuilds and new data never change it); the board member lands on it; chairs see their
department's scorecard; the command writes board.html and board.pdf."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from board_sample import QUARTER

pytestmark = pytest.mark.django_db


def _publish(client: Any, summary: str | None = None) -> Any:
    from cmo.board.models import BoardReport

    if summary is not None:
        r = client.post("/board/draft/", {"period": QUARTER, "site": "", "summary": summary})
        assert r.status_code == 302, r.content[:300]
    r = client.post("/board/draft/publish/", {"period": QUARTER, "site": ""})
    assert r.status_code == 302, r.content[:300]
    return BoardReport.objects.get(period=QUARTER, site="", status="published")


def test_cmo_edits_the_summary_and_publishes(client_for: Any, app_rows: dict[str, Any]) -> None:
    cmo = client_for("cmo")
    page = cmo.get(f"/board/draft/?period={QUARTER}")
    assert page.status_code == 200
    generated = page.context["form"].initial["summary"]
    assert "measures" in generated and "Being done" in generated
    # The summary form refuses full dates (the report gives months) and empty text.
    bad = cmo.post("/board/draft/", {"period": QUARTER, "summary": "Seen on 2024-11-03."})
    assert bad.status_code == 400 and b"to the month" in bad.content
    assert cmo.post("/board/draft/", {"period": QUARTER, "summary": "  \n "}).status_code == 400
    edited = "Mortality is stable.\nThe falls programme continues in 2025-01."
    report = _publish(cmo, edited)
    assert report.numbers["summary"] == [
        "Mortality is stable.",
        "The falls programme continues in 2025-01.",
    ]
    assert "Mortality is stable." in report.body and report.pdf and report.verify()
    shown = cmo.get(f"/board/reports/{report.pk}/").content.decode()
    assert "Mortality is stable." in shown and "(verified)" in shown
    assert cmo.get(f"/board/reports/{report.pk}/board.pdf").content == bytes(report.pdf)
    assert cmo.get(f"/board/reports/{report.pk}/board.html").content.decode() == report.html
    # Publishing the same quarter again is refused; the draft page says it is frozen.
    again = cmo.post("/board/draft/publish/", {"period": QUARTER, "site": ""}, follow=True)
    assert "already published" in again.content.decode()
    assert "published and frozen" in cmo.get(f"/board/draft/?period={QUARTER}").content.decode()


def test_publication_is_frozen(client_for: Any, app_rows: dict[str, Any]) -> None:
    from cmo.board import publish, services
    from cmo.board.models import BoardReport, FrozenReport
    from cmo.quality.models import MeasureTarget
    from cmo.safety.models import Event
    from cmo.web import warehouse

    report = _publish(client_for("cmo"))
    html, pdf, numbers, digest = report.html, bytes(report.pdf), report.numbers, report.sha256
    # New data: a target set, more events, a fresh cache (as after a rebuild).
    first = report.numbers["scorecard"][0]
    MeasureTarget.objects.create(measure_id=first["measure_id"], value=0.0, source="board 2025")
    for e in Event.objects.all()[:5]:
        e.pk = None
        e.ehr_id = None
        e.save()
    warehouse.clear_cache()
    live = publish.numbers(services.parse_period(QUARTER), "")
    assert live["safety"]["events"] != numbers["safety"]["events"]
    assert live["scorecard"][0]["target_source"] == "board 2025"
    stored = BoardReport.objects.get(pk=report.pk)
    assert (stored.html, bytes(stored.pdf), stored.numbers, stored.sha256) == (
        html,
        pdf,
        numbers,
        digest,
    )
    assert stored.verify()
    page = client_for("board_member").get(f"/board/reports/{report.pk}/").content.decode()
    assert "board 2025" not in page
    stored.summary = "changed"
    with pytest.raises(FrozenReport):
        stored.save()
    with pytest.raises(FrozenReport):
        stored.delete()


def test_board_member_lands_on_the_published_report(
    client_for: Any, app_rows: dict[str, Any]
) -> None:
    board = client_for("board_member")
    assert board.get("/").url == "/board/"
    assert "No report has been published yet" in board.get("/board/").content.decode()
    report = _publish(client_for("cmo"))
    board = client_for("board_member")  # one test client: sign the board member in again
    page = board.get("/board/").content.decode()
    assert report.sha256[:12] in page and 'id="download-pdf"' in page
    assert "Prepare a draft" not in page
    assert board.get("/board/reports/").status_code == 200
    assert board.get(f"/board/draft/?period={QUARTER}").status_code == 403
    assert board.post("/board/draft/publish/", {"period": QUARTER}).status_code == 403
    assert board.get("/board/department/").status_code == 403
    assert board.get(f"/board/export/scorecard.csv?period={QUARTER}").status_code == 403
    api = board.get("/api/board/reports").json()
    assert [r["sha256"] for r in api] == [report.sha256]
    frozen = board.get(f"/api/board/reports/{report.pk}").json()
    assert frozen["numbers"] == report.numbers
    # A chair reads the board's report too: aggregates, no department scope applies.
    assert report.sha256[:12] in client_for("department_chair").get("/board/").content.decode()


def test_chair_sees_their_department_with_practitioners(client_for: Any) -> None:
    from demo_warehouse import CHAIR_DEPARTMENTS, read_table

    chair = client_for("department_chair")
    response = chair.get(f"/board/department/?period={QUARTER}")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    card = response.context["card"]
    assert card["department"] == CHAIR_DEPARTMENTS[0]
    assert [c for c, _ in response.context["choices"]] == CHAIR_DEPARTMENTS
    results = read_table("quality__measure_result")
    dept = results[
        (results["period_type"] == "quarter")
        & (results["level"] == "department")
        & (results["unit_id"] == CHAIR_DEPARTMENTS[0])
        & (results["period_start"].astype(str) == "2024-10-01")
    ].set_index("measure_id")
    for row in card["rows"]:
        if row["value"] is not None:
            assert row["value"] == pytest.approx(float(dept.loc[row["measure_id"], "rate"]))
    named = [p["who"] for row in card["rows"] for p in row["practitioners"]]
    assert named and all(n != "A practitioner" for n in named)
    assert chair.get("/board/department/?department=org-h2-surgery").status_code == 403
    assert chair.get("/board/department/?department=x%00").status_code == 400
    cmo = client_for("cmo").get(f"/board/department/?department=org-h2-surgery&period={QUARTER}")
    assert cmo.status_code in (200, 400)


def test_the_command_writes_html_and_pdf(results_warehouse: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CMO_DATA_DIR": str(tmp_path / "data"),
        "CMO_WAREHOUSE": str(results_warehouse),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("CMO_DATABASE_URL", None)  # the command's own SQLite app database in tmp_path
    cmd = [
        str(Path(sys.executable).with_name("cmo")),
        "report",
        "board",
        "--period",
        QUARTER,
        "--out",
        str(tmp_path / "out"),
    ]
    done = subprocess.run([*cmd], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "board.pdf").read_bytes().startswith(b"%PDF")
    html = (tmp_path / "out" / "board.html").read_text()
    assert "Board quality report · Q4 2024" in html and 'id="methods"' in html
    bad = subprocess.run(
        [*cmd[:4], "2031-Q1"], env=env, capture_output=True, text=True, timeout=300
    )
    assert bad.returncode != 0
    assert "not a complete quarter" in bad.stderr and "Traceback" not in bad.stderr
