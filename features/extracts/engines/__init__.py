"""The SQL engines the build and the training statistics run on: DuckDB (default) and Spark."""
