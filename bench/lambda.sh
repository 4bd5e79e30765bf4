#!/usr/bin/env bash
# Whole-process benchmark of the real `offhours` binary in Lambda mode (AWS_LAMBDA_RUNTIME_API
# set), on a loopback stub of the Lambda Runtime API and a local moto server:
#
#   1. cold init: process start (a monotonic timestamp taken just before spawning) to its
#      first `GET /2018-06-01/runtime/invocation/next`; median over RUNS spawns (default 7);
#   2. one scheduled tick at a generated fleet (examples/fleet.rs): the stub hands out one
#      EventBridge "Scheduled Event", waits for POST .../response (or .../error), then the
#      script reads the process's VmHWM (peak RSS) from /proc/<pid>/status and kills it.
#
#   bash bench/lambda.sh               # 1k and 10k resources (50 / 500 schedules)
#   RUNS=5 bash bench/lambda.sh 1k     # one size, 5 cold starts
#   OFFHOURS_BIN=/tmp/offhours-old bash bench/lambda.sh   # another binary
#
# Per size: a fresh moto_server on a free loopback port (killed by its pid on exit), the
# four DynamoDB tables created as tests/common/mod.rs creates them, the generated
# config.json written into them by `offhours import --config`, and the generated
# inventory.json created in moto through boto3: every EC2 instance with its own tags, one
# RunInstances each (moto pages DescribeInstances by reservation: one instance per
# reservation keeps AWS's 1000 instances per page), the RDS instances one by one, and
# what the inventory says is stopped stopped. Then the cold starts, then the tick, whose
# response (the report) is summarised.
#
# Logs: the bootstrap's JSON log and moto's output per size in LOG_DIR (default
# target/bench-lambda).
#
# Environment:
#   RUNS               cold starts per size (default 7)
#   OFFHOURS_BIN       the binary (default target/release/offhours, the `bench` profile;
#                      built only when missing)
#   FLEET_DIR          where the generated fleets live (default target/fleets, as bench/plan.sh)
#   RDS                1 (default): create the inventory's RDS instances; 0: EC2 only
#   EC2_RESERVATIONS   one (default): one instance per RunInstances; batch: one call per
#                      schedule and group (shared Name tag), ~4x faster to create, but then
#                      moto's pages hold 1000 reservations of ~5 instances each
#   DEADLINE_SECONDS   the invocation's Lambda-Runtime-Deadline-Ms is now + this (default
#                      900, the Lambda maximum: moto needs minutes for a 10k tick, and a
#                      tick near its deadline cuts itself short)
#   AWS_CALL_TIMEOUT_SECONDS  default 300 here (20 in production): moto takes 6-8 s to
#                      render one page of 1000 instances on a loaded 2-core box, beyond the
#                      production per-attempt limit of 20 s / 3
#   MAX_WAIT_SECONDS   default 120 (template.yaml)
#   MOTO_PATCH         1 (default): moto looks an EC2 resource's tags up by id (see below);
#                      0: moto as installed (quadratic in the instances: 10k is out of reach)
#
# Needs python3 with boto3 and moto[server]: the project's .venv/ (scripts/venv.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/venv.sh
source scripts/venv.sh
PY="$VIRTUAL_ENV/bin/python3"

RUNS=${RUNS:-7}
FLEETS=${FLEET_DIR:-target/fleets}
RDS=${RDS:-1}
EC2_RESERVATIONS=${EC2_RESERVATIONS:-one}
DEADLINE_SECONDS=${DEADLINE_SECONDS:-900}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1k 10k)

GEN=target/debug/examples/fleet
[ -x "$GEN" ] || cargo build -q --example fleet
BIN=${OFFHOURS_BIN:-target/release/offhours}
if [ ! -x "$BIN" ]; then
  [ -z "${OFFHOURS_BIN:-}" ] || { echo "bench/lambda.sh: $BIN is not an executable" >&2; exit 2; }
  cargo build -q --profile bench --bin offhours
fi
BIN=$(realpath "$BIN")

