"""Measures the built `bootstrap` against moto through a stand-in Lambda Runtime API.

Usage: bench.py BOOTSTRAP [EVENTS] [--starts N] [--json]
       (AWS_ENDPOINT_URL must point at a moto server; boto3 from .venv)

BOOTSTRAP is the binary, or the `bootstrap.zip` Lambda package (unpacked to a temporary
directory). Reports:

* start-up: process start to its first request for an event (`/invocation/next`), the median
  of N starts (default 1; each start is a fresh process, killed at that first request);
* one run of EVENTS events (default 200): every tenth one out of bounds (its own session,
  stopped and notified), the others compliant (the same session, left alone):
  * peak memory (VmHWM) after the last event,
  * the function's own CPU time per event (user+system, from /proc; the AWS calls to moto are
    included as client work: signing, HTTP, JSON), from the second event to the last,
  * end-to-end time per event (event handed out to response posted: the function, its calls to
    moto and moto's own work), median per kind, from the second event on;
* a run of StartJobRun events (one in ten as many), each of its own job run held STARTING in moto
  and out of bounds, under the same policy with a `jobs` section in audit mode: the end-to-end
  time of a job run judged (GetJob, GetTags, GetJobRun) and notified once. Audit mode, because
  moto has no BatchStopJobRun: the stop itself is tested with mocked answers.

With --json, one JSON object on stdout (what `cargo xtask bench` reads); the human summary
goes to stderr. Exits 1 when the function failed an event or did not stop and notify an
out-of-bounds session.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

ROOT = pathlib.Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "eu-central-1"
TICKS = os.sysconf("SC_CLK_TCK")
OUT_OF_BOUNDS_EVERY = 10


def client(service):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=REGION)


def event(session_id, role, workers):
    payload = json.loads((ROOT / "lambda/fixtures/create_session_event.json").read_text())
    payload["region"] = REGION
    detail = payload["detail"]
    detail["awsRegion"] = REGION
    detail["userIdentity"]["arn"] = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/someone"
    detail["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    detail["requestParameters"]["id"] = session_id
    detail["requestParameters"]["numberOfWorkers"] = workers
    detail["responseElements"]["session"]["id"] = session_id
    detail["responseElements"]["session"]["numberOfWorkers"] = workers
    return payload


def cpu_ticks(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def peak_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class Run:
    """One process of the function, fed `events` through a stand-in Runtime API."""

    def __init__(self, bootstrap, env, events):
        self.events = events
        self.next = 0
        self.first_next = None
        self.handed_out = {}
        self.responded = {}
        self.responses = {}
        self.errors = []
        self.marks = {}
        self.done = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
        self.started = time.perf_counter()
        self.process = subprocess.Popen([bootstrap], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        finished = self.done.wait(600)
        self.process.kill()
        self.process.wait()
        self.release.set()
        server.shutdown()
        server.server_close()
        if not finished:
            sys.exit(f"the function did not finish {len(events)} events in 600 s")

    def handler(self):
        run = self

        class RuntimeApi(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                now = time.perf_counter()
                with run.lock:
                    if run.first_next is None:
                        run.first_next = now
                    index = run.next
                    if index == 1:
                        run.marks["ticks_at_second"] = cpu_ticks(run.process.pid)
                    if index >= len(run.events):
                        if run.events:
                            run.marks["ticks_at_end"] = cpu_ticks(run.process.pid)
                            run.marks["peak_kib"] = peak_kib(run.process.pid)
                        run.done.set()
                    else:
                        run.next += 1
                        run.handed_out[index] = now
                if index >= len(run.events):
                    run.release.wait(60)
                    return
                body = json.dumps(run.events[index]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{index}")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:gsg")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                now = time.perf_counter()
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                # /2018-06-01/runtime/invocation/req-<index>/(response|error)
                parts = self.path.rstrip("/").split("/")
                index = int(parts[-2].removeprefix("req-")) if len(parts) >= 2 and parts[-2].startswith("req-") else -1
                with run.lock:
                    run.responded[index] = now
                    if parts[-1] == "response":
                        run.responses[index] = json.loads(body)
                    else:
                        run.errors.append((self.path, body.decode(errors="replace")))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return RuntimeApi


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bootstrap", help="the bootstrap binary, or bootstrap.zip")
    parser.add_argument("events", nargs="?", type=int, default=200, help="events in the long run (default 200)")
    parser.add_argument("--starts", type=int, default=1, help="start-ups to time (the median is reported)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    if args.events < 2 or args.starts < 1:
        sys.exit("need at least 2 events and 1 start")
    out = sys.stderr if args.json else sys.stdout

    with tempfile.TemporaryDirectory() as unpacked:
        bootstrap = args.bootstrap
        if zipfile.is_zipfile(bootstrap):
            with zipfile.ZipFile(bootstrap) as package:
                package.extract("bootstrap", unpacked)
            bootstrap = os.path.join(unpacked, "bootstrap")
            os.chmod(bootstrap, 0o755)
        result = measure(bootstrap, args.events, args.starts, out)
    result["bootstrap"] = args.bootstrap
    if args.json:
        print(json.dumps(result))
    if result["failures"]:
        sys.exit(1)


def measure(bootstrap, count, starts, out):
    glue, sns = client("glue"), client("sns")
    run_id = os.urandom(3).hex()
    topic = sns.create_topic(Name=f"gsg-bench-{run_id}")["TopicArn"]
    ledger = f"gsg-bench-{run_id}-ledger"
    client("dynamodb").create_table(
        TableName=ledger, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "session", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "session", "KeyType": "HASH"}],
    )

    def create(session_id, workers):
        glue.create_session(
            Id=session_id, Role=f"arn:aws:iam::{ACCOUNT}:role/R", Command={"Name": "glueetl"},
            WorkerType="G.8X", NumberOfWorkers=workers, GlueVersion="4.0", Tags={"owner": "x"},
        )

    # The admin's 40 G.8X workers are within the fixture policy's platform-admins override; an
    # analyst's 50 are out of bounds.
    admin_session = f"nb-bench-{run_id}-admin"
    create(admin_session, 40)
    compliant = event(admin_session, "DataPlatformAdmin", 40)
    events, kinds = [], []
    for index in range(count):
        if index % OUT_OF_BOUNDS_EVERY == 0:
            session_id = f"nb-bench-{run_id}-big-{index}"
            create(session_id, 50)
            events.append(event(session_id, "Analyst", 50))
            kinds.append("out_of_bounds")
        else:
            events.append(compliant)
            kinds.append("compliant")

    policy = json.loads((ROOT / "lambda/fixtures/policy.json").read_text())
    env = dict(
        os.environ,
        AWS_LAMBDA_FUNCTION_NAME="gsg", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST", AWS_LAMBDA_LOG_STREAM_NAME="bench",
        AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/gsg", AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_LAMBDA_LOG_LEVEL="WARN",
        GSG_POLICY=json.dumps(policy, separators=(",", ":")), NOTIFICATION_TOPIC_ARN=topic,
        STACK_NAME="glue-session-guard", LEDGER_TABLE=ledger,
    )

    startups = []
    for _ in range(starts):
        start = Run(bootstrap, env, [])
        startups.append((start.first_next - start.started) * 1000)

    run = Run(bootstrap, env, events)
    failures = [f"event {path}: {body}" for path, body in run.errors]
    for index, kind in enumerate(kinds):
        response = run.responses.get(index)
        if response is None:
            if not any(f"req-{index}/" in path for path, _ in run.errors):
                failures.append(f"event {index}: no response")
            continue
        wanted = ({"decision": "violation", "outcome": "stopped", "notification": "sent"}
                  if kind == "out_of_bounds" else {"decision": "compliant"})
        got = {key: response.get(key) for key in wanted}
        if got != wanted:
            failures.append(f"event {index} ({kind}): {got}, expected {wanted}")

    job_e2e, job_failures = measure_job_runs(bootstrap, env, policy, max(count // OUT_OF_BOUNDS_EVERY, 2))
    failures.extend(job_failures)
    budget_e2e, budget_failures = measure_budget(bootstrap, env, policy, ledger, create,
                                                 max(count // OUT_OF_BOUNDS_EVERY, 2))
    failures.extend(budget_failures)

    def e2e(kind):
        times = [(run.responded[i] - run.handed_out[i]) * 1000
                 for i, k in enumerate(kinds) if i > 0 and k == kind and i in run.responded]
        return statistics.median(times) if times else None

    measured = count - 1
    cpu_ms = (run.marks["ticks_at_end"] - run.marks["ticks_at_second"]) * 1000 / TICKS / measured
    wall_ms = (run.responded[count - 1] - run.handed_out[1]) * 1000 / measured
    result = {
        "binary_bytes": os.path.getsize(bootstrap),
        "starts": starts,
        "startup_ms": {
            "median": statistics.median(startups),
            "min": min(startups),
            "max": max(startups),
            "samples": startups,
        },
        "events": count,
        "out_of_bounds_events": kinds.count("out_of_bounds"),
        "peak_rss_kib": run.marks["peak_kib"],
        "cpu_ms_per_event": cpu_ms,
        "wall_ms_per_event": wall_ms,
        "e2e_ms_median": {"compliant": e2e("compliant"), "out_of_bounds": e2e("out_of_bounds"),
                          "job_run_notified": job_e2e, "compliant_in_budget": budget_e2e},
        "failures": failures,
    }

    print(f"binary: {result['binary_bytes'] / 1e6:.2f} MB", file=out)
    print(f"start-up (exec to first /next), median of {starts}: {result['startup_ms']['median']:.1f} ms "
          f"(min {result['startup_ms']['min']:.1f}, max {result['startup_ms']['max']:.1f})", file=out)
    print(f"{count} events ({result['out_of_bounds_events']} out of bounds): "
          f"peak memory (VmHWM) {result['peak_rss_kib'] / 1024:.1f} MiB, "
          f"{cpu_ms:.2f} ms CPU and {wall_ms:.2f} ms wall per event", file=out)
    print(f"end to end per event (median): compliant {result['e2e_ms_median']['compliant']:.2f} ms, "
          f"out of bounds {result['e2e_ms_median']['out_of_bounds']:.2f} ms (moto included)", file=out)
    print(f"end to end per StartJobRun event (median): out of bounds, notified (audit) "
          f"{job_e2e:.2f} ms (moto included)", file=out)
    print(f"end to end per CreateSession event of a team budget's member, {BUDGET_RUNNING} of its "
          f"sessions running (median): {budget_e2e:.2f} ms (moto included)", file=out)
    for failure in failures[:20]:
        print(f"FAIL: {failure}", file=out)
    return result


BUDGET_RUNNING = 20


def measure_budget(bootstrap, env, policy, ledger, create, count):
    """The end-to-end median of `count` compliant CreateSession events of a team budget's member
    while BUDGET_RUNNING of the budget's sessions run (registered in the ledger table, as their
    own events would have left them): the budget's added calls (UpdateItem, ListSessions,
    BatchGetItem) against moto; and what failed. moto reports sessions without their workers,
    so the running ones' DPUs are unknown and the sum is not at stake here: the calls are."""
    glue, dynamodb = client("glue"), client("dynamodb")
    run_id = os.urandom(3).hex()
    principal = json.dumps({
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/DataPlatformAdmin/x",
        "issuer_arn": f"arn:aws:iam::{ACCOUNT}:role/DataPlatformAdmin",
    })
    for index in range(BUDGET_RUNNING):
        create(f"nb-budget-{run_id}-{index}", 2)
    # Every running session registered as its event would have left it (the admin's; the main
    # measure's were judged without budgets), or each event here would wait for registrations
    # that never come (they are younger than a minute). CreatedOn as ListSessions gives it.
    listing, token = [], None
    while True:
        page = glue.list_sessions(**({"NextToken": token} if token else {}))
        listing.extend(page["Sessions"])
        token = page.get("NextToken")
        if not token:
            break
    for listed in listing:
        if listed["Status"] not in ("PROVISIONING", "READY"):
            continue
        millis = int(listed["CreatedOn"].timestamp() * 1000)
        dynamodb.put_item(TableName=ledger, Item={
            "session": {"S": f"holder/session/{listed['Id']}@{millis}"},
            "principal": {"S": principal},
        })
    member = f"nb-budget-{run_id}-member"
    create(member, 40)
    events = [event(member, "DataPlatformAdmin", 40) for _ in range(count)]
    budgeted = dict(policy, budgets=[{
        "name": "platform",
        "members": {"principals": ["arn:aws:iam::*:role/DataPlatformAdmin"]},
        "max_concurrent_dpu": 100000,
    }])
    run = Run(bootstrap, dict(env, GSG_POLICY=json.dumps(budgeted, separators=(",", ":"))), events)
    failures = [f"budget event {path}: {body}" for path, body in run.errors]
    for index in range(count):
        response = run.responses.get(index)
        wanted = {"decision": "compliant", "outcome": "left_alone"}
        got = {key: (response or {}).get(key) for key in wanted}
        if got != wanted:
            failures.append(f"budget event {index}: {got}, expected {wanted}")
    times = [(run.responded[i] - run.handed_out[i]) * 1000
             for i in range(1, count) if i in run.responded]
    return (statistics.median(times) if times else None), failures


