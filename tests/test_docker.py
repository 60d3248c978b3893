"""docker/: the compose file and the Dockerfile refer to files that exist, wire every setting
the DAG reads, and run commands Airflow knows (no Docker engine needed)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

from pipelines.airflow.config import AWS_CONN_ID, DB_CONN_ID
from pipelines.contract import SOURCES
from pipelines.settings import VALIDATION_POOL

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-pools",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
# Read by the code, but compose wires the case store through the recon_db connection instead.
FALLBACK_ONLY = {"RECON_DB_URL"}
# A name ending in "_" is a family, one per source (RECON_QUARANTINE_MAX_<SOURCE>); each
# member may stay empty, the family's plain name then applies.
FAMILIES = {"RECON_QUARANTINE_MAX_": [f"RECON_QUARANTINE_MAX_{s.upper()}" for s in SOURCES]}
OPTIONAL = {
    "RECON_END_DATE",
    "RECON_ALERT_HTTP_CONN_ID",
    "RECON_ALERT_SLACK_CONN_ID",
    "RECON_ALERT_SMTP_CONN_ID",
    "RECON_ALERT_EMAIL_TO",
    *(m for members in FAMILIES.values() for m in members),
}
# Read by the triage desk (the recon-desk service) and by command-line triage, not the DAG.
DESK_ONLY = {
    "RECON_SECRET_KEY",
    "RECON_SLA_DAYS",
    "RECON_TRUSTED_USER_HEADER",
    "RECON_TRUSTED_PROXIES",
    "RECON_COOKIE_SECURE",
    "RECON_SESSION_HOURS",
    "RECON_TOKEN",
}
# Subcommands of `airflow celery`, which the Celery provider adds: the Airflow image ships
# it; this test environment may not.
CELERY_SUBCOMMANDS = {"worker", "flower", "stop"}


REQUIRED = re.compile(r"\$\{(\w+):\?[^}]+\}")


def default(value: str) -> str:
    """The value compose uses when `${NAME:-default}` is not overridden; a required
    `${NAME:?message}` (a credential) stands as `<NAME>`."""
    value = REQUIRED.sub(r"<\1>", str(value))
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def env_read_by_code() -> set[str]:
    names = set()
    for path in [*REPO.glob("dags/**/*.py"), *REPO.glob("pipelines/**/*.py")]:
        for name in re.findall(r"\bRECON_[A-Z_]+\b", path.read_text()):
            names |= set(FAMILIES.get(name, [name]))
    conns = {f"AIRFLOW_CONN_{c.upper()}" for c in (AWS_CONN_ID, DB_CONN_ID)}
    return names - FALLBACK_ONLY - DESK_ONLY | conns


def test_the_stack_has_every_service():
    assert set(AIRFLOW_SERVICES) | {"postgres", "redis", "minio", "minio-init"} <= set(SERVICES)
    assert SERVICES["airflow-worker"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert (
        urlsplit(SERVICES["airflow-worker"]["environment"]["AIRFLOW__CELERY__BROKER_URL"]).hostname
        == "redis"
    )


def test_build_context_dockerfile_and_mounts_exist():
    for name in AIRFLOW_SERVICES:
        build = SERVICES[name]["build"]
        context = (DOCKER / build["context"]).resolve()
        assert context == REPO
        assert (context / build["dockerfile"]).is_file()
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (DOCKER / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in COMPOSE["volumes"], f"{name}: undeclared volume {source}"


def test_dockerfile_copies_files_that_exist():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.2-python3\.11$", dockerfile, re.M)
    assert "-c constraints.txt" in dockerfile
    copied = []
    for line in re.findall(r"^COPY (.+)$", dockerfile, re.M):
        args = [a for a in line.split() if not a.startswith("--")]
        copied += args[:-1]
    assert {"pipelines", "expectations", "dags", "constraints.txt"} <= set(copied)
    for source in copied:
        assert (REPO / source).exists(), source
    ignored = (DOCKER / "Dockerfile.dockerignore").read_text()
    for source in copied:
        assert f"!{source}" in ignored, f"{source} is excluded from the build context"


def test_every_setting_the_dag_reads_is_wired_into_airflow():
    needed = env_read_by_code()
    assert {
        "RECON_LANDING",
        "RECON_WAREHOUSE",
        "AIRFLOW_CONN_AWS_DEFAULT",
        "AIRFLOW_CONN_RECON_DB",
    } <= needed
    for name in AIRFLOW_SERVICES:
        env = SERVICES[name]["environment"]
        assert needed <= set(env), f"{name} lacks {sorted(needed - set(env))}"
        for var in needed - OPTIONAL:
            assert default(env[var]), f"{name}: {var} has no default"


def test_connections_and_uris_point_at_the_stack():
    env = SERVICES["airflow-worker"]["environment"]
    buckets = default(SERVICES["minio-init"]["command"][0])
    for var in ("RECON_LANDING", "RECON_WAREHOUSE"):
        bucket = urlsplit(default(env[var])).netloc
        assert f"recon/{bucket}" in buckets, f"{var}: bucket {bucket} is never created"
    aws = urlsplit(default(env["AIRFLOW_CONN_AWS_DEFAULT"]))
    assert aws.scheme == "aws"
    endpoint = urlsplit(parse_qs(aws.query)["endpoint_url"][0])
    assert endpoint.hostname in SERVICES and endpoint.hostname == "minio"
    db = urlsplit(default(env["AIRFLOW_CONN_RECON_DB"]))
    assert db.hostname == "postgres" and db.hostname in SERVICES
    init = (DOCKER / "postgres" / "init-recon.sh").read_text()
    assert f"CREATE DATABASE {db.path.lstrip('/')} OWNER {db.username}" in init
    assert f"CREATE ROLE {db.username} LOGIN PASSWORD :'recon_password'" in init
    assert db.password == "<RECON_DB_PASSWORD>"
    postgres = SERVICES["postgres"]["environment"]
    assert postgres["RECON_DB_PASSWORD"] == "${RECON_DB_PASSWORD:?set RECON_DB_PASSWORD}"
    assert '-v recon_password="$RECON_DB_PASSWORD"' in init


def test_every_published_port_listens_on_loopback_only():
    published = {
        name: [str(p) for p in service.get("ports", [])] for name, service in SERVICES.items()
    }
    assert {n for n, ports in published.items() if ports} == {
        "minio",
        "airflow-apiserver",
        "recon-desk",
    }
    for name, ports in published.items():
        for port in ports:
            assert default(port).startswith("127.0.0.1:"), f"{name} publishes {port}"


SECRET = re.compile(r"PASSWORD|SECRET|FERNET|ROOT_USER|ACCESS_KEY")


def test_every_credential_comes_from_the_environment():
    """No default password anywhere: a secret, or the password of a URL, is `${NAME:?...}`,
    so compose refuses to start until it is set (docker/.env)."""
    secrets = urls = 0
    for name, service in SERVICES.items():
        for var, value in (service.get("environment") or {}).items():
            text = default(str(value))
            url = urlsplit(text)
            if url.scheme and "@" in url.netloc:
                urls += 1
                assert re.fullmatch(r"<\w+>", url.password or ""), f"{name}: {var}: {text}"
            elif SECRET.search(var) and var != "RECON_SECRET_KEY":  # the desk's: empty = off
                secrets += 1
                assert re.fullmatch(r"<\w+>", text), f"{name}: {var} has a default: {text}"
    assert secrets >= 10 and urls >= 8
    assert "minioadmin" not in (DOCKER / "compose.yaml").read_text()


PARSE_CLI = r"""
import json, sys
from airflow.cli.cli_parser import get_parser

