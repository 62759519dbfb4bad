//! Deploy's read-only preflight: what real AWS would refuse, or what would silently not work, and
//! the emulator the tests run against accepts. It reads the account (never changes it) and says
//! what it found; deploy stops before any change on a [`Severity::Stop`], and `plan` shows every
//! finding, so a reviewer sees before merge what a deploy would hit.
//!
//! The checks, each decided by a pure function of what was read:
//! - **Reserved concurrency** (`stack.reserved_concurrency`): Lambda `GetAccountSettings` and the
//!   function's own `GetFunctionConcurrency` against `PutFunctionConcurrency`'s floor of
//!   unreserved executions (`policy::limits::lambda_reservable`).
//! - **Names taken**: IAM names are global to an account, and the other fixed names are per
//!   Region: each name the stack gives (guardrail policy, function, ledger table, log group,
//!   alarms) must be free or already this stack's (`DescribeStackResources`).
//! - **The CloudTrail prerequisite**: "AWS API Call via CloudTrail" events need a trail that is
//!   logging and records write management events (`DescribeTrails`, `GetTrailStatus`,
//!   `GetEventSelectors`); an organization trail counts for every member account.
//! - **Email subscriptions** (after deploy, and in `status`): SNS keeps them
//!   `PendingConfirmation` until someone clicks the link, and deletes them after 48 hours.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::aws::{self, Aws};

/// How much a finding weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// AWS would refuse the deploy: deploy stops before any change.
    Stop,
    /// The deploy would succeed, and something would not work (or could not be checked).
    Warn,
}

/// One thing the preflight found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// What was checked: `reserved_concurrency`, `name`, `cloudtrail`, `subscription`, `network`.
    pub check: &'static str,
    pub message: String,
}

impl Finding {
    fn stop(check: &'static str, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Stop,
            check,
            message: message.into(),
        }
    }

    fn warn(check: &'static str, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Warn,
            check,
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Stop => "stop",
            Severity::Warn => "warning",
        };
        write!(f, "{label}: {}", self.message)
    }
}

/// True when a finding stops the deploy.
pub fn stops(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Stop)
}

// ---- Reserved concurrency ------------------------------------------------------------------

/// What `GetAccountSettings` says of the account's Lambda concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountConcurrency {
    /// `AccountLimit.ConcurrentExecutions`.
    pub quota: u64,
    /// `AccountLimit.UnreservedConcurrentExecutions`.
    pub unreserved: u64,
}

/// The finding for asking `asked` reserved executions in an account of `account` (or why it
/// could not be read), where the function already reserves `own`.
pub(crate) fn reservation_finding(
    asked: u32,
    account: Result<AccountConcurrency, String>,
    own: u64,
) -> Option<Finding> {
    let account = match account {
        Ok(account) => account,
        Err(why) => {
            return Some(Finding::stop(
                "reserved_concurrency",
                format!(
                    "stack.reserved_concurrency: {asked} cannot be checked: Lambda \
                     GetAccountSettings failed ({why}); deploy will not ask Lambda for a \
                     reservation it may refuse halfway through (give the caller \
                     lambda:GetAccountSettings, or leave stack.reserved_concurrency out)"
                ),
            ));
        }
    };
    let reservable = policy::limits::lambda_reservable(account.quota, account.unreserved, own);
    (u64::from(asked) > reservable).then(|| {
        Finding::stop(
            "reserved_concurrency",
            format!(
                "stack.reserved_concurrency: {asked} cannot be reserved in this account: its \
                 Lambda quota (AccountLimit.ConcurrentExecutions) is {}, {} are unreserved now, \
                 and Lambda keeps at least {} unreserved (PutFunctionConcurrency), so at most \
                 {reservable} can be; ask for more (Service Quotas: Lambda, \"Concurrent \
                 executions\") or lower or remove the reservation",
                account.quota,
                account.unreserved,
                policy::limits::lambda_unreserved_floor(account.quota)
            ),
        )
    })
}

