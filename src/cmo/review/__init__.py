"""OPPE, FPPE, confidential peer review and the practitioner timeline (issue 16)."""
