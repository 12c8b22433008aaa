"""Local control plane: a Kubernetes API emulator, a Job runner and a Weaviate-compatible server.

Faithful where our code depends on the real APIs; see README "The sandbox" for what is emulated.
"""