/// Reads the account's Lambda concurrency and `function`'s own reservation, and judges `asked`.
pub async fn reservation(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    asked: u32,
) -> Option<Finding> {
    let account = match lambda.get_account_settings().send().await {
        Ok(out) => match out.account_limit() {
            Some(limit) => Ok(AccountConcurrency {
                quota: u64::try_from(limit.concurrent_executions()).unwrap_or(0),
                unreserved: u64::try_from(limit.unreserved_concurrent_executions().unwrap_or(0))
                    .unwrap_or(0),
            }),
            None => Err("the answer has no AccountLimit".to_string()),
        },
        Err(error) => Err(aws::described(&error)),
    };
    let own = lambda
        .get_function_concurrency()
        .function_name(function)
        .send()
        .await
        .ok()
        .and_then(|out| out.reserved_concurrent_executions())
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0);
    reservation_finding(asked, account, own)
}

// ---- Names taken ------------------------------------------------------------------------------

/// A name the stack gives a resource, and what the account holds under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedResource {
    /// The template's logical id (`GuardrailPolicy`).
    pub logical_id: &'static str,
    /// What it is, for people (`IAM policy`).
    pub kind: &'static str,
    /// The name (or, for IAM, the ARN the name makes).
    pub name: String,
    /// What the account has under that name: `None` when nothing; the physical id otherwise.
    pub existing: Option<String>,
}

/// A finding for each name something other than this stack holds (`own`: the stack's physical
/// ids by logical id; empty when the stack does not exist).
pub(crate) fn name_findings(
    stack: &str,
    resources: &[NamedResource],
    own: &BTreeMap<String, String>,
) -> Vec<Finding> {
    resources
        .iter()
        .filter_map(|resource| {
            let existing = resource.existing.as_ref()?;
            let ours = own
                .get(resource.logical_id)
                .is_some_and(|physical| physical == existing || physical == &resource.name);
            (!ours).then(|| {
                Finding::stop(
                    "name",
                    format!(
                        "{} `{}` already exists and is not stack {stack}'s ({}): {}; delete or \
                         rename it, or give stack.name another name (nothing was changed)",
                        resource.kind,
                        resource.name,
                        resource.logical_id,
                        if resource.kind == "IAM policy" {
                            "IAM names are global to an account (a stack of the same name in \
                             another Region, or one made by hand)"
                        } else {
                            "another stack or someone made it"
                        }
                    ),
                )
            })
        })
        .collect()
}

async fn names(aws: &Aws, policy: &policy::Policy, partition: &str, account: &str) -> Vec<Finding> {
    let stack = &policy.stack.name;
    let own: BTreeMap<String, String> = match aws
        .cloudformation()
        .describe_stack_resources()
        .stack_name(stack)
        .send()
        .await
    {
        Ok(out) => out
            .stack_resources()
            .iter()
            .filter_map(|r| {
                Some((
                    r.logical_resource_id()?.to_string(),
                    r.physical_resource_id()?.to_string(),
                ))
            })
            .collect(),
        Err(_) => BTreeMap::new(),
    };
    let function = format!("{stack}{}", policy::validate::FUNCTION_NAME_SUFFIX);
    let policy_arn = crate::assign::guardrail_policy_arn(partition, account, stack, &aws.region);
    let exists = |found: bool, physical: &str| found.then(|| physical.to_string());
    let mut resources = vec![
        NamedResource {
            logical_id: "GuardrailPolicy",
            kind: "IAM policy",
            existing: exists(
                aws.iam()
                    .get_policy()
                    .policy_arn(&policy_arn)
                    .send()
                    .await
                    .is_ok(),
                &policy_arn,
            ),
            name: policy_arn,
        },
        NamedResource {
            logical_id: "EnforcerFunction",
            kind: "Lambda function",
            existing: exists(
                aws.lambda()
                    .get_function()
                    .function_name(&function)
                    .send()
                    .await
                    .is_ok(),
                &function,
            ),
            name: function.clone(),
        },
    ];
    let table = format!("{stack}-ledger");
    resources.push(NamedResource {
        logical_id: "NotificationLedger",
        kind: "DynamoDB table",
        existing: exists(
            aws.dynamodb()
                .describe_table()
                .table_name(&table)
                .send()
                .await
                .is_ok(),
            &table,
        ),
        name: table,
    });
    let group = format!("/aws/lambda/{function}");
    let groups = aws
        .logs()
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .map(|out| {
            out.log_groups()
                .iter()
                .any(|g| g.log_group_name() == Some(group.as_str()))
        })
        .unwrap_or(false);
    resources.push(NamedResource {
        logical_id: "EnforcerLogGroup",
        kind: "log group",
        existing: exists(groups, &group),
        name: group,
    });
    name_findings(stack, &resources, &own)
}

