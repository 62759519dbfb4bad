//! The deployed stack of one account: its state, latest events, outputs, the dead-letter queue's
//! depth, the state of every alarm, resources the template declares and the stack lacks, and the
//! email subscriptions. Used by the status command.

use aws_sdk_cloudformation::types::StackResourceSummary;

use crate::aws::{self, Aws, AwsArgs};
use crate::stack;
use serde::Serialize;
use xtask::output::{Answer, Outcome};
use xtask::paths;

/// What `status` says of one account's stack: the command's result.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub stack: String,
    pub region: String,
    /// `None` when the stack is not deployed there.
    pub status: Option<String>,
    pub reason: Option<String>,
    /// The latest stack events, newest first, one line each.
    pub events: Vec<String>,
    pub outputs: Vec<(String, String)>,
    pub health: Option<Health>,
    /// Where the AWS calls went when not to AWS (`--endpoint-url`: an emulator).
    pub endpoint_url: Option<String>,
}

impl std::fmt::Display for StatusReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(status) = &self.status else {
            return writeln!(
                f,
                "stack {}: not deployed in {}: deploy it with `cargo xtask deploy` (the same \
                 --policy), or look in another Region with --region",
                self.stack, self.region
            );
        };
        writeln!(f, "stack {}: {status}", self.stack)?;
        if let Some(reason) = &self.reason {
            writeln!(f, "  reason: {reason}")?;
        }
        writeln!(f, "recent events:")?;
        for event in &self.events {
            writeln!(f, "  {event}")?;
        }
        if self.outputs.is_empty() {
            writeln!(f, "outputs: none reported")?;
        } else {
            writeln!(f, "outputs:")?;
            for (key, value) in &self.outputs {
                writeln!(f, "  {key} = {value}")?;
            }
        }
        if let Some(health) = &self.health {
            write!(f, "{health}")?;
            let attention = health.needs_attention(self.endpoint_url.as_deref());
            if attention.is_empty() {
                writeln!(f, "healthy")?;
            } else {
                writeln!(f, "needs attention:")?;
                for item in &attention {
                    writeln!(f, "  - {item}")?;
                }
            }
        }
        Ok(())
    }
}

impl Outcome for StatusReport {
    /// No when the stack is not deployed, or something needs attention.
    fn answer(&self) -> Answer {
        Answer::no_when(self.health.as_ref().is_none_or(|health| {
            !health
                .needs_attention(self.endpoint_url.as_deref())
                .is_empty()
        }))
    }
}

