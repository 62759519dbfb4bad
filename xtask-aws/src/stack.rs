//! CloudFormation operations shared by deploy, plan, status and clean-up: reading the deployed
//! stack, planning changes, following stack events live, and reporting failures.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, Parameter, ResourceAttribute, Stack, StackEvent, StackStatus, Tag,
    TemplateStage,
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
    /// Where the template was uploaded (`artifacts::upload_template`): CloudFormation reads it
    /// from there (1 MB) instead of taking `body` in the request (51,200 bytes). `None` only
    /// where no artifact bucket exists yet: the body is sent, and must fit.
    pub template_url: Option<String>,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

/// The template as a request carries it: `TemplateURL` when it was uploaded, else `TemplateBody`
/// (refused here, before any request, when it passes CloudFormation's 51,200 bytes).
pub enum TemplateSource<'a> {
    Url(&'a str),
    Body(&'a str),
}

impl Desired {
    /// How requests carry the template.
    pub fn template(&self) -> anyhow::Result<TemplateSource<'_>> {
        template_source(&self.name, &self.body, self.template_url.as_deref())
    }

    pub(crate) fn cf_parameters(&self) -> Vec<Parameter> {
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

    pub(crate) fn cf_tags(&self) -> Vec<Tag> {
        self.tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect()
    }
}

/// `TemplateURL` when there is one; else the body, which must fit `TemplateBody`.
pub(crate) fn template_source<'a>(
    name: &str,
    body: &'a str,
    url: Option<&'a str>,
) -> anyhow::Result<TemplateSource<'a>> {
    match url {
        Some(url) => Ok(TemplateSource::Url(url)),
        None if body.len() <= policy::limits::CLOUDFORMATION_TEMPLATE_BODY_BYTES => {
            Ok(TemplateSource::Body(body))
        }
        None => anyhow::bail!(
            "the template of {name} is {} bytes, more than the {} CloudFormation takes in a \
             request, and there is no artifact bucket to upload it to (deploy creates one)",
            body.len(),
            policy::limits::CLOUDFORMATION_TEMPLATE_BODY_BYTES
        ),
    }
}

/// True when the deployed stack already has this template, these parameters and these tags.
/// (A change set alone cannot tell: some emulators list every resource as `Add` every time.)
pub(crate) async fn is_current(
    cf: &Client,
    stack: &Stack,
    desired: &Desired,
) -> anyhow::Result<bool> {
    let template = cf
        .get_template()
        .stack_name(&desired.name)
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .context("reading the deployed template")?;
    let deployed_parameters = deployed_parameters(stack);
    let deployed_tags = deployed_tags(stack);
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
    /// What changes inside the resource: its property names (`Environment`, `Timeout`), or
    /// `Tags`, as the change set's details say.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<String>,
}

/// A change to the stack itself that no resource shows: a stack tag or a parameter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StackChange {
    /// `tag` or `parameter`.
    pub kind: &'static str,
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// What a deploy would do. `Display` is for people; `Serialize` for PR bots and scripts.
#[derive(Clone, Debug, Serialize)]
pub struct StackPlan {
    pub stack: String,
    /// The account and region the plan is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `new-stack`, `changes` or `no-changes`.
    pub kind: PlanKind,
    pub changes: Vec<ResourceChange>,
    /// Stack tags and parameters that change (a tag-only change is still a change).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stack_changes: Vec<StackChange>,
    /// What deploy's read-only preflight found (`preflight`): a `stop` is what AWS would refuse.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preflight: Vec<crate::preflight::Finding>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanKind {
    NewStack,
    Changes,
    NoChanges,
}

