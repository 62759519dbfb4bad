//! The preflight's decisions (pure), and its reads of AWS: with aws-smithy-mocks where moto
//! cannot answer (it has no Lambda `GetAccountSettings`, and it confirms every email
//! subscription at once, so `PendingConfirmation` never appears), against moto where it can (IAM,
//! CloudTrail; `xtask-aws/tests/lifecycle.rs`).

use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::*;

fn account(quota: u64, unreserved: u64) -> Result<AccountConcurrency, String> {
    Ok(AccountConcurrency { quota, unreserved })
}

/// AWS Lambda API reference, PutFunctionConcurrency: "leave at least 100 simultaneous executions
/// unreserved"; a new account's whole quota is often 10 or 50.
#[test]
fn a_reservation_the_account_cannot_give_stops_the_deploy_naming_the_quota() {
    let finding = reservation_finding(10, account(50, 50), 0).expect("50 cannot give 10");
    assert_eq!(finding.severity, Severity::Stop);
    assert!(
        finding.message.starts_with(
            "stack.reserved_concurrency: 10 cannot be reserved in this account: its Lambda quota \
             (AccountLimit.ConcurrentExecutions) is 50, 50 are unreserved now, and Lambda keeps \
             at least 50 unreserved (PutFunctionConcurrency), so at most 0 can be"
        ),
        "{finding}"
    );
    assert!(finding.message.contains("Service Quotas"));
    // A mature account gives it; so does one where the function already holds it.
    assert_eq!(reservation_finding(10, account(1000, 990), 0), None);
    assert_eq!(reservation_finding(10, account(1000, 100), 10), None);
    assert!(reservation_finding(11, account(1000, 100), 10).is_some());
    // Unreadable: never a guess.
    let finding = reservation_finding(5, Err("AccessDenied".into()), 0).unwrap();
    assert_eq!(finding.severity, Severity::Stop);
    assert!(
        finding
            .message
            .contains("GetAccountSettings failed (AccessDenied)")
    );
}

/// Lambda GetAccountSettings and GetFunctionConcurrency, mocked: moto has no GetAccountSettings.
#[tokio::test]
async fn the_quota_is_read_from_get_account_settings() {
    use aws_sdk_lambda::operation::get_account_settings::GetAccountSettingsOutput;
    use aws_sdk_lambda::operation::get_function_concurrency::GetFunctionConcurrencyOutput;
    use aws_sdk_lambda::types::AccountLimit;
    let settings = mock!(aws_sdk_lambda::Client::get_account_settings).then_output(|| {
        GetAccountSettingsOutput::builder()
            .account_limit(
                AccountLimit::builder()
                    .concurrent_executions(10)
                    .unreserved_concurrent_executions(10)
                    .build(),
            )
            .build()
    });
    let own = mock!(aws_sdk_lambda::Client::get_function_concurrency)
        .match_requests(|request| request.function_name() == Some("gsg-enforcer"))
        .then_output(|| GetFunctionConcurrencyOutput::builder().build());
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&settings, &own]);
    let finding = reservation(&lambda, "gsg-enforcer", 1)
        .await
        .expect("a quota of 10 gives nothing");
    assert!(
        finding
            .message
            .contains("its Lambda quota (AccountLimit.ConcurrentExecutions) is 10")
    );
    assert_eq!(settings.num_calls(), 1);
    assert_eq!(own.num_calls(), 1);
}

#[test]
fn a_name_something_else_holds_stops_the_deploy_and_the_stacks_own_does_not() {
    let resource = |existing: Option<&str>| NamedResource {
        logical_id: "GuardrailPolicy",
        kind: "IAM policy",
        name: "arn:aws:iam::123456789012:policy/gsg-session-guardrails-eu-west-1".into(),
        existing: existing.map(str::to_string),
    };
    let arn = "arn:aws:iam::123456789012:policy/gsg-session-guardrails-eu-west-1";
    let none = BTreeMap::new();
    assert!(name_findings("gsg", &[resource(None)], &none).is_empty());
    let taken = name_findings("gsg", &[resource(Some(arn))], &none);
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].severity, Severity::Stop);
    assert!(
        taken[0]
            .message
            .contains("IAM names are global to an account"),
        "{}",
        taken[0]
    );
    let own = BTreeMap::from([("GuardrailPolicy".to_string(), arn.to_string())]);
    assert!(name_findings("gsg", &[resource(Some(arn))], &own).is_empty());
}

