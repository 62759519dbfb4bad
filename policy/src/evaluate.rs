//! The evaluation engine: one session's facts against one policy, to a `Verdict`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::facts::{Fact, Ignored, SessionFacts, facts_from_cloudtrail};
use crate::glob::ArnPattern;
use crate::model::{Boundaries, EnforcementAction, Mode, Policy, dpu_per_worker};

/// Most names a violation lists (its message says how many more there are).
const MAX_LISTED: usize = 10;

/// Glue's defaults for what a creator leaves out.
pub mod glue_defaults {
    pub const NUMBER_OF_WORKERS: u64 = 5;
    pub const WORKER_TYPE: &str = "G.1X";
    pub const TIMEOUT_MINUTES: u64 = 2880;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Compliant,
    Violation,
    /// Out of bounds, but the creator is an exempt principal: reported, never stopped.
    Exempt,
    /// Not a session to judge (another event, a failed call, unreadable input).
    Ignored,
}

/// What enforcement does under this policy's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Stop,
    Delete,
    Notify,
    None,
}

/// One broken boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// The boundary key, e.g. `max_workers`.
    pub rule: String,
    pub actual: Value,
    pub limit: Value,
    pub message: String,
    /// The actual value is Glue's default for something the creator left out.
    #[serde(default)]
    pub from_default: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub decision: Decision,
    pub session_id: Option<String>,
    pub principal: Option<String>,
    pub violations: Vec<Violation>,
    #[serde(rename = "override")]
    pub override_name: Option<String>,
    pub action: Action,
    /// Why the session is ignored or exempt, or that the creator could not be known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Settings the creator left out, with the Glue default that was assumed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defaults_applied: Vec<String>,
    /// Boundaries that could not be checked because the source does not report the value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<String>,
}

impl Verdict {
    /// The verdict for an input that is not a session to judge.
    pub fn ignored(ignored: Ignored) -> Verdict {
        Verdict {
            decision: Decision::Ignored,
            session_id: ignored.session_id,
            principal: ignored.principal,
            violations: Vec::new(),
            override_name: None,
            action: Action::None,
            reason: Some(ignored.reason),
            defaults_applied: Vec::new(),
            unchecked: Vec::new(),
        }
    }

    /// The boundary keys that were broken, in order.
    pub fn rules(&self) -> Vec<&str> {
        self.violations.iter().map(|v| v.rule.as_str()).collect()
    }
}

/// Evaluates a CloudTrail event (enveloped or bare) directly.
pub fn evaluate_event(policy: &Policy, event: &Value) -> Verdict {
    match facts_from_cloudtrail(event) {
        Ok(facts) => evaluate(policy, &facts),
        Err(ignored) => Verdict::ignored(ignored),
    }
}

/// Judges one session against the policy.
pub fn evaluate(policy: &Policy, facts: &SessionFacts) -> Verdict {
    let principal_arns: Vec<&str> = facts
        .principal
        .iter()
        .flat_map(|p| std::iter::once(p.arn.as_str()).chain(p.issuer_arn.as_deref()))
        .collect();
    let matches_any = |patterns: &[String]| {
        patterns.iter().any(|pattern| {
            ArnPattern::parse(pattern)
                .map(|pattern| principal_arns.iter().any(|arn| pattern.matches(arn)))
                .unwrap_or(false)
        })
    };

    let matched = policy
        .overrides
        .iter()
        .find(|rule| matches_any(&rule.principals));
    let limits = match matched {
        Some(rule) => policy.boundaries.overlaid_with(&rule.boundaries),
        None => policy.boundaries.clone(),
    };
    let mut check = Check::default();
    check.all(&limits, facts);

    let exempt = matches_any(&policy.exempt_principals);
    let decision = match (check.violations.is_empty(), exempt) {
        (true, _) => Decision::Compliant,
        (false, true) => Decision::Exempt,
        (false, false) => Decision::Violation,
    };
    let action = match (decision, policy.enforcement.mode, policy.enforcement.action) {
        (Decision::Violation, Mode::Audit, _) => Action::Notify,
        (Decision::Violation, Mode::Enforce, EnforcementAction::Stop) => Action::Stop,
        (Decision::Violation, Mode::Enforce, EnforcementAction::Delete) => Action::Delete,
        _ => Action::None,
    };
    let reason = if decision == Decision::Exempt {
        Some("the creator matches exempt_principals: reported, never stopped".to_string())
    } else if facts.principal.is_none() {
        Some("the creator is unknown, so overrides and exemptions could not apply".to_string())
    } else {
        None
    };
    Verdict {
        decision,
        session_id: Some(facts.session_id.clone()),
        principal: facts.principal.as_ref().map(|p| p.arn.clone()),
        violations: check.violations,
        override_name: matched.map(|rule| rule.name.clone()),
        action,
        reason,
        defaults_applied: check.defaults_applied,
        unchecked: check.unchecked,
    }
}

