"""``python -m scanner_bridge`` is the same as the ``scanner-bridge`` command."""

from scanner_bridge.cli import main

raise SystemExit(main())
