"""The README's two set-up commands are interfaces: CI runs the second one verbatim."""

from __future__ import annotations

import os
import re
import subprocess
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


def _up_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return str(re.findall(r"```bash\n(.+?)\n```", readme, flags=re.DOTALL)[0])


def test_readme_up_command_installs_every_package_ci_installs() -> None:
    """GIVEN .ci/run's APT_PACKAGES (what the test suite needs, fonts included) THEN the README's first
    command installs every one of them: a newcomer who runs the two commands in order has them all."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    match = re.search(r'^APT_PACKAGES="(.+)"$', ci, flags=re.MULTILINE)
    assert match is not None
    install = re.search(r"apt-get install -y -qq ([^&]+)&&", _up_command())
    assert install is not None
    assert set(match.group(1).split()) <= set(install.group(1).split())
    assert {"fonts-klee", "fonts-seto", "fonts-kiloji", "poppler-utils"} <= set(match.group(1).split())


def test_readme_up_command_uses_sudo_only_when_not_root() -> None:
    """GIVEN the README's first command WHEN its privilege prefix runs in bash THEN it is empty for root
    (a root container has no sudo) and 'sudo' for anyone else."""
    prefix = _up_command().split(";", 1)[0]
    assert prefix.startswith("S=")
    result = subprocess.run(
        ["bash", "-c", f'{prefix}; printf "%s" "$S"'], capture_output=True, text=True, check=True, timeout=10
    )
    assert result.stdout == ("" if os.geteuid() == 0 else "sudo")
