"""One module per measure; each defines ``MEASURE``. The registry finds them (no hand list)."""
