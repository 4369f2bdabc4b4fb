"""Vega, Vega-Lite and vega-embed served by the app itself (hospital networks have no CDN).

The ``vl-convert-python`` package embeds these libraries; ``javascript_bundle()`` returns them
as one ES module-free script that puts ``vegaEmbed``, ``vega`` and ``vegaLite`` on ``window``.
It is written once per data dir into ``settings.VENDOR_STATIC``.
"""

from __future__ import annotations

import os
from pathlib import Path

BUNDLE_NAME = "vendor/vega-bundle.js"
# Vega-Lite 5, the version the chart specs (here and in cmo.stats.charts) are written for.
VEGALITE_VERSION = "5.21"


def bundle_path() -> Path:
    from django.conf import settings

    return Path(settings.VENDOR_STATIC) / BUNDLE_NAME


def _header() -> str:
    from importlib.metadata import version

    return f"/* vl-convert-python {version('vl-convert-python')}, Vega-Lite {VEGALITE_VERSION} */\n"


def ensure_bundle() -> Path:
    """Write the bundle if it is missing or from another version (about 2 s, 0.9 MB)."""
    path = bundle_path()
    header = _header()
    if path.exists():
        with path.open(encoding="utf-8") as f:
            if f.readline() == header:
                return path
    import vl_convert

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # processes starting together write apart
    bundle = vl_convert.javascript_bundle(None, vl_version=VEGALITE_VERSION)  # type: ignore[arg-type]
    tmp.write_text(header + bundle, encoding="utf-8")
    tmp.replace(path)
    return path
