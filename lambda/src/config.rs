//! What the function is set up with, once per cold start: the policy and settings from its
//! environment, the SDK clients, and the timing of its waits.

use std::sync::Arc;
use std::time::Duration;

use policy::Policy;

use crate::ledger::Ledger;
use crate::profiles::ProfileCache;

/// The environment variable holding the policy: compact JSON, or compressed when that does not
/// fit (`policy::runtime_policy_env`).
pub const POLICY_VAR: &str = "GSG_POLICY";
/// The environment variable holding the SNS topic that notifications go to.
pub const TOPIC_VAR: &str = "NOTIFICATION_TOPIC_ARN";
/// The environment variable holding the CloudFormation stack name (metrics dimension, messages).
pub const STACK_VAR: &str = "STACK_NAME";
/// The environment variable holding the DynamoDB table of the notification ledger.
pub const LEDGER_VAR: &str = "LEDGER_TABLE";
/// The environment variable holding the organization's central SNS topic, which every
/// notification also goes to. Optional: absent or empty means none.
pub const CENTRAL_TOPIC_VAR: &str = "CENTRAL_TOPIC_ARN";

/// Everything a handler needs, built once and shared by reference with every invocation.
#[derive(Debug, Clone)]
pub struct Guard {
    pub glue: aws_sdk_glue::Client,
    pub sns: aws_sdk_sns::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub settings: Settings,
    pub timing: Timing,
    /// Usage profiles read recently (kept while the container is warm).
    pub profiles: Arc<ProfileCache>,
}

impl Guard {
    /// The guard with clients built from one SDK configuration.
    pub fn new(sdk: &aws_config::SdkConfig, settings: Settings, timing: Timing) -> Guard {
        Guard {
            glue: aws_sdk_glue::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            cloudtrail: aws_sdk_cloudtrail::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            settings,
            timing,
            profiles: Arc::default(),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.settings.policy
    }

    /// The notification ledger.
    pub fn ledger(&self) -> Ledger<'_> {
        Ledger {
            client: &self.dynamodb,
            table: &self.settings.ledger_table,
        }
    }

    /// `facts` with the defaults of their usage profile, when they name one (otherwise
    /// unchanged): read with `GetUsageProfile`, or from the container's cache.
    pub async fn with_profile(&self, facts: policy::SessionFacts) -> policy::SessionFacts {
        let Some(name) = facts.profile().map(str::to_string) else {
            return facts;
        };
        let lookup =
            crate::profiles::lookup(&self.glue, &self.profiles, self.timing.profile_cache, &name)
                .await;
        facts.with_usage_profile(lookup)
    }
}

/// The deploy-time contract with the CloudFormation template.
#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: Policy,
    pub topic_arn: String,
    pub stack_name: String,
    pub ledger_table: String,
    /// The organization's central SNS topic (`arn:aws:sns:eu-west-1:111122223333:glue-guard-central`,
    /// a standard topic, usually in another account and possibly another Region), from
    /// [`CENTRAL_TOPIC_VAR`]; `None` when it is absent or empty. Every notification published
    /// to [`Settings::topic_arn`] is also published here, exactly once as well (its own ledger
    /// claim).
    ///
    /// Source: the policy's `organization.notifications_topic_arn`, which the stack passes on;
    /// the SNS API reference, `Publish` (`TopicArn`; a topic only takes messages in its own
    /// Region, so it is published to through that Region's endpoint, and another account's
    /// topic only from principals its access policy allows `sns:Publish`).
    ///
    /// Not checked here: a value that is no topic ARN must never keep the function from
    /// starting (and so from stopping sessions); it fails at `Publish`, after the stop and the
    /// own topic's notification.
    pub central_topic_arn: Option<String>,
}

/// Why the function cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {POLICY_VAR} is not a valid policy: {0}")]
    Policy(#[source] policy::RuntimePolicyError),
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let require = |name: &'static str| {
            lookup(name)
                .filter(|value| !value.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let policy =
            policy::parse_runtime_policy(&require(POLICY_VAR)?).map_err(ConfigError::Policy)?;
        Ok(Settings {
            policy,
            topic_arn: require(TOPIC_VAR)?,
            stack_name: require(STACK_VAR)?,
            ledger_table: require(LEDGER_VAR)?,
            central_topic_arn: lookup(CENTRAL_TOPIC_VAR)
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty()),
        })
    }
}

/// How long the function waits, and how often it looks again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// The first pause between two looks at a session's status; doubled after every look.
    pub first_poll: Duration,
    /// The longest pause between two looks.
    pub max_poll: Duration,
    /// Time kept free before the invocation's deadline, so the function ends cleanly.
    pub deadline_margin: Duration,
    /// How long after a session's creation its CloudTrail record may still be missing from
    /// `LookupEvents`. The sweep leaves a violating session whose creator it cannot find yet
    /// alone until it is this old, so an override or exemption is never missed for lack of time.
    pub cloudtrail_lag: Duration,
    /// How long a usage profile read with `GetUsageProfile` is reused by the warm container.
    pub profile_cache: Duration,
    /// The pause before a session found over its team budget is looked at again: a stop for a
    /// budget needs two readings of what runs that agree (`crate::budget`).
    pub budget_recheck: Duration,
}

