//! A moto server for the integration tests: `GSG_MOTO_ENDPOINT` when set, else one
//! `.venv/bin/moto_server` per test binary on a free port, killed when the tests end.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_glue::config::Credentials;

static ENDPOINT: OnceLock<String> = OnceLock::new();
/// The watchdog shell, kept for the life of the test process.
static WATCHDOG: OnceLock<Mutex<Child>> = OnceLock::new();

/// The moto endpoint, started on first use.
pub fn moto_endpoint() -> &'static str {
    ENDPOINT.get_or_init(|| match std::env::var("GSG_MOTO_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => start_moto(),
    })
}

fn start_moto() -> String {
    let server = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    assert!(
        server.exists(),
        "{} is missing: run `cargo xtask setup` first",
        server.display()
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A watchdog shell: it starts moto, then kills it once this test process is gone, however
    // the tests end (even a panic or a kill).
    let script = format!(
        "\"{server}\" -H 127.0.0.1 -p {port} >/dev/null 2>&1 & moto=$!; \
         while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill $moto",
        server = server.display(),
        parent = std::process::id(),
    );
    let watchdog = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting moto_server");
    let _ = WATCHDOG.set(Mutex::new(watchdog));
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "moto_server did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    format!("http://127.0.0.1:{port}")
}

/// SDK configuration for moto in `region` (each test uses its own region, so tests that list
/// sessions never see another test's).
pub async fn sdk_config(region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .endpoint_url(moto_endpoint())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await
}

/// A topic in moto with an SQS queue subscribed to it, to read what the guard publishes.
/// Returns the topic ARN and the queue URL.
pub async fn topic_with_inbox(sdk: &SdkConfig, topic: &str, queue: &str) -> (String, String) {
    let sns = aws_sdk_sns::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let topic_arn = sns
        .create_topic()
        .name(topic)
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let queue_arn =
        attributes.attributes.unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .unwrap();
    (topic_arn, queue_url)
}

/// The ledger table in moto, made as the stack makes it (partition key `session`, on demand).
/// Returns its name.
pub async fn ledger_table(sdk: &SdkConfig, name: &str) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("session")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("session")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    name.to_string()
}

/// Every ledger item, as `session_id` → the `(key, state)` of each of its items.
pub async fn ledger_items(
    sdk: &SdkConfig,
    table: &str,
) -> std::collections::HashMap<String, Vec<(String, String)>> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let text = |item: &std::collections::HashMap<String, AttributeValue>, name: &str| match item
        .get(name)
    {
        Some(AttributeValue::S(value)) => value.clone(),
        other => panic!("ledger item attribute {name} is {other:?}"),
    };
    let mut items: std::collections::HashMap<String, Vec<(String, String)>> = Default::default();
    let mut pages = aws_sdk_dynamodb::Client::new(sdk)
        .scan()
        .table_name(table)
        .consistent_read(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for item in page.unwrap().items.unwrap_or_default() {
            items
                .entry(text(&item, "session_id"))
                .or_default()
                .push((text(&item, "session"), text(&item, "state")));
        }
    }
    items
}

/// The guard under test against moto: its Glue, SNS and DynamoDB, short waits. moto has no
/// CloudTrail `LookupEvents`, so CloudTrail answers "no records" (the sweep then judges by the
/// default boundaries).
pub fn moto_guard(
    sdk: &SdkConfig,
    policy: policy::Policy,
    topic_arn: &str,
    ledger_table: &str,
) -> glue_session_guard_lambda::Guard {
    use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    let no_records = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .then_output(|| LookupEventsOutput::builder().build());
    let mut guard = glue_session_guard_lambda::Guard::new(
        sdk,
        glue_session_guard_lambda::Settings {
            policy,
            topic_arn: topic_arn.to_string(),
            stack_name: "glue-session-guard".to_string(),
            ledger_table: ledger_table.to_string(),
        },
        glue_session_guard_lambda::Timing {
            first_poll: Duration::from_millis(10),
            max_poll: Duration::from_millis(50),
            deadline_margin: Duration::from_millis(100),
            cloudtrail_lag: Duration::ZERO,
            profile_cache: Duration::from_secs(60),
        },
    );
    guard.cloudtrail = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&no_records]);
    guard
}
