"""The deployment files stay consistent with the code they start."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_compose_runs_the_whole_stack_from_one_image():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "redis", "postgres", "mailpit"} <= set(services)
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://")
    assert "gunicorn ecgportal.wsgi:application" in services["web"]["command"]
    assert "celery -A ecgportal worker" in services["worker"]["command"]


def test_makefile_offers_the_two_commands_and_ci_calls_make_test():
    makefile = (REPO / "Makefile").read_text()
    assert "\nrun:" in makefile and "\ntest:" in makefile
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_compose_builds_once_migrates_first_and_keeps_beat_running():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    built = [name for name, service in services.items() if "build" in service]
    assert built == ["migrate"], "the portal image is built once and shared"
    for name in ("web", "worker", "beat"):
        service = services[name]
        assert service["image"] == services["migrate"]["image"]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["restart"] == "unless-stopped"
    # beat runs as the unprivileged user: its schedule goes to a volume that user owns
    assert "--schedule /app/beat/" in services["beat"]["command"]
    assert "/app/beat" in (REPO / "Dockerfile").read_text()
    for name, service in services.items():
        assert not str(service.get("image", "")).endswith(":latest"), f"{name} image is not pinned"


def test_the_image_never_contains_local_secrets():
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".env" in ignored
