//! The complete CloudFormation stack for a policy (`render_stack`, pure and deterministic), from
//! the minijinja templates in `templates/`, checked against the AWS limits real AWS enforces
//! (`limits`); and the committed renders in `policies/rendered/` (`check_all`, `write_all`).
//! Used by the render, lint and test commands and by deploy.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde::Serialize;

use crate::{Exit, paths};

mod limits;
mod notifications;
#[cfg(test)]
mod tests;

pub use limits::LimitError;
use limits::check as check_aws_limits;

/// The largest template CloudFormation takes: deploy uploads it to the artifact bucket and
/// passes `TemplateURL` (1 MB), never `TemplateBody` (51,200 bytes).
pub use policy::limits::CLOUDFORMATION_TEMPLATE_URL_BYTES as MAX_TEMPLATE_BYTES;

/// The Lambda is named `<stack name>-enforcer` (one definition, in `policy::validate`).
pub use policy::validate::FUNCTION_NAME_SUFFIX;
/// Longest stack name whose derived names (the function, its log group) AWS still accepts: the
/// same limit validation applies.
pub const MAX_STACK_NAME_CHARS: usize = policy::validate::MAX_STACK_NAME;

/// CloudFormation's limit for an `AWS::Glue::UsageProfile` name (Glue's own API allows 255).
pub use policy::limits::GLUE_USAGE_PROFILE_NAME_CHARS as MAX_USAGE_PROFILE_NAME_CHARS;
/// An override's profile is `<stack name>-override-<override name>`
/// (`policy::guardrails::profile_name`).
const OVERRIDE_PROFILE_INFIX: &str = "-override-";

/// The template's parameters deploy passes on every create and update: the code (bucket, key,
/// architecture). Every other setting is in the template, from the policy (the `GuardName`
/// parameter's only allowed value is the policy's stack.name), so an update never puts a
/// setting back to a default nobody chose.
pub const CODE_PARAMETERS: [&str; 3] = ["CodeBucket", "CodeKey", "Architecture"];

/// Days the enforcer's log group keeps its logs.
const LOG_RETENTION_DAYS: u32 = 30;
/// Seconds the Lambda may run beyond `enforcement.wait_for_ready_seconds`.
const FUNCTION_TIMEOUT_MARGIN_SECONDS: u32 = 60;
/// Lambda's own limit for a function's timeout.
const MAX_FUNCTION_TIMEOUT_SECONDS: u32 = policy::limits::LAMBDA_TIMEOUT_SECONDS;

const STACK_TEMPLATE: &str = "stack.yaml.j2";
/// Compiled in, so they are the templates of the checkout this binary was built from: `main`
/// refuses to run in any other (`paths::ensure_built_here`).
const TEMPLATES: &[(&str, &str)] = &[(
    STACK_TEMPLATE,
    include_str!("../../templates/stack.yaml.j2"),
)];

