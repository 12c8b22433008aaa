"""The Job side of a migration: SQLite source, mapping, Weaviate sink, copy/sync/validate."""