/// `1 resource change`, `2 resource changes`.
fn counted(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

impl StackPlan {
    pub fn new(stack: &str, kind: PlanKind, changes: Vec<ResourceChange>) -> StackPlan {
        StackPlan {
            stack: stack.to_string(),
            account: None,
            region: None,
            kind,
            changes,
            stack_changes: Vec::new(),
            preflight: Vec::new(),
        }
    }

    /// The plan with what deploy's preflight found.
    pub(crate) fn with_preflight(mut self, findings: Vec<crate::preflight::Finding>) -> StackPlan {
        self.preflight = findings;
        self
    }

    /// The plan, said to be for `account` in `region`.
    pub(crate) fn in_place(mut self, account: &str, region: &str) -> StackPlan {
        self.account = Some(account.to_string());
        self.region = Some(region.to_string());
        self
    }

    /// The plan with the stack-level changes (tags, parameters) too; a plan that had no
    /// resource changes but has these is a plan with changes.
    pub(crate) fn with_stack_changes(mut self, stack_changes: Vec<StackChange>) -> StackPlan {
        if self.kind == PlanKind::NoChanges && !stack_changes.is_empty() {
            self.kind = PlanKind::Changes;
        }
        self.stack_changes = stack_changes;
        self
    }

    fn place(&self) -> String {
        match (&self.account, &self.region) {
            (Some(account), Some(region)) => format!(" in account {account}, {region}"),
            (None, Some(region)) => format!(" in {region}"),
            _ => String::new(),
        }
    }

    fn summary(&self) -> String {
        let mut parts = Vec::new();
        match self.kind {
            PlanKind::NoChanges => return "no changes".to_string(),
            PlanKind::NewStack => parts.push(format!(
                "new stack, {} to add",
                counted(self.changes.len(), "resource")
            )),
            PlanKind::Changes => {
                parts.push(counted(self.changes.len(), "resource change"));
            }
        }
        let tags = self
            .stack_changes
            .iter()
            .filter(|c| c.kind == "tag")
            .count();
        let parameters = self.stack_changes.len() - tags;
        if tags > 0 {
            parts.push(counted(tags, "stack tag change"));
        }
        if parameters > 0 {
            parts.push(counted(parameters, "parameter change"));
        }
        parts.join(", ")
    }
}

fn shown_value(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("(none)")
}

impl fmt::Display for StackPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "stack {}{}: {}",
            self.stack,
            self.place(),
            self.summary()
        )?;
        let action = self
            .changes
            .iter()
            .map(|c| c.action.len())
            .max()
            .unwrap_or(0);
        let id = self
            .changes
            .iter()
            .map(|c| c.logical_id.len())
            .max()
            .unwrap_or(0);
        let kind = self
            .changes
            .iter()
            .map(|c| c.resource_type.len())
            .max()
            .unwrap_or(0);
        for change in &self.changes {
            let mut line = format!(
                "  {:<action$}  {:<id$}  {:<kind$}",
                change.action, change.logical_id, change.resource_type
            );
            if !change.properties.is_empty() {
                line.push_str(&format!("  changes {}", change.properties.join(", ")));
            }
            if let Some(replacement) = &change.replacement {
                line.push_str(&format!("  (replacement: {replacement})"));
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        for change in &self.stack_changes {
            writeln!(
                f,
                "  {} {}: {} -> {}",
                change.kind,
                change.key,
                shown_value(&change.before),
                shown_value(&change.after)
            )?;
        }
        if !self.preflight.is_empty() {
            writeln!(f, "preflight:")?;
            for finding in &self.preflight {
                writeln!(f, "  {finding}")?;
            }
        }
        Ok(())
    }
}

impl StackPlan {
    /// The plan as a Markdown table, for a pull-request comment.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "### Stack `{}`{}: {}\n",
            self.stack,
            self.place(),
            self.summary()
        );
        if !self.changes.is_empty() {
            out.push_str(
                "\n| action | resource | type | what changes | replacement |\n|---|---|---|---|---|\n",
            );
            for change in &self.changes {
                out.push_str(&format!(
                    "| {} | `{}` | `{}` | {} | {} |\n",
                    change.action,
                    change.logical_id,
                    change.resource_type,
                    change.properties.join(", "),
                    change.replacement.as_deref().unwrap_or("")
                ));
            }
        }
        if !self.stack_changes.is_empty() {
            out.push_str("\n| stack | key | before | after |\n|---|---|---|---|\n");
            for change in &self.stack_changes {
                out.push_str(&format!(
                    "| {} | `{}` | {} | {} |\n",
                    change.kind,
                    change.key,
                    shown_value(&change.before),
                    shown_value(&change.after)
                ));
            }
        }
        if !self.preflight.is_empty() {
            out.push_str("\n#### Preflight\n\n");
            for finding in &self.preflight {
                let mark = match finding.severity {
                    crate::preflight::Severity::Stop => "**stop**",
                    crate::preflight::Severity::Warn => "warning",
                };
                out.push_str(&format!("- {mark}: {}\n", finding.message));
            }
        }
        out
    }
}

