//! The AWS limits a rendered template must keep that the emulator deploys are tested against does
//! not check: the names CloudFormation gives each service (with `${GuardName}` and the longest
//! Region, account and partition the stack can be deployed with), descriptions, IAM document
//! sizes, the Lambda's environment as Lambda measures it, and CloudFormation's own counts. Every
//! figure comes from `policy::limits`, with its AWS page. Render refuses a template that breaks
//! one, so nothing reaches AWS that AWS would refuse.

use policy::limits;
use serde_yaml::{Mapping, Value};

/// One limit a rendered template breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the rendered template breaks an AWS limit: {at}: {problem}")]
pub struct LimitError {
    /// `Resources.<id>.Properties.<property>`, or a top-level key.
    pub at: String,
    pub problem: String,
}

/// The longest value each pseudo parameter and the guard's name can take where the stack is
/// deployed, to measure a `!Sub` string at its longest.
struct Longest {
    guard_name: String,
}

impl Longest {
    fn substitute(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let name = &after[..end];
            out.push_str(&match name {
                "GuardName" => self.guard_name.clone(),
                "AWS::Region" => limits::longest_region().to_string(),
                "AWS::AccountId" => "123456789012".to_string(),
                "AWS::Partition" => "aws-us-gov".to_string(),
                "AWS::URLSuffix" => "amazonaws.com.cn".to_string(),
                // CloudFormation's longest stack name (StackSets names instances
                // `StackSet-<set>-<uuid>`).
                "AWS::StackName" => "s".repeat(128),
                // A resource attribute (an ARN): counted at a generous length.
                _ => "x".repeat(200),
            });
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// `value` with every intrinsic resolved to its longest text: `!Sub` strings substituted,
    /// `!Ref` and `!GetAtt` (and anything else) a 200-character stand-in.
    fn resolve(&self, value: &Value) -> serde_json::Value {
        match value {
            Value::String(text) => serde_json::Value::String(text.clone()),
            Value::Tagged(tagged) if tagged.tag == "Sub" => match &tagged.value {
                Value::String(text) => serde_json::Value::String(self.substitute(text)),
                Value::Sequence(parts) => match parts.first() {
                    Some(Value::String(text)) => serde_json::Value::String(self.substitute(text)),
                    _ => serde_json::Value::String("x".repeat(200)),
                },
                _ => serde_json::Value::String("x".repeat(200)),
            },
            Value::Tagged(_) => serde_json::Value::String("x".repeat(200)),
            Value::Mapping(map) if map.len() == 1 => {
                let (key, inner) = map.iter().next().expect("one entry");
                match (key.as_str(), inner) {
                    (Some("Fn::Sub"), Value::String(text)) => {
                        serde_json::Value::String(self.substitute(text))
                    }
                    _ => serde_json::Value::Object(self.object(map)),
                }
            }
            Value::Mapping(map) => serde_json::Value::Object(self.object(map)),
            Value::Sequence(items) => {
                serde_json::Value::Array(items.iter().map(|item| self.resolve(item)).collect())
            }
            other => serde_json::to_value(other).unwrap_or(serde_json::Value::Null),
        }
    }

    fn object(&self, map: &Mapping) -> serde_json::Map<String, serde_json::Value> {
        map.iter()
            .map(|(key, value)| {
                (
                    key.as_str().unwrap_or_default().to_string(),
                    self.resolve(value),
                )
            })
            .collect()
    }

    fn text(&self, value: &Value) -> Option<String> {
        match self.resolve(value) {
            serde_json::Value::String(text) => Some(text),
            _ => None,
        }
    }
}

/// A name property of a resource type and the most characters its service takes.
const NAMES: &[(&str, &str, usize)] = &[
    (
        "AWS::Lambda::Function",
        "FunctionName",
        limits::LAMBDA_FUNCTION_NAME_CHARS,
    ),
    (
        "AWS::DynamoDB::Table",
        "TableName",
        limits::DYNAMODB_TABLE_NAME_CHARS,
    ),
    (
        "AWS::CloudWatch::Alarm",
        "AlarmName",
        limits::CLOUDWATCH_ALARM_NAME_CHARS,
    ),
    (
        "AWS::CloudWatch::Dashboard",
        "DashboardName",
        limits::CLOUDWATCH_DASHBOARD_NAME_CHARS,
    ),
    (
        "AWS::Logs::LogGroup",
        "LogGroupName",
        limits::LOG_GROUP_NAME_CHARS,
    ),
    ("AWS::KMS::Alias", "AliasName", limits::KMS_ALIAS_NAME_CHARS),
    (
        "AWS::IAM::ManagedPolicy",
        "ManagedPolicyName",
        limits::IAM_POLICY_NAME_CHARS,
    ),
    (
        "AWS::IAM::ManagedPolicy",
        "Description",
        limits::IAM_POLICY_DESCRIPTION_CHARS,
    ),
    (
        "AWS::Glue::UsageProfile",
        "Name",
        limits::GLUE_USAGE_PROFILE_NAME_CHARS,
    ),
    ("AWS::SNS::Topic", "TopicName", limits::SNS_TOPIC_NAME_CHARS),
];

/// Checks the rendered `template` of `policy` against every limit above; the first one broken
/// is the error.
pub fn check(template: &str, policy: &policy::Policy) -> Result<(), LimitError> {
    let fail = |at: String, problem: String| Err(LimitError { at, problem });
    let doc: Value = serde_yaml::from_str(template).map_err(|error| LimitError {
        at: "template".into(),
        problem: format!("does not read back as YAML: {error}"),
    })?;
    let longest = Longest {
        guard_name: policy.stack.name.clone(),
    };
    if let Some(description) = doc.get("Description").and_then(Value::as_str)
        && description.len() > limits::CLOUDFORMATION_DESCRIPTION_BYTES
    {
        return fail(
            "Description".into(),
            format!(
                "{} bytes; CloudFormation takes {}",
                description.len(),
                limits::CLOUDFORMATION_DESCRIPTION_BYTES
            ),
        );
    }
    let empty = Mapping::new();
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .unwrap_or(&empty);
    let outputs = doc
        .get("Outputs")
        .and_then(Value::as_mapping)
        .map_or(0, Mapping::len);
    for (what, count, most) in [
        (
            "Resources",
            resources.len(),
            limits::CLOUDFORMATION_RESOURCES,
        ),
        ("Outputs", outputs, limits::CLOUDFORMATION_OUTPUTS),
    ] {
        if count > most {
            return fail(
                what.into(),
                format!("{count}; CloudFormation takes {most} per template"),
            );
        }
    }
    for (id, resource) in resources {
        let id = id.as_str().unwrap_or_default();
        let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        let Some(properties) = resource.get("Properties") else {
            continue;
        };
        for (_, property, most) in NAMES.iter().filter(|(of, _, _)| *of == kind) {
            let Some(text) = properties.get(*property).and_then(|v| longest.text(v)) else {
                continue;
            };
            let chars = text.chars().count();
            if chars > *most {
                return fail(
                    format!("Resources.{id}.Properties.{property}"),
                    format!(
                        "`{text}` has {chars} characters at its longest (the longest Region this \
                         build knows); {kind} takes {most}"
                    ),
                );
            }
        }
        let document_limit = match kind {
            "AWS::IAM::ManagedPolicy" => Some(limits::IAM_MANAGED_POLICY_CHARS),
            "AWS::IAM::RolePolicy" => Some(IAM_ROLE_INLINE_POLICIES_CHARS),
            _ => None,
        };
        if let (Some(most), Some(document)) = (document_limit, properties.get("PolicyDocument")) {
            let text = serde_json::to_string(&longest.resolve(document)).unwrap_or_default();
            let chars = limits::iam_policy_chars(&text);
            if chars > most {
                return fail(
                    format!("Resources.{id}.Properties.PolicyDocument"),
                    format!(
                        "{chars} characters without whitespace at its longest; IAM takes {most} \
                         for a {kind}"
                    ),
                );
            }
        }
        if kind == "AWS::CloudWatch::Dashboard"
            && let Some(body) = properties
                .get("DashboardBody")
                .and_then(|b| longest.text(b))
        {
            let widgets = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|body| body.get("widgets").and_then(|w| w.as_array()).map(Vec::len));
            match widgets {
                Some(count) if count <= limits::CLOUDWATCH_DASHBOARD_WIDGETS => {}
                Some(count) => {
                    return fail(
                        format!("Resources.{id}.Properties.DashboardBody"),
                        format!(
                            "{count} widgets; a dashboard takes {} (one per team budget and five \
                             more: use fewer budgets)",
                            limits::CLOUDWATCH_DASHBOARD_WIDGETS
                        ),
                    );
                }
                None => {
                    return fail(
                        format!("Resources.{id}.Properties.DashboardBody"),
                        "is not JSON with a `widgets` array".to_string(),
                    );
                }
            }
        }
        if kind == "AWS::Lambda::Function"
            && let Some(variables) = properties
                .get("Environment")
                .and_then(|environment| environment.get("Variables"))
                .and_then(Value::as_mapping)
        {
            check_environment(id, variables, policy)?;
        }
    }
    Ok(())
}