fn trail(logging: bool, organization: bool, write: bool) -> TrailView {
    TrailView {
        name: "t".into(),
        logging,
        organization,
        covers_region: true,
        write_management: write,
    }
}

/// EventBridge "Events from AWS services": "AWS API Call via CloudTrail" events need a trail with
/// logging enabled; CreateSession is a write management event.
#[test]
fn a_trail_must_log_write_management_events_and_an_organization_trail_covers_members() {
    let none = |scope, trails| trail_finding("eu-west-1", scope, Ok(trails)).is_none();
    assert!(none(TrailScope::Account, vec![trail(true, false, true)]));
    // Read-only events only: CreateSession never arrives.
    let finding = trail_finding(
        "eu-west-1",
        TrailScope::Account,
        Ok(vec![trail(true, false, false)]),
    )
    .unwrap();
    assert!(
        finding
            .message
            .contains("t logs no write management events"),
        "{finding}"
    );
    assert!(!none(TrailScope::Account, vec![trail(false, false, true)]));
    // With --org, only an organization trail covers every member.
    assert!(!none(
        TrailScope::Organization,
        vec![trail(true, false, true)]
    ));
    assert!(none(
        TrailScope::Organization,
        vec![trail(true, true, true)]
    ));
    let mut elsewhere = trail(true, true, true);
    elsewhere.covers_region = false;
    assert!(!none(TrailScope::Organization, vec![elsewhere]));
    let unreadable = trail_finding("eu-west-1", TrailScope::Account, Err("denied".into()));
    assert_eq!(unreadable.unwrap().severity, Severity::Warn);
}

/// Advanced event selectors (what trails made by CloudFormation or Terraform usually have), mocked:
/// moto stores them but reports every trail's other fields its own way.
#[tokio::test]
async fn advanced_selectors_count_when_they_keep_write_events() {
    use aws_sdk_cloudtrail::operation::describe_trails::DescribeTrailsOutput;
    use aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput;
    use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
    use aws_sdk_cloudtrail::types::{AdvancedEventSelector, AdvancedFieldSelector, Trail};
    let field = |name: &str, values: &[&str]| {
        AdvancedFieldSelector::builder()
            .field(name)
            .set_equals(Some(values.iter().map(|v| v.to_string()).collect()))
            .build()
            .unwrap()
    };
    let judged = |fields: Vec<AdvancedFieldSelector>| async move {
        let describe = mock!(aws_sdk_cloudtrail::Client::describe_trails).then_output(|| {
            DescribeTrailsOutput::builder()
                .trail_list(
                    Trail::builder()
                        .name("org")
                        .trail_arn("arn:aws:cloudtrail:us-east-1:111122223333:trail/org")
                        .is_multi_region_trail(true)
                        .is_organization_trail(true)
                        .home_region("us-east-1")
                        .build(),
                )
                .build()
        });
        let status = mock!(aws_sdk_cloudtrail::Client::get_trail_status)
            .then_output(|| GetTrailStatusOutput::builder().is_logging(true).build());
        let selectors =
            mock!(aws_sdk_cloudtrail::Client::get_event_selectors).then_output(move || {
                GetEventSelectorsOutput::builder()
                    .advanced_event_selectors(
                        AdvancedEventSelector::builder()
                            .set_field_selectors(Some(fields.clone()))
                            .build()
                            .unwrap(),
                    )
                    .build()
            });
        let ct = mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            [&describe, &status, &selectors]
        );
        trails(&ct, "eu-west-1").await.unwrap()
    };
    let all = judged(vec![field("eventCategory", &["Management"])]).await;
    assert!(all[0].write_management && all[0].organization && all[0].covers_region);
    let writes = judged(vec![
        field("eventCategory", &["Management"]),
        field("readOnly", &["false"]),
    ])
    .await;
    assert!(writes[0].write_management);
    let reads = judged(vec![
        field("eventCategory", &["Management"]),
        field("readOnly", &["true"]),
    ])
    .await;
    assert!(!reads[0].write_management);
    let data = judged(vec![field("eventCategory", &["Data"])]).await;
    assert!(!data[0].write_management);
}

