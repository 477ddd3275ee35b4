"""docker-compose.yml and the Dockerfile: what can be checked without a Docker engine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from simusage.cli import build_parser
from simusage.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"


def compose_command() -> list[str]:
    """The Docker Compose client: the v2 plugin, else the standalone v1 that `make test` installs."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone:
        return [standalone]
    pytest.fail("no Docker Compose client: `make test` installs Debian's docker-compose")


def compose_file() -> dict:
    """docker-compose.yml as data."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def simusage_services() -> dict[str, dict]:
    """The services that run the simusage image."""
    return {
        name: service
        for name, service in compose_file()["services"].items()
        if service.get("image", "").startswith("simusage")
    }


def setting_variables() -> set[str]:
    """Every environment variable the settings read."""
    names = set()
    for field in Settings.model_fields.values():
        names.update(str(choice) for choice in field.validation_alias.choices)
    return names


def test_compose_config_accepts_the_file() -> None:
    result = subprocess.run(
        [*compose_command(), "-f", str(COMPOSE_FILE), "--profile", "demo", "config", "--services"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {
        "kafka", "timescaledb", "migrate", "inventory", "ingest", "api", "producer",
    }


def test_every_command_is_a_real_simusage_subcommand() -> None:
    services = simusage_services()
    assert {"migrate", "inventory", "ingest", "api", "producer"} <= set(services)
    parser = build_parser()
    for name, service in services.items():
        program, *arguments = service["command"]
        assert program == "simusage", name
        parsed = parser.parse_args(arguments)  # exits, failing the test, on an unknown command
        assert callable(parsed.handler), name


def test_environment_names_are_settings() -> None:
    known = setting_variables()
    for name, service in simusage_services().items():
        unknown = set(service.get("environment", {})) - known
        assert not unknown, f"{name} sets variables no setting reads: {unknown}"


def test_services_start_in_order() -> None:
    services = compose_file()["services"]
    assert services["migrate"]["depends_on"]["timescaledb"]["condition"] == "service_healthy"
    for name in ("ingest", "api", "inventory"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["ingest"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("kafka", "timescaledb", "ingest", "api"):
        assert "healthcheck" in services[name], name
    # A fixed container name or host port would stop `--scale ingest=N`.
    assert "container_name" not in services["ingest"] and "ports" not in services["ingest"]


def test_image_runs_as_non_root_without_build_tools() -> None:
    stages = ("\n" + (ROOT / "Dockerfile").read_text()).split("\nFROM ")[1:]
    assert len(stages) == 2, "a build stage and a final stage"
    final = stages[-1]
    assert "\nUSER simusage" in final
    assert "apt-get" not in final and "gcc" not in final