/// IAM and AWS STS quotas: "Role policy size: 10,240 characters" for a role's inline policies
/// together (whitespace not counted). The role has one.
const IAM_ROLE_INLINE_POLICIES_CHARS: usize = 10_240;

/// The function's environment: exactly the variables `policy::runtime` measures, and within
/// Lambda's 4 KB as Lambda measures it.
fn check_environment(
    id: &str,
    variables: &Mapping,
    policy: &policy::Policy,
) -> Result<(), LimitError> {
    let at = format!("Resources.{id}.Properties.Environment.Variables");
    let known = policy::runtime::ENVIRONMENT_VARIABLES;
    for key in variables.keys().filter_map(Value::as_str) {
        if !known.contains(&key) {
            return Err(LimitError {
                at,
                problem: format!(
                    "`{key}` is not one of the variables policy::runtime measures ({}): the 4 KB \
                     check would not count it",
                    known.join(", ")
                ),
            });
        }
    }
    // Each value as the function gets it: literals as written, the guard's name and the
    // ledger table from `stack.name`, anything else CloudFormation resolves (the topic's ARN)
    // at the longest an SNS topic ARN can be.
    let ledger = format!("{}-ledger", policy.stack.name);
    let topic = "x".repeat(limits::longest_sns_topic_arn_chars());
    let values: Vec<(&str, &str)> = variables
        .iter()
        .filter_map(|(key, value)| {
            let key = key.as_str()?;
            let value = match value {
                Value::String(text) => text.as_str(),
                Value::Tagged(tagged) if tagged.tag == "Ref" => match tagged.value.as_str() {
                    Some("GuardName") => policy.stack.name.as_str(),
                    Some("NotificationLedger") => ledger.as_str(),
                    _ => topic.as_str(),
                },
                _ => topic.as_str(),
            };
            Some((key, value))
        })
        .collect();
    let bytes = limits::lambda_environment_bytes(values);
    if bytes > limits::LAMBDA_ENVIRONMENT_BYTES {
        return Err(LimitError {
            at,
            problem: format!(
                "{bytes} bytes as Lambda measures them; Lambda takes {}",
                limits::LAMBDA_ENVIRONMENT_BYTES
            ),
        });
    }
    Ok(())
}
