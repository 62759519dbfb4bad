//! The policy as the enforcer Lambda carries it in its environment (`GSG_POLICY`): compact JSON
//! of the part it uses, compressed when that does not fit, and read back at start-up. Depends on
//! the model only, so validation (which measures this form) and the Lambda (which reads it) both
//! use it without depending on each other.

use crate::model::Policy;

/// Bytes of the Lambda's environment the policy may use: Lambda allows 4 KB for all variables
/// together, and the function gets a few more (topic ARN, names, ledger table) beside the policy.
/// A policy whose JSON is longer travels compressed (`runtime_policy_env`); this bounds that too.
pub const MAX_RUNTIME_POLICY_BYTES: usize = 3584;

/// Most bytes a compressed runtime policy may inflate to (the largest policy file accepted).
pub const MAX_INFLATED_BYTES: usize = 256 * 1024;

/// The prefix of a runtime policy that did not fit as JSON: raw DEFLATE, then standard base64.
pub const COMPRESSED_PREFIX: &str = "deflate+base64:";

/// The policy as the Lambda's environment carries it (`GSG_POLICY`): the compact JSON of
/// [`runtime_policy_json`] when it fits in [`MAX_RUNTIME_POLICY_BYTES`], which keeps it
/// readable in the console and in the rendered template's diff; else [`COMPRESSED_PREFIX`] and
/// the JSON compressed, so that a policy with many overrides still fits the 4 KB environment.
pub fn runtime_policy_env(policy: &Policy) -> String {
    use base64::Engine as _;
    let json = runtime_policy_json(policy);
    if json.len() <= MAX_RUNTIME_POLICY_BYTES {
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
/// profiles' assignments, the organization's StackSet) are left out to save space.
pub fn runtime_policy_json(policy: &Policy) -> String {
    serde_json::to_string(&runtime_policy(policy)).expect("a policy always serializes to JSON")
}

/// The part of the policy the Lambda receives ([`runtime_policy_json`]), as a policy.
pub fn runtime_policy(policy: &Policy) -> Policy {
    let mut runtime = policy.clone();
    runtime.stack.tags.clear();
    runtime.alarms = None;
    runtime.network = None;
    runtime.usage_profiles = None;
    runtime.organization = None;
    if let Some(notifications) = &mut runtime.notifications {
        notifications.emails.clear();
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
        assert!(runtime_policy_json(&policy).len() > MAX_RUNTIME_POLICY_BYTES);
        let env = runtime_policy_env(&policy);
        assert!(env.starts_with(COMPRESSED_PREFIX), "{env}");
        assert!(env.len() <= MAX_RUNTIME_POLICY_BYTES, "{}", env.len());
        assert_eq!(parse_runtime_policy(&env).unwrap(), policy);
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
