"""Scanner bridge: moves scans from the secure-area scanner PC to the OCR service, exactly once.

A separate, standard-library-only distribution (``scanner_bridge/pyproject.toml``) so the
scanner PC needs nothing but Python. It talks to the service over HTTPS only.
"""

__version__ = "0.1.0"
