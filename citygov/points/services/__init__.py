"""Points services, one module per area: ``ledger`` (points movements), ``merchants``, ``members``.

Each ``do_*`` owns its transaction, its permission check and its change-log row.
"""
