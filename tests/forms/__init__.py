"""Tests for form definitions (shipped samples, schema, layout loading)."""
