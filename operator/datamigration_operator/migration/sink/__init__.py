"""The Weaviate side: connect, ensure collections, write batches that lose nothing, read back."""
