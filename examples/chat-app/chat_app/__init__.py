"""The sample chat-history service: what the sandbox demo and the kind e2e deploy.

A small app in the shape of the system we replace (conversations, messages, documents in
SQLite through the SQLAlchemy ORM, a JSON HTTP API) that uses the dual-write library the way an
application team would: a few lines in `chat_store`, the mode from its mounted ConfigMap.
"""