// ---- The CloudTrail prerequisite ----------------------------------------------------------------

/// One trail, as far as the prerequisite goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailView {
    pub name: String,
    /// `GetTrailStatus.IsLogging`.
    pub logging: bool,
    /// `IsOrganizationTrail`: it logs every member account of the organization.
    pub organization: bool,
    /// `IsMultiRegionTrail`, or its home Region is the one deployed to.
    pub covers_region: bool,
    /// Its selectors record write management events (classic `IncludeManagementEvents` with
    /// `ReadWriteType` `All` or `WriteOnly`; or an advanced selector on `eventCategory`
    /// `Management` that does not keep read-only events alone).
    pub write_management: bool,
}

/// Whose trail deploy needs: its own account's, or (with `--org`) one that covers every member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrailScope {
    Account,
    Organization,
}

/// The finding for the trails an account shows (`Err`: they could not be read).
pub(crate) fn trail_finding(
    region: &str,
    scope: TrailScope,
    trails: Result<Vec<TrailView>, String>,
) -> Option<Finding> {
    let trails = match trails {
        Ok(trails) => trails,
        Err(why) => {
            return Some(Finding::warn(
                "cloudtrail",
                format!(
                    "could not check CloudTrail ({why}); make sure a trail logs write management \
                     events in {region}: without one, CreateSession events never reach \
                     EventBridge and only the scheduled sweep finds sessions"
                ),
            ));
        }
    };
    let good = |trail: &&TrailView| trail.logging && trail.covers_region && trail.write_management;
    match scope {
        TrailScope::Account if trails.iter().any(|t| good(&t)) => None,
        TrailScope::Organization if trails.iter().any(|t| good(&t) && t.organization) => None,
        _ => {
            let near: Vec<String> = trails
                .iter()
                .filter(|t| t.logging && !t.write_management)
                .map(|t| t.name.clone())
                .collect();
            let read_only = if near.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} logs no write management events: CreateSession is one)",
                    near.join(", ")
                )
            };
            Some(Finding::warn(
                "cloudtrail",
                match scope {
                    TrailScope::Account => format!(
                        "no CloudTrail trail logs write management events in {region}{read_only}: \
                         without one, CreateSession events never reach EventBridge and only the \
                         scheduled sweep finds sessions"
                    ),
                    TrailScope::Organization => format!(
                        "no organization trail logs write management events in {region}\
                         {read_only}: each member account then needs a trail of its own, or \
                         CreateSession events never reach its enforcer (only the sweep finds \
                         sessions); `status --org --deep` checks each member"
                    ),
                },
            ))
        }
    }
}

