"""Sets up and checks the end-to-end run's world in moto (see run.sh).

setup DIR: a topic, a queue subscribed to it, the notification ledger table, an out-of-bounds
           Glue session; writes DIR/env (the function's environment) and DIR/event.json (its
           CreateSession event).
check DIR: the session was stopped, its ledger item says `sent`, exactly one notification
           reached the queue, and the function's responses say so: DIR/response.json (the
           event) and DIR/duplicate.json (the same event again: nothing more sent).
"""

import json
import os
import pathlib
import sys

import boto3

ROOT = pathlib.Path(__file__).resolve().parents[2]
SESSION_ID = "nb-e2e"
ACCOUNT = "123456789012"
LEDGER_TABLE = "gsg-e2e-ledger"


def client(service):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")


def setup(work):
    sns, sqs, glue, dynamodb = client("sns"), client("sqs"), client("glue"), client("dynamodb")
    dynamodb.create_table(
        TableName=LEDGER_TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "session", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "session", "KeyType": "HASH"}],
    )
    topic = sns.create_topic(Name="gsg-e2e")["TopicArn"]
    queue = sqs.create_queue(QueueName="gsg-e2e")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    glue.create_session(
        Id=SESSION_ID,
        Role=f"arn:aws:iam::{ACCOUNT}:role/GlueSessionRole",
        Command={"Name": "glueetl", "PythonVersion": "3"},
        WorkerType="G.8X",
        NumberOfWorkers=50,
        GlueVersion="4.0",
        Tags={"owner": "alice"},
    )
    policy = json.loads((ROOT / "lambda/fixtures/policy.json").read_text())
    env = {
        "GSG_POLICY": json.dumps(policy, separators=(",", ":")),
        "NOTIFICATION_TOPIC_ARN": topic,
        "STACK_NAME": "glue-session-guard",
        "LEDGER_TABLE": LEDGER_TABLE,
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    (work / "env").write_text("".join(f"{key}='{value}'\n" for key, value in env.items()))
    (work / "queue").write_text(queue)
    event = json.loads((ROOT / "lambda/fixtures/create_session_event.json").read_text())
    event["detail"]["requestParameters"]["id"] = SESSION_ID
    event["detail"]["responseElements"]["session"]["id"] = SESSION_ID
    (work / "event.json").write_text(json.dumps(event))


def check(work):
    glue, sqs, dynamodb = client("glue"), client("sqs"), client("dynamodb")
    failures = []
    response = json.loads((work / "response.json").read_text())
    if (response.get("kind"), response.get("outcome"), response.get("notification")) != (
            "session", "stopped", "sent"):
        failures.append(f"unexpected response: {response}")
    duplicate = json.loads((work / "duplicate.json").read_text())
    if (duplicate.get("outcome"), duplicate.get("notification")) != (
            {"already_ended": "STOPPING"}, "already_sent"):
        failures.append(f"unexpected response to the duplicate: {duplicate}")
    items = dynamodb.scan(TableName=LEDGER_TABLE, ConsistentRead=True)["Items"]
    states = [(item["session_id"]["S"], item["state"]["S"]) for item in items]
    if states != [(SESSION_ID, "sent")]:
        failures.append(f"ledger items {states}, expected one `sent` for {SESSION_ID}")
    status = glue.get_session(Id=SESSION_ID)["Session"]["Status"]
    if status != "STOPPING":
        failures.append(f"session status is {status}, expected STOPPING")
    messages = sqs.receive_message(QueueUrl=(work / "queue").read_text(), MaxNumberOfMessages=10, WaitTimeSeconds=1)
    messages = [json.loads(m["Body"]) for m in messages.get("Messages", [])]
    if len(messages) != 1:
        failures.append(f"{len(messages)} notifications, expected 1")
    elif "out of bounds: stopped" not in messages[0]["Subject"]:
        failures.append(f"unexpected subject: {messages[0]['Subject']}")
    for failure in failures:
        print(f"FAIL: {failure}")
    if failures:
        sys.exit(1)
    print(f"ok: {SESSION_ID} {status}; notification: {messages[0]['Subject']}")


if __name__ == "__main__":
    command, work = sys.argv[1], pathlib.Path(sys.argv[2])
    {"setup": setup, "check": check}[command](work)