/// The deployed stack's tags, by key.
fn deployed_tags(stack: &Stack) -> BTreeMap<String, String> {
    stack
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The deployed stack's parameters, by key.
fn deployed_parameters(stack: &Stack) -> BTreeMap<String, String> {
    stack
        .parameters()
        .iter()
        .map(|p| {
            (
                p.parameter_key().unwrap_or_default().to_string(),
                p.parameter_value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The stack tags and the parameters the deploy passes that differ between the deployed stack
/// and the desired one (a change set shows neither as a resource change).
pub(crate) fn stack_changes(stack: &Stack, desired: &Desired) -> Vec<StackChange> {
    let deployed_tags = deployed_tags(stack);
    let deployed_parameters = deployed_parameters(stack);
    let mut changes = Vec::new();
    let keys: std::collections::BTreeSet<&String> =
        deployed_tags.keys().chain(desired.tags.keys()).collect();
    for key in keys {
        let (before, after) = (deployed_tags.get(key), desired.tags.get(key));
        if before != after {
            changes.push(StackChange {
                kind: "tag",
                key: key.clone(),
                before: before.cloned(),
                after: after.cloned(),
            });
        }
    }
    // Only the parameters the deploy passes: the others keep their template defaults.
    for (key, after) in &desired.parameters {
        let before = deployed_parameters.get(key);
        if before != Some(after) {
            changes.push(StackChange {
                kind: "parameter",
                key: key.clone(),
                before: before.cloned(),
                after: Some(after.clone()),
            });
        }
    }
    changes
}

/// The plan for a stack that does not exist yet: every resource of the template is added.
pub(crate) fn new_stack_plan(name: &str, body: &str) -> anyhow::Result<StackPlan> {
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
            properties: Vec::new(),
        })
        .collect();
    Ok(StackPlan::new(name, PlanKind::NewStack, changes))
}

/// Creates an UPDATE change set and waits until it is ready. `Ok(None)` when CloudFormation
/// reports that it holds no changes (the change set is then deleted).
pub(crate) async fn create_change_set(
    cf: &Client,
    desired: &Desired,
    change_set: &str,
) -> anyhow::Result<Option<StackPlan>> {
    let request = cf
        .create_change_set()
        .stack_name(&desired.name)
        .change_set_name(change_set)
        .change_set_type(aws_sdk_cloudformation::types::ChangeSetType::Update);
    let request = match desired.template()? {
        TemplateSource::Url(url) => request.template_url(url),
        TemplateSource::Body(body) => request.template_body(body),
    };
    request
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
                            properties: changed_properties(rc),
                        });
                    }
                }
                next_token = out.next_token().map(str::to_string);
                if next_token.is_none() {
                    return Ok(Some(StackPlan::new(
                        &desired.name,
                        PlanKind::Changes,
                        changes,
                    )));
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

/// The names of what changes inside a resource: each detail's property name (or its attribute,
/// such as `Tags`), once each, in order.
fn changed_properties(change: &aws_sdk_cloudformation::types::ResourceChange) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for detail in change.details() {
        let Some(target) = detail.target() else {
            continue;
        };
        let name = match (target.attribute(), target.name()) {
            (Some(ResourceAttribute::Properties), Some(name)) => name.to_string(),
            (Some(attribute), _) => attribute.as_str().to_string(),
            (None, Some(name)) => name.to_string(),
            (None, None) => continue,
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

pub(crate) async fn delete_change_set(
    cf: &Client,
    stack: &str,
    change_set: &str,
) -> anyhow::Result<()> {
    cf.delete_change_set()
        .stack_name(stack)
        .change_set_name(change_set)
        .send()
        .await
        .context("deleting the change set")?;
    Ok(())
}

/// A status that will not change by itself.
pub(crate) fn is_settled(status: &StackStatus) -> bool {
    !status.as_str().ends_with("_IN_PROGRESS")
}

/// The ids of the stack's events so far: take them before an operation, so `follow` prints only
/// what the operation did.
pub(crate) async fn event_ids(cf: &Client, stack: &str) -> anyhow::Result<HashSet<String>> {
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
    let mut spinner = xtask::ui::Spinner::on_stderr();
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
            spinner.line(&event_line(event));
        }
        if is_settled(&status) {
            spinner.clear();
            return Ok(status);
        }
        spinner.turn(status.as_str());
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
pub(crate) fn event_line(event: &StackEvent) -> String {
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
pub(crate) async fn failure_reasons(cf: &Client, stack_id: &str) -> anyhow::Result<Vec<String>> {
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
pub(crate) async fn remove_leftover(cf: &Client, name: &str, poll: Duration) -> anyhow::Result<()> {
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
    xtask::ui::print_outputs(stack.outputs().iter().map(|output| {
        (
            output.output_key().unwrap_or_default(),
            output.output_value().unwrap_or_default(),
        )
    }));
}

/// A change set name unique enough for one stack (CloudFormation: letters, digits, `-`).
pub(crate) fn change_set_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("gsg-{nanos}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployed() -> Stack {
        Stack::builder()
            .stack_name("gsg")
            .tags(Tag::builder().key("team").value("data-platform").build())
            .tags(Tag::builder().key("old").value("x").build())
            .parameters(
                Parameter::builder()
                    .parameter_key("CodeKey")
                    .parameter_value("a.zip")
                    .build(),
            )
            .build()
    }

    fn desired() -> Desired {
        Desired {
            template_url: None,
            name: "gsg".into(),
            body: String::new(),
            parameters: BTreeMap::from([("CodeKey".to_string(), "b.zip".to_string())]),
            tags: BTreeMap::from([
                ("team".to_string(), "platform".to_string()),
                ("cost-center".to_string(), "4711".to_string()),
            ]),
        }
    }

    #[test]
    fn tag_and_parameter_changes_are_found() {
        let changes = stack_changes(&deployed(), &desired());
        let shown: Vec<String> = changes
            .iter()
            .map(|c| format!("{} {}: {:?} -> {:?}", c.kind, c.key, c.before, c.after))
            .collect();
        assert_eq!(
            shown,
            [
                "tag cost-center: None -> Some(\"4711\")",
                "tag old: Some(\"x\") -> None",
                "tag team: Some(\"data-platform\") -> Some(\"platform\")",
                "parameter CodeKey: Some(\"a.zip\") -> Some(\"b.zip\")",
            ]
        );
    }

    #[test]
    fn a_tag_only_change_is_a_change_said_with_its_place_and_aligned() {
        let plan = StackPlan::new("gsg", PlanKind::NoChanges, Vec::new())
            .in_place("123456789012", "eu-west-1")
            .with_stack_changes(stack_changes(&deployed(), &desired()));
        assert_eq!(plan.kind, PlanKind::Changes);
        let text = plan.to_string();
        assert!(
            text.starts_with("stack gsg in account 123456789012, eu-west-1: 0 resource changes, 3 stack tag changes, 1 parameter change\n"),
            "{text}"
        );
        assert!(
            text.contains("  tag team: data-platform -> platform\n"),
            "{text}"
        );
        assert!(text.contains("  tag old: x -> (none)\n"), "{text}");

        let change = |action: &str, id: &str, kind: &str, properties: &[&str]| ResourceChange {
            action: action.into(),
            logical_id: id.into(),
            resource_type: kind.into(),
            replacement: None,
            properties: properties.iter().map(ToString::to_string).collect(),
        };
        let plan = StackPlan::new(
            "gsg",
            PlanKind::Changes,
            vec![
                change(
                    "Modify",
                    "EnforcerFunction",
                    "AWS::Lambda::Function",
                    &["Environment"],
                ),
                change("Add", "A", "AWS::SNS::Topic", &[]),
            ],
        );
        assert_eq!(
            plan.to_string(),
            "stack gsg: 2 resource changes\n  Modify  EnforcerFunction  AWS::Lambda::Function  changes Environment\n  Add     A                 AWS::SNS::Topic\n"
        );
        assert!(plan.to_markdown().contains(
            "| Modify | `EnforcerFunction` | `AWS::Lambda::Function` | Environment |  |"
        ));
        let one = StackPlan::new("gsg", PlanKind::Changes, vec![change("Add", "A", "T", &[])]);
        assert!(
            one.to_string()
                .starts_with("stack gsg: 1 resource change\n")
        );
    }
}
