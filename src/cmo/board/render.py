"""The report rendered once from one set of templates: the page body, the standalone HTML
document (``board.html``: the body with its stylesheet inlined) and the PDF (WeasyPrint, extra
``pdf``). Charts are SVG rendered on the server (vl-convert) and embedded as images, so the
page, the file and the PDF show the same pictures and the page needs no script."""

from __future__ import annotations

from importlib import resources
from typing import Any

from django.template.loader import render_to_string

from cmo.errors import CmoError


class PdfUnavailable(CmoError):
    """WeasyPrint (the ``pdf`` extra) or Debian's pango is missing."""


def css() -> str:
    """The report's stylesheet (the page links it; the file and the PDF inline it)."""
    text: str = (resources.files("cmo.board") / "static" / "board" / "board.css").read_text()
    return text


def body(numbers: dict[str, Any]) -> str:
    """The report's body: the only template that shows numbers, and it gets only these."""
    html: str = render_to_string("board/_report_body.html", {"n": numbers})
    return html


def document(numbers: dict[str, Any], body_html: str | None = None) -> str:
    """The standalone HTML document (no external reference: it opens offline)."""
    html: str = render_to_string(
        "board/document.html",
        {"n": numbers, "body": body_html if body_html is not None else body(numbers), "css": css()},
    )
    return html


def pdf(html: str) -> bytes:
    """The document as PDF (nothing is fetched: the document references nothing outside)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # not installed, or Debian's pango missing
        raise PdfUnavailable(
            "PDF needs the pdf extra (pip install 'cmo[pdf]') and Debian's pango"
        ) from exc
    out: bytes = HTML(string=html).write_pdf()
    return out