/// Why a policy could not be rendered. Messages start with the policy field to change.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(
        "stack.name: `{name}` is not a valid CloudFormation stack name: start with a letter, then \
         letters, digits or `-`"
    )]
    InvalidStackName { name: String },
    #[error(
        "stack.name: `{name}` has {chars} characters; the stack names its Lambda \
         `<stack name>{FUNCTION_NAME_SUFFIX}` and Lambda allows 64, so use at most \
         {MAX_STACK_NAME_CHARS}"
    )]
    StackNameTooLong { name: String, chars: usize },
    #[error(
        "{field}: the usage profile `{profile}` has {chars} characters; CloudFormation allows \
         {MAX_USAGE_PROFILE_NAME_CHARS} (AWS::Glue::UsageProfile), so stack.name and the override \
         name together may have at most {max_together}: shorten either",
        max_together = MAX_USAGE_PROFILE_NAME_CHARS - OVERRIDE_PROFILE_INFIX.len()
    )]
    UsageProfileNameTooLong {
        /// `overrides[<i>].name`.
        field: String,
        profile: String,
        chars: usize,
    },
    #[error(
        "organization.regions: empty; the guardrail policy is created in the first Region listed"
    )]
    OrganizationWithoutRegions,
    #[error(
        "organization.notifications_topic_arn: `{arn}` is not an SNS topic ARN \
         (`arn:<partition>:sns:<region>:<account>:<name>`)"
    )]
    InvalidCentralTopicArn { arn: String },
    #[error(
        "{field}: `{id}` is not an EC2 id (`subnet-` or `sg-` and 8 or 17 hexadecimal digits); the \
         role's permissions list these ids, so nothing else may reach the template"
    )]
    InvalidNetworkId { field: String, id: String },
    #[error(
        "{field}: the rendered template is {bytes} bytes, more than the {MAX_TEMPLATE_BYTES} \
         CloudFormation takes from S3 (TemplateURL), and {field} make up {field_bytes} bytes of \
         it: use fewer or shorter ones"
    )]
    TooLarge {
        /// What adds the most to the template: `overrides`, `stack.tags` or an email list.
        field: &'static str,
        bytes: usize,
        field_bytes: usize,
    },
    #[error("{0}")]
    Limit(#[from] LimitError),
    #[error("rendering the stack template failed: {0:#}")]
    Template(#[from] minijinja::Error),
}

/// The stack's tags (`stack.tags`), sorted by key: deploy passes them as CloudFormation stack
/// tags (which CloudFormation puts on every resource that supports tags), and the template lists
/// them in its metadata.
pub fn stack_tags(policy: &policy::Policy) -> Vec<(String, String)> {
    policy
        .stack
        .tags
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// The whole CloudFormation template (YAML) for `policy`. Pure and deterministic: the same
/// policy gives the same bytes.
pub fn render_stack(policy: &policy::Policy) -> Result<String, RenderError> {
    let name = &policy.stack.name;
    // The length first: `valid_stack_name` also rejects long names, but says less about why.
    if name.chars().count() > MAX_STACK_NAME_CHARS {
        return Err(RenderError::StackNameTooLong {
            name: name.clone(),
            chars: name.chars().count(),
        });
    }
    if !policy::validate::valid_stack_name(name) {
        return Err(RenderError::InvalidStackName { name: name.clone() });
    }
    if let Some(network) = &policy.network {
        network_ids_are_ec2_ids(network)?;
    }
    usage_profile_names_fit(policy)?;
    let view = StackView::of(policy)?;
    let env = environment()?;
    let rendered = env.get_template(STACK_TEMPLATE)?.render(&view)?;
    let rendered = fits_in_template_url(rendered, policy)?;
    check_aws_limits(&rendered, policy)?;
    Ok(rendered)
}

/// The network's ids, checked again here (validation already did): the role's
/// `CreateNetworkInterface` resources are one `!Sub` string split on commas, so an id must never
/// hold anything but an EC2 id.
fn network_ids_are_ec2_ids(network: &policy::Network) -> Result<(), RenderError> {
    /// Tells an id of one kind (subnet, security group).
    type IdCheck = fn(&str) -> bool;
    let lists: [(&str, &[String], IdCheck); 2] = [
        (
            "subnet_ids",
            &network.subnet_ids,
            policy::validate::valid_subnet_id,
        ),
        (
            "security_group_ids",
            &network.security_group_ids,
            policy::validate::valid_security_group_id,
        ),
    ];
    for (list, ids, is_ec2_id) in lists {
        if let Some((i, id)) = ids.iter().enumerate().find(|(_, id)| !is_ec2_id(id)) {
            return Err(RenderError::InvalidNetworkId {
                field: format!("network.{list}[{i}]"),
                id: id.clone(),
            });
        }
    }
    Ok(())
}

/// Every usage profile's name within CloudFormation's limit: a long stack name and a long override
/// name are each valid, but not always together.
fn usage_profile_names_fit(policy: &policy::Policy) -> Result<(), RenderError> {
    for profile in policy::guardrails::usage_profiles(policy) {
        let chars = profile.name.chars().count();
        if chars <= MAX_USAGE_PROFILE_NAME_CHARS {
            continue;
        }
        let set = &profile.boundary_sets[0];
        let field = match policy.overrides.iter().position(|rule| &rule.name == set) {
            Some(i) => format!("overrides[{i}].name"),
            None => "stack.name".to_string(),
        };
        return Err(RenderError::UsageProfileNameTooLong {
            field,
            profile: profile.name,
            chars,
        });
    }
    Ok(())
}

/// `template` when it is within what CloudFormation takes from S3; otherwise the error names
/// the policy field that adds the most to it.
fn fits_in_template_url(template: String, policy: &policy::Policy) -> Result<String, RenderError> {
    if template.len() <= MAX_TEMPLATE_BYTES {
        return Ok(template);
    }
    let emails = |emails: Option<&Vec<String>>| emails.map_or(0, |emails| emails.concat().len());
    // What the overrides add (their usage profiles, denies and readable lines): the template
    // with them and without them.
    let size = |policy: &policy::Policy| -> usize {
        StackView::of(policy)
            .and_then(|view| {
                Ok(environment()?
                    .get_template(STACK_TEMPLATE)?
                    .render(&view)?
                    .len())
            })
            .unwrap_or(0)
    };
    let mut bare = policy.clone();
    bare.overrides.clear();
    bare.usage_profiles = None;
    let overrides_bytes = size(policy).saturating_sub(size(&bare));
    let contributions = [
        ("overrides", overrides_bytes),
        (
            "stack.tags",
            policy
                .stack
                .tags
                .iter()
                .map(|(key, value)| key.len() + value.len())
                .sum(),
        ),
        (
            "notifications.emails",
            emails(
                policy
                    .notifications
                    .as_ref()
                    .map(|notifications| &notifications.emails),
            ),
        ),
        (
            "alarms.emails",
            emails(policy.alarms.as_ref().map(|alarms| &alarms.emails)),
        ),
    ];
    // Reversed, so that a tie goes to the first field: `max_by_key` keeps the last maximum.
    let (field, field_bytes) = contributions
        .into_iter()
        .rev()
        .max_by_key(|&(_, bytes)| bytes)
        .expect("four fields");
    Err(RenderError::TooLarge {
        field,
        bytes: template.len(),
        field_bytes,
    })
}

/// What the templates see: the policy's values, already shaped for the stack.
#[derive(Serialize)]
struct StackView<'a> {
    stack_name: &'a str,
    region: Option<&'a str>,
    description: String,
    mode: &'static str,
    action: &'static str,
    runtime_policy: String,
    tags: Vec<TagView>,
    /// `notifications`: e-mail subscriptions (inline, or filtered by route) and the chat
    /// topics and channels.
    notifications: notifications::NotificationsView,
    alarm_emails: &'a [String],
    function_timeout_seconds: u32,
    sweep_schedule: Option<String>,
    /// The policy has a `jobs` section: the job rule, and the role's permissions on jobs.
    guard_jobs: bool,
    /// The policy's team budgets: an alarm each, and the registry read in the role.
    budgets: Vec<BudgetView>,
    /// The stack's CloudWatch dashboard (`DashboardBody`), JSON for `Fn::Sub`.
    dashboard_body: String,
    log_retention_days: u32,
    /// The policy's `network`: the function's `VpcConfig` and the role's ENI permissions.
    network: Option<&'a policy::Network>,
    /// The policy the function reads (`GSG_POLICY`), one field a line, for the reviewer: the
    /// diff of a policy change shows `max_workers: 10` -> `8` on its own line, whatever form
    /// (compact or compressed) the function's copy takes.
    policy_lines: Vec<PolicyLine>,
    /// `stack.reserved_concurrency`: the function's `ReservedConcurrentExecutions`, when set.
    reserved_concurrency: Option<u32>,
    /// The Glue usage profiles (`policy::guardrails::usage_profiles`).
    usage_profiles: Vec<ProfileView>,
    /// The guardrail managed policy's statements, one JSON object each.
    guardrail_statements: Vec<serde_json::Value>,
    /// The policy's `organization` (a StackSets deploy), as far as the template is concerned.
    organization: Option<OrganizationView>,
    /// `organization.notifications_topic_arn`: the function's `CENTRAL_TOPIC_ARN` and the role's
    /// permissions to publish to it.
    central_topic: Option<CentralTopicView>,
}

/// What org mode changes in the template.
#[derive(Serialize)]
struct OrganizationView {
    /// The first of `organization.regions`: the one Region of each account whose stack instance
    /// creates what IAM names once per account (the guardrail managed policy).
    guardrail_region: String,
}

/// The organization's central topic, from its ARN.
#[derive(Serialize, Debug, PartialEq)]
struct CentralTopicView {
    arn: String,
    /// The keys a customer managed key of the topic can be: any key of the topic's partition and
    /// Region (the key may live in another account than the topic).
    kms_keys: String,
    /// `sns.<topic region>.amazonaws.com`: the key is used only through SNS, in that Region.
    kms_via_service: String,
}

impl CentralTopicView {
    /// From `arn:<partition>:sns:<region>:<account>:<name>`; `None` when it is not one.
    fn of(arn: &str) -> Option<CentralTopicView> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ["arn", partition, "sns", region, account, name] = parts[..] else {
            return None;
        };
        let word = |text: &str| {
            !text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        let topic_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if !word(partition)
            || !word(region)
            || !policy::validate::valid_account_id(account)
            || name.is_empty()
            || !name.chars().all(topic_name)
        {
            return None;
        }
        Some(CentralTopicView {
            arn: arn.to_string(),
            kms_keys: format!("arn:{partition}:kms:{region}:*:key/*"),
            kms_via_service: format!("sns.{region}.amazonaws.com"),
        })
    }
}

/// One `AWS::Glue::UsageProfile`.
#[derive(Serialize)]
struct ProfileView {
    /// `UsageProfile<Set>`: from the name of the boundary set, so that reordering overrides
    /// never renames (and so replaces) a profile.
    logical_id: String,
    name: String,
    /// How many other boundary sets share it (overrides with the same settings), for the
    /// comment above it.
    shared_with: usize,
    /// `SessionConfiguration` keys and their settings, in Glue's order.
    settings: Vec<(String, serde_json::Value)>,
    /// `JobConfiguration` keys and their settings, in Glue's order (the policy's `jobs`).
    job_settings: Vec<(String, serde_json::Value)>,
}

/// The name of the guardrail managed policy of the stack `stack_name` in `region` (for an
/// organization, the guardrail Region): `<stack>-session-guardrails-<region>`. IAM names are
/// global to an account, so the Region keeps the same policy deployable to a second Region. A
/// fixed name otherwise, so that an update never replaces the policy (a replacement would fail
/// while roles have it attached). The template writes the same with `!Sub`.
pub fn guardrail_policy_name(stack_name: &str, region: &str) -> String {
    format!("{stack_name}-session-guardrails-{region}")
}

fn profile_views(policy: &policy::Policy) -> Vec<ProfileView> {
    let mut used: Vec<String> = Vec::new();
    policy::guardrails::usage_profiles(policy)
        .into_iter()
        .map(|profile| {
            let set = &profile.boundary_sets[0];
            let mut logical_id = format!("UsageProfile{}", upper_camel(set));
            if used.contains(&logical_id) {
                logical_id = format!("{logical_id}{}", used.len() + 1);
            }
            used.push(logical_id.clone());
            let configuration = profile.configuration();
            let part = |name: &str| -> Vec<(String, serde_json::Value)> {
                ["numberOfWorkers", "workerType", "timeout", "idleTimeout"]
                    .into_iter()
                    .filter_map(|key| {
                        configuration
                            .get(name)
                            .and_then(|part| part.get(key))
                            .map(|setting| (key.to_string(), setting.clone()))
                    })
                    .collect()
            };
            ProfileView {
                logical_id,
                name: profile.name,
                shared_with: profile.boundary_sets.len() - 1,
                settings: part("SessionConfiguration"),
                job_settings: part("JobConfiguration"),
            }
        })
        .collect()
}

/// `platform-admins` -> `PlatformAdmins`: letters and digits, each run capitalised.
/// One team budget as the template uses it.
#[derive(Debug, Serialize)]
struct BudgetView {
    /// `Budget<Name>`: the alarm is `<logical_id>Alarm`.
    logical_id: String,
    name: String,
    max_concurrent_dpu: f64,
    warn_at_percent: u8,
    /// The alarm's threshold: `warn_at_percent` of the cap, DPUs.
    warn_dpu: f64,
    /// The alarm's description.
    description: String,
}

fn budget_views(policy: &policy::Policy) -> Vec<BudgetView> {
    let mut used: Vec<String> = Vec::new();
    policy
        .budgets
        .iter()
        .map(|budget| {
            let mut logical_id = format!("Budget{}", upper_camel(&budget.name));
            if used.contains(&logical_id) {
                logical_id = format!("{logical_id}{}", used.len() + 1);
            }
            used.push(logical_id.clone());
            let percent = budget.warn_at_percent();
            let covered = match (
                budget.covers(policy::Covered::Sessions, policy),
                budget.covers(policy::Covered::Jobs, policy),
            ) {
                (true, true) => "sessions and job runs",
                (false, true) => "job runs",
                _ => "sessions",
            };
            BudgetView {
                description: format!(
                    "Team budget {}: its members' {covered} hold {percent}% or more of its \
                     {} DPUs at once (max_concurrent_dpu).",
                    budget.name, budget.max_concurrent_dpu
                ),
                logical_id,
                name: budget.name.clone(),
                max_concurrent_dpu: budget.max_concurrent_dpu,
                warn_at_percent: percent,
                warn_dpu: budget.max_concurrent_dpu * f64::from(percent) / 100.0,
            }
        })
        .collect()
}

/// The stack's CloudWatch dashboard (`AWS::CloudWatch::Dashboard` `DashboardBody`, the
/// dashboard body structure of the CloudWatch API reference): each team budget's DPUs in use
/// against its cap, sessions (and job runs) inspected and stopped, violations by rule,
/// notifications sent, the enforcer's errors and throttles, and the dead-letter queue's depth.
/// A `Fn::Sub` string: `${GuardName}`, `${AWS::Region}`, `${EnforcerFunction}` and
/// `${DeadLetterQueue.QueueName}` are filled in by CloudFormation.
pub fn dashboard_body(policy: &policy::Policy) -> String {
    use serde_json::json;
    let own = |name: &str| json!(["GlueSessionGuard", name, "StackName", "${GuardName}"]);
    let mut widgets = Vec::new();
    let mut place = |title: &str, properties: serde_json::Value| {
        let index = widgets.len();
        let mut properties = properties;
        properties["title"] = json!(title);
        properties["region"] = json!("${AWS::Region}");
        properties["view"] = json!("timeSeries");
        widgets.push(json!({
            "type": "metric",
            "x": (index % 2) * 12,
            "y": (index / 2) * 6,
            "width": 12,
            "height": 6,
            "properties": properties,
        }));
    };
    for budget in &policy.budgets {
        place(
            &format!("Budget {}: DPUs in use", budget.name),
            json!({
                "metrics": [["GlueSessionGuard", "BudgetDpuInUse", "StackName", "${GuardName}",
                             "Budget", budget.name]],
                "stat": "Maximum",
                "period": 300,
                "annotations": {"horizontal": [
                    {"label": "max_concurrent_dpu", "value": budget.max_concurrent_dpu},
                    {"label": format!("warn_at_percent {}", budget.warn_at_percent()),
                     "value": budget.max_concurrent_dpu * f64::from(budget.warn_at_percent()) / 100.0},
                ]},
            }),
        );
    }
    let mut judged = vec![own("SessionsInspected"), own("SessionsStopped")];
    if policy.jobs.is_some() {
        judged.push(own("JobRunsInspected"));
        judged.push(own("JobRunsStopped"));
        judged.push(own("JobDefinitionsInspected"));
    }
    place(
        "Inspected and stopped",
        json!({"metrics": judged, "stat": "Sum", "period": 300}),
    );
    place(
        "Violations by rule",
        json!({
            "metrics": [[{
                "expression": "SEARCH('{GlueSessionGuard,StackName,Rule} StackName=\"${GuardName}\" MetricName=\"Violations\"', 'Sum', 300)",
                "id": "violations",
                "label": "",
            }]],
            "stat": "Sum",
            "period": 300,
        }),
    );
    let mut notified = vec![own("NotificationsSent")];
    if policy
        .organization
        .as_ref()
        .is_some_and(|organization| organization.notifications_topic_arn.is_some())
    {
        notified.push(own("CentralNotificationsSent"));
    }
    place(
        "Notifications sent",
        json!({"metrics": notified, "stat": "Sum", "period": 300}),
    );
    place(
        "Enforcer errors and throttles",
        json!({
            "metrics": [
                ["AWS/Lambda", "Errors", "FunctionName", "${EnforcerFunction}"],
                ["AWS/Lambda", "Throttles", "FunctionName", "${EnforcerFunction}"],
            ],
            "stat": "Sum",
            "period": 300,
        }),
    );
    place(
        "Dead-letter queue depth",
        json!({
            "metrics": [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
                         "${DeadLetterQueue.QueueName}"]],
            "stat": "Maximum",
            "period": 300,
        }),
    );
    sorted(json!({ "widgets": widgets })).to_string()
}

