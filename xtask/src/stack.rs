//! CloudFormation operations shared by deploy, plan, status and clean-up: reading the deployed
//! stack, planning changes, following stack events live, and reporting failures.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Context;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, Parameter, Stack, StackEvent, StackStatus, Tag, TemplateStage,
};
use serde::Serialize;

/// The deployed stack, or `None` when no stack of that name exists.
pub async fn describe(cf: &Client, name: &str) -> anyhow::Result<Option<Stack>> {
    match cf.describe_stacks().stack_name(name).send().await {
        Ok(out) => Ok(out.stacks().first().cloned()),
        Err(error) => {
            let text = crate::aws::described(&error);
            if text.contains("does not exist") {
                Ok(None)
            } else {
                Err(anyhow::anyhow!("reading stack {name}: {text}"))
            }
        }
    }
}

/// What a deploy would send: template, parameters, tags.
#[derive(Clone, Debug)]
pub struct Desired {
    pub name: String,
    pub body: String,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

impl Desired {
    pub fn cf_parameters(&self) -> Vec<Parameter> {
        self.parameters
            .iter()
            .map(|(k, v)| {
                Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build()
            })
            .collect()
    }

    pub fn cf_tags(&self) -> Vec<Tag> {
        self.tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect()
    }
}

/// True when the deployed stack already has this template, these parameters and these tags.
/// (A change set alone cannot tell: some emulators list every resource as `Add` every time.)
pub async fn is_current(cf: &Client, stack: &Stack, desired: &Desired) -> anyhow::Result<bool> {
    let template = cf
        .get_template()
        .stack_name(&desired.name)
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .context("reading the deployed template")?;
    let deployed_parameters: BTreeMap<String, String> = stack
        .parameters()
        .iter()
        .map(|p| {
            (
                p.parameter_key().unwrap_or_default().to_string(),
                p.parameter_value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let deployed_tags: BTreeMap<String, String> = stack
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    // Parameters the deploy does not pass keep their template defaults, so only the ones it
    // passes are compared.
    let same_parameters = desired
        .parameters
        .iter()
        .all(|(key, value)| deployed_parameters.get(key) == Some(value));
    Ok(template.template_body() == Some(desired.body.as_str())
        && same_parameters
        && deployed_tags == desired.tags)
}

/// One resource change of a plan.
#[derive(Clone, Debug, Serialize)]
pub struct ResourceChange {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// `True`, `False` or `Conditional`, for modifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

/// What a deploy would do. `Display` is for people; `Serialize` for PR bots and scripts.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub stack: String,
    /// `new-stack`, `changes` or `no-changes`.
    pub kind: PlanKind,
    pub changes: Vec<ResourceChange>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanKind {
    NewStack,
    Changes,
    NoChanges,
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PlanKind::NoChanges => return writeln!(f, "stack {}: no changes", self.stack),
            PlanKind::NewStack => writeln!(
                f,
                "stack {}: new stack, {} resources to add",
                self.stack,
                self.changes.len()
            )?,
            PlanKind::Changes => writeln!(
                f,
                "stack {}: {} resource changes",
                self.stack,
                self.changes.len()
            )?,
        }
        for change in &self.changes {
            write!(
                f,
                "  {:<8} {:<36} {}",
                change.action, change.logical_id, change.resource_type
            )?;
            if let Some(replacement) = &change.replacement {
                write!(f, " (replacement: {replacement})")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

impl Plan {
    /// The plan as a Markdown table, for a pull-request comment.
    pub fn to_markdown(&self) -> String {
        let heading = match self.kind {
            PlanKind::NoChanges => return format!("### Stack `{}`: no changes\n", self.stack),
            PlanKind::NewStack => format!(
                "### Stack `{}`: new stack ({} resources)\n",
                self.stack,
                self.changes.len()
            ),
            PlanKind::Changes => format!(
                "### Stack `{}`: {} resource changes\n",
                self.stack,
                self.changes.len()
            ),
        };
        let mut out = heading;
        out.push_str("\n| action | resource | type | replacement |\n|---|---|---|---|\n");
        for change in &self.changes {
            out.push_str(&format!(
                "| {} | `{}` | `{}` | {} |\n",
                change.action,
                change.logical_id,
                change.resource_type,
                change.replacement.as_deref().unwrap_or("")
            ));
        }
        out
    }
}

/// The plan for a stack that does not exist yet: every resource of the template is added.
pub fn new_stack_plan(name: &str, body: &str) -> anyhow::Result<Plan> {
    let template: serde_yaml::Value =
        serde_yaml::from_str(body).context("parsing the rendered template")?;
    let resources = template
        .get("Resources")
        .and_then(|r| r.as_mapping())
        .context("the rendered template has no Resources")?;
    let changes = resources
        .iter()
        .map(|(id, resource)| ResourceChange {
            action: "Add".into(),
            logical_id: id.as_str().unwrap_or_default().to_string(),
            resource_type: resource
                .get("Type")
                .and_then(|t| t.as_str())
                .unwrap_or_default()
                .to_string(),
            replacement: None,
        })
        .collect();
    Ok(Plan {
        stack: name.to_string(),
        kind: PlanKind::NewStack,
        changes,
    })
}

/// Creates an UPDATE change set and waits until it is ready. `Ok(None)` when CloudFormation
/// reports that it holds no changes (the change set is then deleted).
pub async fn create_change_set(
    cf: &Client,
    desired: &Desired,
    change_set: &str,
) -> anyhow::Result<Option<Plan>> {
    cf.create_change_set()
        .stack_name(&desired.name)
        .change_set_name(change_set)
        .change_set_type(aws_sdk_cloudformation::types::ChangeSetType::Update)
        .template_body(&desired.body)
        .set_parameters(Some(desired.cf_parameters()))
        .set_tags(Some(desired.cf_tags()))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .map_err(|e| crate::aws::failure("creating the change set", &e, None))?;
    let mut changes = Vec::new();
    let mut next_token = None;
    let mut waited = Duration::ZERO;
    loop {
        let out = cf
            .describe_change_set()
            .stack_name(&desired.name)
            .change_set_name(change_set)
            .set_next_token(next_token.clone())
            .send()
            .await
            .context("reading the change set")?;
        match out.status() {
            Some(ChangeSetStatus::CreateComplete) => {
                for change in out.changes() {
                    if let Some(rc) = change.resource_change() {
                        changes.push(ResourceChange {
                            action: rc
                                .action()
                                .map(|a| a.as_str().to_string())
                                .unwrap_or_default(),
                            logical_id: rc.logical_resource_id().unwrap_or_default().to_string(),
                            resource_type: rc.resource_type().unwrap_or_default().to_string(),
                            replacement: rc.replacement().map(|r| r.as_str().to_string()),
                        });
                    }
                }
                next_token = out.next_token().map(str::to_string);
                if next_token.is_none() {
                    return Ok(Some(Plan {
                        stack: desired.name.clone(),
                        kind: PlanKind::Changes,
                        changes,
                    }));
                }
            }
            Some(ChangeSetStatus::Failed) => {
                let reason = out.status_reason().unwrap_or_default().to_string();
                delete_change_set(cf, &desired.name, change_set).await?;
                if reason.contains("didn't contain changes") || reason.contains("No updates") {
                    return Ok(None);
                }
                anyhow::bail!("the change set failed: {reason}");
            }
            _ => {
                anyhow::ensure!(
                    waited < Duration::from_secs(600),
                    "the change set was not ready after 10 minutes"
                );
                tokio::time::sleep(Duration::from_secs(2)).await;
                waited += Duration::from_secs(2);
            }
        }
    }
}

pub async fn delete_change_set(cf: &Client, stack: &str, change_set: &str) -> anyhow::Result<()> {
    cf.delete_change_set()
        .stack_name(stack)
        .change_set_name(change_set)
        .send()
        .await
        .context("deleting the change set")?;
    Ok(())
}

/// A status that will not change by itself.
pub fn is_settled(status: &StackStatus) -> bool {
    !status.as_str().ends_with("_IN_PROGRESS")
}

/// The ids of the stack's events so far: take them before an operation, so `follow` prints only
/// what the operation did.
pub async fn event_ids(cf: &Client, stack: &str) -> anyhow::Result<HashSet<String>> {
    Ok(recent_events(cf, stack)
        .await?
        .iter()
        .map(|e| e.event_id().unwrap_or_default().to_string())
        .collect())
}

/// Prints stack events as they happen until the stack (by id, so a deleted stack can still be
/// followed) settles, and returns its final status. A spinner on a terminal, plain lines in CI.
pub async fn follow(
    cf: &Client,
    stack_id: &str,
    poll: Duration,
    mut seen: HashSet<String>,
) -> anyhow::Result<StackStatus> {
    let spinner = std::io::stderr().is_terminal();
    let frames = ['|', '/', '-', '\\'];
    let mut tick = 0usize;
    loop {
        let status = describe(cf, stack_id)
            .await?
            .and_then(|s| s.stack_status().cloned())
            .unwrap_or(StackStatus::DeleteComplete);
        let mut fresh: Vec<StackEvent> = recent_events(cf, stack_id)
            .await?
            .into_iter()
            .filter(|e| seen.insert(e.event_id().unwrap_or_default().to_string()))
            .collect();
        fresh.reverse();
        for event in &fresh {
            if spinner {
                eprint!("\r\x1b[2K");
            }
            eprintln!("{}", event_line(event));
        }
        if is_settled(&status) {
            if spinner {
                eprint!("\r\x1b[2K");
            }
            return Ok(status);
        }
        if spinner {
            eprint!("\r{} {}", frames[tick % frames.len()], status.as_str());
            let _ = std::io::stderr().flush();
            tick += 1;
        }
        tokio::time::sleep(poll).await;
    }
}

async fn recent_events(cf: &Client, stack_id: &str) -> anyhow::Result<Vec<StackEvent>> {
    match cf.describe_stack_events().stack_name(stack_id).send().await {
        Ok(out) => Ok(out.stack_events().to_vec()),
        Err(error) => {
            let text = crate::aws::described(&error);
            if text.contains("does not exist") {
                Ok(Vec::new())
            } else {
                Err(anyhow::anyhow!("reading stack events: {text}"))
            }
        }
    }
}

/// One event as a line: time, status, resource, type, reason.
pub fn event_line(event: &StackEvent) -> String {
    let time = event
        .timestamp()
        .map(|t| {
            t.fmt(aws_sdk_cloudformation::primitives::DateTimeFormat::DateTime)
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let mut line = format!(
        "{time}  {:<28} {:<32} {}",
        event
            .resource_status()
            .map(|s| s.as_str())
            .unwrap_or_default(),
        event.logical_resource_id().unwrap_or_default(),
        event.resource_type().unwrap_or_default(),
    );
    if let Some(reason) = event.resource_status_reason().filter(|r| !r.is_empty()) {
        line.push_str(&format!("  {reason}"));
    }
    line
}

/// The events that say why an operation failed: every `*_FAILED` event with its reason.
pub async fn failure_reasons(cf: &Client, stack_id: &str) -> anyhow::Result<Vec<String>> {
    Ok(recent_events(cf, stack_id)
        .await?
        .iter()
        .filter(|e| {
            e.resource_status()
                .is_some_and(|s| s.as_str().ends_with("_FAILED"))
        })
        .map(|e| {
            format!(
                "{} ({}): {}",
                e.logical_resource_id().unwrap_or_default(),
                e.resource_type().unwrap_or_default(),
                e.resource_status_reason().unwrap_or("no reason given")
            )
        })
        .collect())
}

/// Deletes the stack and follows it until it is gone. `Ok(false)` when there was none.
pub async fn delete(cf: &Client, name: &str, poll: Duration) -> anyhow::Result<bool> {
    let Some(stack) = describe(cf, name).await? else {
        return Ok(false);
    };
    let id = stack.stack_id().unwrap_or(name).to_string();
    let before = event_ids(cf, &id).await?;
    cf.delete_stack()
        .stack_name(name)
        .send()
        .await
        .context("deleting the stack")?;
    let status = follow(cf, &id, poll, before).await?;
    anyhow::ensure!(
        status == StackStatus::DeleteComplete,
        "stack {name} could not be deleted ({}): {}",
        status.as_str(),
        failure_reasons(cf, &id).await?.join("; ")
    );
    Ok(true)
}

/// Deletes whatever stack `name` is left after a failed creation, without first reading it
/// (a half-made stack may not be readable), and waits until it is gone.
pub async fn remove_leftover(cf: &Client, name: &str, poll: Duration) -> anyhow::Result<()> {
    cf.delete_stack()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| {
            crate::aws::failure(&format!("removing the half-created stack {name}"), &e, None)
        })?;
    for _ in 0..600 {
        match describe(cf, name).await {
            Ok(None) => return Ok(()),
            Ok(Some(s)) if s.stack_status() == Some(&StackStatus::DeleteComplete) => return Ok(()),
            _ => tokio::time::sleep(poll).await,
        }
    }
    anyhow::bail!("the half-created stack {name} was not gone after deleting it; delete it by hand")
}

/// The value of one of the stack's outputs.
pub fn output<'s>(stack: &'s Stack, key: &str) -> Option<&'s str> {
    stack
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some(key))
        .and_then(|o| o.output_value())
}

/// Prints the stack's outputs, one `key = value` a line.
pub fn print_outputs(stack: &Stack) {
    if stack.outputs().is_empty() {
        println!("outputs: none reported");
        return;
    }
    println!("outputs:");
    for output in stack.outputs() {
        println!(
            "  {} = {}",
            output.output_key().unwrap_or_default(),
            output.output_value().unwrap_or_default()
        );
    }
}
