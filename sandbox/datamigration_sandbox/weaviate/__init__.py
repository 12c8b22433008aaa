"""Weaviate-compatible server (REST + gRPC), in memory, with fault knobs."""
