#!/usr/bin/env bash
# The whole test suite: unit, property, CLI and integration tests (moto server, loopback
# webhooks). The Python test tools (moto_server, sam, cfn-lint, samtranslator) come from the
# project-local .venv/, which scripts/venv.sh creates and fills from requirements-dev.txt on
# the first run. Runs the tests with cargo-nextest when it is installed, else with
# `cargo test` (the same tests). Extra arguments go to the test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
if cargo nextest --version >/dev/null 2>&1; then
  exec cargo nextest run --no-fail-fast "$@"
fi
echo "scripts/test.sh: cargo-nextest is not installed; running the tests with cargo test" >&2
exec cargo test --no-fail-fast "$@"
