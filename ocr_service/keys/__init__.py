"""Envelope encryption: a random data key per document, wrapped by a key-encryption key (KEK)."""
