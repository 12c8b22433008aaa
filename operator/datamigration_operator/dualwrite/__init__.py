"""The app side of a migration: mode source, SQLAlchemy outbox, drainer and read routing."""
