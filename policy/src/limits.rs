//! The AWS limits this tool depends on, in one place, each with the AWS page it comes from.
//! Validation, render and deploy's read-only preflight all read them here, so that what real AWS
//! refuses (and the emulator the tests run against does not) is refused before anything changes.
//! Pure data and arithmetic: no AWS calls.

// ---- AWS Lambda -----------------------------------------------------------------------------

/// Lambda quotas ("Function environment variables: 4 KB") and "Working with Lambda environment
/// variables" ("The total size of all environment variables doesn't exceed 4 KB"). Lambda
/// measures the variables together, as the compact JSON of the `Variables` map, keys included
/// and every `"` in a value escaped (its error says "String measured: {...}"):
/// [`lambda_environment_bytes`].
pub const LAMBDA_ENVIRONMENT_BYTES: usize = 4096;

/// `PutFunctionConcurrency` (AWS Lambda API reference): "leave at least 100 simultaneous
/// executions unreserved for functions that aren't configured with a per-function limit". An
/// account whose whole quota (`AccountLimit.ConcurrentExecutions`) is below 100 keeps all of it
/// unreserved: such an account cannot reserve any (the error reads "decreases account's
/// UnreservedConcurrentExecution below its minimum value of \[10\]").
pub const LAMBDA_MIN_UNRESERVED_CONCURRENCY: u64 = 100;

/// `CreateFunction`, `FunctionName`: "If you specify only the function name, it is limited to 64
/// characters in length."
pub const LAMBDA_FUNCTION_NAME_CHARS: usize = 64;

/// Lambda quotas: "Function timeout: 900 seconds (15 minutes)".
pub const LAMBDA_TIMEOUT_SECONDS: u32 = 900;

/// The fewest concurrent executions an account must keep unreserved, given its quota
/// (`AccountLimit.ConcurrentExecutions` of `GetAccountSettings`): see
/// [`LAMBDA_MIN_UNRESERVED_CONCURRENCY`].
pub fn lambda_unreserved_floor(account_concurrency: u64) -> u64 {
    LAMBDA_MIN_UNRESERVED_CONCURRENCY.min(account_concurrency)
}

/// The most a function may reserve in an account whose `GetAccountSettings` reports
/// `unreserved` (`AccountLimit.UnreservedConcurrentExecutions`) of `account_concurrency`
/// (`AccountLimit.ConcurrentExecutions`), when the function already reserves `own` (its own
/// reservation is part of what is reserved, and is given back by the change).
pub fn lambda_reservable(account_concurrency: u64, unreserved: u64, own: u64) -> u64 {
    (unreserved + own).saturating_sub(lambda_unreserved_floor(account_concurrency))
}

/// The bytes Lambda counts for a function's environment `variables`, as it measures them: the
/// compact JSON of the map (`{"KEY":"value",...}`), each `"` and `\` of a value escaped. A
/// character outside ASCII is counted as its `\u` escape (6 bytes per UTF-16 unit): AWS does not
/// say how it counts them, and this is the larger count.
pub fn lambda_environment_bytes<'a>(
    variables: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> usize {
    let mut bytes = 2; // { }
    let mut first = true;
    for (key, value) in variables {
        if !first {
            bytes += 1; // ,
        }
        first = false;
        bytes += json_string_bytes(key) + 1 + json_string_bytes(value);
    }
    bytes
}

/// Bytes of `text` as a JSON string literal, quotes included, with non-ASCII as `\u` escapes.
fn json_string_bytes(text: &str) -> usize {
    2 + text
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c if c.is_ascii() => 1,
            c => 6 * c.len_utf16(),
        })
        .sum::<usize>()
}

// ---- AWS CloudFormation ---------------------------------------------------------------------

/// CloudFormation quotas, "Template body size in a request": 51,200 bytes (`TemplateBody` of
/// `CreateStack`, `UpdateStack`, `CreateChangeSet`, `CreateStackSet`, `UpdateStackSet`).
pub const CLOUDFORMATION_TEMPLATE_BODY_BYTES: usize = 51_200;

