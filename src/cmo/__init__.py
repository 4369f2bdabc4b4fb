"""cmo: the open platform for the office of a health system's Chief Medical Officer."""

__version__ = "0.1.0"
