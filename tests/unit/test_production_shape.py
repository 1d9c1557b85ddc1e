"""Static checks of the production shape: Dockerfile, .dockerignore and docker-compose.yml.

Nothing here builds an image or starts a container; these tests read the files and hold
them to what the code expects (settings.ENV_VARS, connectors/*.yaml, requirements.lock).
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement

from settings import ENV_VARS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CONNECTORS_DIR = ROOT / "ops" / "connectors"

# --quiet: no banner on stdout (JSON logs stay JSON); the level comes from LOG_LEVEL.
WORKER_CMD = ["faust", "--quiet", "-A", "app", "worker"]
EXPECTED_SERVICES = {"kafka", "postgres", "migrate", "connect", "connectors", "worker-1", "worker-2", "prometheus",
                     "grafana"}
DEPENDS_ON_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def compose() -> dict:
    with COMPOSE_FILE.open() as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


@pytest.fixture(scope="module")
def services(compose) -> dict:
    svcs = compose.get("services")
    assert isinstance(svcs, dict) and svcs, "docker-compose.yml has no services"
    return svcs


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return parse_dockerfile(DOCKERFILE.read_text())


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            keyword, _, args = full.partition(" ")
            instructions.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a continued instruction"
    return instructions


def instructions_of(dockerfile, keyword: str) -> list[str]:
    return [args for kw, args in dockerfile if kw == keyword]


def dockerfile_env(dockerfile) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in instructions_of(dockerfile, "ENV"):
        for name, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|\S*)", args):
            env[name] = value.strip('"')
    return env


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            name, _, value = str(item).partition("=")
            out[name] = value
        return out
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def build_of(service: dict) -> tuple[Path, Path] | None:
    """(context dir, Dockerfile path) of a service with a build section."""
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    context = (ROOT / build.get("context", ".")).resolve()
    return context, (context / build.get("dockerfile", "Dockerfile")).resolve()


def built_from_our_dockerfile(services: dict) -> dict[str, dict]:
    return {
        name: svc
        for name, svc in services.items()
        if (b := build_of(svc)) is not None and b[1] == DOCKERFILE.resolve()
    }


def depends_on_of(service: dict):
    return service.get("depends_on") or {}


def has_healthcheck(name: str, service: dict, dockerfile) -> bool:
    hc = service.get("healthcheck")
    if isinstance(hc, dict):
        if hc.get("disable"):
            return False
        if hc.get("test"):
            return True
    # No compose-level check: the image's HEALTHCHECK applies, known only for our image.
    b = build_of(service)
    return b is not None and b[1] == DOCKERFILE.resolve() and bool(instructions_of(dockerfile, "HEALTHCHECK"))


def one_shot(service: dict) -> bool:
    return str(service.get("restart", "no")) == "no"


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- compose


def test_compose_parses_with_the_expected_services(services):
    missing = EXPECTED_SERVICES - set(services)
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


def test_build_contexts_exist_and_contain_the_dockerfile(services):
    built = {n: build_of(s) for n, s in services.items() if build_of(s) is not None}
    assert built, "no service is built from a Dockerfile"
    for name, (context, dockerfile_path) in built.items():
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        assert dockerfile_path.is_file(), f"{name}: {dockerfile_path} does not exist"
        assert context in dockerfile_path.parents, f"{name}: Dockerfile is outside the build context"
    assert {"connectors", "worker-1", "worker-2"} <= set(built_from_our_dockerfile(services))


def test_bind_mounts_exist_and_named_volumes_are_declared(compose, services):
    declared = set((compose.get("volumes") or {}).keys())
    binds = 0
    for name, svc in services.items():
        for vol in svc.get("volumes") or []:
            if isinstance(vol, dict):
                kind, source = vol.get("type", "volume"), str(vol.get("source", ""))
            else:
                source = str(vol).split(":", 1)[0]
                kind = "bind" if source.startswith((".", "/", "~")) else "volume"
            if kind == "bind":
                binds += 1
                host = (ROOT / source).resolve()
                assert host.exists(), f"{name}: bind-mounted host path {source} does not exist"
            elif source:
                assert source in declared, f"{name}: named volume {source} is not declared under volumes:"


def test_postgres_has_logical_decoding_and_the_migrate_job_runs_the_migrations(services):
    pg = services["postgres"]
    mounts = [str(v) for v in pg.get("volumes") or []]
    # The first-start init folder records nothing: a second migration would never apply.
    assert not any("docker-entrypoint-initdb.d" in m for m in mounts)
    job = services["migrate"]
    assert job.get("command") == ["python", "-m", "ops.migrations"]
    assert one_shot(job)
    assert depends_on_of(job).get("postgres", {}).get("condition") == "service_healthy"
    assert {"DATABASE_URL", "CDC_PASSWORD"} <= set(env_of(job))
    assert any((ROOT / "ops" / "migrations").glob("*.sql")), "no SQL migration to initialise the database"
    command = pg.get("command")
    command = command if isinstance(command, list) else str(command).split()
    assert "wal_level=logical" in command
    assert env_of(pg).get("POSTGRES_DB") == "ledger"


def test_env_vars_of_our_image_are_settings(services):
    built = built_from_our_dockerfile(services)
    assert built
    for name, svc in built.items():
        unknown = set(env_of(svc)) - ENV_VARS
        assert not unknown, f"{name} sets variables that settings never reads: {sorted(unknown)}"


def test_connector_env_references_are_set_on_connect(services):
    refs: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str):
            refs.update(re.findall(r"\$\{env:([^}:]+)\}", node))

    files = sorted(CONNECTORS_DIR.glob("*.yaml"))
    assert files, "no connector definitions in ops/connectors/"
    for path in files:
        walk(yaml.safe_load(path.read_text()))
    assert refs, "connectors reference no ${env:...} variable (nothing to check?)"

    env = env_of(services["connect"])
    missing = refs - set(env)
    assert not missing, f"connect service lacks variables the connectors reference: {sorted(missing)}"
    assert "env" in env.get("CONNECT_CONFIG_PROVIDERS", "").split(",")
    assert env.get("CONNECT_CONFIG_PROVIDERS_ENV_CLASS") == (
        "org.apache.kafka.common.config.provider.EnvVarConfigProvider"
    )
    assert env.get("CONNECT_CONFIG_PROVIDERS_FILE_CLASS") == (
        "org.apache.kafka.common.config.provider.FileConfigProvider"
    )
    allow = env.get("CONNECT_CONFIG_PROVIDERS_ENV_PARAM_ALLOWLIST_PATTERN")
    if allow:
        blocked = {r for r in refs if not re.fullmatch(allow, r)}
        assert not blocked, f"allowlist {allow!r} hides referenced variables {sorted(blocked)}"


def test_depends_on_uses_conditions_that_can_be_met(services, dockerfile):
    seen = 0
    for name, svc in services.items():
        deps = depends_on_of(svc)
        if not deps:
            continue
        assert isinstance(deps, dict), f"{name}: depends_on is a plain list (no conditions)"
        for target, spec in deps.items():
            seen += 1
            assert target in services, f"{name} depends on unknown service {target}"
            condition = (spec or {}).get("condition")
            assert condition in DEPENDS_ON_CONDITIONS - {"service_started"}, (
                f"{name} -> {target}: condition {condition!r} waits for nothing"
            )
            if condition == "service_healthy":
                assert has_healthcheck(target, services[target], dockerfile), (
                    f"{name} waits for {target} to be healthy, but {target} has no health check"
                )
            if condition == "service_completed_successfully":
                assert one_shot(services[target]), f"{name} waits for {target} to exit, but it restarts"
    assert seen, "no depends_on at all"


def test_long_running_services_have_health_checks(services, dockerfile):
    for name, svc in services.items():
        if one_shot(svc):
            continue
        assert has_healthcheck(name, svc, dockerfile), f"{name} runs forever without a health check"


def test_connectors_job_is_one_shot_and_applies_the_connectors(services):
    job = services["connectors"]
    assert job.get("command") == ["python", "-m", "ops.connectors", "apply"]
    assert str(job.get("restart")) == "no"
    assert env_of(job).get("CONNECT_URL") == "http://connect:8083"


def test_workers_are_two_replicas_with_their_own_state(services, dockerfile):
    data_dir = dockerfile_env(dockerfile).get("DATA_DIR")
    assert data_dir, "Dockerfile does not set DATA_DIR"
    workers = {n: s for n, s in services.items() if n.startswith("worker-")}
    assert set(workers) == {"worker-1", "worker-2"}
    volumes = set()
    for name, svc in workers.items():
        env = env_of(svc)
        assert env.get("KAFKA_BOOTSTRAP") == "kafka:9092"
        assert env.get("WEB_BIND") == "0.0.0.0"
        assert env.get("WEB_CANONICAL_URL") == f"http://{name}:{env.get('WEB_PORT')}"
        assert env.get("DATA_DIR", data_dir) == data_dir
        mounts = [str(v) for v in svc.get("volumes") or []]
        state = [m.split(":")[0] for m in mounts if m.split(":")[1:2] == [data_dir]]
        assert len(state) == 1, f"{name}: no named volume on {data_dir}"
        volumes.add(state[0])
        deps = depends_on_of(svc)
        assert deps.get("kafka", {}).get("condition") == "service_healthy"
        assert deps.get("connectors", {}).get("condition") == "service_completed_successfully"
    assert len(volumes) == 2, "the replicas share one state volume"
    strip = lambda s: {k: v for k, v in s.items() if k not in ("environment", "volumes", "ports")}  # noqa: E731
    assert strip(workers["worker-1"]) == strip(workers["worker-2"]), "replicas differ beyond env/volumes/ports"


def test_published_ports_bind_to_loopback_only(services):
    published = []
    for name, svc in services.items():
        for port in svc.get("ports") or []:
            if isinstance(port, dict):
                host_ip = port.get("host_ip")
                published.append(port.get("published"))
            else:
                parts = str(port).split(":")
                host_ip = parts[0] if len(parts) == 3 else None
                published.append(parts[-2] if len(parts) >= 2 else None)
            assert host_ip == "127.0.0.1", f"{name} publishes {port!r} beyond loopback"
    assert sorted(map(str, published)) == ["3000", "6066", "6067", "9090"]


def test_no_literal_secrets_in_compose(services):
    checked = 0
    for name, svc in services.items():
        for key, value in env_of(svc).items():
            if "PASSWORD" in key:
                checked += 1
                assert re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*(:?[-?][^}]*)?\}", value), (
                    f"{name}: {key} is a literal, not an interpolated secret"
                )
                assert ":?" in value, f"{name}: {key} has a default instead of being required"
            if key == "DATABASE_URL":
                checked += 1
                masked = re.sub(r"\$\{[^}]*\}", "INTERPOLATED", value)
                assert urlsplit(masked).password == "INTERPOLATED", f"{name}: DATABASE_URL embeds a literal password"
    assert checked, "no password variable found (nothing to check?)"


def test_compose_interpolation_is_well_formed():
    text = COMPOSE_FILE.read_text()
    stray = re.findall(r"\$(?!\$|\{[A-Za-z_])", text.replace("$$", ""))
    assert not stray, "a bare $ in docker-compose.yml would be interpolated by compose; write $$"


# --------------------------------------------------------------------------- images


def image_refs(services, dockerfile) -> list[str]:
    refs = [str(s["image"]) for s in services.values() if "image" in s]
    for args in instructions_of(dockerfile, "FROM"):
        refs.append([a for a in args.split() if not a.startswith("--")][0])
    return refs


#: Images published only outside the default registry, by their project: Debezium's are on Quay.
REGISTRY_OF_PROJECT = {"debezium/": "quay.io"}


def test_images_name_no_registry_host_but_their_projects_own_and_are_pinned(services, dockerfile):
    refs = image_refs(services, dockerfile)
    assert len(refs) >= 4
    for ref in refs:
        first, slash, rest = ref.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            assert any(rest.startswith(project) and first == host for project, host in REGISTRY_OF_PROJECT.items()), (
                f"image {ref!r} names a registry host; use the plain image name"
            )
        name, _, tag = ref.rpartition(":") if ":" in ref.split("/")[-1] else (ref, "", "")
        assert tag and tag != "latest", f"image {ref!r} is not pinned to a tag"
        # A bare major version (postgres:15) moves under the same name; name the release.
        version = re.match(r"\d+(\.\d+)*", tag)
        assert version is None or version.group(0).count(".") >= 1, f"image {ref!r} is pinned to a major version only"


def test_connect_runs_the_debezium_version_the_local_stack_tests(services):
    setup = (ROOT / "dev" / "stack" / "setup.sh").read_text()
    tested = re.search(r"Debezium (\d+\.\d+\.\d+)", setup).group(1)
    image = str(services["connect"]["image"])
    assert image.endswith(f"/debezium/connect:{tested}.Final") or image == f"debezium/connect:{tested}.Final", (
        f"connect runs {image}, the local stack tests Debezium {tested}")


def test_debezium_reads_as_the_replication_role_and_files_only_from_one_folder(services):
    env = env_of(services["connect"])
    assert env.get("LEDGER_DB_USER") == "ledgerstream_cdc"
    assert env.get("LEDGER_DB_PASSWORD", "").startswith("${CDC_PASSWORD:?")
    assert "POSTGRES_PASSWORD" not in " ".join(env.values())
    allowed = env.get("CONNECT_CONFIG_PROVIDERS_FILE_PARAM_ALLOWED_PATHS", "")
    assert allowed and all(path.startswith("/") and path.rstrip("/") not in ("", "/etc", "/kafka") for path in
                           allowed.split(",")), f"the file config provider may read anything ({allowed!r})"
    for path in sorted(CONNECTORS_DIR.glob("*.yaml")):
        config = yaml.safe_load(path.read_text())["config"]
        assert config.get("publication.autocreate.mode") == "disabled", f"{path.name} lets Debezium make publications"


def test_only_the_migrate_job_gets_the_database_owners_password(services):
    for name, svc in services.items():
        text = " ".join(env_of(svc).values())
        if "POSTGRES_PASSWORD" in text:
            assert name in ("postgres", "migrate"), f"{name} gets the database owner's password"
    for name in ("worker-1", "worker-2", "connectors"):
        assert "DATABASE_URL" not in env_of(services[name]), f"{name} gets a DATABASE_URL it never uses"


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_runs_as_non_root(dockerfile):
    keywords = [kw for kw, _ in dockerfile]
    users = instructions_of(dockerfile, "USER")
    assert users, "Dockerfile never switches away from root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"final USER is {users[-1]!r}"
    last_user = max(i for i, kw in enumerate(keywords) if kw == "USER")
    assert last_user < keywords.index("CMD"), "USER comes after CMD"


def test_dockerfile_cmd_is_exec_form(dockerfile):
    cmds = instructions_of(dockerfile, "CMD")
    assert len(cmds) == 1
    assert json.loads(cmds[0]) == WORKER_CMD


def test_dockerfile_health_check_probes_liveness(dockerfile):
    # Liveness, never readiness: an orchestrator that restarts unhealthy containers must not kill
    # a worker recovering its tables (/readyz says 503 all along a recovery).
    checks = instructions_of(dockerfile, "HEALTHCHECK")
    assert len(checks) == 1
    match = re.search(r"\bCMD\s+(\[.*\])\s*$", checks[0])
    assert match, "HEALTHCHECK is not in exec form"
    command = json.loads(match.group(1))
    assert command[0] == "python" and "/livez" in " ".join(command) and "/readyz" not in " ".join(command)
    assert "6066" in instructions_of(dockerfile, "EXPOSE")[0].split()


def test_dockerfile_state_dir_is_a_volume(dockerfile):
    data_dir = dockerfile_env(dockerfile).get("DATA_DIR")
    assert data_dir and data_dir.startswith("/")
    volumes = " ".join(instructions_of(dockerfile, "VOLUME"))
    assert data_dir in volumes


def test_dockerfile_installs_from_requirements_lock(dockerfile):
    copies = instructions_of(dockerfile, "COPY")
    assert any("requirements.lock" in c.split()[:-1] for c in copies), "requirements.lock is not copied"
    runs = " ".join(instructions_of(dockerfile, "RUN"))
    assert re.search(r"pip install .*--no-cache-dir", runs)
    assert "requirements.lock" in runs


def test_dockerfile_drops_only_packages_the_app_does_not_need(dockerfile):
    """The packages filtered out of requirements.lock are outside the runtime dependency tree."""
    runs = " ".join(instructions_of(dockerfile, "RUN"))
    match = re.search(r"'\^\(([^)]*)\)=='", runs)
    if match is None:
        pytest.skip("the Dockerfile installs the whole lock")
    dropped = {norm(n) for n in match.group(1).split("|")}
    locked = {
        norm(line.split("==")[0])
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    }
    assert dropped <= locked, f"filter names packages not in the lock: {sorted(dropped - locked)}"

    roots = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    closure: set[str] = set()
    stack = [Requirement(r) for r in roots]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while stack:
        req = stack.pop()
        key = (norm(req.name), tuple(sorted(req.extras)))
        if key in seen:
            continue
        seen.add(key)
        closure.add(key[0])
        for spec in importlib.metadata.distribution(req.name).requires or []:
            dep = Requirement(spec)
            extras = [""] + sorted(req.extras)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in extras):
                stack.append(dep)
    needed = dropped & closure
    assert not needed, f"the image drops runtime dependencies: {sorted(needed)}"
    assert closure <= locked, f"runtime dependencies missing from the lock: {sorted(closure - locked)}"


def test_dockerignore_keeps_local_state_and_secrets_out():
    patterns = {
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    }
    for required in (".git", ".venv", "deploy", "**/.env", "dev", "results", "tests"):
        assert required in patterns, f".dockerignore does not exclude {required}"
    for needed in ("app.py", "settings.py", "ops", "requirements.lock"):
        assert needed not in patterns, f".dockerignore excludes {needed}, which the image needs"


def test_compose_workers_report_readiness_and_log_json(services):
    for name in ("worker-1", "worker-2"):
        check = " ".join(services[name]["healthcheck"]["test"])
        assert "/readyz" in check, f"{name}: compose health is readiness"
        assert env_of(services[name]).get("LOG_FORMAT") == "json"


def test_prometheus_and_grafana_get_their_config_from_deploy(services):
    mounts = {svc: [str(v).split(":")[0] for v in services[svc].get("volumes") or []]
              for svc in ("prometheus", "grafana")}
    for svc, sources in mounts.items():
        for source in sources:
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{svc}: {source} does not exist"
    assert "./deploy/prometheus/rules" in mounts["prometheus"]
    assert "./deploy/grafana/dashboards" in mounts["grafana"]


def test_the_workers_require_web_token_and_prometheus_scrapes_with_it_from_a_secret(compose, services):
    """Bound to 0.0.0.0, a worker without WEB_TOKEN refuses to start (settings.py): compose refuses first."""
    for name in ("worker-1", "worker-2"):
        assert env_of(services[name]).get("WEB_TOKEN", "").startswith("${WEB_TOKEN:?"), name
    assert compose["secrets"]["web-token"] == {"environment": "WEB_TOKEN"}
    assert services["prometheus"]["secrets"] == ["web-token"]
    scrape = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())["scrape_configs"][0]
    assert scrape["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/web-token"}
    assert "WEB_TOKEN=" in (ROOT / "deploy/.env.example").read_text()
