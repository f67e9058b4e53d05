"""Pure engines of the datagov module: frequency normaliser, freshness check, catalogue reader."""
