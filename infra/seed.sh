#!/usr/bin/env bash
# Seeds the offhours configuration tables (Schedule, ScheduleServerGroup, ScheduleException).
#
#   infra/seed.sh --stack offhours                  table names from the stack's outputs
#   SCHEDULE_TABLE=... GROUP_TABLE=... EXCEPTION_TABLE=... infra/seed.sh
#
# Options:
#   --stack NAME        read the table names from the outputs of CloudFormation stack NAME
#   --config FILE       config to import (default: infra/example-config.yaml); needs `offhours import`
#   --method METHOD     import   : `offhours import --config FILE` (any config)
#                       put-item : `aws dynamodb put-item` for each infra/items/<Table>/*.json
#                       auto     : import when the offhours binary has it, else put-item (default)
#   --overwrite         put-item replaces existing items (default: existing items are kept)
#   --dry-run           print the commands instead of running them
#
# Environment: SCHEDULE_TABLE, GROUP_TABLE, EXCEPTION_TABLE (defaults: the SPEC names
# Schedule, ScheduleServerGroup, ScheduleException; --stack overrides them); OFFHOURS, the
# offhours binary (default: `offhours` on PATH, else target/release or target/debug);
# the usual AWS_PROFILE / AWS_REGION / AWS_ENDPOINT_URL for the AWS CLI and the binary.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
default_config="$here/example-config.yaml"

stack=""
config="$default_config"
method=auto
overwrite=0
dry_run=0

die() { echo "seed: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --stack) stack="${2:?--stack needs a name}"; shift 2 ;;
        --config) config="${2:?--config needs a file}"; shift 2 ;;
        --method) method="${2:?--method needs import, put-item or auto}"; shift 2 ;;
        --overwrite) overwrite=1; shift ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
[[ -f "$config" ]] || die "no config file $config"
case "$method" in import|put-item|auto) ;; *) die "--method is import, put-item or auto" ;; esac

run() {
    if [[ "$dry_run" == 1 ]]; then
        printf '%q ' "$@"; echo
    else
        "$@"
    fi
}

# Table names: from the stack outputs, else the environment, else the SPEC defaults.
output() {
    aws cloudformation describe-stacks --stack-name "$stack" \
        --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
if [[ -n "$stack" ]]; then
    SCHEDULE_TABLE="$(output ScheduleTableName)"
    GROUP_TABLE="$(output GroupTableName)"
    EXCEPTION_TABLE="$(output ExceptionTableName)"
    STATE_TABLE="$(output StateTableName)"
    for t in "$SCHEDULE_TABLE" "$GROUP_TABLE" "$EXCEPTION_TABLE"; do
        [[ -n "$t" && "$t" != None ]] || die "stack $stack has no table outputs (is it an offhours stack?)"
    done
fi
export SCHEDULE_TABLE="${SCHEDULE_TABLE:-Schedule}"
export GROUP_TABLE="${GROUP_TABLE:-ScheduleServerGroup}"
export EXCEPTION_TABLE="${EXCEPTION_TABLE:-ScheduleException}"
export STATE_TABLE="${STATE_TABLE:-SchedulerState}"
echo "seed: tables $SCHEDULE_TABLE, $GROUP_TABLE, $EXCEPTION_TABLE" >&2

# The offhours binary, if any, and whether it can import.
find_offhours() {
    if [[ -n "${OFFHOURS:-}" ]]; then echo "$OFFHOURS"; return; fi
    if command -v offhours >/dev/null 2>&1; then command -v offhours; return; fi
    for b in "$root/target/release/offhours" "$root/target/debug/offhours"; do
        if [[ -x "$b" ]]; then echo "$b"; return; fi
    done
}
offhours="$(find_offhours || true)"
can_import=0
if [[ -n "$offhours" ]] && "$offhours" import --help >/dev/null 2>&1; then
    can_import=1
fi

if [[ "$method" == auto ]]; then
    if [[ "$can_import" == 1 ]]; then method=import; else method=put-item; fi
fi

if [[ "$method" == import ]]; then
    [[ "$can_import" == 1 ]] || die "no offhours binary with an import command (set OFFHOURS=path, or use --method put-item)"
    echo "seed: $offhours import --config $config" >&2
    run "$offhours" import --config "$config"
    exit 0
fi

# put-item: the console items, which hold the same items as the starter config.
[[ "$config" -ef "$default_config" ]] \
    || die "put-item seeds only the starter items in infra/items; import $config with offhours import"
command -v aws >/dev/null 2>&1 || [[ "$dry_run" == 1 ]] || die "the AWS CLI (aws) is not installed"

put() { # put TABLE HASH_KEY FILE
    local table="$1" key="$2" file="$3" err
    local args=(dynamodb put-item --table-name "$table" --item "file://$file")
    if [[ "$overwrite" == 0 ]]; then
        args+=(--condition-expression "attribute_not_exists(#k)"
               --expression-attribute-names "{\"#k\":\"$key\"}")
    fi
    if [[ "$dry_run" == 1 ]]; then
        run aws "${args[@]}"
        return
    fi
    if err="$(aws "${args[@]}" 2>&1 >/dev/null)"; then
        echo "seed: $table <- $(basename "$file")"
    elif [[ "$err" == *ConditionalCheckFailed* ]]; then
        echo "seed: $table already has $(basename "$file" .json), kept (use --overwrite to replace)"
    else
        echo "$err" >&2
        die "put-item into $table failed for $file"
    fi
}

count=0
for spec in "Schedule:$SCHEDULE_TABLE:ScheduleName" \
            "ScheduleServerGroup:$GROUP_TABLE:ScheduleName" \
            "ScheduleException:$EXCEPTION_TABLE:ExceptionUuid"; do
    IFS=: read -r folder table key <<<"$spec"
    for file in "$here/items/$folder"/*.json; do
        [[ -e "$file" ]] || continue
        put "$table" "$key" "$file"
        count=$((count + 1))
    done
done
echo "seed: $count items" >&2