counts() { # size -> "resources schedules"
  case "$1" in
    1k) echo "1000 50" ;;
    10k) echo "10000 500" ;;
    100k) echo "100000 5000" ;;
    *) echo "bench/lambda.sh: unknown size '$1' (1k, 10k, 100k)" >&2; exit 2 ;;
  esac
}

work=$(mktemp -d)
LOGS=${LOG_DIR:-target/bench-lambda} # the bootstrap's and moto's output, kept for reading
mkdir -p "$LOGS"
LOGS=$(realpath "$LOGS")
moto_pid=""
stop_moto() {
  if [ -n "$moto_pid" ]; then
    kill "$moto_pid" 2>/dev/null || true
    wait "$moto_pid" 2>/dev/null || true
    moto_pid=""
  fi
}
cleanup() { stop_moto; rm -rf "$work"; }
trap cleanup EXIT

# ---------------------------------------------------------------------------- the driver
# One Python program for everything that talks to moto or to the bootstrap:
#   tables               create the four tables (keys as in tests/common/mod.rs)
#   count                items per config table (checks the import)
#   populate INVENTORY   create the inventory's EC2 (and RDS) resources in moto
#   cold RUNS            RUNS cold starts; prints one JSON line
#   tick                 one scheduled tick; prints one JSON line
cat >"$work/driver.py" <<'PYTHON'
import json, os, signal, subprocess, sys, threading, time, uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

REGION = os.environ["AWS_REGION"]
ACCOUNT = "123456789012"
FUNCTION = "offhours-bench-scheduler"
TABLES = [
    (os.environ["SCHEDULE_TABLE"], ["ScheduleName"]),
    (os.environ["GROUP_TABLE"], ["ScheduleName", "GroupName"]),
    (os.environ["EXCEPTION_TABLE"], ["ExceptionUuid"]),
    (os.environ["STATE_TABLE"], ["Key"]),
]


def client(service):  # AWS_ENDPOINT_URL, region and dummy credentials come from the environment
    return boto3.client(service)


def tables():
    ddb = client("dynamodb")
    for name, keys in TABLES:
        ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            KeySchema=[{"AttributeName": k, "KeyType": "HASH" if i == 0 else "RANGE"} for i, k in enumerate(keys)],
        )


def count():
    ddb = client("dynamodb")
    out = {}
    for name, _ in TABLES[:3]:
        n, kwargs = 0, {"TableName": name, "Select": "COUNT"}
        while True:
            page = ddb.scan(**kwargs)
            n += page["Count"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        out[name] = n
    print(json.dumps(out))


def tag_list(tags):
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def populate(inventory, with_rds, batch):
    resources = json.load(open(inventory))["resources"]
    ec2, rds = client("ec2"), client("rds")
    t0 = time.monotonic()
    # EC2, one RunInstances per instance with its own tags (the default: moto pages
    # DescribeInstances by reservation, so this keeps AWS's 1000 instances per page), or
    # (batch) one per tag set with the Name tag shared, at most 1000 per call.
    batches = {}
    for r in resources:
        if r["kind"] != "ec2":
            continue
        if batch:
            tags = {k: v for k, v in r["tags"].items() if k != "Name"}
            tags["Name"] = "-".join([tags.get("ScheduleName", "x"), tags.get("ScheduleGroupName", "none")])
            batches.setdefault(tuple(sorted(tags.items())), []).append(r)
        else:
            batches[r["id"]] = [r]
    to_stop, reservations, n_ec2 = [], 0, 0
    for key, members in batches.items():
        tags = dict(key) if batch else members[0]["tags"]
        for i in range(0, len(members), 1000):
            chunk = members[i : i + 1000]
            out = ec2.run_instances(
                ImageId="ami-12c6146b", InstanceType="t3.micro", MinCount=len(chunk), MaxCount=len(chunk),
                TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list(tags)}],
            )
            reservations += 1
            n_ec2 += len(chunk)
            for r, inst in zip(chunk, out["Instances"]):
                if r["state"] == "stopped":
                    to_stop.append(inst["InstanceId"])
    for i in range(0, len(to_stop), 1000):
        ec2.stop_instances(InstanceIds=to_stop[i : i + 1000])
    n_rds = rds_stopped = 0
    if with_rds:
        for r in resources:
            if r["kind"] != "rds":
                continue
            rds.create_db_instance(
                DBInstanceIdentifier=r["id"], DBInstanceClass="db.t3.micro", Engine=r.get("engine", "postgres"),
                MasterUsername="bench", MasterUserPassword="bench-password", AllocatedStorage=20,
                Tags=tag_list(r["tags"]),
            )
            n_rds += 1
            if r["state"] == "stopped":
                rds.stop_db_instance(DBInstanceIdentifier=r["id"])
                rds_stopped += 1
    print(json.dumps({"ec2": n_ec2, "ec2_stopped": len(to_stop), "reservations": reservations,
                      "rds": n_rds, "rds_stopped": rds_stopped, "seconds": round(time.monotonic() - t0, 1)}))