def measure_job_runs(bootstrap, env, policy, count):
    """The end-to-end median of `count` StartJobRun events, each of its own run (held STARTING
    with moto's state manager) and out of bounds, in audit mode; and what failed."""
    import urllib.request
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    request = urllib.request.Request(
        f"{endpoint}/moto-api/state-manager/set-transition", method="POST",
        data=json.dumps({"model_name": "glue::job_run",
                         "transition": {"progression": "manual", "times": 1000}}).encode(),
        headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
    glue = client("glue")
    job = f"bench-{os.urandom(3).hex()}"
    glue.create_job(Name=job, Role=f"arn:aws:iam::{ACCOUNT}:role/R",
                    Command={"Name": "glueetl", "ScriptLocation": "s3://b/s.py"},
                    GlueVersion="5.0", WorkerType="G.2X", NumberOfWorkers=10, Timeout=60,
                    ExecutionProperty={"MaxConcurrentRuns": count}, Tags={"owner": "x"})
    events = []
    for index in range(count):
        run_id = glue.start_job_run(JobName=job, WorkerType="G.8X", NumberOfWorkers=100)["JobRunId"]
        payload = json.loads((ROOT / "lambda/fixtures/create_session_event.json").read_text())
        payload["region"] = REGION
        detail = payload["detail"]
        detail["awsRegion"] = REGION
        detail["eventName"] = "StartJobRun"
        detail["requestParameters"] = {"jobName": job, "workerType": "G.8X", "numberOfWorkers": 100}
        detail["responseElements"] = {"jobRunId": run_id}
        events.append(payload)
    audited = dict(policy, enforcement=dict(policy["enforcement"], mode="audit"),
                   jobs={"boundaries": {"max_workers": 50}})
    run = Run(bootstrap, dict(env, GSG_POLICY=json.dumps(audited, separators=(",", ":"))), events)
    failures = [f"job run event {path}: {body}" for path, body in run.errors]
    for index in range(count):
        response = run.responses.get(index)
        wanted = {"kind": "job", "decision": "violation", "outcome": "not_stopped", "notification": "sent"}
        got = {key: (response or {}).get(key) for key in wanted}
        if got != wanted:
            failures.append(f"job run event {index}: {got}, expected {wanted}")
    times = [(run.responded[i] - run.handed_out[i]) * 1000
             for i in range(1, count) if i in run.responded]
    return (statistics.median(times) if times else None), failures


if __name__ == "__main__":
    main()
