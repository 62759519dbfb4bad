//! `cargo xtask status`: the deployed stack's state, latest events, outputs, the dead-letter
//! queue's depth and the state of every alarm.

use aws_sdk_cloudformation::types::StackResourceSummary;

use crate::aws::{self, Aws, AwsArgs};
use crate::{Exit, paths, stack};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct StatusCommand {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// How many recent stack events to show.
    #[arg(long, default_value_t = 10)]
    pub events: usize,
    /// Every stack instance of the policy's `organization` (one row per account and Region).
    #[arg(long)]
    pub org: bool,
    /// With --org: also read each instance's dead-letter queue depth and alarms in its member
    /// account, through a role assumed there.
    #[arg(long, requires = "org")]
    pub deep: bool,
    /// With --deep: the role to assume in each member account.
    #[arg(long, requires = "deep", default_value = crate::org::member::DEFAULT_ROLE)]
    pub role_name: String,
}

impl StatusCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        aws::runtime()?.block_on(self.run_async())
    }

    pub async fn run_async(&self) -> anyhow::Result<Exit> {
        if self.org {
            return crate::org::status(&self.aws, self.deep.then_some(self.role_name.as_str()))
                .await;
        }
        let policy = paths::load_policy(&self.aws.policy)?;
        let aws = Aws::load(&self.aws, policy.stack.region.as_deref()).await?;
        aws::caller(&aws).await?;
        let name = &policy.stack.name;
        let cf = aws.cloudformation();
        let Some(found) = stack::describe(&cf, name).await? else {
            println!("stack {name}: not deployed in {}", aws.region);
            return Ok(Exit::Failed);
        };
        let status = found
            .stack_status()
            .map(|s| s.as_str())
            .unwrap_or("UNKNOWN");
        println!("stack {name}: {status}");
        if let Some(reason) = found.stack_status_reason() {
            println!("  reason: {reason}");
        }
        let events = cf.describe_stack_events().stack_name(name).send().await?;
        println!("recent events:");
        for event in events.stack_events().iter().take(self.events) {
            println!("  {}", stack::event_line(event));
        }
        stack::print_outputs(&found);

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
                .attribute_names(
                    aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
                )
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
        let subscriptions =
            crate::preflight::read_subscriptions(&aws.sns(), &policy, &arns).await?;
        let health = Health {
            stack_status: status.to_string(),
            queues,
            alarms,
            missing,
            subscriptions: crate::preflight::subscription_attention(&subscriptions, &arns),
        };
        print!("{health}");
        let attention = health.needs_attention();
        if attention.is_empty() {
            println!("healthy");
            Ok(Exit::Success)
        } else {
            println!("needs attention:");
            for item in &attention {
                println!("  - {item}");
            }
            Ok(Exit::Failed)
        }
    }
}

/// What `status` found, decided on before anything is printed (pure, unit-tested).
#[derive(Debug, Clone, PartialEq)]
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
    /// Everything that needs a person, in words; empty when all is well.
    pub fn needs_attention(&self) -> Vec<String> {
        let mut out = Vec::new();
        let status = &self.stack_status;
        let settled_ok = status.ends_with("_COMPLETE")
            && !status.contains("ROLLBACK")
            && !status.starts_with("DELETE");
        if !settled_ok {
            out.push(format!("the stack is {status}"));
        }
        for (logical, kind) in &self.missing {
            out.push(format!(
                "{logical} ({kind}) is declared by the template but not in the stack"
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
        for (logical, kind) in &self.missing {
            writeln!(f, "missing: {logical} ({kind})")?;
        }
        Ok(())
    }
}

/// The resources `template` declares (those without a `Condition`, which always exist) that
/// `resources` (the stack's) lacks or holds without a physical id.
pub fn missing_resources(
    template: &str,
    resources: &[StackResourceSummary],
) -> Vec<(String, String)> {
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
        assert!(health().needs_attention().is_empty());
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
            sick.needs_attention(),
            [
                "the stack is UPDATE_ROLLBACK_COMPLETE",
                "SweepRule (AWS::Events::Rule) is declared by the template but not in the stack",
                "3 events never handled in the dead-letter queue https://sqs/dlq",
                "alarm gsg-dead-letter-queue is ALARM",
                "alarm gsg-enforcer-throttles is in the stack but CloudWatch does not have it: nobody is alerted when the guard fails",
                "a@example.com (alarms) has not confirmed its subscription",
            ]
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