class Stub:
    """Just enough of the Lambda Runtime API: `next` hands out `event` once (further
    `next` calls block until the stub stops), then POST .../response or .../error ends it."""

    def __init__(self, event, deadline_seconds):
        self.event = event
        self.deadline_seconds = deadline_seconds
        self.lock = threading.Lock()
        self.nexts = 0
        self.first_next_ns = None
        self.event_sent_ns = None
        self.result_ns = None
        self.result = None  # (kind, body bytes)
        self.first_next = threading.Event()
        self.done = threading.Event()
        self.stop = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                now = time.monotonic_ns()
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self.reply(404, b'{"errorType":"NotFound"}')
                with stub.lock:
                    stub.nexts += 1
                    first = stub.nexts == 1
                    if first:
                        stub.first_next_ns = now
                stub.first_next.set()
                if not first or stub.event is None:
                    stub.stop.wait()  # the process is killed while it waits
                    self.close_connection = True
                    return
                body = json.dumps(stub.event).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Lambda-Runtime-Aws-Request-Id", stub.event_id)
                deadline_ms = int(time.time() * 1000) + stub.deadline_seconds * 1000
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                stub.event_sent_ns = time.monotonic_ns()

            def do_POST(self):
                body = self.read_body()
                now = time.monotonic_ns()
                kind = self.path.rsplit("/", 1)[-1]  # response | error (invocation or init)
                if "/init/" in self.path:
                    kind = "init error"
                self.reply(202, b'{"status":"OK"}')
                with stub.lock:
                    if stub.result is None:
                        stub.result_ns, stub.result = now, (kind, body)
                stub.done.set()

            def read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline().strip():
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def reply(self, code, body):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.event_id = str(uuid.uuid4())
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.server.server_address[1]

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0])  # KiB
    return out