/// A setting's value for evaluation, and whether it is Glue's default.
struct Resolved<T> {
    value: T,
    from_default: bool,
}

#[derive(Default)]
struct Check {
    violations: Vec<Violation>,
    defaults_applied: Vec<String>,
    unchecked: Vec<String>,
}

impl Check {
    fn resolve<T: Clone>(
        &mut self,
        fact: &Fact<T>,
        setting: &str,
        default: Option<(T, String)>,
    ) -> Option<Resolved<T>> {
        match (fact, default) {
            (Fact::Given(value), _) => Some(Resolved {
                value: value.clone(),
                from_default: false,
            }),
            (Fact::Omitted, Some((value, shown))) => {
                let note = format!("{setting} = {shown} (Glue default)");
                if !self.defaults_applied.contains(&note) {
                    self.defaults_applied.push(note);
                }
                Some(Resolved {
                    value,
                    from_default: true,
                })
            }
            _ => None,
        }
    }

    fn violate(
        &mut self,
        rule: &str,
        actual: Value,
        limit: Value,
        message: String,
        from_default: bool,
    ) {
        let message = if from_default {
            format!("{message} (Glue's default: the creator did not set it)")
        } else {
            message
        };
        self.violations.push(Violation {
            rule: rule.to_string(),
            actual,
            limit,
            message,
            from_default,
        });
    }

    fn not_checked(&mut self, rule: &str, why: &str) {
        self.unchecked.push(format!("{rule}: {why}"));
    }

    fn all(&mut self, limits: &Boundaries, facts: &SessionFacts) {
        // Workers and type: Glue defaults them only when neither they nor MaxCapacity are set.
        let capacity_only = matches!(facts.max_capacity, Fact::Given(_))
            && matches!(facts.number_of_workers, Fact::Omitted)
            && matches!(facts.worker_type, Fact::Omitted);
        let (workers, worker_type) = if capacity_only {
            (None, None)
        } else {
            (
                self.resolve(
                    &facts.number_of_workers,
                    "NumberOfWorkers",
                    Some((
                        glue_defaults::NUMBER_OF_WORKERS,
                        glue_defaults::NUMBER_OF_WORKERS.to_string(),
                    )),
                ),
                self.resolve(
                    &facts.worker_type,
                    "WorkerType",
                    Some((
                        glue_defaults::WORKER_TYPE.to_string(),
                        glue_defaults::WORKER_TYPE.to_string(),
                    )),
                ),
            )
        };

        if let Some(limit) = limits.max_workers {
            match &workers {
                Some(w) if w.value > u64::from(limit) => self.violate(
                    "max_workers",
                    json!(w.value),
                    json!(limit),
                    format!("{} workers requested; at most {limit} allowed", w.value),
                    w.from_default,
                ),
                Some(_) => {}
                None if capacity_only => {}
                None => self.not_checked("max_workers", "the number of workers is not reported"),
            }
        }

        if let Some(allowed) = &limits.allowed_worker_types {
            match &worker_type {
                Some(t) if !allowed.contains(&t.value) => self.violate(
                    "allowed_worker_types",
                    json!(t.value),
                    json!(allowed),
                    format!(
                        "worker type {} is not allowed (allowed: {})",
                        t.value,
                        allowed.join(", ")
                    ),
                    t.from_default,
                ),
                Some(_) => {}
                None if capacity_only => {}
                None => self.not_checked("allowed_worker_types", "the worker type is not reported"),
            }
        }

        if let Some(limit) = limits.max_dpu {
            self.max_dpu(limit, facts, workers.as_ref(), worker_type.as_ref());
        }

        let timeout = self.resolve(
            &facts.timeout_minutes,
            "Timeout",
            Some((
                glue_defaults::TIMEOUT_MINUTES,
                format!("{} minutes", glue_defaults::TIMEOUT_MINUTES),
            )),
        );
        if let Some(limit) = limits.max_timeout_minutes {
            match &timeout {
                Some(t) if t.value > u64::from(limit) => self.violate(
                    "max_timeout_minutes",
                    json!(t.value),
                    json!(limit),
                    format!("timeout of {} minutes; at most {limit} allowed", t.value),
                    t.from_default,
                ),
                Some(_) => {}
                None => self.not_checked(
                    "max_timeout_minutes",
                    "the session's Timeout is not reported",
                ),
            }
        }

        if let Some(limit) = limits.max_idle_timeout_minutes {
            let idle = match &facts.idle_timeout_minutes {
                Fact::Given(minutes) => Some(Resolved {
                    value: *minutes,
                    from_default: false,
                }),
                Fact::Omitted => timeout.map(|t| {
                    let note =
                        format!("IdleTimeout = Timeout = {} minutes (Glue default)", t.value);
                    self.defaults_applied.push(note);
                    Resolved {
                        value: t.value,
                        from_default: true,
                    }
                }),
                Fact::Unknown => None,
            };
            match idle {
                Some(i) if i.value > u64::from(limit) => self.violate(
                    "max_idle_timeout_minutes",
                    json!(i.value),
                    json!(limit),
                    format!(
                        "idle timeout of {} minutes; at most {limit} allowed",
                        i.value
                    ),
                    i.from_default,
                ),
                Some(_) => {}
                None => self.not_checked(
                    "max_idle_timeout_minutes",
                    "the idle timeout is not reported",
                ),
            }
        }

        let connections = match &facts.connections {
            Fact::Given(list) => Some(list.clone()),
            _ => None,
        };
        if limits.require_vpc_connection == Some(true) {
            match &connections {
                Some(list) if list.is_empty() => self.violate(
                    "require_vpc_connection",
                    json!([]),
                    json!(true),
                    "no connection attached; a VPC connection is required".to_string(),
                    false,
                ),
                Some(_) => {}
                None => {
                    self.not_checked("require_vpc_connection", "the connections are unreadable")
                }
            }
        }
        if let Some(allowed) = &limits.allowed_connections {
            match &connections {
                Some(list) => {
                    let foreign: Vec<&String> =
                        list.iter().filter(|c| !allowed.contains(c)).collect();
                    if !foreign.is_empty() {
                        // A verdict stays small enough for a notification whatever the input:
                        // the first few names, and how many more.
                        let shown: Vec<&str> = foreign
                            .iter()
                            .take(MAX_LISTED)
                            .map(|c| c.as_str())
                            .collect();
                        let more = match foreign.len().saturating_sub(MAX_LISTED) {
                            0 => String::new(),
                            n => format!(" and {n} more"),
                        };
                        self.violate(
                            "allowed_connections",
                            json!(shown),
                            json!(allowed),
                            format!(
                                "connection {}{more} is not allowed (allowed: {})",
                                shown.join(", "),
                                allowed.join(", ")
                            ),
                            false,
                        );
                    }
                }
                None => self.not_checked("allowed_connections", "the connections are unreadable"),
            }
        }

        if let Some(allowed) = &limits.allowed_glue_versions {
            match &facts.glue_version {
                Fact::Given(version) if allowed.contains(version) => {}
                Fact::Given(version) => self.violate(
                    "allowed_glue_versions",
                    json!(version),
                    json!(allowed),
                    format!(
                        "Glue version {version} is not allowed (allowed: {})",
                        allowed.join(", ")
                    ),
                    false,
                ),
                Fact::Omitted => self.violate(
                    "allowed_glue_versions",
                    Value::Null,
                    json!(allowed),
                    format!(
                        "no Glue version requested, so Glue picks its own; request one of {}",
                        allowed.join(", ")
                    ),
                    true,
                ),
                Fact::Unknown => {
                    self.not_checked("allowed_glue_versions", "the Glue version is not reported")
                }
            }
        }

        if let Some(required) = &limits.required_tags {
            match &facts.tags {
                Fact::Given(tags) => {
                    let missing: Vec<&String> = required
                        .iter()
                        .filter(|key| tags.get(*key).is_none_or(|value| value.trim().is_empty()))
                        .collect();
                    if !missing.is_empty() {
                        let names: Vec<&str> = missing.iter().map(|k| k.as_str()).collect();
                        self.violate(
                            "required_tags",
                            json!(missing),
                            json!(required),
                            format!("missing required tag {}", names.join(", ")),
                            false,
                        );
                    }
                }
                _ => self.not_checked("required_tags", "the session's tags are not reported"),
            }
        }
    }

