"""Measures the built `bootstrap` against moto through a stand-in Lambda Runtime API.

Usage: bench.py BOOTSTRAP [EVENTS]   (AWS_ENDPOINT_URL must point at a moto server)

Reports start-up (process start to its first request for an event), peak memory (VmHWM),
and the function's own CPU time per event (user+system, AWS calls to moto included as client
work: signing, HTTP, JSON), for one out-of-bounds session followed by EVENTS compliant ones.
"""

import json
import os
import pathlib
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

ROOT = pathlib.Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
TICKS = os.sysconf("SC_CLK_TCK")


def client(service):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="eu-central-1")


def event(session_id, role):
    payload = json.loads((ROOT / "lambda/fixtures/create_session_event.json").read_text())
    detail = payload["detail"]
    detail["userIdentity"]["arn"] = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/someone"
    detail["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    detail["requestParameters"]["id"] = session_id
    detail["responseElements"]["session"]["id"] = session_id
    return payload


def cpu_ticks(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def peak_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main():
    bootstrap, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200
    glue, sns = client("glue"), client("sns")
    topic = sns.create_topic(Name="gsg-bench")["TopicArn"]
    for session_id in ("nb-bench-big", "nb-bench-admin"):
        glue.create_session(
            Id=session_id, Role=f"arn:aws:iam::{ACCOUNT}:role/R", Command={"Name": "glueetl"},
            WorkerType="G.8X", NumberOfWorkers=50, GlueVersion="4.0", Tags={"owner": "x"},
        )
    events = [event("nb-bench-big", "Analyst")] + [event("nb-bench-admin", "DataPlatformAdmin")] * count
    state = {"next": 0, "first_next": None, "ticks_at_second": None, "started": None, "done": threading.Event(),
             "responses": []}

    class RuntimeApi(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            now = time.perf_counter()
            if state["first_next"] is None:
                state["first_next"] = now
            index = state["next"]
            if index == 1:
                state["ticks_at_second"] = cpu_ticks(process.pid)
                state["second_started"] = now
            if index >= len(events):
                state["ticks_at_end"] = cpu_ticks(process.pid)
                state["ended"] = now
                state["peak_kib"] = peak_kib(process.pid)
                state["done"].set()
                time.sleep(30)
                return
            state["next"] += 1
            body = json.dumps(events[index]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{index}")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                             f"arn:aws:lambda:eu-central-1:{ACCOUNT}:function:gsg")
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            state["responses"].append((self.path, self.rfile.read(length)))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    policy = json.loads((ROOT / "lambda/fixtures/policy.json").read_text())
    env = dict(
        os.environ,
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}",
        AWS_LAMBDA_FUNCTION_NAME="gsg", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST", AWS_LAMBDA_LOG_STREAM_NAME="bench",
        AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/gsg", AWS_REGION="eu-central-1",
        AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_LAMBDA_LOG_LEVEL="WARN",
        GSG_POLICY=json.dumps(policy, separators=(",", ":")), NOTIFICATION_TOPIC_ARN=topic,
        STACK_NAME="glue-session-guard",
    )
    started = time.perf_counter()
    process = subprocess.Popen([bootstrap], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finished = state["done"].wait(300)
    process.kill()
    process.wait()
    server.shutdown()
    if not finished:
        sys.exit("the function did not finish the events in 300 s")
    errors = [path for path, _ in state["responses"] if path.endswith("/error")]
    first = json.loads(state["responses"][0][1])
    cpu_ms = (state["ticks_at_end"] - state["ticks_at_second"]) * 1000 / TICKS / count
    wall_ms = (state["ended"] - state["second_started"]) * 1000 / count
    print(f"first event: {first.get('outcome')} ({first.get('notification')}); errors: {len(errors)}")
    print(f"start-up (exec to first /next): {(state['first_next'] - started) * 1000:.1f} ms")
    print(f"peak memory (VmHWM): {state['peak_kib'] / 1024:.1f} MiB")
    print(f"per compliant event: {cpu_ms:.2f} ms CPU, {wall_ms:.2f} ms wall (incl. moto's GetSession)")


if __name__ == "__main__":
    main()
