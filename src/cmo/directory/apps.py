from __future__ import annotations

from cmo.web.registry import Domain, DomainConfig


class DirectoryConfig(DomainConfig):
    name = "cmo.directory"
    label = "directory"
    verbose_name = "Directory"
    domain = Domain(name="directory", title="Directory", order=10)
