"""Analytic models of layers: shapes (``layers``), ACE/ACE_v2/BOPS/memory costs (``costs``),
the OPS roofline (``roofline``) and PANN power (``power``)."""
