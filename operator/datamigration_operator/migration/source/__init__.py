"""The SQLite side: consistent snapshots, keyset-paged reads, lookups by key, the app's outbox."""
