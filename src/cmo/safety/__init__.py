"""Patient safety (issue 17): event reporting for everyone, triage with serious-event clocks,
just-culture routing, RCA² investigations and action plans, and whether the actions worked.

See docs/safety.md for the standards each part follows (AHRQ Common Formats v2.0, AHRQ Harm
Scale v1.2, NCC MERP, NQF serious reportable events, TJC sentinel event policy, NPSF RCA²).
"""
