"""The README's two set-up commands are interfaces: CI runs the second one verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command() -> None:
    """GIVEN .ci/run's TEST_COMMAND THEN the README shows exactly that line, and the up command too."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    match = re.search(r'^TEST_COMMAND="(.+)"$', ci, flags=re.MULTILINE)
    assert match is not None
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.+?)\n```", readme, flags=re.DOTALL)
    assert blocks[0].endswith("ocr-service up") and "\n" not in blocks[0]
    assert blocks[1] == match.group(1)
