"""The web half of ``cmo demo``'s seeding (``python -m cmo.web.seed WAREHOUSE``).

Migrates the app database, then runs every registered domain's ``Domain.demo`` seed with the
demo warehouse's path (each opens it read-only). Run by :func:`cmo.sync.seed_demo` in a child
process, so the analytics process never loads Django. Prints one line per domain.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(warehouse: Path) -> None:
    import cmo.web

    cmo.web.migrate()
    from django.core import mail
    from django.test.utils import override_settings

    from cmo.web.registry import domains, resolve

    # The seeds' notification mails are kept in memory and counted, not printed: the demo's
    # output stays readable (the app itself uses the configured backend).
    mail.outbox = []
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        for domain in domains():
            if domain.demo:
                resolve(domain.demo)(warehouse)
    if mail.outbox:
        print(f"demo notifications: {len(mail.outbox)} e-mail(s) to the offices", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
