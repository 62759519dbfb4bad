//! `cargo xtask status`: the deployed stack's state, latest events, outputs, the dead-letter
//! queue's depth and the state of every alarm.

use aws_sdk_cloudformation::types::StackResourceSummary;

use crate::aws::{self, Aws, AwsArgs};
use crate::{Outcome, paths, stack};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct Status {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// How many recent stack events to show.
    #[arg(long, default_value_t = 10)]
    pub events: usize,
}

impl Status {
    pub fn run(self) -> anyhow::Result<Outcome> {
        aws::runtime()?.block_on(self.run_async())
    }

    pub async fn run_async(&self) -> anyhow::Result<Outcome> {
        let policy = paths::load_policy(&self.aws.policy)?;
        let aws = Aws::load(&self.aws, policy.stack.region.as_deref()).await?;
        aws::caller(&aws).await?;
        let name = &policy.stack.name;
        let cf = aws.cloudformation();
        let Some(found) = stack::describe(&cf, name).await? else {
            println!("stack {name}: not deployed in {}", aws.region);
            return Ok(Outcome::Failed);
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
        let sqs = aws.sqs();
        let mut healthy = true;
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
                .cloned()
                .unwrap_or_else(|| "?".into());
            if depth != "0" {
                healthy = false;
            }
            println!("dead-letter queue: {depth} messages waiting ({queue})");
        }
        let alarm_names = physical("AWS::CloudWatch::Alarm");
        if alarm_names.is_empty() {
            println!("alarms: none found in the stack");
        } else {
            let alarms = aws
                .cloudwatch()
                .describe_alarms()
                .set_alarm_names(Some(alarm_names))
                .send()
                .await?;
            println!("alarms:");
            for alarm in alarms.metric_alarms() {
                let state = alarm.state_value().map(|s| s.as_str()).unwrap_or("UNKNOWN");
                if state == "ALARM" {
                    healthy = false;
                }
                println!("  {:<18} {}", state, alarm.alarm_name().unwrap_or_default());
            }
        }
        let settled_ok = status.ends_with("_COMPLETE")
            && !status.contains("ROLLBACK")
            && !status.starts_with("DELETE");
        Ok(if settled_ok && healthy {
            Outcome::Success
        } else {
            Outcome::Failed
        })
    }
}
