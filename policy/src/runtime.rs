//! The policy as the enforcer Lambda carries it in its environment (`GSG_POLICY`): compact JSON
//! of the part it uses, compressed when that does not fit, and read back at start-up. Depends on
//! the model only, so validation (which measures this form) and the Lambda (which reads it) both
//! use it without depending on each other.

use crate::model::Policy;

/// Most bytes a compressed runtime policy may inflate to (the largest policy file accepted).
pub const MAX_INFLATED_BYTES: usize = 256 * 1024;

/// The prefix of a runtime policy that did not fit as JSON: raw DEFLATE, then standard base64.
pub const COMPRESSED_PREFIX: &str = "deflate+base64:";

/// The enforcer's environment variables, as the stack template sets them (a render test checks
/// that the two agree): the policy, then what the template resolves (the notification topic's
/// ARN, the guard's name, the ledger table), the central topic with an organization, the log
/// level.
pub const ENVIRONMENT_VARIABLES: &[&str] = &[
    "GSG_POLICY",
    "NOTIFICATION_TOPIC_ARN",
    "STACK_NAME",
    "LEDGER_TABLE",
    "CENTRAL_TOPIC_ARN",
    "RUST_LOG",
];

/// The bytes Lambda counts for the enforcer's whole environment when `GSG_POLICY` is
/// `gsg_policy` ([`crate::limits::lambda_environment_bytes`]): the other variables at their
/// longest. The notification topic is named by CloudFormation, so its ARN is counted at the
/// longest an SNS topic ARN can be ([`crate::limits::longest_sns_topic_arn_chars`]); the guard's
/// name and the ledger table come from `stack.name`, the central topic from the policy.
pub fn environment_bytes(policy: &Policy, gsg_policy: &str) -> usize {
    let topic = "x".repeat(crate::limits::longest_sns_topic_arn_chars());
    let ledger = format!("{}-ledger", policy.stack.name);
    let central = policy
        .organization
        .as_ref()
        .and_then(|organization| organization.notifications_topic_arn.as_deref());
    let values: [Option<&str>; 6] = [
        Some(gsg_policy),
        Some(&topic),
        Some(&policy.stack.name),
        Some(&ledger),
        central,
        Some("info"),
    ];
    crate::limits::lambda_environment_bytes(
        ENVIRONMENT_VARIABLES
            .iter()
            .zip(values)
            .filter_map(|(key, value)| value.map(|value| (*key, value))),
    )
}

/// The policy as the Lambda's environment carries it (`GSG_POLICY`): the compact JSON of
/// [`runtime_policy_json`] when the whole environment fits Lambda's 4 KB with it
/// ([`environment_bytes`], measured as Lambda measures: escaped, every `"` twice), which keeps
/// it readable in the console and in the rendered template's diff; else [`COMPRESSED_PREFIX`]
/// and the JSON compressed (base64 has no character to escape), so that a policy with many
/// overrides still fits. Validation refuses a policy that fits neither way.
pub fn runtime_policy_env(policy: &Policy) -> String {
    use base64::Engine as _;
    let json = runtime_policy_json(policy);
    if environment_bytes(policy, &json) <= crate::limits::LAMBDA_ENVIRONMENT_BYTES {
        return json;
    }
    let compressed = miniz_oxide::deflate::compress_to_vec(json.as_bytes(), 10);
    format!(
        "{COMPRESSED_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(compressed)
    )
}

/// Why `GSG_POLICY` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RuntimePolicyError {
    #[error("its compressed form is not valid base64: {0}")]
    Base64(String),
    #[error("its compressed form does not inflate: {0}")]
    Inflate(String),
    #[error("it inflates to more than {max} bytes", max = MAX_INFLATED_BYTES)]
    TooLarge,
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

/// Reads what [`runtime_policy_env`] wrote: compact JSON, or the compressed form. Inflating stops
/// at [`MAX_INFLATED_BYTES`].
pub fn parse_runtime_policy(value: &str) -> Result<Policy, RuntimePolicyError> {
    use base64::Engine as _;
    let Some(encoded) = value.strip_prefix(COMPRESSED_PREFIX) else {
        return Ok(serde_json::from_str(value)?);
    };
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|error| RuntimePolicyError::Base64(error.to_string()))?;
    let json = miniz_oxide::inflate::decompress_to_vec_with_limit(&compressed, MAX_INFLATED_BYTES)
        .map_err(|error| match error.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => RuntimePolicyError::TooLarge,
            status => RuntimePolicyError::Inflate(format!("{status:?}")),
        })?;
    Ok(serde_json::from_slice(&json)?)
}

/// The policy as the Lambda receives it, before any compression (compact JSON): only what
/// evaluation and enforcement use. Deploy-time settings (tags, emails, the network, the usage
/// profiles' assignments, the organization's StackSet) and the backtest's `history` are left out to
/// save space.
pub fn runtime_policy_json(policy: &Policy) -> String {
    serde_json::to_string(&runtime_policy(policy)).expect("a policy always serializes to JSON")
}

