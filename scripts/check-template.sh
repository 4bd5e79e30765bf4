#!/usr/bin/env bash
# Lints the SAM template offline: cfn-lint, then `sam validate` (the SAM translator) and
# `sam validate --lint`; without an argument also the spoke role (infra/spoke.yaml, plain
# CloudFormation: cfn-lint only). Exits non-zero on the first failure. Needs no AWS credentials and
# no network once .venv/ exists: a region is set only because the translator insists on one.
#
#   scripts/check-template.sh [TEMPLATE]      (default: template.yaml at the repo root)
#
# cfn-lint and sam come from the project-local .venv/ (scripts/venv.sh creates it from
# requirements-dev.txt on the first run).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
template="${1:-$root/template.yaml}"
source "$root/scripts/venv.sh"

export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export SAM_CLI_TELEMETRY=0

echo "== cfn-lint $(cfn-lint --version | awk '{print $2}')"
cfn-lint -- "$template"

echo "== sam validate ($(sam --version))"
sam validate --template "$template"

echo "== sam validate --lint"
sam validate --lint --template "$template"

if [ -z "${1:-}" ]; then
  echo "== cfn-lint infra/spoke.yaml (the member-account role)"
  cfn-lint -- "$root/infra/spoke.yaml"
fi

echo "check-template: $template is valid"