#[test]
fn pending_and_missing_email_subscriptions_need_a_person() {
    let emails = [
        "a@example.com".to_string(),
        "b@example.com".to_string(),
        "c@example.com".to_string(),
    ];
    let held = [
        (
            "A@example.com".to_string(),
            "arn:aws:sns:eu-west-1:123456789012:t:1".to_string(),
        ),
        (
            "b@example.com".to_string(),
            "PendingConfirmation".to_string(),
        ),
    ];
    let found = subscriptions("notifications", &emails, &held);
    let states: Vec<SubscriptionState> = found.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        [
            SubscriptionState::Confirmed,
            SubscriptionState::Pending,
            SubscriptionState::Missing
        ]
    );
    let arns = BTreeMap::from([(
        "notifications",
        "arn:aws:sns:eu-west-1:123456789012:t".to_string(),
    )]);
    let attention = subscription_attention(&found, &arns);
    assert_eq!(attention.len(), 2);
    assert!(attention[0].starts_with("b@example.com (notifications) has not confirmed"));
    assert!(attention[0].contains("48 hours"));
    assert!(attention[1].contains(
        "aws sns subscribe --topic-arn arn:aws:sns:eu-west-1:123456789012:t --protocol email \
         --notification-endpoint c@example.com"
    ));
    // Subscribe's own spelling counts too.
    let subscribe = [(
        "c@example.com".to_string(),
        "pending confirmation".to_string(),
    )];
    assert_eq!(
        subscriptions("alarms", &emails[2..], &subscribe)[0].state,
        SubscriptionState::Pending
    );
}

/// SNS ListSubscriptionsByTopic, mocked: moto confirms every email subscription at once.
#[tokio::test]
async fn subscriptions_are_read_per_topic_from_sns() {
    use aws_sdk_sns::operation::list_subscriptions_by_topic::ListSubscriptionsByTopicOutput;
    use aws_sdk_sns::types::Subscription as SnsSubscription;
    let list = mock!(aws_sdk_sns::Client::list_subscriptions_by_topic)
        .match_requests(|request| request.topic_arn() == Some("arn:notifications"))
        .then_output(|| {
            ListSubscriptionsByTopicOutput::builder()
                .subscriptions(
                    SnsSubscription::builder()
                        .protocol("email")
                        .endpoint("data-platform@example.com")
                        .subscription_arn("PendingConfirmation")
                        .build(),
                )
                .build()
        });
    let alarms = mock!(aws_sdk_sns::Client::list_subscriptions_by_topic)
        .match_requests(|request| request.topic_arn() == Some("arn:alarms"))
        .then_output(|| ListSubscriptionsByTopicOutput::builder().build());
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&list, &alarms]);
    let policy =
        xtask::paths::load_policy(&xtask::paths::policies_dir().join("default.yaml")).unwrap();
    let arns = BTreeMap::from([
        ("notifications", "arn:notifications".to_string()),
        ("alarms", "arn:alarms".to_string()),
    ]);
    let found = read_subscriptions(&sns, &policy, &arns).await.unwrap();
    assert_eq!(
        found
            .iter()
            .map(|s| (s.topic, s.email.as_str(), s.state))
            .collect::<Vec<_>>(),
        [
            (
                "notifications",
                "data-platform@example.com",
                SubscriptionState::Pending
            ),
            ("alarms", "oncall@example.com", SubscriptionState::Missing),
        ]
    );
}
