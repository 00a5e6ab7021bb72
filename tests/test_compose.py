"""docker-compose.yml cannot run here (no Docker engine), so this keeps it consistent with the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from typer.main import get_command

from ocr_service.cli.main import app
from ocr_service.config import Settings
from scanner_bridge.cli import build_parser
from scanner_bridge.config import ENV_KEYS

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_stack_has_every_service_with_healthchecks_where_needed() -> None:
    """GIVEN the compose file THEN api, worker (GPU), beat, redis and postgres exist; servers have healthchecks."""
    services = _compose()["services"]
    assert {"api", "worker", "worker-cpu", "beat", "redis", "postgres", "migrate"} <= set(services)
    for name in ("api", "redis", "postgres", "worker"):
        assert "healthcheck" in services[name], name
    devices = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    redis_cmd = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_cmd and "--maxmemory-policy noeviction" in redis_cmd


def test_environment_names_are_real_settings() -> None:
    """GIVEN every OCR_* variable in the compose file THEN each names a Settings field (no silent typos)."""
    fields = {f"OCR_{name.upper()}" for name in Settings.model_fields}
    for name, service in _compose()["services"].items():
        for key in service.get("environment") or {}:
            if key.startswith("OCR_"):
                assert key in fields, f"{name}: {key} is not a setting"


def test_commands_are_real_cli_commands() -> None:
    """GIVEN each ocr-service command in the compose file THEN the CLI has that sub-command."""
    cli = get_command(app)
    for name, service in _compose()["services"].items():
        command = service.get("command") or []
        if command[:1] == ["ocr-service"]:
            sub = cli.commands[command[1]]  # type: ignore[attr-defined]
            if len(command) > 2 and hasattr(sub, "commands") and not command[2].startswith("-"):
                assert command[2] in sub.commands, f"{name}: {command}"


def test_bridge_service_runs_the_bridge_distribution() -> None:
    """GIVEN the bridge service THEN it builds the standalone scanner_bridge distribution, runs a real
    scanner-bridge sub-command, every BRIDGE_* variable is a bridge setting and the token is a secret."""
    import tomllib

    compose = _compose()
    bridge = compose["services"]["bridge"]
    context = ROOT / bridge["build"]["context"]
    project = tomllib.loads((context / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["scanner-bridge"] == "scanner_bridge.cli:main" and project["dependencies"] == []
    assert (context / "Dockerfile").exists()
    command = bridge["command"]
    import argparse

    actions = build_parser()._actions
    (subparsers,) = [a for a in actions if isinstance(a, argparse._SubParsersAction)]
    subcommands = set(subparsers.choices)
    assert subcommands == {"run", "check", "status"}
    assert command[0] == "scanner-bridge" and command[1] in subcommands
    assert set(bridge["environment"]) <= ENV_KEYS
    assert bridge["environment"]["BRIDGE_TOKEN_FILE"] == "/run/secrets/bridge_token"
    assert "bridge_token" in bridge["secrets"] and "bridge_token" in compose["secrets"]
