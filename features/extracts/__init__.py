"""From registry extracts (claims, listings, persons, lists) to a data set: docs/extracts.md."""