/// CloudFormation quotas, "Template body size in an Amazon S3 object": 1 MB (`TemplateURL`). Deploy
/// uploads the template to its artifact bucket and passes its URL, so this is the limit a
/// template must fit.
pub const CLOUDFORMATION_TEMPLATE_URL_BYTES: usize = 1_048_576;

/// CloudFormation quotas, "Template description": 1,024 bytes.
pub const CLOUDFORMATION_DESCRIPTION_BYTES: usize = 1024;

/// CloudFormation quotas, "Parameter value": 4,096 bytes.
pub const CLOUDFORMATION_PARAMETER_VALUE_BYTES: usize = 4096;

/// CloudFormation quotas, "Resources": 500 per template.
pub const CLOUDFORMATION_RESOURCES: usize = 500;

/// CloudFormation quotas, "Outputs": 200 per template.
pub const CLOUDFORMATION_OUTPUTS: usize = 200;

/// `CreateStack`, `Tags`: "You can specify a maximum number of 50 tags."
pub const CLOUDFORMATION_STACK_TAGS: usize = 50;

/// The CloudFormation `Tag` data type: `Key` 1 to 128 characters, and "Tags owned by AWS have the
/// reserved prefix: `aws:`".
pub const TAG_KEY_CHARS: usize = 128;

/// The CloudFormation `Tag` data type: `Value` "Minimum length of 1. Maximum length of 256" (an
/// empty value is refused, unlike IAM's tags).
pub const TAG_VALUE_CHARS: usize = 256;

// ---- IAM and AWS Organizations --------------------------------------------------------------

/// IAM and AWS STS quotas: "Policy name: 128 characters". IAM names are global to an account:
/// the same name in two Regions is the same policy (`EntityAlreadyExists`).
pub const IAM_POLICY_NAME_CHARS: usize = 128;

/// IAM and AWS STS quotas: "The size of each managed policy cannot exceed 6,144 characters"; "IAM
/// does not count white space when calculating the size of a policy".
pub const IAM_MANAGED_POLICY_CHARS: usize = 6_144;

/// IAM `CreatePolicy`, `Description`: at most 1,000 characters.
pub const IAM_POLICY_DESCRIPTION_CHARS: usize = 1_000;

/// AWS Organizations quotas: "Maximum size of a policy document: service control policies
/// 5,120 characters" (whitespace counted).
pub const ORGANIZATIONS_SCP_CHARS: usize = 5_120;

/// Characters of `text` IAM counts for a managed policy: whitespace is not counted.
pub fn iam_policy_chars(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

// ---- Names of the other resources the stack creates -----------------------------------------

/// `AWS::Glue::UsageProfile` `Name`: at most 128 characters in CloudFormation (Glue's own API
/// allows 255).
pub const GLUE_USAGE_PROFILE_NAME_CHARS: usize = 128;

/// DynamoDB `CreateTable`, `TableName`: 3 to 255 characters, `[a-zA-Z0-9_.-]+`.
pub const DYNAMODB_TABLE_NAME_CHARS: usize = 255;

/// CloudWatch `PutMetricAlarm`, `AlarmName`: 1 to 255 characters.
pub const CLOUDWATCH_ALARM_NAME_CHARS: usize = 255;

/// CloudWatch `PutDashboard`, `DashboardName`: up to 255 characters (letters, digits, `-`,
/// `_`). Dashboards are global to an account, so the stack's carries the Region.
pub const CLOUDWATCH_DASHBOARD_NAME_CHARS: usize = 255;

/// CloudWatch "Dashboard Body Structure and Syntax": "A `DashboardBody` ... can include an array
/// of between 0 and 500 widget objects". The stack's dashboard has one per team budget and five
/// more.
pub const CLOUDWATCH_DASHBOARD_WIDGETS: usize = 500;

/// CloudWatch Logs `CreateLogGroup`, `logGroupName`: 1 to 512 characters.
pub const LOG_GROUP_NAME_CHARS: usize = 512;

/// KMS "Create aliases": "The alias must be string of 1–256 characters", `alias/` included.
pub const KMS_ALIAS_NAME_CHARS: usize = 256;

/// SNS `CreateTopic`: "Topic names … must be between 1 and 256 characters long." A topic
/// CloudFormation names (no `TopicName`) is at most that long too.
pub const SNS_TOPIC_NAME_CHARS: usize = 256;

/// The longest ARN an SNS topic of the stack can have: `arn:<partition>:sns:<region>:<account>:
/// <name>` with the longest partition (`aws-us-gov`), the longest Region this build knows and a
/// name of [`SNS_TOPIC_NAME_CHARS`]. The notification topic is named by CloudFormation, so its
/// ARN is measured at this length wherever it must fit (the Lambda's environment).
pub fn longest_sns_topic_arn_chars() -> usize {
    let region = crate::catalogue::AWS_REGIONS
        .iter()
        .map(|region| region.len())
        .max()
        .unwrap_or(0);
    "arn:".len() + "aws-us-gov".len() + ":sns:".len() + region + 1 + 12 + 1 + SNS_TOPIC_NAME_CHARS
}

/// The longest Region name this build knows: names that hold `${AWS::Region}` are measured with it.
pub fn longest_region() -> &'static str {
    crate::catalogue::AWS_REGIONS
        .iter()
        .copied()
        .max_by_key(|region| region.len())
        .unwrap_or("us-east-1")
}

