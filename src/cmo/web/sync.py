"""The web half of the sync (``python -m cmo.web.sync DIR``), run by :mod:`cmo.sync`.

Reads ``DIR/rows.json`` (rows per domain, read from the warehouse by the CLI process), migrates
the app database, applies each domain's rows with its ``Domain.sync`` function, then writes the
exported models as Arrow files into ``DIR`` for the CLI process to put in the warehouse. Prints
one line per domain; a failure exits non-zero with the reason on stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cmo.sync import decode


def main(folder: Path) -> None:
    import cmo.web

    cmo.web.migrate()
    from cmo.web.export import write_files
    from cmo.web.registry import domains, resolve

    payload = json.loads((folder / "rows.json").read_text(), object_hook=decode)
    for domain in domains():
        if domain.sync and domain.name in payload:
            summary = resolve(domain.sync)(payload[domain.name])
            print(f"{domain.name} sync: {summary}", flush=True)
    write_files(folder)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