/// The trails `ct` sees in `region` (shadow trails of multi-Region ones included).
pub async fn trails(
    ct: &aws_sdk_cloudtrail::Client,
    region: &str,
) -> Result<Vec<TrailView>, String> {
    let list = ct
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .map_err(|error| aws::described(&error))?;
    let mut views = Vec::new();
    for trail in list.trail_list() {
        let Some(arn) = trail.trail_arn() else {
            continue;
        };
        let logging = ct
            .get_trail_status()
            .name(arn)
            .send()
            .await
            .ok()
            .and_then(|status| status.is_logging())
            .unwrap_or(false);
        let write_management = match ct.get_event_selectors().trail_name(arn).send().await {
            Ok(selectors) => {
                let classic = selectors.event_selectors().iter().any(|s| {
                    s.include_management_events().unwrap_or(true)
                        && !matches!(
                            s.read_write_type(),
                            Some(aws_sdk_cloudtrail::types::ReadWriteType::ReadOnly)
                        )
                });
                let advanced = selectors.advanced_event_selectors().iter().any(|s| {
                    let fields = s.field_selectors();
                    let management = fields.iter().any(|f| {
                        f.field() == "eventCategory" && f.equals().iter().any(|v| v == "Management")
                    });
                    let only_read = fields.iter().any(|f| {
                        f.field() == "readOnly"
                            && f.equals().iter().all(|v| v == "true")
                            && !f.equals().is_empty()
                    });
                    management && !only_read
                });
                classic || advanced
            }
            Err(_) => false,
        };
        views.push(TrailView {
            name: trail.name().unwrap_or(arn).to_string(),
            logging,
            organization: trail.is_organization_trail().unwrap_or(false),
            covers_region: trail.is_multi_region_trail().unwrap_or(false)
                || trail.home_region() == Some(region),
            write_management,
        });
    }
    Ok(views)
}

// ---- Email subscriptions ----------------------------------------------------------------------

/// One email address the policy subscribes, and what SNS holds for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscription {
    /// `notifications` or `alarms`.
    pub topic: &'static str,
    pub email: String,
    pub state: SubscriptionState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionState {
    Confirmed,
    /// `PendingConfirmation`: nothing reaches it until someone clicks the link.
    Pending,
    /// SNS has none (deleted unconfirmed after 48 hours, or removed by hand).
    Missing,
}

/// What the policy's `emails` get on a topic that holds `held` (endpoint, subscription ARN as
/// `ListSubscriptionsByTopic` gives it: an ARN, or `PendingConfirmation`).
pub fn subscriptions(
    topic: &'static str,
    emails: &[String],
    held: &[(String, String)],
) -> Vec<Subscription> {
    emails
        .iter()
        .map(|email| {
            let states: Vec<SubscriptionState> = held
                .iter()
                .filter(|(endpoint, _)| endpoint.eq_ignore_ascii_case(email))
                .map(|(_, arn)| {
                    // ListSubscriptionsByTopic says `PendingConfirmation`; Subscribe says
                    // `pending confirmation`.
                    let pending = arn
                        .replace(' ', "")
                        .eq_ignore_ascii_case("PendingConfirmation");
                    if pending {
                        SubscriptionState::Pending
                    } else {
                        SubscriptionState::Confirmed
                    }
                })
                .collect();
            let state = if states.contains(&SubscriptionState::Confirmed) {
                SubscriptionState::Confirmed
            } else if states.contains(&SubscriptionState::Pending) {
                SubscriptionState::Pending
            } else {
                SubscriptionState::Missing
            };
            Subscription {
                topic,
                email: email.clone(),
                state,
            }
        })
        .collect()
}

/// What needs a person, one line each, for the subscriptions that are not confirmed.
pub(crate) fn subscription_attention(
    subscriptions: &[Subscription],
    topic_arns: &BTreeMap<&str, String>,
) -> Vec<String> {
    subscriptions
        .iter()
        .filter_map(|s| {
            let topic = topic_arns.get(s.topic).map_or("the topic", String::as_str);
            match s.state {
                SubscriptionState::Confirmed => None,
                SubscriptionState::Pending => Some(format!(
                    "{} ({}) has not confirmed its subscription: nothing reaches it until the \
                     link in AWS's email is clicked, and SNS deletes it unconfirmed after {} hours",
                    s.email,
                    s.topic,
                    policy::limits::SNS_UNCONFIRMED_SUBSCRIPTION_HOURS
                )),
                SubscriptionState::Missing => Some(format!(
                    "{} ({}) is not subscribed (SNS deletes a subscription left unconfirmed for \
                     {} hours): `aws sns subscribe --topic-arn {topic} --protocol email \
                     --notification-endpoint {}`",
                    s.email,
                    s.topic,
                    policy::limits::SNS_UNCONFIRMED_SUBSCRIPTION_HOURS,
                    s.email
                )),
            }
        })
        .collect()
}