/// `value` with every object's keys in order, whatever map serde_json was built with (the test
/// build enables its `preserve_order`): the same render from every build.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn upper_camel(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The guardrail managed policy's statements: the denies, then read access to the stack's
/// profiles (Glue checks `glue:GetUsageProfile` on the caller's profile when it creates a
/// session). The profile ARNs are `Fn::Sub` strings: the template is the same in every account.
/// Override names are letters, digits, `-` and `_`, so no `${` reaches `Fn::Sub`. With an
/// `organization` the one policy of an account (created in the first Region) serves the
/// profiles of every Region, so the ARNs name any Region (`*`).
fn guardrail_statements(policy: &policy::Policy) -> Vec<serde_json::Value> {
    let (denies, _) = policy::guardrails::denies(policy, policy::guardrails::Layer::ManagedPolicy);
    let mut statements: Vec<serde_json::Value> =
        denies.into_iter().map(|deny| deny.statement).collect();
    // Two patterns, not one ARN per profile: with many overrides a list would take kilobytes of
    // the template. They match the stack's profiles (and reading a profile reveals only limits).
    let stack = &policy.stack.name;
    let profiles: Vec<serde_json::Value> = [
        policy::guardrails::profile_name(stack, policy::guardrails::DEFAULT_BOUNDARY_SET),
        format!("{stack}-override-*"),
    ]
    .into_iter()
    .map(|name| {
        let region = if policy.organization.is_some() {
            "*"
        } else {
            "${AWS::Region}"
        };
        serde_json::json!({
            "Fn::Sub": format!(
                "arn:${{AWS::Partition}}:glue:{region}:${{AWS::AccountId}}:usageProfile/{name}"
            )
        })
    })
    .collect();
    statements.push(serde_json::json!({
        "Sid": "ReadTheStackUsageProfiles",
        "Effect": "Allow",
        "Action": "glue:GetUsageProfile",
        "Resource": profiles,
    }));
    statements
}