impl Timing {
    /// The timing for the deployed function.
    /// Every wait looks again at least every 0.9 s: a session out of bounds bills every second it
    /// runs, so `StopSession` comes within a second of `READY` (`cargo xtask bench` measures it).
    /// That is about one `GetSession` a second per session being waited for, bounded by the
    /// function's reserved concurrency.
    pub const LAMBDA: Timing = Timing {
        first_poll: Duration::from_millis(900),
        max_poll: Duration::from_millis(900),
        deadline_margin: Duration::from_secs(10),
        cloudtrail_lag: Duration::from_secs(15 * 60),
        profile_cache: Duration::from_secs(5 * 60),
        budget_recheck: Duration::from_secs(1),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn reads_the_deploy_time_contract() {
        let settings = Settings::from_lookup(env(&[
            (POLICY_VAR, r#"{"version":1,"stack":{"name":"gsg"}}"#),
            (TOPIC_VAR, "arn:aws:sns:us-east-1:123456789012:gsg"),
            (STACK_VAR, "gsg"),
            (LEDGER_VAR, "gsg-ledger"),
        ]))
        .unwrap();
        assert_eq!(settings.policy.stack.name, "gsg");
        assert_eq!(settings.stack_name, "gsg");
        assert_eq!(settings.ledger_table, "gsg-ledger");
        assert_eq!(settings.central_topic_arn, None);
    }

    #[test]
    fn reads_the_central_topic_when_it_is_set() {
        let with = |central: &str| {
            Settings::from_lookup(env(&[
                (POLICY_VAR, r#"{"version":1,"stack":{"name":"gsg"}}"#),
                (TOPIC_VAR, "arn:aws:sns:us-east-1:123456789012:gsg"),
                (STACK_VAR, "gsg"),
                (LEDGER_VAR, "gsg-ledger"),
                (CENTRAL_TOPIC_VAR, central),
            ]))
            .unwrap()
            .central_topic_arn
        };
        assert_eq!(
            with("arn:aws:sns:eu-west-1:111122223333:glue-guard-central").as_deref(),
            Some("arn:aws:sns:eu-west-1:111122223333:glue-guard-central")
        );
        assert_eq!(
            with(" arn:aws:sns:eu-west-1:111122223333:glue-guard-central\n").as_deref(),
            Some("arn:aws:sns:eu-west-1:111122223333:glue-guard-central")
        );
        assert_eq!(with(""), None, "the stack sets it empty when there is none");
        assert_eq!(with("  "), None);
    }

    #[test]
    fn reads_a_compressed_policy() {
        let mut policy: Policy = serde_json::from_str(
            r#"{"version":1,"stack":{"name":"gsg"},"boundaries":{"max_workers":1}}"#,
        )
        .unwrap();
        for i in 0..80 {
            let text = format!(
                r#"{{"name":"team-{i}","principals":["arn:aws:iam::123456789012:role/Team{i}"],"boundaries":{{"max_workers":{}}}}}"#,
                i + 2
            );
            policy.overrides.push(serde_json::from_str(&text).unwrap());
        }
        let env_value = policy::runtime_policy_env(&policy);
        assert!(env_value.starts_with(policy::COMPRESSED_PREFIX));
        let settings = Settings::from_lookup(env(&[
            (POLICY_VAR, env_value.as_str()),
            (TOPIC_VAR, "t"),
            (STACK_VAR, "gsg"),
            (LEDGER_VAR, "l"),
        ]))
        .unwrap();
        assert_eq!(settings.policy, policy);
        let damaged = Settings::from_lookup(env(&[
            (POLICY_VAR, "deflate+base64:AAAA"),
            (TOPIC_VAR, "t"),
            (STACK_VAR, "gsg"),
            (LEDGER_VAR, "l"),
        ]));
        let message = damaged.unwrap_err().to_string();
        assert!(
            message.starts_with(
                "environment variable GSG_POLICY is not a valid policy: its compressed form"
            ),
            "{message}"
        );
    }

    #[test]
    fn says_which_setting_is_missing_or_wrong() {
        let missing = Settings::from_lookup(env(&[(
            POLICY_VAR,
            r#"{"version":1,"stack":{"name":"g"}}"#,
        )]));
        assert_eq!(
            missing.unwrap_err().to_string(),
            "environment variable NOTIFICATION_TOPIC_ARN is not set"
        );
        let wrong = Settings::from_lookup(env(&[
            (POLICY_VAR, r#"{"version":1,"stack":{"name":"g"},"typo":1}"#),
            (TOPIC_VAR, "t"),
            (STACK_VAR, "s"),
            (LEDGER_VAR, "l"),
        ]));
        let message = wrong.unwrap_err().to_string();
        assert!(
            message.contains("GSG_POLICY is not a valid policy"),
            "{message}"
        );
        assert!(message.contains("typo"), "{message}");
    }
}
