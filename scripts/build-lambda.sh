#!/usr/bin/env bash
# Builds the Lambda artifact of offhours for provided.al2023 on arm64 (Graviton):
#
#   target/lambda/offhours/bootstrap       the binary Lambda runs
#   target/lambda/offhours/bootstrap.zip   the same, zipped (for `aws lambda update-function-code`)
#
# This is the same build `sam build` runs for template.yaml (BuildMethod rust-cargolambda:
# `cargo lambda build --release --arm64 --bin offhours`). Not run in CI: a release build
# with LTO takes ~18 minutes on 2 cores.
#
# Needs: cargo-lambda (installed from PyPI into the project's .venv/ if missing; it brings
# zig as the cross-linker)
# and the Rust standard library for aarch64-unknown-linux-gnu (`rustup target add`).
# Extra arguments go to `cargo lambda build`, e.g. `scripts/build-lambda.sh --verbose`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

target=aarch64-unknown-linux-gnu
out="${CARGO_TARGET_DIR:-$root/target}/lambda/offhours"

if ! cargo lambda --version >/dev/null 2>&1; then
    # Never pip against the system Python (PEP 668): use the project's .venv/.
    source scripts/venv.sh
    if ! cargo lambda --version >/dev/null 2>&1; then
        echo "build-lambda: installing cargo-lambda from PyPI into .venv/" >&2
        .venv/bin/python3 -m pip install --quiet --disable-pip-version-check cargo-lambda
        hash -r
    fi
fi
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$target"; then
    echo "build-lambda: adding the Rust target $target" >&2
    rustup target add "$target" || {
        echo "build-lambda: cannot add $target (offline?); run 'rustup target add $target' where rustup can reach its servers" >&2
        exit 1
    }
fi

echo "build-lambda: $(cargo lambda --version)" >&2
cargo lambda build --release --arm64 --bin offhours "$@"

if [[ ! -x "$out/bootstrap" ]]; then
    echo "build-lambda: expected $out/bootstrap after the build" >&2
    exit 1
fi

# Zip with the executable bit kept (Lambda runs `bootstrap` directly).
rm -f "$out/bootstrap.zip"
if command -v zip >/dev/null 2>&1; then
    (cd "$out" && zip -q -9 bootstrap.zip bootstrap)
else
    python3 - "$out" <<'PY'
import os, sys, zipfile
out = sys.argv[1]
info = zipfile.ZipInfo("bootstrap")
info.external_attr = 0o100755 << 16  # regular file, rwxr-xr-x
info.compress_type = zipfile.ZIP_DEFLATED
with open(os.path.join(out, "bootstrap"), "rb") as f, zipfile.ZipFile(os.path.join(out, "bootstrap.zip"), "w") as z:
    z.writestr(info, f.read(), compresslevel=9)
PY
fi

size() { stat -c %s "$1"; }
human() { numfmt --to=iec-i --suffix=B "$1" 2>/dev/null || echo "$1 bytes"; }
binary=$(size "$out/bootstrap")
zipped=$(size "$out/bootstrap.zip")
echo "bootstrap:     $out/bootstrap  $(human "$binary") ($binary bytes)"
echo "bootstrap.zip: $out/bootstrap.zip  $(human "$zipped") ($zipped bytes)"
