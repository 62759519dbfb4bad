//! One test's world in moto: a region, the guard's notification topic with an SQS inbox
//! subscribed to it (to read what the guard publishes), the notification ledger table as the
//! stack makes it, and Glue sessions made there; and the guard under test acting in it. Another
//! topic with an inbox ([`Inbox`], the organization's central topic, say) may live in any region.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_glue::types::{SessionCommand, WorkerType};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, QueueAttributeName};
use glue_session_guard_lambda::{Guard, Settings, Timing};
use policy::Policy;
use serde_json::Value;

use crate::fixtures::ACCOUNT;
use crate::moto::MotoServer;

/// The names of a world's topic, queue and ledger table.
#[derive(Debug, Clone, Copy)]
pub struct Resources<'a> {
    pub topic: &'a str,
    pub queue: &'a str,
    pub ledger_table: &'a str,
}

/// A Glue session to make in moto.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    pub id: &'a str,
    pub worker_type: &'a str,
    pub workers: i32,
    pub glue_version: &'a str,
    /// The value of its `owner` tag.
    pub owner: &'a str,
}

/// A region of moto with the guard's topic, inbox and ledger table.
pub struct World {
    pub region: String,
    pub sdk: SdkConfig,
    pub glue: aws_sdk_glue::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub topic_arn: String,
    pub queue_url: String,
    pub ledger_table: String,
}

impl World {
    /// Makes the topic, the queue subscribed to it and the ledger table in `region` of `moto`.
    pub async fn new(moto: MotoServer, region: &str, names: Resources<'_>) -> World {
        let sdk = moto.sdk_config(region).await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let (topic_arn, queue_url) = topic_with_inbox(&sdk, &sqs, names.topic, names.queue).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        create_ledger_table(&dynamodb, names.ledger_table).await;
        World {
            region: region.to_string(),
            glue: aws_sdk_glue::Client::new(&sdk),
            sdk,
            sqs,
            dynamodb,
            topic_arn,
            queue_url,
            ledger_table: names.ledger_table.to_string(),
        }
    }

    /// The guard under test against this world: its Glue, SNS and DynamoDB, short waits. moto
    /// has no CloudTrail `LookupEvents`, so CloudTrail answers "no records" (the sweep then
    /// judges by the default boundaries).
    pub fn guard(&self, policy: Policy) -> Guard {
        use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        let no_records = mock!(aws_sdk_cloudtrail::Client::lookup_events)
            .then_output(|| LookupEventsOutput::builder().build());
        let mut guard = Guard::new(
            &self.sdk,
            Settings {
                policy,
                topic_arn: self.topic_arn.clone(),
                stack_name: "glue-session-guard".to_string(),
                ledger_table: self.ledger_table.clone(),
                central_topic_arn: None,
            },
            Timing {
                first_poll: Duration::from_millis(10),
                max_poll: Duration::from_millis(50),
                deadline_margin: Duration::from_millis(100),
                cloudtrail_lag: Duration::ZERO,
                profile_cache: Duration::from_secs(60),
                budget_recheck: Duration::from_millis(50),
            },
        );
        guard.cloudtrail = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&no_records]);
        guard
    }

    /// Makes the session (a `glueetl` session of the role `GlueSessionRole`; moto's reply is
    /// empty: the id is ours).
    pub async fn create_session(&self, session: &NewSession<'_>) {
        self.glue
            .create_session()
            .id(session.id)
            .role(format!("arn:aws:iam::{ACCOUNT}:role/GlueSessionRole"))
            .command(
                SessionCommand::builder()
                    .name("glueetl")
                    .python_version("3")
                    .build(),
            )
            .worker_type(WorkerType::from(session.worker_type))
            .number_of_workers(session.workers)
            .glue_version(session.glue_version)
            .tags("owner", session.owner)
            .send()
            .await
            .unwrap();
    }

    /// The session's status, `None` when there is no such session (deleted).
    pub async fn status(&self, id: &str) -> Option<String> {
        match self.glue.get_session().id(id).send().await {
            Ok(output) => output
                .session
                .and_then(|s| s.status)
                .map(|s| s.as_str().to_string()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_entity_not_found_exception()) =>
            {
                None
            }
            Err(error) => panic!("GetSession: {error:?}"),
        }
    }

    /// The notifications that reached the inbox in one look (at most 10, waiting up to 1 s):
    /// SNS's JSON envelope of each. They stay in the queue, out of sight for its visibility
    /// timeout.
    pub async fn notifications(&self) -> Vec<Value> {
        look(&self.sqs, &self.queue_url).await
    }

    /// Every notification in the inbox, read and deleted: SNS's JSON envelope of each.
    pub async fn take_notifications(&self) -> Vec<Value> {
        take(&self.sqs, &self.queue_url).await
    }

    /// Every item of the ledger table (a consistent scan), notification claims and the budgets'
    /// holder registry alike.
    async fn table_items(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut pages = self
            .dynamodb
            .scan()
            .table_name(&self.ledger_table)
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            items.extend(page.unwrap().items.unwrap_or_default());
        }
        items
    }

    /// Every ledger item, as `session_id` → the `(key, state)` of each of its items.
    pub async fn ledger_items(&self) -> HashMap<String, Vec<(String, String)>> {
        let text = |item: &HashMap<String, AttributeValue>, name: &str| match item.get(name) {
            Some(AttributeValue::S(value)) => value.clone(),
            other => panic!("ledger item attribute {name} is {other:?}"),
        };
        let mut items: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for item in self.table_items().await {
            // The budgets' holder registry shares the table; it is read by `holders`.
            if text(&item, "session").starts_with("holder/") {
                continue;
            }
            items
                .entry(text(&item, "session_id"))
                .or_default()
                .push((text(&item, "session"), text(&item, "state")));
        }
        items
    }

    /// The budgets' holder registry in the ledger table: key → the creator's ARN, when known.
    pub async fn holders(&self) -> HashMap<String, Option<String>> {
        let mut holders = HashMap::new();
        for item in self.table_items().await {
            let Some(AttributeValue::S(key)) = item.get("session") else {
                continue;
            };
            if !key.starts_with("holder/") {
                continue;
            }
            let principal = match item.get("principal") {
                Some(AttributeValue::S(json)) => serde_json::from_str::<Value>(json)
                    .ok()
                    .and_then(|p| p["arn"].as_str().map(str::to_string)),
                _ => None,
            };
            holders.insert(key.clone(), principal);
        }
        holders
    }
}

