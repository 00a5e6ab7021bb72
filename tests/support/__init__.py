"""Shared helpers for tests (synthetic filled forms with known values)."""
