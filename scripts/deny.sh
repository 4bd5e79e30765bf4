#!/usr/bin/env bash
# Dependency checks with cargo-deny (deny.toml): banned crates, licenses and sources always;
# RustSec advisories too when the advisory database can be fetched, else skipped with the
# reason printed. cargo-deny comes from .venv/ (requirements-dev.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh

echo "== cargo deny $(cargo-deny --version | awk '{print $2}'): bans licenses sources"
cargo-deny check --hide-inclusion-graph bans licenses sources

if out="$(timeout 120 cargo-deny fetch db 2>&1)"; then
  echo "== cargo deny: advisories"
  cargo-deny check --hide-inclusion-graph --disable-fetch advisories
else
  echo "== cargo deny: advisories SKIPPED: the RustSec advisory database cannot be fetched:"
  echo "$out" | tail -n 2 | sed 's/^/   /'
fi
