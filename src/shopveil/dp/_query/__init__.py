"""The DP query engine: SQL subset → plan → DuckDB aggregation → noise → ledger."""