/// One line of the readable policy: `depth` levels of two spaces, a `- ` when it starts a list
/// item, then `key:` and a value (a scalar, or a flow list of scalars) where there are any.
#[derive(Serialize, Debug, PartialEq)]
struct PolicyLine {
    depth: usize,
    dash: bool,
    key: Option<String>,
    value: Option<serde_json::Value>,
    list: Option<Vec<serde_json::Value>>,
    /// An empty mapping, printed `{}`.
    empty: bool,
}

/// The runtime policy as YAML lines, in the policy's own order: mappings as blocks, lists of
/// scalars in flow style (one line each), lists of mappings (overrides) as block items.
fn policy_lines(policy: &policy::Policy) -> Vec<PolicyLine> {
    // serde_yaml's mappings keep the order of the policy's fields.
    let runtime = serde_yaml::to_value(policy::runtime_policy(policy)).unwrap_or_default();
    let mut lines = Vec::new();
    if let serde_yaml::Value::Mapping(map) = &runtime {
        mapping_lines(map, 0, Dash::None, &mut lines);
    }
    lines
}

/// Whether a mapping is a list item, whose first key carries the `- `.
#[derive(Clone, Copy, PartialEq)]
enum Dash {
    None,
    FirstKey,
}

fn scalar(value: &serde_yaml::Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

fn mapping_lines(map: &serde_yaml::Mapping, depth: usize, dash: Dash, out: &mut Vec<PolicyLine>) {
    for (i, (key, value)) in map.iter().enumerate() {
        let dashed = dash == Dash::FirstKey && i == 0;
        let line = |value: Option<serde_json::Value>, list: Option<Vec<serde_json::Value>>| {
            PolicyLine {
                // A dashed key sits one level out: `- ` takes the place of two spaces.
                depth: if dashed { depth - 1 } else { depth },
                dash: dashed,
                key: key.as_str().map(str::to_string),
                empty: value.is_none() && list.is_none(),
                value,
                list,
            }
        };
        match value {
            serde_yaml::Value::Mapping(inner) if !inner.is_empty() => {
                out.push(PolicyLine {
                    empty: false,
                    ..line(None, None)
                });
                mapping_lines(inner, depth + 1, Dash::None, out);
            }
            // A list with mappings in it (`overrides`, `exempt_principals` mixing patterns and
            // entries with an expiry): one item a line, or a mapping's keys a line each.
            serde_yaml::Value::Sequence(items)
                if items.iter().any(serde_yaml::Value::is_mapping) =>
            {
                out.push(PolicyLine {
                    empty: false,
                    ..line(None, None)
                });
                for item in items {
                    match item {
                        serde_yaml::Value::Mapping(inner) => {
                            mapping_lines(inner, depth + 2, Dash::FirstKey, out)
                        }
                        scalar_item => out.push(PolicyLine {
                            depth: depth + 1,
                            dash: true,
                            key: None,
                            empty: false,
                            value: Some(scalar(scalar_item)),
                            list: None,
                        }),
                    }
                }
            }
            serde_yaml::Value::Sequence(items) => {
                out.push(line(None, Some(items.iter().map(scalar).collect())))
            }
            serde_yaml::Value::Mapping(_) => out.push(line(None, None)),
            other => out.push(line(Some(scalar(other)), None)),
        }
    }
}

#[derive(Serialize)]
struct TagView {
    key: String,
    value: String,
}

impl<'a> StackView<'a> {
    fn of(policy: &'a policy::Policy) -> Result<StackView<'a>, RenderError> {
        let (mode, action) = match policy.enforcement.mode {
            policy::Mode::Audit => ("audit", "none"),
            policy::Mode::Enforce => match policy.enforcement.action {
                policy::EnforcementAction::Stop => ("enforce", "stop"),
                policy::EnforcementAction::Delete => ("enforce", "delete"),
            },
        };
        let sweep_schedule = match policy.sweep.every_minutes {
            0 => None,
            1 => Some("rate(1 minute)".to_string()),
            minutes => Some(format!("rate({minutes} minutes)")),
        };
        let sweep = match policy.sweep.every_minutes {
            0 => "no sweep".to_string(),
            minutes => format!("sweep every {minutes} min"),
        };
        let doing = match (mode, action) {
            ("audit", _) => "audit mode, notify only".to_string(),
            (_, action) => format!("enforce mode, {action} out-of-bounds sessions"),
        };
        let organization = match &policy.organization {
            None => None,
            Some(organization) => Some(OrganizationView {
                guardrail_region: organization
                    .regions
                    .first()
                    .ok_or(RenderError::OrganizationWithoutRegions)?
                    .clone(),
            }),
        };
        let central_topic = match policy
            .organization
            .as_ref()
            .and_then(|organization| organization.notifications_topic_arn.as_deref())
        {
            None => None,
            Some(arn) => Some(CentralTopicView::of(arn).ok_or_else(|| {
                RenderError::InvalidCentralTopicArn {
                    arn: arn.to_string(),
                }
            })?),
        };
        Ok(StackView {
            stack_name: &policy.stack.name,
            region: policy.stack.region.as_deref(),
            description: format!(
                "Glue Session Guard: hard boundaries on AWS Glue interactive sessions{} \
                 ({doing}, {sweep})",
                if policy.jobs.is_some() {
                    " and job runs"
                } else {
                    ""
                }
            ),
            mode,
            action,
            runtime_policy: policy::runtime_policy_env(policy),
            tags: stack_tags(policy)
                .into_iter()
                .map(|(key, value)| TagView { key, value })
                .collect(),
            notifications: notifications::NotificationsView::of(policy),
            alarm_emails: policy.alarms.as_ref().map_or(&[], |alarms| &alarms.emails),
            function_timeout_seconds: (policy.enforcement.wait_for_ready_seconds
                + FUNCTION_TIMEOUT_MARGIN_SECONDS)
                .min(MAX_FUNCTION_TIMEOUT_SECONDS),
            sweep_schedule,
            guard_jobs: policy.jobs.is_some(),
            budgets: budget_views(policy),
            dashboard_body: dashboard_body(policy),
            log_retention_days: LOG_RETENTION_DAYS,
            network: policy.network.as_ref(),
            policy_lines: policy_lines(policy),
            reserved_concurrency: policy.stack.reserved_concurrency,
            usage_profiles: profile_views(policy),
            guardrail_statements: guardrail_statements(policy),
            organization,
            central_topic,
        })
    }
}

/// The template environment: strict undefined, block tags that leave no blank lines, and the
/// `data` filter as the only way to print a value.
fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.set_formatter(|out, _state, value| {
        if value.is_safe() {
            out.write_str(value.as_str().unwrap_or_default())
                .map_err(|_| minijinja::Error::new(ErrorKind::WriteFailure, "cannot write"))
        } else {
            Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!("`{value}` is printed without `| data`; every value must go through it"),
            ))
        }
    });
    env.add_filter("data", data);
    env.add_filter("json", json);
    env.add_filter("key", key);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    Ok(env)
}

