#!/usr/bin/env bash
# Project-local Python environment for the test and check tools (requirements-dev.txt).
# Sourced by scripts/test.sh, scripts/check-template.sh and .ci/run; also runs on its own
# (`bash scripts/venv.sh`) to just prepare it.
#
#   - creates .venv/ with `python3 -m venv` if it is missing or broken; where python3 has no
#     venv support (stock Debian without python3-venv) it installs python3-venv with apt-get
#     when running as root, otherwise it stops and says what to install;
#   - installs requirements-dev.txt into it only when that file changed since the last
#     install (the hash is kept in .venv/.requirements-dev.sha256), so a second run is instant;
#   - puts .venv/bin first on PATH (moto_server, sam, cfn-lint, and a python3 with samtranslator).
#
# pip only ever runs inside .venv/: the system interpreter is left alone (PEP 668).
# Set PYTHON to create the environment with another interpreter (default: python3).

offhours_venv() {
    local root venv python lock_fd="" want have
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="$root/.venv"
    python="${PYTHON:-python3}"

    # Two scripts preparing the environment at once wait for each other.
    if command -v flock >/dev/null 2>&1; then
        exec {lock_fd}<"${BASH_SOURCE[0]}"
        flock "$lock_fd"
    fi

    if ! "$venv/bin/python3" -m pip --version >/dev/null 2>&1; then
        if ! command -v "$python" >/dev/null 2>&1; then
            echo "venv: $python is not installed; install Python 3 with venv support (Debian/Ubuntu: apt-get install python3 python3-venv)" >&2
            offhours_venv_unlock "$lock_fd"
            return 1
        fi
        rm -rf "$venv"
        echo "venv: creating $venv with $("$python" --version 2>&1)" >&2
        if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
            rm -rf "$venv"
            if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
                echo "venv: $python cannot create a virtual environment; installing python3-venv with apt-get" >&2
                export DEBIAN_FRONTEND=noninteractive
                apt-get install -y -q python3-venv >/dev/null ||
                    { apt-get update -q >/dev/null && apt-get install -y -q python3-venv >/dev/null; } ||
                    echo "venv: apt-get install python3-venv failed" >&2
            fi
            if ! "$python" -m venv "$venv"; then
                rm -rf "$venv"
                echo "venv: '$python -m venv' cannot create $venv. Install venv support for this Python" \
                    "(Debian/Ubuntu: apt-get install python3-venv) or set PYTHON to an interpreter that has it." >&2
                offhours_venv_unlock "$lock_fd"
                return 1
            fi
        fi
    fi

    want="$(sha256sum "$root/requirements-dev.txt" | cut -d' ' -f1)"
    have="$(cat "$venv/.requirements-dev.sha256" 2>/dev/null || true)"
    if [[ "$want" != "$have" ]]; then
        echo "venv: installing requirements-dev.txt into $venv (once; takes a minute or two)" >&2
        if ! "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check \
            -r "$root/requirements-dev.txt"; then
            echo "venv: pip could not install requirements-dev.txt into $venv" >&2
            offhours_venv_unlock "$lock_fd"
            return 1
        fi
        echo "$want" >"$venv/.requirements-dev.sha256"
    fi

    offhours_venv_unlock "$lock_fd"
    [[ "$PATH" == "$venv/bin:"* ]] || export PATH="$venv/bin:$PATH"
    export VIRTUAL_ENV="$venv"
    hash -r
}

offhours_venv_unlock() { # offhours_venv_unlock FD (closing the descriptor releases the lock)
    if [[ -n "$1" ]]; then
        eval "exec $1<&-"
    fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    offhours_venv
    echo "venv: ready ($("$(dirname "$0")/../.venv/bin/python3" --version)); tools in .venv/bin"
else
    offhours_venv
fi
