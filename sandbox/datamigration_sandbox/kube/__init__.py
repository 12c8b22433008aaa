"""Kubernetes API emulator (aiohttp) with an in-memory object store."""
