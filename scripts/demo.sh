#!/usr/bin/env bash
# A local offhours demo on moto: no AWS account needed.
#
# Uses moto_server (and boto3) from the project-local .venv/ that scripts/venv.sh creates
# (as scripts/test.sh does), or from PATH when it is already there; and a Rust toolchain. Starts moto on 127.0.0.1, creates the four tables and a small tagged
# fleet matching examples/offhours.yaml, imports that config, then runs `offhours run`
# ticks over a simulated working day and prints what starts and stops, in which order.
# A webhook listener on 127.0.0.1 prints the chat messages as they arrive, and a signed
# Slack command sent to `offhours serve` postpones the evening stop.
set -euo pipefail

cd "$(dirname "$0")/.."
if ! command -v moto_server >/dev/null || ! python3 -c 'import boto3' 2>/dev/null; then
  source scripts/venv.sh
fi
command -v moto_server >/dev/null || {
  echo "demo: moto_server not found (bash scripts/venv.sh installs it into .venv/)" >&2
  exit 1
}
python3 -c 'import boto3' 2>/dev/null || {
  echo "demo: python3 cannot import boto3 (it comes with moto)" >&2
  exit 1
}

OFFHOURS=${OFFHOURS:-}
if [[ -z "$OFFHOURS" ]]; then
  cargo build --quiet --bin offhours
  OFFHOURS=target/debug/offhours
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG=$(mktemp -t offhours-moto.XXXXXX)
moto_server -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
MOTO_PID=$!
CHAT_LOG=$(mktemp -t offhours-chat.XXXXXX)
HOOK_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The chat side: a webhook receiver that appends every message it gets to $CHAT_LOG.
python3 - "$HOOK_PORT" "$CHAT_LOG" <<'PY' &
import http.server, sys
port, log = int(sys.argv[1]), sys.argv[2]
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(log, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Hook).serve_forever()
PY
HOOK_PID=$!
SERVE_PID=
trap 'kill "$MOTO_PID" "$HOOK_PID" $SERVE_PID 2>/dev/null || true; rm -f "$LOG" "$LOG.json" "$CHAT_LOG" "$CHAT_LOG.seen"' EXIT

export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
# One pass per tick, so each dependency layer shows up on its own tick.
export MAX_WAIT_SECONDS=0 TIMEZONE=Asia/Seoul
# Chat: every schedule's messages go to the local listener as generic JSON events.
export WEBHOOK_URL="http://127.0.0.1:$HOOK_PORT/hook" WEBHOOK_FORMAT=generic

for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null && break
  sleep 0.1
done
echo "moto_server pid $MOTO_PID on $AWS_ENDPOINT_URL"

python3 - <<'PY'
import boto3
ddb = boto3.client("dynamodb")
for name, keys in [("Schedule", ["ScheduleName"]), ("ScheduleServerGroup", ["ScheduleName", "GroupName"]),
                   ("ScheduleException", ["ExceptionUuid"]), ("SchedulerState", ["Key"])]:
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
                     KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in zip(keys, ["HASH", "RANGE"])])
ec2, rds = boto3.client("ec2"), boto3.client("rds")
def instance(name, schedule=None, group=None):
    tags = [{"Key": "Name", "Value": name}]
    tags += [{"Key": "ScheduleName", "Value": schedule}] if schedule else []
    tags += [{"Key": "ScheduleGroupName", "Value": group}] if group else []
    i = ec2.run_instances(ImageId="ami-03cf127a", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                          TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])["Instances"][0]
    return i["InstanceId"]
ids = [instance("dev-cache-1", "dev", "CACHE"), instance("dev-api-1", "dev", "API"),
       instance("dev-api-2", "dev", "API"), instance("dev-batch-1", "dev", "BATCH"),
       instance("dev-bastion", "dev"), instance("staging-app-1", "staging-us", "APP"),
       instance("staging-app-2", "staging-us", "APP")]
instance("ci-runner")  # no ScheduleName tag: never touched
rds.create_db_instance(DBInstanceIdentifier="dev-db", Engine="postgres", DBInstanceClass="db.t3.micro",
                       AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="password123",
                       Tags=[{"Key": "ScheduleName", "Value": "dev"}, {"Key": "ScheduleGroupName", "Value": "DB"}])
rds.create_db_cluster(DBClusterIdentifier="staging-aurora", Engine="aurora-postgresql",
                      MasterUsername="admin", MasterUserPassword="password123",
                      Tags=[{"Key": "ScheduleName", "Value": "staging-us"}, {"Key": "ScheduleGroupName", "Value": "DB"}])