/// A topic of its own with an SQS queue subscribed to it, in any region of moto: the
/// organization's central topic, which every guard also publishes to.
pub struct Inbox {
    pub region: String,
    pub sqs: aws_sdk_sqs::Client,
    pub topic_arn: String,
    pub queue_url: String,
}

impl Inbox {
    /// Makes the topic and the queue subscribed to it in `region` of `moto`.
    pub async fn new(moto: MotoServer, region: &str, topic: &str, queue: &str) -> Inbox {
        let sdk = moto.sdk_config(region).await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let (topic_arn, queue_url) = topic_with_inbox(&sdk, &sqs, topic, queue).await;
        Inbox {
            region: region.to_string(),
            sqs,
            topic_arn,
            queue_url,
        }
    }

    /// A queue subscribed with `filter_policy` (an SNS subscription filter policy on message
    /// attributes; `None`: everything) to the topic named `topic` in `region`, which is made
    /// when there is none (CreateTopic answers an existing topic's ARN): what a stack's
    /// filtered e-mail subscription or a chat topic's channel would get.
    pub async fn filtered(
        moto: MotoServer,
        region: &str,
        topic: &str,
        queue: &str,
        filter_policy: Option<&Value>,
    ) -> Inbox {
        let sdk = moto.sdk_config(region).await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let (topic_arn, queue_url) =
            subscribed_inbox(&sdk, &sqs, topic, queue, filter_policy).await;
        Inbox {
            region: region.to_string(),
            sqs,
            topic_arn,
            queue_url,
        }
    }

    /// As [`World::notifications`]: one look, the messages stay in the queue.
    pub async fn notifications(&self) -> Vec<Value> {
        look(&self.sqs, &self.queue_url).await
    }

    /// As [`World::take_notifications`]: every message, read and deleted.
    pub async fn take_notifications(&self) -> Vec<Value> {
        take(&self.sqs, &self.queue_url).await
    }
}

/// One look at the queue (at most 10 messages, waiting up to 1 s): SNS's JSON envelope of each.
async fn look(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<Value> {
    let received = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    received
        .messages
        .unwrap_or_default()
        .iter()
        .map(|message| serde_json::from_str(message.body().unwrap()).unwrap())
        .collect()
}

/// Every message in the queue, read and deleted: SNS's JSON envelope of each.
async fn take(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<Value> {
    let mut taken = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return taken;
        }
        let mut entries = Vec::new();
        for (n, message) in messages.iter().enumerate() {
            taken.push(serde_json::from_str(message.body().unwrap()).unwrap());
            entries.push(
                DeleteMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .receipt_handle(message.receipt_handle().unwrap())
                    .build()
                    .unwrap(),
            );
        }
        sqs.delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
    }
}

/// The topic with an SQS queue subscribed to it: the topic ARN and the queue URL.
async fn topic_with_inbox(
    sdk: &SdkConfig,
    sqs: &aws_sdk_sqs::Client,
    topic: &str,
    queue: &str,
) -> (String, String) {
    subscribed_inbox(sdk, sqs, topic, queue, None).await
}

/// [`topic_with_inbox`], the subscription taking `filter_policy` when given.
async fn subscribed_inbox(
    sdk: &SdkConfig,
    sqs: &aws_sdk_sqs::Client,
    topic: &str,
    queue: &str,
    filter_policy: Option<&Value>,
) -> (String, String) {
    let sns = aws_sdk_sns::Client::new(sdk);
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
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let queue_arn = attributes.attributes.unwrap()[&QueueAttributeName::QueueArn].clone();
    let mut subscribe = sns
        .subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn);
    if let Some(filter) = filter_policy {
        subscribe = subscribe
            .attributes("FilterPolicy", filter.to_string())
            .attributes("FilterPolicyScope", "MessageAttributes");
    }
    subscribe.send().await.unwrap();
    (topic_arn, queue_url)
}

/// The ledger table, made as the stack makes it (partition key `session`, on demand).
async fn create_ledger_table(dynamodb: &aws_sdk_dynamodb::Client, name: &str) {
    dynamodb
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
}
