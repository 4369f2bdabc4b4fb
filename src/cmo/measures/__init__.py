"""The outcomes engine: core tables (stays, comorbidity, DRG), measures, risk models, results.

``cmo.measures.build.run(wh)`` builds everything; ``cmo.measures.api`` reads the results.
"""