// ---- Amazon SNS -------------------------------------------------------------------------------

/// "Deleting an Amazon SNS subscription and topic": "Amazon SNS automatically deletes unconfirmed
/// subscriptions after 48 hours" (the confirmation token is valid for 3 days, `Subscribe`).
pub const SNS_UNCONFIRMED_SUBSCRIPTION_HOURS: u32 = 48;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_is_measured_as_lambda_measures_it() {
        // Compact JSON, keys included: {"A":"b"} is 9 bytes.
        assert_eq!(lambda_environment_bytes([("A", "b")]), 9);
        assert_eq!(lambda_environment_bytes([("A", "b"), ("C", "d")]), 17);
        assert_eq!(lambda_environment_bytes([]), 2);
        // Every quote of a value counts twice (escaped), and so does a backslash.
        let json = r#"{"a":"b"}"#;
        assert_eq!(
            lambda_environment_bytes([("P", json)]),
            serde_json::to_string(&serde_json::json!({"P": json}))
                .unwrap()
                .len()
        );
        assert_eq!(
            lambda_environment_bytes([("P", "\"\"")]),
            2 + 3 + 1 + 6 + 2 - 2
        );
        // Outside ASCII: the escape's length, the larger count.
        assert_eq!(lambda_environment_bytes([("P", "é")]), 2 + 3 + 1 + 8);
        assert_eq!(lambda_environment_bytes([("P", "😀")]), 2 + 3 + 1 + 14);
    }

    #[test]
    fn a_reservation_must_leave_the_unreserved_floor() {
        // A mature account: 1000, of which 100 must stay unreserved.
        assert_eq!(lambda_reservable(1000, 1000, 0), 900);
        assert_eq!(lambda_reservable(1000, 150, 0), 50);
        // Updating a function that already reserves 10 gives those 10 back first.
        assert_eq!(lambda_reservable(1000, 100, 10), 10);
        // New accounts with a quota of 10 or 50 cannot reserve anything.
        assert_eq!(lambda_reservable(10, 10, 0), 0);
        assert_eq!(lambda_reservable(50, 50, 0), 0);
        assert_eq!(lambda_unreserved_floor(50), 50);
    }

    #[test]
    fn the_longest_topic_arn_uses_the_longest_parts() {
        assert_eq!(longest_region().len(), 14);
        assert_eq!(
            longest_sns_topic_arn_chars(),
            4 + 10 + 5 + 14 + 1 + 12 + 1 + 256
        );
        assert_eq!(iam_policy_chars("{ \"a\" :\n 1 }"), 7);
    }
}
