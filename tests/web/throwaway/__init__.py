"""A throwaway domain app: one page, one API route, one nav entry, one capability, one role.

Installed only by tests/web/test_registry.py (through tests/web/throwaway/settings.py), to show
that adding a domain is a folder plus one INSTALLED_APPS line.
"""