/// Reads the stack of `args`'s policy: its state, its last `events` events, outputs, dead-letter
/// queue, alarms, missing resources and email subscriptions.
pub async fn status(args: &AwsArgs, events: usize) -> anyhow::Result<StatusReport> {
    let policy = paths::load_policy(&args.policy)?;
    let aws = Aws::load(args, policy.stack.region.as_deref()).await?;
    aws::caller(&aws).await?;
    let name = &policy.stack.name;
    let cf = aws.cloudformation();
    let mut report = StatusReport {
        stack: name.clone(),
        region: aws.region.clone(),
        status: None,
        reason: None,
        events: Vec::new(),
        outputs: Vec::new(),
        health: None,
        endpoint_url: aws.endpoint_url.clone(),
    };
    let Some(found) = stack::describe(&cf, name).await? else {
        return Ok(report);
    };
    let status = found
        .stack_status()
        .map(|s| s.as_str())
        .unwrap_or("UNKNOWN")
        .to_string();
    report.status = Some(status.clone());
    report.reason = found.stack_status_reason().map(str::to_string);
    let listed = cf.describe_stack_events().stack_name(name).send().await?;
    report.events = listed
        .stack_events()
        .iter()
        .take(events)
        .map(stack::event_line)
        .collect();
    report.outputs = found
        .outputs()
        .iter()
        .map(|output| {
            (
                output.output_key().unwrap_or_default().to_string(),
                output.output_value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let resources: Vec<StackResourceSummary> = cf
        .list_stack_resources()
        .stack_name(name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await?;
    let physical = |kind: &str| -> Vec<String> {
        resources
            .iter()
            .filter(|r| r.resource_type() == Some(kind))
            .filter_map(|r| r.physical_resource_id().map(str::to_string))
            .filter(|id| !id.is_empty())
            .collect()
    };
    let template = cf
        .get_template()
        .stack_name(name)
        .send()
        .await?
        .template_body()
        .unwrap_or_default()
        .to_string();
    let missing = missing_resources(&template, &resources);

    let sqs = aws.sqs();
    let mut queues = Vec::new();
    for queue in physical("AWS::SQS::Queue") {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await?;
        let depth = attributes
            .attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            })
            .and_then(|depth| depth.parse().ok());
        queues.push((queue, depth));
    }
    let alarm_names = physical("AWS::CloudWatch::Alarm");
    let mut alarms: Vec<(String, Option<String>)> = Vec::new();
    if !alarm_names.is_empty() {
        let found = aws
            .cloudwatch()
            .describe_alarms()
            .set_alarm_names(Some(alarm_names.clone()))
            .send()
            .await?;
        for alarm_name in alarm_names {
            let state = found
                .metric_alarms()
                .iter()
                .find(|alarm| alarm.alarm_name() == Some(alarm_name.as_str()))
                .map(|alarm| {
                    alarm
                        .state_value()
                        .map_or("UNKNOWN", |s| s.as_str())
                        .to_string()
                });
            alarms.push((alarm_name, state));
        }
    }
    let arns = crate::preflight::topic_arns(&found);
    let subscriptions = crate::preflight::read_subscriptions(&aws.sns(), &policy, &arns).await?;
    let health = Health {
        stack_status: status.to_string(),
        queues,
        alarms,
        missing,
        subscriptions: crate::preflight::subscription_attention(&subscriptions, &arns),
    };
    report.health = Some(health);
    Ok(report)
}

/// What `status` found, decided on before anything is printed (pure, unit-tested).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub stack_status: String,
    /// Each dead-letter queue and its depth (`None`: unreadable).
    pub queues: Vec<(String, Option<u64>)>,
    /// Each alarm of the stack and its state (`None`: CloudWatch does not have it).
    pub alarms: Vec<(String, Option<String>)>,
    /// Resources the deployed template declares that the stack does not hold: logical id, type.
    pub missing: Vec<(String, String)>,
    /// The policy's email subscriptions that are pending or missing, each in words
    /// (`preflight::subscription_attention`).
    pub subscriptions: Vec<String>,
}

impl Health {
    /// Everything that needs a person, in words; empty when all is well. `endpoint_url`: where
    /// the calls went when not to AWS (an emulator, which skips resource types it lacks).
    pub fn needs_attention(&self, endpoint_url: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        let status = &self.stack_status;
        let settled_ok = status.ends_with("_COMPLETE")
            && !status.contains("ROLLBACK")
            && !status.starts_with("DELETE");
        if !settled_ok {
            out.push(format!("the stack is {status}"));
        }
        if !self.missing.is_empty() {
            let listed: Vec<String> = self
                .missing
                .iter()
                .map(|(logical, kind)| format!("{logical} ({kind})"))
                .collect();
            let why = match endpoint_url {
                Some(endpoint) => format!(
                    "; the calls went to {endpoint}, an emulator, which creates no resource of \
                     a type it does not support (moto skips them)"
                ),
                None => String::new(),
            };
            out.push(format!(
                "{} declared by the template {} not in the stack: {}{why}",
                if listed.len() == 1 {
                    "1 resource".to_string()
                } else {
                    format!("{} resources", listed.len())
                },
                if listed.len() == 1 { "is" } else { "are" },
                listed.join(", ")
            ));
        }
        for (queue, depth) in &self.queues {
            match depth {
                Some(0) => {}
                Some(n) => out.push(format!(
                    "{n} event{} never handled in the dead-letter queue {queue}",
                    if *n == 1 { "" } else { "s" }
                )),
                None => out.push(format!("the dead-letter queue {queue} could not be read")),
            }
        }
        for (alarm, state) in &self.alarms {
            match state.as_deref() {
                Some("OK") | Some("INSUFFICIENT_DATA") => {}
                Some(state) => out.push(format!("alarm {alarm} is {state}")),
                None => out.push(format!(
                    "alarm {alarm} is in the stack but CloudWatch does not have it: nobody is \
                     alerted when the guard fails"
                )),
            }
        }
        out.extend(self.subscriptions.iter().cloned());
        out
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (queue, depth) in &self.queues {
            let depth = depth.map_or_else(|| "?".to_string(), |n| n.to_string());
            writeln!(f, "dead-letter queue: {depth} messages waiting ({queue})")?;
        }
        if self.alarms.is_empty() {
            writeln!(f, "alarms: the stack has none")?;
        } else {
            writeln!(f, "alarms:")?;
            let width = self
                .alarms
                .iter()
                .map(|(name, _)| name.len())
                .max()
                .unwrap_or(0);
            for (name, state) in &self.alarms {
                writeln!(
                    f,
                    "  {name:<width$}  {}",
                    state.as_deref().unwrap_or("MISSING")
                )?;
            }
        }
        Ok(())
    }
}

/// The resources `template` declares (those without a `Condition`, which always exist) that
/// `resources` (the stack's) lacks or holds without a physical id.
fn missing_resources(template: &str, resources: &[StackResourceSummary]) -> Vec<(String, String)> {
    let Ok(document) = serde_yaml::from_str::<serde_yaml::Value>(template) else {
        return Vec::new();
    };
    let Some(declared) = document.get("Resources").and_then(|r| r.as_mapping()) else {
        return Vec::new();
    };
    declared
        .iter()
        .filter(|(_, body)| body.get("Condition").is_none())
        .filter_map(|(logical, body)| {
            let logical = logical.as_str()?;
            let kind = body.get("Type").and_then(|t| t.as_str()).unwrap_or("?");
            let held = resources.iter().any(|r| {
                r.logical_resource_id() == Some(logical)
                    && r.physical_resource_id().is_some_and(|id| !id.is_empty())
            });
            (!held).then(|| (logical.to_string(), kind.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health() -> Health {
        Health {
            stack_status: "CREATE_COMPLETE".into(),
            queues: vec![("https://sqs/dlq".into(), Some(0))],
            alarms: vec![("gsg-enforcer-errors".into(), Some("OK".into()))],
            missing: vec![],
            subscriptions: vec![],
        }
    }

    #[test]
    fn a_settled_stack_with_an_empty_queue_and_quiet_alarms_is_healthy() {
        assert!(health().needs_attention(None).is_empty());
    }

    #[test]
    fn every_kind_of_trouble_is_said() {
        let mut sick = health();
        sick.stack_status = "UPDATE_ROLLBACK_COMPLETE".into();
        sick.queues[0].1 = Some(3);
        sick.alarms
            .push(("gsg-dead-letter-queue".into(), Some("ALARM".into())));
        sick.alarms.push(("gsg-enforcer-throttles".into(), None));
        sick.missing
            .push(("SweepRule".into(), "AWS::Events::Rule".into()));
        sick.subscriptions
            .push("a@example.com (alarms) has not confirmed its subscription".into());
        assert_eq!(
            sick.needs_attention(None),
            [
                "the stack is UPDATE_ROLLBACK_COMPLETE",
                "1 resource declared by the template is not in the stack: SweepRule (AWS::Events::Rule)",
                "3 events never handled in the dead-letter queue https://sqs/dlq",
                "alarm gsg-dead-letter-queue is ALARM",
                "alarm gsg-enforcer-throttles is in the stack but CloudWatch does not have it: nobody is alerted when the guard fails",
                "a@example.com (alarms) has not confirmed its subscription",
            ]
        );
    }

    #[test]
    fn resources_an_emulator_skipped_are_said_once_with_why() {
        let mut sick = health();
        sick.missing
            .push(("A".into(), "AWS::Glue::UsageProfile".into()));
        sick.missing.push(("B".into(), "AWS::KMS::Alias".into()));
        let attention = sick.needs_attention(Some("http://127.0.0.1:5000"));
        assert_eq!(
            attention.len(),
            1,
            "one line for all of them: {attention:?}"
        );
        assert_eq!(
            attention[0],
            "2 resources declared by the template are not in the stack: A \
             (AWS::Glue::UsageProfile), B (AWS::KMS::Alias); the calls went to \
             http://127.0.0.1:5000, an emulator, which creates no resource of a type it does \
             not support (moto skips them)"
        );
        assert!(
            !sick.to_string().contains("AWS::KMS::Alias"),
            "said once, not twice"
        );
    }

    #[test]
    fn declared_resources_the_stack_lacks_are_found() {
        let template = "Resources:\n  A: {Type: AWS::SNS::Topic}\n  B: {Type: AWS::SQS::Queue}\n  C: {Type: AWS::Events::Rule, Condition: Sweep}\n";
        let held = StackResourceSummary::builder()
            .logical_resource_id("A")
            .physical_resource_id("arn:topic")
            .resource_type("AWS::SNS::Topic")
            .last_updated_timestamp(aws_sdk_cloudformation::primitives::DateTime::from_secs(0))
            .resource_status(aws_sdk_cloudformation::types::ResourceStatus::CreateComplete)
            .build();
        assert_eq!(
            missing_resources(template, &[held]),
            [("B".to_string(), "AWS::SQS::Queue".to_string())]
        );
    }
}