/// The `key` filter: a mapping key from the policy. A plain name (letters, digits, `_ . -`,
/// starting with a letter or `_`) is printed as it is, which YAML reads back as that name;
/// anything else goes through [`data`] (quoted and escaped).
fn key(value: Value) -> Result<Value, minijinja::Error> {
    let plain = value.as_str().is_some_and(|name| {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            && !["true", "false", "null", "yes", "no", "on", "off", "y", "n"]
                .contains(&name.to_ascii_lowercase().as_str())
    });
    if plain {
        Ok(Value::from_safe_string(
            value.as_str().unwrap_or_default().to_string(),
        ))
    } else {
        data(value)
    }
}

/// The `data` filter: a scalar as a JSON literal, which YAML reads back as exactly that scalar
/// (strings double-quoted and escaped). Characters YAML would not keep as they are (non-printable
/// ones, and line or paragraph separators that YAML 1.1 folds) are `\u` escaped as well.
fn data(value: Value) -> Result<Value, minijinja::Error> {
    let kind = value.kind();
    if !matches!(
        kind,
        ValueKind::String | ValueKind::Number | ValueKind::Bool
    ) {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("`| data` prints strings, numbers and booleans, not {kind}"),
        ));
    }
    json(value)
}

/// The `json` filter: any value (a mapping or list too) as one line of JSON, which YAML reads as
/// a flow collection; escaped like [`data`].
fn json(value: Value) -> Result<Value, minijinja::Error> {
    let json = serde_json::to_string(&value).map_err(|error| {
        minijinja::Error::new(ErrorKind::BadSerialization, "cannot encode value").with_source(error)
    })?;
    let mut encoded = String::with_capacity(json.len());
    for c in json.chars() {
        if matches!(
            u32::from(c),
            0x7f..=0x9f | 0x2028 | 0x2029 | 0xfeff | 0xfffe | 0xffff
        ) {
            write!(encoded, "\\u{:04x}", u32::from(c)).expect("writing to a String");
        } else {
            encoded.push(c);
        }
    }
    Ok(Value::from_safe_string(encoded))
}