/// The stack's email subscriptions as SNS holds them: the policy's `notifications.emails` on the
/// `NotificationTopicArn` output's topic and `alarms.emails` on `AlarmTopicArn`'s.
pub(crate) async fn read_subscriptions(
    sns: &aws_sdk_sns::Client,
    policy: &policy::Policy,
    topic_arns: &BTreeMap<&str, String>,
) -> anyhow::Result<Vec<Subscription>> {
    let mut out = Vec::new();
    let wanted: [(&'static str, Vec<String>); 2] = [
        (
            "notifications",
            policy
                .notifications
                .as_ref()
                .map(|n| n.emails.clone())
                .unwrap_or_default(),
        ),
        (
            "alarms",
            policy
                .alarms
                .as_ref()
                .map(|a| a.emails.clone())
                .unwrap_or_default(),
        ),
    ];
    for (topic, emails) in wanted {
        if emails.is_empty() {
            continue;
        }
        let Some(arn) = topic_arns.get(topic) else {
            continue;
        };
        let mut held = Vec::new();
        let mut pages = sns
            .list_subscriptions_by_topic()
            .topic_arn(arn)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| {
                aws::failure(&format!("sns:ListSubscriptionsByTopic {arn}"), &error, None)
            })?;
            for subscription in page.subscriptions() {
                if subscription.protocol() == Some("email") {
                    held.push((
                        subscription.endpoint().unwrap_or_default().to_string(),
                        subscription
                            .subscription_arn()
                            .unwrap_or_default()
                            .to_string(),
                    ));
                }
            }
        }
        out.extend(subscriptions(topic, &emails, &held));
    }
    Ok(out)
}

/// The topic of each kind, from the stack's outputs.
pub(crate) fn topic_arns(
    stack: &aws_sdk_cloudformation::types::Stack,
) -> BTreeMap<&'static str, String> {
    [
        ("notifications", "NotificationTopicArn"),
        ("alarms", "AlarmTopicArn"),
    ]
    .into_iter()
    .filter_map(|(topic, key)| {
        stack
            .outputs()
            .iter()
            .find(|output| output.output_key() == Some(key))
            .and_then(|output| output.output_value())
            .map(|arn| (topic, arn.to_string()))
    })
    .collect()
}

// ---- All of it --------------------------------------------------------------------------------

/// Every read-only check for a single-account deploy of `policy`.
pub(crate) async fn single_account(
    aws: &Aws,
    policy: &policy::Policy,
    policy_file: &std::path::Path,
    caller: &aws::Caller,
) -> anyhow::Result<Vec<Finding>> {
    let mut findings = Vec::new();
    if let Some(asked) = policy.stack.reserved_concurrency {
        let function = format!(
            "{}{}",
            policy.stack.name,
            policy::validate::FUNCTION_NAME_SUFFIX
        );
        findings.extend(reservation(&aws.lambda(), &function, asked).await);
    }
    let partition = crate::assign::partition_of(&caller.arn);
    findings.extend(names(aws, policy, &partition, &caller.account).await);
    findings.extend(trail_finding(
        &aws.region,
        TrailScope::Account,
        trails(&aws.cloudtrail(), &aws.region).await,
    ));
    // In a VPC, the function reaches AWS only through endpoints or a NAT.
    if let Some(network) = &policy.network {
        for warning in crate::network::preflight(aws, policy_file, network).await? {
            findings.push(Finding::warn("network", warning));
        }
    }
    Ok(findings)
}

/// The read-only checks for `deploy --org` in the administering account: the organization trail.
/// (Names and quotas are each member account's, which deploy does not read.)
pub async fn organization(aws: &Aws) -> Vec<Finding> {
    let found = trails(&aws.cloudtrail(), &aws.region).await;
    trail_finding(&aws.region, TrailScope::Organization, found)
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests;