parser, result = get_parser(), {}
for argv in json.loads(sys.argv[1]):
    try:
        parser.parse_args(argv)
        result[" ".join(argv)] = "ok"
    except SystemExit:
        result[" ".join(argv)] = "invalid"
print("CLI " + json.dumps(result))
"""


def airflow_commands() -> list[list[str]]:
    """Each Airflow service's command and `airflow ...` healthcheck, as argv without `airflow`."""
    commands = []
    for name in AIRFLOW_SERVICES:
        commands.append(SERVICES[name]["command"])
        test = SERVICES[name].get("healthcheck", {}).get("test", [])
        if test[:1] == ["CMD-SHELL"] and test[1].startswith("airflow "):
            commands.append(test[1].split()[1:])
    return commands


def test_commands_are_airflow_commands(tmp_path):
    commands = airflow_commands()
    assert ["celery", "worker"] in commands
    local = [c for c in commands if c[0] != "celery"]
    proc = subprocess.run(
        [sys.executable, "-c", PARSE_CLI, json.dumps(local)],
        env={"AIRFLOW_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("CLI "))
    assert json.loads(line.removeprefix("CLI ")) == {" ".join(c): "ok" for c in local}
    for command in commands:
        if command[0] == "celery":
            assert command[1] in CELERY_SUBCOMMANDS


def test_the_validation_pool_exists_before_the_scheduler_starts():
    pools = SERVICES["airflow-pools"]
    assert pools["command"][:3] == ["pools", "set", VALIDATION_POOL]
    assert int(pools["command"][3]) >= 1
    assert pools["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    scheduler = SERVICES["airflow-scheduler"]["depends_on"]
    assert scheduler["airflow-pools"]["condition"] == "service_completed_successfully"


def test_the_desk_is_wired_to_the_stack_and_bound_to_loopback():
    desk = SERVICES["recon-desk"]
    assert desk["entrypoint"] == ["recon"] and desk["command"][:1] == ["serve"]
    assert all(default(p).startswith("127.0.0.1:") for p in desk["ports"])
    env = desk["environment"]
    assert DESK_ONLY - {"RECON_TOKEN"} <= set(env)
    db = urlsplit(default(env["RECON_DB_URL"]))
    assert db.hostname == "postgres" and db.scheme == "postgresql+psycopg"
    assert default(env["RECON_WAREHOUSE"]) == default(
        SERVICES["airflow-worker"]["environment"]["RECON_WAREHOUSE"]
    )
    assert default(env["RECON_SECRET_KEY"]) == ""  # never a default secret: set it to start
    assert urlsplit(default(env["AWS_ENDPOINT_URL"])).hostname == "minio"