/// The access policy of the organization's central topic (`organization.notifications_topic_arn`):
/// `sns:Publish` on the topic for any principal of the organization (`aws:PrincipalOrgID`), which
/// is what every account's enforcer needs, and nothing else (the topic's owner manages it with
/// its own IAM permissions). `None` without an organization or a central topic.
pub(crate) fn central_topic_policy(policy: &policy::Policy) -> Option<serde_json::Value> {
    let organization = policy.organization.as_ref()?;
    let topic = organization.notifications_topic_arn.as_deref()?;
    Some(serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "GuardsOfTheOrganizationPublish",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "sns:Publish",
            "Resource": topic,
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization.id}},
        }],
    }))
}

/// Where the committed render of `policy_file` lives: `<rendered_dir>/<policy stem>.yaml`.
fn rendered_path(policy_file: &Path, rendered_dir: &Path) -> PathBuf {
    let stem = policy_file.file_stem().unwrap_or_default();
    rendered_dir.join(stem).with_extension("yaml")
}

/// Loads (validating) and renders one policy file; on failure prints why and gives `None`.
fn render_file(policy_file: &Path) -> Option<String> {
    let shown = paths::shown(policy_file);
    let policy = match paths::load_policy(policy_file) {
        Ok(policy) => policy,
        Err(error) => {
            eprintln!("{error:#}");
            return None;
        }
    };
    match render_stack(&policy) {
        Ok(template) => Some(template),
        Err(error) => {
            eprintln!("{shown}: {error}");
            None
        }
    }
}