/// The part of the policy the Lambda receives ([`runtime_policy_json`]), as a policy.
pub fn runtime_policy(policy: &Policy) -> Policy {
    let mut runtime = policy.clone();
    runtime.stack.tags.clear();
    runtime.stack.reserved_concurrency = None;
    runtime.alarms = None;
    runtime.network = None;
    runtime.usage_profiles = None;
    runtime.organization = None;
    runtime.history = None;
    // The emails are the topic's subscriptions. What the enforcer reads is left: the exception
    // instructions, the routes (whom each notification concerns: its `routes` attribute) with
    // their chat channels, and the default list's (which chat topics to publish to). Only when
    // there is any, so that no reader takes an empty `notifications` for "nobody is told".
    if let Some(notifications) = &mut runtime.notifications {
        notifications.emails.clear();
        for route in &mut notifications.routes {
            route.emails.clear();
        }
    }
    if runtime.notifications.as_ref().is_some_and(|notifications| {
        notifications.exception_instructions.is_none()
            && notifications.routes.is_empty()
            && notifications.slack.is_empty()
            && notifications.teams.is_empty()
    }) {
        runtime.notifications = None;
    }
    runtime
}

#[cfg(all(test, feature = "yaml"))]
mod tests {
    use super::*;
    use crate::load_policy;

    fn with_overrides(count: usize) -> Policy {
        let mut text = String::from(
            "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 1}\noverrides:\n",
        );
        for i in 0..count {
            text.push_str(&format!(
                "  - name: team-{i}\n    principals: [\"arn:aws:iam::123456789012:role/TeamRole{i}\"]\n    boundaries: {{max_workers: {}}}\n",
                i + 2
            ));
        }
        load_policy("p.yaml", text.as_bytes()).expect("a valid policy")
    }

    #[test]
    fn a_policy_that_fits_travels_as_plain_json() {
        let policy = with_overrides(2);
        let env = runtime_policy_env(&policy);
        assert_eq!(env, runtime_policy_json(&policy));
        assert_eq!(parse_runtime_policy(&env).unwrap(), policy);
    }

    #[test]
    fn a_policy_too_large_for_json_travels_compressed_and_reads_back_the_same() {
        let policy = with_overrides(60);
        let json = runtime_policy_json(&policy);
        assert!(environment_bytes(&policy, &json) > crate::limits::LAMBDA_ENVIRONMENT_BYTES);
        let env = runtime_policy_env(&policy);
        assert!(env.starts_with(COMPRESSED_PREFIX), "{env}");
        assert!(environment_bytes(&policy, &env) <= crate::limits::LAMBDA_ENVIRONMENT_BYTES);
        assert_eq!(parse_runtime_policy(&env).unwrap(), policy);
    }

    #[test]
    fn the_environment_counts_every_quote_of_the_json_twice() {
        // Find the largest policy whose raw JSON would fit 4 KB beside the other variables
        // but whose escaped JSON does not: measured the old way, it would have been sent
        // as JSON, and CreateFunction would have refused it.
        let policy = (1..60)
            .map(with_overrides)
            .find(|policy| {
                let json = runtime_policy_json(policy);
                let raw_others = environment_bytes(policy, "");
                raw_others + json.len() <= crate::limits::LAMBDA_ENVIRONMENT_BYTES
                    && environment_bytes(policy, &json) > crate::limits::LAMBDA_ENVIRONMENT_BYTES
            })
            .expect("some policy fits raw but not escaped");
        assert!(runtime_policy_env(&policy).starts_with(COMPRESSED_PREFIX));
    }

    #[test]
    fn a_damaged_or_oversized_runtime_policy_is_a_clear_error() {
        use base64::Engine as _;
        let encode = |bytes: &[u8]| {
            format!(
                "{COMPRESSED_PREFIX}{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            )
        };
        let error = |value: &str| parse_runtime_policy(value).unwrap_err().to_string();
        assert!(
            error(&format!("{COMPRESSED_PREFIX}not base64!"))
                .starts_with("its compressed form is not valid base64"),
        );
        assert!(error(&encode(b"not deflate")).starts_with("its compressed form does not inflate"));
        let bomb = miniz_oxide::deflate::compress_to_vec(&vec![b' '; 10 * 1024 * 1024], 10);
        assert_eq!(
            error(&encode(&bomb)),
            "it inflates to more than 262144 bytes"
        );
        let not_a_policy = miniz_oxide::deflate::compress_to_vec(b"{\"version\":1}", 10);
        assert!(error(&encode(&not_a_policy)).contains("missing field `stack`"));
        assert!(error("{").contains("EOF"));
    }
}
