"""Retention: erase documents when their time is up (or on request) and certify it."""
