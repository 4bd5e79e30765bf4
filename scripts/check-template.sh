#!/usr/bin/env bash
# Lints the SAM template offline: cfn-lint, then `sam validate` (the SAM translator) and
# `sam validate --lint`. Exits non-zero on the first failure. Needs no AWS credentials and
# no network: a region is set only because the translator insists on one.
#
#   scripts/check-template.sh [TEMPLATE]      (default: template.yaml at the repo root)
#
# Missing tools are installed from PyPI (cfn-lint, aws-sam-cli) unless OFFHOURS_NO_INSTALL=1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
template="${1:-$root/template.yaml}"

export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export SAM_CLI_TELEMETRY=0

need() { # need COMMAND PIP_PACKAGE
    if ! command -v "$1" >/dev/null 2>&1; then
        if [[ "${OFFHOURS_NO_INSTALL:-0}" == 1 ]]; then
            echo "check-template: $1 is missing (pip install $2)" >&2
            exit 1
        fi
        echo "check-template: installing $2" >&2
        python3 -m pip install --quiet "$2"
        hash -r
    fi
}
need cfn-lint cfn-lint
need sam aws-sam-cli

echo "== cfn-lint $(cfn-lint --version | awk '{print $2}')"
cfn-lint -- "$template"

echo "== sam validate ($(sam --version))"
sam validate --template "$template"

echo "== sam validate --lint"
sam validate --lint --template "$template"

echo "check-template: $template is valid"
