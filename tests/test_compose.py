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


def test_scale_profile_has_minio_a_proxy_and_portless_replicas() -> None:
    """GIVEN the compose file THEN MinIO sits under the minio/scale profiles, the proxy and API replicas under
    scale; replicas publish no host port (so any number can run) and the proxy's body limit admits the
    largest upload the service accepts."""
    services = _compose()["services"]
    assert {"minio", "scale"} <= set(services["minio"]["profiles"])
    assert services["proxy"]["profiles"] == ["scale"] and services["api-replica"]["profiles"] == ["scale"]
    assert "ports" not in services["api-replica"]
    assert services["api-replica"]["command"][:2] == ["ocr-service", "api"]
    (mount,) = services["proxy"]["volumes"]
    conf = (ROOT / mount.split(":")[0]).read_text(encoding="utf-8")
    assert "server api:8000" in conf and "server api-replica:8000" in conf
    body_limit_mb = int(conf.split("client_max_body_size", 1)[1].split(";")[0].strip().rstrip("m"))
    assert body_limit_mb * 1024 * 1024 > Settings().max_upload_bytes


def test_storage_and_queues_are_configurable_per_host() -> None:
    """GIVEN the shared environment block THEN storage backend, S3 endpoint, key folder, database, broker and
    worker queues come from .env (worker hosts point them at the central host and the shared key volume), and
    the default storage stays local."""
    env = _compose()["x-ocr-env"]
    for key in ("OCR_STORAGE_BACKEND", "OCR_S3_ENDPOINT_URL", "OCR_KEY_DIR", "OCR_DATABASE_URL", "OCR_BROKER_URL",
                "OCR_WORKER_QUEUES"):
        assert str(env[key]).startswith("${" + key), key
    assert env["OCR_STORAGE_BACKEND"] == "${OCR_STORAGE_BACKEND:-local}"
    assert env["OCR_QUEUE_NAME"] != env["OCR_MAINTENANCE_QUEUE_NAME"]