# Start the day with the scheduled fleet stopped (moto creates everything running).
ec2.stop_instances(InstanceIds=ids)
rds.stop_db_instance(DBInstanceIdentifier="dev-db")
rds.stop_db_cluster(DBClusterIdentifier="staging-aurora")
print("fleet: 8 EC2 instances (7 scheduled), RDS dev-db, Aurora staging-aurora; scheduled ones stopped")
PY

"$OFFHOURS" import --config examples/offhours.yaml

tick() {
  local at=$1 status=0
  [[ $at == *T* ]] || at="2026-11-23T$at"
  "$OFFHOURS" run --at "$at:00+09:00" --format json >"$LOG.json" || status=$?
  python3 - "$LOG.json" "$status" "$CHAT_LOG" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))
at = r["at"][:16].replace("T", " ")
lines = []
for s in r["steps"]:
    names = ", ".join(x.get("name") or x["id"] for x in s["resources"])
    group = s["group"] or "(ungrouped)"
    wait = f" (waiting on {', '.join(s['waiting_on'])})" if s["waiting_on"] else ""
    if s["status"] == "blocked" and not s["waiting_on"]:
        wait = " (next tick)"
    lines.append(f"{s['schedule']:<10} {s['action']:<5} {group:<12} {s['status']:<7} {names}{wait}")
    for f in s.get("failures", []):
        lines.append(f"           failed {f['id']}: {f['message']}")
for e in r["errors"]:
    lines.append(f"error: {e['schedule']}: {e['message']}")
# Chat messages that reached the webhook listener during this tick.
log, seen = sys.argv[3], sys.argv[3] + ".seen"
done = int(open(seen).read() or 0) if os.path.exists(seen) else 0
msgs = [json.loads(l) for l in open(log).read().splitlines() if l.strip()]
for m in msgs[done:]:
    lines.append(f"chat> [{m['kind']}] {m['title']}")
    for sec in m.get("sections", []):
        if sec["title"] in ("Groups, in order", "Will stop", "To postpone"):
            lines.extend(f"chat>     {sec['title']}: {l}" for l in sec["lines"][:4])
open(seen, "w").write(str(len(msgs)))
print(f"{at}  " + ("\n" + " " * 18).join(lines or ["nothing to do"]))
if sys.argv[2] != "0":
    print(f"{'':18}(exit status {sys.argv[2]})")
PY
}

echo
echo "Simulated Monday 2026-11-23 to Tuesday noon, ticks around the boundaries (times in Seoul)."
echo "dev: Seoul 09:00-22:00 (warned 10 min before); staging-us: Los Angeles 08:00-19:00 = Seoul 01:00-12:00 next day."
echo "'blocked' with nothing to wait on means: ready, left for the next tick (MAX_WAIT_SECONDS=0)."
echo "'chat>' lines are messages that arrived at the local webhook listener."
for at in 08:55 09:00 09:05 09:10 09:15 21:50; do tick "$at"; done

# "Not tonight": a Slack slash command, signed like Slack does, to the same handler the
# Lambda serves on its Function URL (here `offhours serve`, acting on the moto tables).
SERVE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SLACK_SIGNING_SECRET=demo-signing-secret "$OFFHOURS" serve --listen "127.0.0.1:$SERVE_PORT" 2>/dev/null &
SERVE_PID=$!
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $SERVE_PORT), 0.2)" 2>/dev/null && break
  sleep 0.1
done
echo
echo "21:52 in Slack: /offhours exception set dev 2026-11-23 stop 22:30"
python3 - "$SERVE_PORT" <<'PY'
import hashlib, hmac, json, sys, time, urllib.parse, urllib.request
body = urllib.parse.urlencode({"command": "/offhours", "user_name": "mina",
                               "text": "exception set dev 2026-11-23 stop 22:30"})
ts = str(int(time.time()))
sig = "v0=" + hmac.new(b"demo-signing-secret", f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/", data=body.encode(), headers={
    "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig,
    "Content-Type": "application/x-www-form-urlencoded"})
reply = json.load(urllib.request.urlopen(req, timeout=10))
print("                  reply: " + reply["text"].replace("\n", "\n                         "))
PY
kill "$SERVE_PID" 2>/dev/null || true
SERVE_PID=
echo

for at in 22:00 22:20 22:25 22:30 22:35 22:40 \
          2026-11-24T01:00 2026-11-24T01:05 2026-11-24T09:00 2026-11-24T09:05 2026-11-24T09:10 \
          2026-11-24T12:00 2026-11-24T12:05; do
  tick "$at"
done
echo
echo "Tables now hold the config; try: AWS_ENDPOINT_URL=... offhours export (moto stops when this script ends)."