/// Renders every policy and compares it with its committed render; also reports renders whose
/// policy is gone.
pub(crate) fn check_all(policies: &[PathBuf], rendered_dir: &Path) -> anyhow::Result<Exit> {
    let mut problems = 0;
    for policy_file in policies {
        let Some(template) = render_file(policy_file) else {
            problems += 1;
            continue;
        };
        let committed_path = rendered_path(policy_file, rendered_dir);
        let shown = paths::shown(&committed_path);
        match std::fs::read(&committed_path) {
            Ok(committed) if committed == template.as_bytes() => println!("ok: {shown}"),
            Ok(_) => {
                problems += 1;
                eprintln!("{shown} is stale: run `cargo xtask render --write-all` and commit");
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                problems += 1;
                eprintln!("{shown} is missing: run `cargo xtask render --write-all` and commit");
            }
            Err(error) => return Err(error).with_context(|| format!("reading {shown}")),
        }
    }
    for orphan in orphans(policies, rendered_dir)? {
        problems += 1;
        eprintln!(
            "{} has no policy in policies/: run `cargo xtask render --write-all` and commit",
            paths::shown(&orphan)
        );
    }
    Ok(if problems == 0 {
        Exit::Success
    } else {
        Exit::Failed
    })
}

/// Renders every policy first, then writes them all (and removes renders whose policy is gone):
/// one bad policy writes nothing.
pub fn write_all(policies: &[PathBuf], rendered_dir: &Path) -> anyhow::Result<Exit> {
    let mut templates = Vec::new();
    for policy_file in policies {
        match render_file(policy_file) {
            Some(template) => templates.push((rendered_path(policy_file, rendered_dir), template)),
            None => return Ok(Exit::Failed),
        }
    }
    std::fs::create_dir_all(rendered_dir)
        .with_context(|| format!("creating {}", paths::shown(rendered_dir)))?;
    for (path, template) in &templates {
        let unchanged = std::fs::read(path).is_ok_and(|old| old == template.as_bytes());
        if unchanged {
            println!("unchanged: {}", paths::shown(path));
        } else {
            write_atomically(path, template)?;
            println!("wrote: {}", paths::shown(path));
        }
    }
    for orphan in orphans(policies, rendered_dir)? {
        std::fs::remove_file(&orphan)
            .with_context(|| format!("removing {}", paths::shown(&orphan)))?;
        println!("removed: {} (its policy is gone)", paths::shown(&orphan));
    }
    Ok(Exit::Success)
}

/// `*.yaml` files in `rendered_dir` that no policy renders to, sorted.
fn orphans(policies: &[PathBuf], rendered_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let expected: Vec<PathBuf> = policies
        .iter()
        .map(|policy_file| rendered_path(policy_file, rendered_dir))
        .collect();
    let entries = match std::fs::read_dir(rendered_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(error).with_context(|| format!("reading {}", paths::shown(rendered_dir)));
        }
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "yaml") && !expected.contains(&path) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// Writes `contents` to a temporary file beside `path`, then renames it over `path`: readers
/// see the old file or the complete new one, never a half-written one.
pub(crate) fn write_atomically(path: &Path, contents: &str) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{} does not name a file", path.display()))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let temporary = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = std::fs::File::create_new(&temporary)
        .and_then(|mut file| {
            file.write_all(contents.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.with_context(|| format!("writing {}", paths::shown(path)))
}
