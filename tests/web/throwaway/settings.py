"""The shell's settings plus the throwaway domain: the one line a new domain needs."""

from cmo.web.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "throwaway"]  # noqa: F405
