#!/usr/bin/env bash
# The whole test suite: unit, property, CLI and integration tests (moto server, loopback
# webhooks). Installs the Python test tools first if this machine lacks them.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v moto_server >/dev/null 2>&1 || ! python3 -c "import samtranslator" 2>/dev/null; then
  echo "scripts/test.sh: installing the Python test tools (requirements-dev.txt)" >&2
  python3 -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
fi
exec cargo nextest run --no-fail-fast "$@"