def spawn(stub, log):
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": stub.address,
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",  # template.yaml
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/" + FUNCTION,
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "_HANDLER": "bootstrap",
        "TZ": ":UTC",
    })
    t0 = time.monotonic_ns()  # just before spawning
    proc = subprocess.Popen([os.environ["OFFHOURS_BIN"]], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    return t0, proc


def wait_for(flag, proc, seconds, what):
    end = time.monotonic() + seconds
    while not flag.wait(0.005):
        if proc.poll() is not None:
            sys.exit(f"the bootstrap exited with {proc.returncode} before {what} (log: {os.environ['BOOTSTRAP_LOG']})")
        if time.monotonic() > end:
            proc.kill()
            sys.exit(f"no {what} within {seconds} s (log: {os.environ['BOOTSTRAP_LOG']})")


def kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def cold(runs):
    inits, rss = [], []
    with open(os.environ["BOOTSTRAP_LOG"], "ab") as log:
        for _ in range(runs):
            stub = Stub(None, 60)
            t0, proc = spawn(stub, log)
            wait_for(stub.first_next, proc, 30, "first Runtime API poll")
            status = proc_status(proc.pid)
            kill(proc)
            stub.close()
            inits.append(round((stub.first_next_ns - t0) / 1e6, 1))
            rss.append(status["VmHWM"])
    print(json.dumps({"init_ms": inits, "hwm_kib": rss}))


def summary(kind, body):
    if kind != "response":
        return {"ok": False, "kind": kind, "text": body[:300].decode(errors="replace")}
    report = json.loads(body)
    if "steps" not in report:
        return {"ok": False, "kind": kind, "text": json.dumps(report)[:300]}
    steps = report["steps"]
    by = Counter(f'{s["action"]} {s["status"]}' for s in steps)
    resources = Counter(f'{s["action"]} {s["status"]}' for s in steps for _ in s["resources"])
    failures = sum(len(s.get("failures", [])) for s in steps)
    return {
        "ok": True, "steps": len(steps), "by_status": dict(sorted(by.items())),
        "resources": dict(sorted(resources.items())), "failures": failures,
        "errors": len(report.get("errors", [])), "warnings": len(report.get("warnings", [])),
        "notices": len(report.get("notices", [])), "schedules": len(report.get("schedules", [])),
        "partial": report.get("partial", False), "lease_lost": report.get("lease_lost", False),
        "at": report.get("at"), "bytes": len(body),
        "first_error": (report.get("errors") or [None])[0],
    }


def tick(deadline_seconds):
    now = time.gmtime()
    event = {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", now), "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/offhours-bench-tick"], "detail": {},
    }
    stub = Stub(event, deadline_seconds)
    with open(os.environ["BOOTSTRAP_LOG"], "ab") as log:
        t0, proc = spawn(stub, log)
        wait_for(stub.first_next, proc, 30, "first Runtime API poll")
        at_poll = proc_status(proc.pid)
        wait_for(stub.done, proc, deadline_seconds + 120, "response")
        status = proc_status(proc.pid)  # after the response, before the kill
        kill(proc)
    stub.close()
    kind, body = stub.result
    print(json.dumps({
        "init_ms": round((stub.first_next_ns - t0) / 1e6, 1),
        "tick_ms": round((stub.result_ns - stub.event_sent_ns) / 1e6),
        "hwm_at_poll_kib": at_poll["VmHWM"], "hwm_kib": status["VmHWM"], "rss_kib": status["VmRSS"],
        "summary": summary(kind, body),
    }))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "tables":
        tables()
    elif command == "count":
        count()
    elif command == "populate":
        populate(args[0], args[1] == "1", args[2] == "batch")
    elif command == "cold":
        cold(int(args[0]))
    elif command == "tick":
        tick(int(args[0]))
    else:
        sys.exit(f"unknown command {command}")
PYTHON

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
field() { "$PY" -c 'import json, sys; v = json.load(sys.stdin)
for k in sys.argv[1].split("."): v = v[k]
print("\n".join(map(str, v)) if isinstance(v, list) else v)' "$1"; }

echo "load average before: $(cat /proc/loadavg); $(nproc) cores; $RUNS cold starts per size; $BIN ($(stat -c %s "$BIN") bytes); moto $("$PY" -c 'import moto; print(moto.__version__)')"
rows=()
for size in "${sizes[@]}"; do
  read -r resources schedules < <(counts "$size")
  dir=$FLEETS/$size
  [ -s "$dir/inventory.json" ] || "$GEN" --resources "$resources" --schedules "$schedules" --out "$dir" >/dev/null

  port=$(free_port)
  # moto_server, with one change unless MOTO_PATCH=0: an EC2 resource's tags are looked up
  # by its id instead of by a regex scan over every tag in the region (moto 5.2.1's
  # TaggedEC2Resource.get_tags), which made each DescribeInstances with a tag filter
  # quadratic: at 10k instances one page took more than 100 s (the 300 s call limit
  # expired on every attempt) and creating the fleet 18 minutes. What the responses say is
  # unchanged.
  "$PY" -c 'import sys
if sys.argv[1] == "1":
    from moto.ec2.models.core import TaggedEC2Resource
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix
    def get_tags(self):
        rid = getattr(self, "id", None)
        if not rid:
            return []
        kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(rid), "")
        return [{"resource_id": rid, "key": k, "value": v, "resource_type": kind}
                for k, v in self.ec2_backend.tags.get(rid, {}).items()]
    TaggedEC2Resource.get_tags = get_tags
from moto.server import main
main(sys.argv[2:])' "${MOTO_PATCH:-1}" -H 127.0.0.1 -p "$port" >"$LOGS/moto-$size.log" 2>&1 &
  moto_pid=$!
  for _ in $(seq 300); do
    "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$port" 2>/dev/null && break
    sleep 0.1
  done

  # What the deployed function gets (template.yaml), with moto as every AWS endpoint.
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing \
    SCHEDULE_TABLE=offhours-bench-Schedule GROUP_TABLE=offhours-bench-ScheduleServerGroup \
    EXCEPTION_TABLE=offhours-bench-ScheduleException STATE_TABLE=offhours-bench-SchedulerState \
    SCHEDULE_TAG_KEY=ScheduleName GROUP_TAG_KEY=ScheduleGroupName TIMEZONE=Asia/Seoul WARN_MINUTES=10 \
    MAX_WAIT_SECONDS="${MAX_WAIT_SECONDS:-120}" \
    AWS_CALL_TIMEOUT_SECONDS="${AWS_CALL_TIMEOUT_SECONDS:-300}" TICK_MINUTES=5 REGIONS= WEBHOOK_FORMAT= CHAT_COMMAND=/offhours \
    RUST_LOG=info OFFHOURS_BIN="$BIN" BOOTSTRAP_LOG="$LOGS/bootstrap-$size.log"
  unset AWS_LAMBDA_RUNTIME_API AWS_PROFILE

  echo
  echo "== $size: $resources resources / $schedules schedules (moto on port $port)"
  : >"$BOOTSTRAP_LOG"
  "$PY" "$work/driver.py" tables
  "$BIN" import --config "$dir/config.json" >/dev/null
  echo "imported (items per table): $("$PY" "$work/driver.py" count)"
  created=$("$PY" "$work/driver.py" populate "$dir/inventory.json" "$RDS" "$EC2_RESERVATIONS")
  echo "created in moto: $created"

  cold=$("$PY" "$work/driver.py" cold "$RUNS")
  init_median=$(field init_ms <<<"$cold" | median)
  echo "cold init (ms): $(field init_ms <<<"$cold" | tr '\n' ' ')-> median $init_median; VmHWM at the first poll (KiB): $(field hwm_kib <<<"$cold" | tr '\n' ' ')"

  tick=$("$PY" "$work/driver.py" tick "$DEADLINE_SECONDS") || { tail -n 20 "$BOOTSTRAP_LOG" >&2; exit 1; }
  echo "tick: $tick"
  stop_moto

  row=$("$PY" -c 'import json, sys
t = json.loads(sys.argv[1]); s = t["summary"]
mib = lambda k: "%.1f MiB" % (k / 1024)
if s["ok"]:
    acted = ", ".join("%s %s: %d steps / %d resources" % (k.split()[0], k.split()[1], n, s["resources"].get(k, 0)) for k, n in s["by_status"].items())
    text = "success: %d steps (%s); %d failures, %d errors, %d warnings%s" % (
        s["steps"], acted or "none", s["failures"], s["errors"], s["warnings"], ", partial" if s["partial"] else "")
else:
    text = "**%s**: %s" % (s["kind"], s["text"].replace("|", "/"))
print("| %s | %s | %.0f ms | %s | %s (%s at the first poll) | %s |" % (
    sys.argv[2], sys.argv[3] + " ms", t["tick_ms"], "%.0f ms" % t["init_ms"], mib(t["hwm_kib"]), mib(t["hwm_at_poll_kib"]), text))' \
    "$tick" "$size: $(field ec2 <<<"$created") EC2 + $(field rds <<<"$created") RDS / $schedules" "$init_median")
  rows+=("$row")
done

echo
echo "| resources / schedules | cold init (median of $RUNS) | tick wall time | init in the tick run | peak RSS (VmHWM) | response |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "load average after: $(cat /proc/loadavg)"