    fn max_dpu(
        &mut self,
        limit: f64,
        facts: &SessionFacts,
        workers: Option<&Resolved<u64>>,
        worker_type: Option<&Resolved<String>>,
    ) {
        let from_workers = match (workers, worker_type) {
            (Some(w), Some(t)) => Some((w, t)),
            _ => None,
        };
        if let Some((w, t)) = from_workers {
            let from_default = w.from_default || t.from_default;
            match dpu_per_worker(&t.value) {
                Some(per_worker) => {
                    let dpu = w.value as f64 * per_worker;
                    if dpu > limit {
                        self.violate(
                            "max_dpu",
                            json!(dpu),
                            json!(limit),
                            format!("{dpu} DPUs ({} x {}); at most {limit} allowed", w.value, t.value),
                            from_default,
                        );
                    }
                }
                None => self.violate(
                    "max_dpu",
                    Value::Null,
                    json!(limit),
                    format!("unknown worker type {}: its DPUs cannot be counted, so max_dpu fails closed", t.value),
                    from_default,
                ),
            }
            return;
        }
        match &facts.max_capacity {
            Fact::Given(capacity) if *capacity > limit => self.violate(
                "max_dpu",
                json!(capacity),
                json!(limit),
                format!("{capacity} DPUs (MaxCapacity); at most {limit} allowed"),
                false,
            ),
            Fact::Given(_) => {}
            _ => self.not_checked("max_dpu", "neither workers nor MaxCapacity are reported"),
        }
    }
}
