//! Guards on SDK clients whose answers come from `aws-smithy-mocks` (no network, no emulator),
//! and the answers that the mocked tests and the benches share.

use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_glue::types::{Session, SessionStatus, WorkerType};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use glue_session_guard_lambda::{Guard, Settings, Timing};

/// The session of the fixture event as Glue reports it: 50 G.8X workers, Glue 4.0, idle
/// timeout 30.
pub fn session(id: &str, status: SessionStatus) -> Session {
    Session::builder()
        .id(id)
        .status(status)
        .worker_type(WorkerType::G8X)
        .number_of_workers(50)
        .glue_version("4.0")
        .idle_timeout(30)
        .build()
}

/// The ledger's claim (`PutItem`) is granted.
pub fn claim_won() -> Rule {
    mock!(aws_sdk_dynamodb::Client::put_item).then_output(|| PutItemOutput::builder().build())
}

/// The ledger records `sent` (`UpdateItem`).
pub fn marked_sent() -> Rule {
    mock!(aws_sdk_dynamodb::Client::update_item).then_output(|| UpdateItemOutput::builder().build())
}

/// SNS accepts the notification (`Publish`) as message `message_id`.
pub fn published(message_id: &'static str) -> Rule {
    mock!(aws_sdk_sns::Client::publish)
        .then_output(move || PublishOutput::builder().message_id(message_id).build())
}

/// The guard the deployed function would be ([`Timing::LAMBDA`], the SDK's own retries), with
/// every AWS answer served from memory: Glue's and SNS's from the rules given (any matching
/// rule, in any order), the ledger granting every claim and recording `sent`, and CloudTrail
/// with no answer at all.
pub fn deployed_guard(glue: &[&Rule], sns: &[&Rule], settings: Settings) -> Guard {
    let (claim, sent) = (claim_won(), marked_sent());
    Guard {
        glue: mock_client!(aws_sdk_glue, RuleMode::MatchAny, glue),
        sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, sns),
        cloudtrail: mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, &[]),
        dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&claim, &sent]),
        settings,
        timing: Timing::LAMBDA,
        profiles: Default::default(),
    }
}

/// CloudTrail's `LookupEvents` answering every lookup with `records` (each a CloudTrail record,
/// as `CloudTrailEvent` carries it): what the sweep reads creators and starters from.
pub fn trail(records: Vec<serde_json::Value>) -> Rule {
    mock!(aws_sdk_cloudtrail::Client::lookup_events).then_output(move || {
        let mut output =
            aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput::builder();
        for record in &records {
            output = output.events(
                aws_sdk_cloudtrail::types::Event::builder()
                    .cloud_trail_event(record.to_string())
                    .build(),
            );
        }
        output.build()
    })
}

/// The plain text a `Publish` request carries for e-mail: its message is SNS's per-protocol
/// structure (`MessageStructure` `json`), whose `default` is the text; a message sent without
/// that structure is returned as it is.
pub fn published_text(input: &aws_sdk_sns::operation::publish::PublishInput) -> String {
    let message = input.message().unwrap_or_default();
    if input.message_structure() == Some("json") {
        let structure: serde_json::Value =
            serde_json::from_str(message).expect("a per-protocol message is JSON");
        return structure["default"]
            .as_str()
            .expect("a per-protocol message has a default")
            .to_string();
    }
    message.to_string()
}
