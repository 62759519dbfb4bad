//! The preventive layer, derived from the same policy as the Lambda's checks so that the two can
//! never disagree: the Glue usage profiles (Glue refuses a `CreateSession` outside the caller's
//! profile), the IAM denies on `glue:CreateSession` (a customer managed policy and an SCP), the
//! profile each named role gets, and which layer covers which boundary. Pure: no AWS calls.
//!
//! AWS sources:
//! - AWS Glue Developer Guide, "Governing interactive sessions and jobs with usage profiles":
//!   the session keys `numberOfWorkers`, `workerType`, `timeout`, `idleTimeout` (minutes), each
//!   with `DefaultValue`, `AllowedValues`, `MinValue`, `MaxValue` as strings; a principal gets a
//!   profile through its IAM tag `glue:UsageProfile` and needs `glue:GetUsageProfile` on it.
//! - Service Authorization Reference, "Actions, resources, and condition keys for AWS Glue":
//!   `glue:CreateSession` takes `glue:VpcIds` (from the session's connections) and
//!   `aws:RequestTag/${TagKey}`; no key speaks of workers, worker types, timeouts or versions.
//! - IAM User Guide, "Condition operators" (`Null`, `ArnLike`, `ArnNotLike`: each of the six ARN
//!   parts compared separately, `*` and `?` wildcards) and "Global condition context keys"
//!   (`aws:PrincipalArn`: for a role session, the role's ARN with its path).
//! - IAM quotas: a managed policy's document at most 6,144 characters (whitespace not counted).
//!   AWS Organizations quotas: an SCP at most 5,120 characters (whitespace counted).

use serde_json::{Map, Value, json};

use crate::catalogue::CommandName;
use crate::glob::{ArnPattern, glob_match};
use crate::limits::ORGANIZATIONS_SCP_CHARS as MAX_SCP_CHARS;
use crate::model::{Boundaries, Policy};

/// The IAM tag through which a role or user gets a usage profile.
pub const PROFILE_TAG_KEY: &str = "glue:UsageProfile";
/// What `usage_profiles.roles[].profile` calls the default boundaries' profile.
pub const DEFAULT_BOUNDARY_SET: &str = "default";
/// The action both layers guard.
const CREATE_SESSION: &str = "glue:CreateSession";

/// A numeric setting of a usage profile (`numberOfWorkers`; `timeout` and `idleTimeout` in
/// minutes). Rendered with `MinValue` 1 next to `MaxValue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberSetting {
    /// `DefaultValue`: within `max`.
    pub default: u32,
    /// `MaxValue`; `None` when the policy sets no such limit (only the default is given).
    pub max: Option<u32>,
}

/// A usage profile's `workerType` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerTypeSetting {
    /// `DefaultValue`: one of `allowed` when that is set.
    pub default: String,
    /// `AllowedValues`; `None` when the policy allows every worker type.
    pub allowed: Option<Vec<String>>,
}

/// One Glue usage profile of the stack.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSpec {
    /// The profile's `Name`: `<stack>-default`, or `<stack>-override-<override name>`.
    pub name: String,
    /// The boundary sets it stands for: `default` and/or override names. Overrides whose profile
    /// would be the same as an earlier one share it (so a profile is never rendered twice).
    pub boundary_sets: Vec<String>,
    pub number_of_workers: Option<NumberSetting>,
    pub worker_type: Option<WorkerTypeSetting>,
    pub timeout: Option<NumberSetting>,
    pub idle_timeout: Option<NumberSetting>,
    /// Why `max_dpu` stays detective-only (a session inside the profile can still exceed it);
    /// `None` when the profile's limits already keep every session within `max_dpu`, or there
    /// is no `max_dpu`.
    pub dpu_detective_only: Option<String>,
    /// The profile's `JobConfiguration` (the same in every profile: [`job_profile_settings`]);
    /// `None` when the policy does not guard jobs or its job limits hold nothing a profile can.
    pub jobs: Option<JobProfileSettings>,
}

/// What a usage profile holds of jobs (`JobConfiguration`): limits only, no `DefaultValue`, so
/// a job that leaves a value out keeps Glue's default (which the Lambda judges).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobProfileSettings {
    /// `numberOfWorkers` `MaxValue`.
    pub max_workers: Option<u32>,
    /// `workerType` `AllowedValues`.
    pub allowed_worker_types: Option<Vec<String>>,
    /// `timeout` `MaxValue`, minutes.
    pub max_timeout_minutes: Option<u32>,
}

/// The job limits every usage profile holds: the loosest of `jobs.boundaries` and each job
/// override's (a limit any of them leaves out is left out; the largest maximum; every allowed
/// worker type). A profile goes to a caller, for all of its jobs, and cannot tell which job
/// override (by job name, or by who starts a run) applies: anything tighter could refuse a job
/// the Lambda allows. The Lambda still judges every run by its own boundary set.
pub fn job_profile_settings(policy: &Policy) -> Option<JobProfileSettings> {
    let jobs = policy.jobs.as_ref()?;
    let sets: Vec<Boundaries> = std::iter::once(jobs.boundaries.clone())
        .chain(
            jobs.overrides
                .iter()
                .map(|rule| jobs.boundaries.overlaid_with(&rule.boundaries)),
        )
        .collect();
    let loosest = |limit: fn(&Boundaries) -> Option<u32>| -> Option<u32> {
        sets.iter()
            .map(limit)
            .try_fold(0, |most, limit| limit.map(|limit| most.max(limit)))
    };
    let allowed_worker_types = sets
        .iter()
        .try_fold(Vec::new(), |mut all: Vec<String>, set| {
            for name in set.allowed_worker_types.as_ref()? {
                if !all.contains(name) {
                    all.push(name.clone());
                }
            }
            Some(all)
        });
    let settings = JobProfileSettings {
        max_workers: loosest(|b| b.max_workers),
        allowed_worker_types,
        max_timeout_minutes: loosest(|b| b.max_timeout_minutes),
    };
    let empty = settings.max_workers.is_none()
        && settings.allowed_worker_types.is_none()
        && settings.max_timeout_minutes.is_none();
    (!empty).then_some(settings)
}

impl ProfileSpec {
    /// The profile's `Configuration` as `CreateUsageProfile` and `AWS::Glue::UsageProfile` take
    /// it: `{"SessionConfiguration": {key: {DefaultValue, MinValue, MaxValue | AllowedValues}},
    /// "JobConfiguration": {key: {MinValue, MaxValue | AllowedValues}}}`, every value a string;
    /// a part that would be empty is left out.
    pub fn configuration(&self) -> Value {
        let number = |setting: &NumberSetting| {
            let mut object = Map::new();
            object.insert("DefaultValue".into(), json!(setting.default.to_string()));
            if let Some(max) = setting.max {
                object.insert("MinValue".into(), json!("1"));
                object.insert("MaxValue".into(), json!(max.to_string()));
            }
            Value::Object(object)
        };
        let mut session = Map::new();
        if let Some(setting) = &self.number_of_workers {
            session.insert("numberOfWorkers".into(), number(setting));
        }
        if let Some(setting) = &self.worker_type {
            let mut object = Map::new();
            object.insert("DefaultValue".into(), json!(setting.default));
            if let Some(allowed) = &setting.allowed {
                object.insert("AllowedValues".into(), json!(allowed));
            }
            session.insert("workerType".into(), Value::Object(object));
        }
        if let Some(setting) = &self.timeout {
            session.insert("timeout".into(), number(setting));
        }
        if let Some(setting) = &self.idle_timeout {
            session.insert("idleTimeout".into(), number(setting));
        }
        let mut configuration = Map::new();
        if !session.is_empty() {
            configuration.insert("SessionConfiguration".into(), Value::Object(session));
        }
        if let Some(jobs) = &self.jobs {
            let mut job = Map::new();
            let maximum = |max: u32| json!({"MinValue": "1", "MaxValue": max.to_string()});
            if let Some(max) = jobs.max_workers {
                job.insert("numberOfWorkers".into(), maximum(max));
            }
            if let Some(allowed) = &jobs.allowed_worker_types {
                job.insert("workerType".into(), json!({ "AllowedValues": allowed }));
            }
            if let Some(max) = jobs.max_timeout_minutes {
                job.insert("timeout".into(), maximum(max));
            }
            configuration.insert("JobConfiguration".into(), Value::Object(job));
        }
        Value::Object(configuration)
    }

    /// True when the profile would set nothing (Glue requires at least one setting).
    pub fn is_empty(&self) -> bool {
        self.number_of_workers.is_none()
            && self.worker_type.is_none()
            && self.timeout.is_none()
            && self.idle_timeout.is_none()
            && self.jobs.is_none()
    }

    fn same_settings(&self, other: &ProfileSpec) -> bool {
        self.number_of_workers == other.number_of_workers
            && self.worker_type == other.worker_type
            && self.timeout == other.timeout
            && self.idle_timeout == other.idle_timeout
    }
}

/// The name of the usage profile for `boundary_set` (`default` or an override's name) of the
/// stack `stack_name`. Glue allows 5 to 128 characters; stack and override names keep it within.
pub fn profile_name(stack_name: &str, boundary_set: &str) -> String {
    if boundary_set == DEFAULT_BOUNDARY_SET {
        format!("{stack_name}-default")
    } else {
        format!("{stack_name}-override-{boundary_set}")
    }
}

/// The stack's usage profiles: the default boundaries' first, then one per override whose
/// settings differ from every earlier profile's. A boundary set that limits nothing a profile
/// can hold (no workers, worker types or timeouts, and no `usage_profiles.defaults`) has none.
pub fn usage_profiles(policy: &Policy) -> Vec<ProfileSpec> {
    let mut profiles: Vec<ProfileSpec> = Vec::new();
    // An override that picks sessions by id has no profile: a profile goes to a caller, for
    // all of its sessions.
    let sets = std::iter::once((DEFAULT_BOUNDARY_SET, policy.boundaries.clone())).chain(
        policy
            .overrides
            .iter()
            .filter(|rule| rule.session_ids.is_empty())
            .map(|rule| {
                (
                    rule.name.as_str(),
                    policy.boundaries.overlaid_with(&rule.boundaries),
                )
            }),
    );
    for (set, limits) in sets {
        let spec = profile_for(policy, set, &limits);
        if spec.is_empty() {
            continue;
        }
        match profiles.iter_mut().find(|known| known.same_settings(&spec)) {
            Some(known) => known.boundary_sets.push(set.to_string()),
            None => profiles.push(spec),
        }
    }
    profiles
}

/// The profile that stands for `boundary_set` (`default` or an override's name).
pub fn profile_of<'a>(profiles: &'a [ProfileSpec], boundary_set: &str) -> Option<&'a ProfileSpec> {
    profiles
        .iter()
        .find(|profile| profile.boundary_sets.iter().any(|set| set == boundary_set))
}

fn profile_for(policy: &Policy, set: &str, limits: &Boundaries) -> ProfileSpec {
    // Glue's own defaults, for what neither the profile nor the creator gives: those it
    // documents for Spark sessions (`catalogue::CommandName`), which notebooks create.
    let glue = CommandName::Spark.documented_session_defaults();
    let asked = policy
        .usage_profiles
        .as_ref()
        .map(|section| section.defaults.clone())
        .unwrap_or_default();

    let worker_type = {
        let wanted = asked
            .worker_type
            .clone()
            .or(glue.worker_type.map(str::to_string));
        match (&limits.allowed_worker_types, wanted) {
            (Some(allowed), wanted) => {
                let default = wanted
                    .filter(|wanted| allowed.contains(wanted))
                    .or_else(|| allowed.first().cloned());
                default.map(|default| WorkerTypeSetting {
                    default,
                    allowed: Some(allowed.clone()),
                })
            }
            (None, Some(wanted)) if asked.worker_type.is_some() => Some(WorkerTypeSetting {
                default: wanted,
                allowed: None,
            }),
            (None, _) => None,
        }
    };

    let number_of_workers = {
        let wanted = asked
            .number_of_workers
            .or(glue.number_of_workers.map(|n| n as u32));
        let mut setting = fit(
            wanted,
            limits.max_workers,
            asked.number_of_workers.is_some(),
        );
        // The default session must also be within `max_dpu`.
        if let (Some(setting), Some(max_dpu)) = (setting.as_mut(), limits.max_dpu) {
            let default_type = worker_type
                .as_ref()
                .map(|setting| setting.default.clone())
                .or(glue.worker_type.map(str::to_string));
            if let Some(dpu) = default_type.and_then(|name| policy.dpu_per_worker(&name))
                && f64::from(setting.default) * dpu > max_dpu
            {
                setting.default = ((max_dpu / dpu).floor() as u32).max(1);
            }
        }
        setting
    };

    let timeout = fit(
        asked
            .timeout_minutes
            .or(glue.timeout_minutes.map(|n| n as u32)),
        limits.max_timeout_minutes,
        asked.timeout_minutes.is_some(),
    );
    // Glue's default idle timeout is the session's timeout.
    let idle_default = asked.idle_timeout_minutes.or_else(|| {
        glue.idle_timeout_is_timeout
            .then_some(timeout.map(|timeout| timeout.default))
            .flatten()
            .or(glue.timeout_minutes.map(|n| n as u32))
    });
    let idle_timeout = fit(
        idle_default,
        limits.max_idle_timeout_minutes,
        asked.idle_timeout_minutes.is_some(),
    );

    ProfileSpec {
        name: profile_name(&policy.stack.name, set),
        boundary_sets: vec![set.to_string()],
        dpu_detective_only: dpu_detective_only(policy, limits),
        number_of_workers,
        worker_type,
        timeout,
        idle_timeout,
        jobs: job_profile_settings(policy),
    }
}

/// A numeric setting: the wanted default brought within `max`. Without a limit, only a default
/// the policy asked for is set (Glue's own would apply anyway).
fn fit(wanted: Option<u32>, max: Option<u32>, asked: bool) -> Option<NumberSetting> {
    match (wanted, max) {
        (Some(wanted), Some(max)) => Some(NumberSetting {
            default: wanted.min(max),
            max: Some(max),
        }),
        (None, Some(max)) => Some(NumberSetting {
            default: max,
            max: Some(max),
        }),
        (Some(wanted), None) if asked => Some(NumberSetting {
            default: wanted,
            max: None,
        }),
        _ => None,
    }
}

/// Why `max_dpu` stays with the Lambda: a profile bounds workers and worker types separately, so
/// it keeps DPU within the limit only when `max_workers` x the largest allowed worker type does.
fn dpu_detective_only(policy: &Policy, limits: &Boundaries) -> Option<String> {
    let max_dpu = limits.max_dpu?;
    let largest = limits.allowed_worker_types.as_ref().and_then(|types| {
        types
            .iter()
            .map(|name| policy.dpu_per_worker(name))
            .try_fold(0.0_f64, |most, dpu| dpu.map(|dpu| most.max(dpu)))
    });
    match (limits.max_workers, largest) {
        (Some(workers), Some(largest)) if f64::from(workers) * largest <= max_dpu => None,
        (Some(workers), Some(largest)) => Some(format!(
            "max_dpu {max_dpu} is tighter than max_workers x the largest allowed worker type \
             ({workers} x {largest} = {} DPU): a profile cannot hold DPU, so it stays \
             detective-only",
            f64::from(workers) * largest
        )),
        _ => Some(format!(
            "max_dpu {max_dpu}: without both max_workers and allowed_worker_types (all known to \
             the catalogue) a profile cannot bound DPU, so it stays detective-only"
        )),
    }
}

/// Which of the two IAM documents a deny goes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The customer managed policy deploy attaches to the named roles. Exempt principals never
    /// get it, so it does not list them.
    ManagedPolicy,
    /// The service control policy for the organization's administrators: applies to every
    /// principal of the accounts, so exempt principals are excluded by `aws:PrincipalArn`.
    Scp,
}

/// A requirement the IAM layer can refuse before a session starts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Vpc,
    Tag(String),
}

impl Requirement {
    fn holds_in(&self, limits: &Boundaries) -> bool {
        match self {
            Requirement::Vpc => limits.require_vpc_connection == Some(true),
            Requirement::Tag(key) => limits
                .required_tags
                .as_ref()
                .is_some_and(|tags| tags.contains(key)),
        }
    }

    fn condition(&self) -> (String, Value) {
        match self {
            Requirement::Vpc => ("glue:VpcIds".to_string(), json!("true")),
            Requirement::Tag(key) => (format!("aws:RequestTag/{key}"), json!("true")),
        }
    }

    fn sid(&self) -> String {
        match self {
            Requirement::Vpc => "DenyCreateSessionWithoutVpc".to_string(),
            Requirement::Tag(key) => format!("DenyCreateSessionWithoutTag{}", alphanumeric(key)),
        }
    }

    fn describe(&self) -> String {
        match self {
            Requirement::Vpc => "require_vpc_connection".to_string(),
            Requirement::Tag(key) => format!("required_tags `{key}`"),
        }
    }
}

fn alphanumeric(text: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    out
}

/// One deny statement and what it stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct Deny {
    /// The statement's `Sid` (letters and digits).
    pub sid: String,
    /// The policy rule it enforces, in the policy's words.
    pub rule: String,
    /// The IAM statement (`Effect`, `Action`, `Resource`, `Condition`).
    pub statement: Value,
}

/// The denies on `glue:CreateSession` for `layer` (then those on jobs, `job_denies`), and what
/// they leave to the Lambda alone
/// (principal patterns IAM cannot name). A deny never refuses a session the Lambda would allow:
/// where the policy's first-match override order cannot be said in IAM, the deny is narrower
/// (the Lambda still judges every session).
pub fn denies(policy: &Policy, layer: Layer) -> (Vec<Deny>, Vec<String>) {
    let mut requirements = Vec::new();
    let all_limits = std::iter::once(&policy.boundaries)
        .chain(policy.overrides.iter().map(|rule| &rule.boundaries));
    for limits in all_limits {
        if limits.require_vpc_connection == Some(true) && !requirements.contains(&Requirement::Vpc)
        {
            requirements.push(Requirement::Vpc);
        }
        for key in limits.required_tags.iter().flatten() {
            let requirement = Requirement::Tag(key.clone());
            if !requirements.contains(&requirement) {
                requirements.push(requirement);
            }
        }
    }
    // Tag statements after the VPC one, in the order the policy names them.
    requirements.sort_by_key(|requirement| !matches!(requirement, Requirement::Vpc));

    let exempt = exempt_in(policy, layer);
    let effective: Vec<Boundaries> = policy
        .overrides
        .iter()
        .map(|rule| policy.boundaries.overlaid_with(&rule.boundaries))
        .collect();

    // Sessions the Lambda never stops by their id (exempt_session_ids), in both layers: a deny
    // must not refuse what the Lambda lets run.
    let exempt_ids: Vec<String> = policy
        .exempt_session_ids
        .iter()
        .map(|pattern| session_arn_pattern(pattern))
        .collect();

    let mut out = Vec::new();
    let mut notes = Vec::new();
    let mut exclusion_notes = Vec::new();
    let mut sids = Vec::new();
    // Each (requirement, override) whose session ids a deny on the requirement leaves out by
    // their ARN (`NotResource`): what the notes below say.
    let mut left_out_by_id: Vec<(usize, usize)> = Vec::new();
    for (r, requirement) in requirements.iter().enumerate() {
        // Overrides before `before` that loosen the requirement by session id.
        let loosening_by_id = |before: usize| -> Vec<(usize, usize)> {
            policy.overrides[..before]
                .iter()
                .zip(&effective)
                .enumerate()
                .filter(|(_, (rule, limits))| {
                    !requirement.holds_in(limits) && !rule.session_ids.is_empty()
                })
                .map(|(k, _)| (r, k))
                .collect()
        };
        // Principals of overrides that do not have this requirement, as IAM can name them
        // (widened: excluding more principals is the safe direction).
        let loosened = |before: usize| -> Vec<Excluded> {
            policy.overrides[..before]
                .iter()
                .zip(&effective)
                .filter(|(_, limits)| !requirement.holds_in(limits))
                .flat_map(|(rule, _)| {
                    rule.principals
                        .iter()
                        .filter_map(|pattern| Excluded::of(pattern, rule.expires.as_deref()))
                })
                .collect()
        };
        // Sessions of overrides by session id that do not have this requirement: excluded
        // from the deny by their ARN (`NotResource`), whoever creates them.
        let loosened_ids = |before: usize| -> Vec<String> {
            policy.overrides[..before]
                .iter()
                .zip(&effective)
                .filter(|(_, limits)| !requirement.holds_in(limits))
                .flat_map(|(rule, _)| &rule.session_ids)
                .map(|pattern| session_arn_pattern(pattern))
                .chain(exempt_ids.iter().cloned())
                .collect()
        };
        let mut push = |sid: String, only: Only, except: Vec<Excluded>, except_ids: Vec<String>| {
            let (key, value) = requirement.condition();
            let mut condition = Map::new();
            condition.insert("Null".into(), json!({ key: value }));
            if let Some(principals) = &only.principals {
                condition.insert("ArnLike".into(), json!({ "aws:PrincipalArn": principals }));
            }
            if let Some(until) = &only.until {
                // The override that asks for the requirement applies only until it expires.
                condition.insert("DateLessThan".into(), json!({ "aws:CurrentTime": until }));
            }
            let except: Vec<Excluded> = exempt.iter().cloned().chain(except).collect();
            let mut sid = sid;
            if sids.contains(&sid) {
                sid = format!("{sid}{}", sids.len() + 1);
            }
            sids.push(sid.clone());
            let mut statement = Map::new();
            statement.insert("Sid".into(), json!(sid));
            statement.insert("Effect".into(), json!("Deny"));
            statement.insert("Action".into(), json!(CREATE_SESSION));
            let mut except_ids = except_ids;
            except_ids.dedup();
            match (&only.sessions, except_ids.is_empty()) {
                (Some(ids), _) => {
                    statement.insert("Resource".into(), json!(ids));
                }
                (None, true) => {
                    statement.insert("Resource".into(), json!("*"));
                }
                (None, false) => {
                    statement.insert("NotResource".into(), json!(except_ids));
                }
            }
            statement.insert("Condition".into(), Value::Object(condition));
            let rule = requirement.describe();
            for (sid, statement) in
                with_exclusions(&sid, statement, except, &rule, &mut exclusion_notes)
            {
                out.push(Deny {
                    sid,
                    rule: rule.clone(),
                    statement,
                });
            }
        };
        if requirement.holds_in(&policy.boundaries) {
            let all = policy.overrides.len();
            push(
                requirement.sid(),
                Only::default(),
                loosened(all),
                loosened_ids(all),
            );
            left_out_by_id.extend(loosening_by_id(all));
            continue;
        }
        for (i, (rule, limits)) in policy.overrides.iter().zip(&effective).enumerate() {
            if !requirement.holds_in(limits) {
                continue;
            }
            let (named, unnamed): (Vec<_>, Vec<_>) = rule
                .principals
                .iter()
                .map(|pattern| (pattern, principal_arn_pattern(pattern, Widen::No)))
                .partition(|(_, iam)| iam.is_some());
            for (pattern, _) in unnamed {
                notes.push(format!(
                    "overrides[{i}] (`{}`): {} for `{pattern}` stays detective-only (IAM's \
                     aws:PrincipalArn names the role, not the session)",
                    rule.name,
                    requirement.describe()
                ));
            }
            let principals: Vec<String> = named.into_iter().filter_map(|(_, iam)| iam).collect();
            if principals.is_empty() && !rule.principals.is_empty() {
                continue;
            }
            // The sessions it picks: by principal (ArnLike) and, when it names session ids,
            // by their ARN (Resource): both must hold, as in the Lambda.
            let only = Only {
                until: rule.expires.as_deref().and_then(iam_time),
                principals: (!principals.is_empty()).then_some(principals),
                sessions: (!rule.session_ids.is_empty()).then(|| {
                    rule.session_ids
                        .iter()
                        .map(|pattern| session_arn_pattern(pattern))
                        .collect()
                }),
            };
            let suffix = if only.principals.is_none() { "Ids" } else { "" };
            // An earlier override that loosens the rule keeps its principals and sessions out.
            // IAM takes `Resource` or `NotResource`, not both: a deny on named sessions that
            // would need to leave some of them out is left to the Lambda.
            let except_ids = loosened_ids(i);
            let except_ids = match (&only.sessions, except_ids.is_empty()) {
                (Some(_), false) => {
                    notes.push(format!(
                        "overrides[{i}] (`{}`): {} for its session ids stays detective-only \
                         (sessions exempt or loosened by id cannot be left out of a deny on \
                         named sessions)",
                        rule.name,
                        requirement.describe()
                    ));
                    continue;
                }
                (Some(_), true) => Vec::new(),
                (None, _) => {
                    left_out_by_id.extend(loosening_by_id(i));
                    except_ids
                }
            };
            push(
                format!(
                    "{}For{}{suffix}",
                    requirement.sid(),
                    alphanumeric(&rule.name)
                ),
                only,
                loosened(i),
                except_ids,
            );
        }
    }
    notes.extend(exclusion_notes);
    // What a deny leaves out by session id, beyond the sessions the override picks: IAM says
    // its principals (`ArnNotLike`) and its session ids (`NotResource`) apart, and a
    // `NotResource` takes no condition.
    left_out_by_id.sort_unstable();
    left_out_by_id.dedup();
    for (r, k) in left_out_by_id {
        let (rule, rule_text) = (&policy.overrides[k], requirements[r].describe());
        if !rule.principals.is_empty() {
            notes.push(format!(
                "overrides[{k}] (`{}`) picks the sessions of its principals with its session ids, \
                 but the IAM deny on {rule_text} leaves out each apart: any session of its \
                 principals, and a session of its ids whoever creates it; the Lambda alone judges \
                 the sessions only one of them picks",
                rule.name
            ));
        }
        if let Some(expires) = &rule.expires {
            notes.push(format!(
                "overrides[{k}] (`{}`): its sessions stay left out of the IAM deny on \
                 {rule_text} by id after it expires at {expires} (NotResource takes no \
                 condition); the Lambda judges them by the default boundaries from then",
                rule.name
            ));
        }
    }
    let (job_denies, job_notes) = job_denies(policy, layer);
    out.extend(job_denies);
    notes.extend(job_notes);
    (out, notes)
}

/// The denies on `glue:CreateJob` and `glue:UpdateJob` for `layer` (the policy's `jobs`), and
/// what they leave to the Lambda. Service Authorization Reference, AWS Glue: both actions take
/// `glue:VpcIds` (from the job's connections); `CreateJob` takes `aws:RequestTag/${TagKey}`,
/// and `UpdateJob` carries no tags (a tag deny on it would refuse every update), so required
/// tags are denied on `CreateJob` only. A requirement is denied when `jobs.boundaries` has it;
/// a job override that drops it keeps its principals (`ArnNotLike`, widened) and its jobs
/// (`NotResource`, `arn:*:glue:*:*:job/<pattern>`) out of the deny, whoever or whichever comes
/// first, which only ever refuses less than the Lambda would stop. An override that adds a
/// requirement the boundaries lack stays with the Lambda.
fn job_denies(policy: &Policy, layer: Layer) -> (Vec<Deny>, Vec<String>) {
    let Some(jobs) = &policy.jobs else {
        return (Vec::new(), Vec::new());
    };
    let limits = &jobs.boundaries;
    let mut requirements = Vec::new();
    if limits.require_vpc_connection == Some(true) {
        requirements.push(Requirement::Vpc);
    }
    for key in limits.required_tags.iter().flatten() {
        requirements.push(Requirement::Tag(key.clone()));
    }
    let exempt = exempt_in(policy, layer);
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for (i, rule) in jobs.overrides.iter().enumerate() {
        let effective = limits.overlaid_with(&rule.boundaries);
        let added = [Requirement::Vpc]
            .into_iter()
            .chain(
                effective
                    .required_tags
                    .iter()
                    .flatten()
                    .cloned()
                    .map(Requirement::Tag),
            )
            .filter(|requirement| {
                requirement.holds_in(&effective) && !requirement.holds_in(limits)
            });
        for requirement in added {
            notes.push(format!(
                "jobs.overrides[{i}] (`{}`): jobs {} stays detective-only (the job boundaries                  do not require it)",
                rule.name,
                requirement.describe()
            ));
        }
    }
    for requirement in &requirements {
        let loosening: Vec<&crate::model::JobOverride> = jobs
            .overrides
            .iter()
            .filter(|rule| !requirement.holds_in(&limits.overlaid_with(&rule.boundaries)))
            .collect();
        let mut except: Vec<Excluded> = exempt.clone();
        except.extend(loosening.iter().flat_map(|rule| {
            rule.principals
                .iter()
                .filter_map(|pattern| Excluded::of(pattern, rule.expires.as_deref()))
        }));
        let except_jobs: Vec<String> = loosening
            .iter()
            .flat_map(|rule| &rule.job_names)
            .map(|pattern| format!("arn:*:glue:*:*:job/{pattern}"))
            .collect();
        let (key, value) = requirement.condition();
        let mut condition = Map::new();
        condition.insert("Null".into(), json!({ key: value }));
        let actions = match requirement {
            Requirement::Vpc => json!(["glue:CreateJob", "glue:UpdateJob"]),
            Requirement::Tag(_) => json!("glue:CreateJob"),
        };
        let sid = match requirement {
            Requirement::Vpc => "DenyJobWithoutVpc".to_string(),
            Requirement::Tag(key) => format!("DenyCreateJobWithoutTag{}", alphanumeric(key)),
        };
        let mut statement = Map::new();
        statement.insert("Sid".into(), json!(sid));
        statement.insert("Effect".into(), json!("Deny"));
        statement.insert("Action".into(), actions);
        if except_jobs.is_empty() {
            statement.insert("Resource".into(), json!("*"));
        } else {
            statement.insert("NotResource".into(), json!(except_jobs));
        }
        statement.insert("Condition".into(), Value::Object(condition));
        let rule = format!("jobs {}", requirement.describe());
        for (sid, statement) in with_exclusions(&sid, statement, except, &rule, &mut notes) {
            out.push(Deny {
                sid,
                rule: rule.clone(),
                statement,
            });
        }
    }
    (out, notes)
}

/// The exempt principals a deny of `layer` leaves out: none in the managed policy (deploy never
/// attaches it to them), every one in the SCP, each until its expiry.
fn exempt_in(policy: &Policy, layer: Layer) -> Vec<Excluded> {
    match layer {
        Layer::ManagedPolicy => Vec::new(),
        Layer::Scp => policy
            .exempt_principals
            .iter()
            .filter_map(|exemption| {
                Excluded::of(&exemption.principal, exemption.expires.as_deref())
            })
            .collect(),
    }
}

/// A principal a deny leaves out (an `aws:PrincipalArn` pattern, widened), for good or until
/// `until` (an `aws:CurrentTime` value).
#[derive(Debug, Clone, PartialEq)]
struct Excluded {
    pattern: String,
    /// Seconds since the epoch; `None`: for good.
    until: Option<i64>,
}

impl Excluded {
    /// The exclusion of the policy's principal `pattern`, expiring at `expires` (RFC 3339;
    /// unreadable: already expired, so never left out). `None` when IAM cannot name it.
    fn of(pattern: &str, expires: Option<&str>) -> Option<Excluded> {
        let until = expires.map(|text| crate::time::parse_rfc3339(text).unwrap_or(i64::MIN));
        principal_arn_pattern(pattern, Widen::Yes).map(|pattern| Excluded { pattern, until })
    }
}

/// `expires` as IAM's `aws:CurrentTime` compares it (ISO 8601, UTC: `2027-01-31T00:00:00Z`).
fn iam_time(expires: &str) -> Option<String> {
    crate::time::parse_rfc3339(expires).map(crate::time::format_rfc3339)
}

/// `statement` (a deny with its `Condition`, without exclusions) leaving out `except`: the
/// statement with every excluded pattern in `ArnNotLike`, then, for each instant at which some
/// exclusions expire, one more deny (`Sid` + `Until<n>`) that takes those back from that instant
/// (`DateGreaterThanEquals` on `aws:CurrentTime`, IAM's condition operators page), still leaving
/// out the exclusions for good and those that expire later. A pattern excluded more than once
/// keeps its longest term. A deny already narrowed to some principals (`ArnLike`) cannot name
/// the expiring ones too: after their expiry that deny stays with the Lambda (a note says so),
/// which refuses less, never more, than the Lambda stops.
fn with_exclusions(
    sid: &str,
    mut statement: Map<String, Value>,
    except: Vec<Excluded>,
    rule: &str,
    notes: &mut Vec<String>,
) -> Vec<(String, Value)> {
    // One term per pattern, the longest; in first-seen order.
    let mut terms: Vec<Excluded> = Vec::new();
    for excluded in except {
        match terms
            .iter_mut()
            .find(|seen| seen.pattern == excluded.pattern)
        {
            Some(seen) => {
                seen.until = match (seen.until, excluded.until) {
                    (None, _) | (_, None) => None,
                    (Some(a), Some(b)) => Some(a.max(b)),
                }
            }
            None => terms.push(excluded),
        }
    }
    let patterns = |keep: &dyn Fn(&Excluded) -> bool| -> Vec<String> {
        terms
            .iter()
            .filter(|term| keep(term))
            .map(|term| term.pattern.clone())
            .collect()
    };
    let condition_of = |statement: &mut Map<String, Value>| -> Map<String, Value> {
        match statement.remove("Condition") {
            Some(Value::Object(condition)) => condition,
            _ => Map::new(),
        }
    };
    let mut condition = condition_of(&mut statement);
    let all = patterns(&|_| true);
    let base_condition = condition.clone();
    if !all.is_empty() {
        condition.insert("ArnNotLike".into(), json!({ "aws:PrincipalArn": all }));
    }
    let mut main = statement.clone();
    main.insert("Condition".into(), Value::Object(condition));
    let mut out = vec![(sid.to_string(), Value::Object(main))];

    let mut expiries: Vec<i64> = terms.iter().filter_map(|term| term.until).collect();
    expiries.sort_unstable();
    expiries.dedup();
    if expiries.is_empty() {
        return out;
    }
    if base_condition.contains_key("ArnLike") {
        notes.push(format!(
            "{rule}: the deny {sid} is narrowed to some principals, so the exclusions that \
             expire cannot be taken back in IAM; after they expire the Lambda alone stops those \
             principals' sessions"
        ));
        return out;
    }
    for (n, at) in expiries.iter().enumerate() {
        let expiring = patterns(&|term| term.until == Some(*at));
        let kept = patterns(&|term| term.until.is_none_or(|until| until > *at));
        let mut condition = base_condition.clone();
        condition.insert("ArnLike".into(), json!({ "aws:PrincipalArn": expiring }));
        if !kept.is_empty() {
            condition.insert("ArnNotLike".into(), json!({ "aws:PrincipalArn": kept }));
        }
        // An exclusion that cannot be read never applied: taken back from the epoch.
        let when = crate::time::format_rfc3339((*at).max(0));
        condition.insert(
            "DateGreaterThanEquals".into(),
            json!({ "aws:CurrentTime": when }),
        );
        let sid = format!("{sid}Until{}", n + 1);
        let mut statement = statement.clone();
        statement.insert("Sid".into(), json!(sid));
        statement.insert("Condition".into(), Value::Object(condition));
        out.push((sid, Value::Object(statement)));
    }
    out
}

/// Whom a deny refuses: every principal the policy (or the SCP) binds and every session, unless
/// narrowed to these principals (`aws:PrincipalArn` patterns) and/or these sessions (their ARNs,
/// as `Resource`).
#[derive(Default)]
struct Only {
    /// The override the deny stands for expires then (`aws:CurrentTime`).
    until: Option<String>,
    principals: Option<Vec<String>>,
    sessions: Option<Vec<String>>,
}

/// The ARN pattern of the sessions whose ids match `pattern` (a session id glob), in any
/// partition, Region and account: `arn:*:glue:*:*:session/<pattern>` (Service Authorization
/// Reference, AWS Glue: the `session` resource is `arn:${Partition}:glue:${Region}:${Account}:
/// session/${SessionId}`; IAM takes `*` and `?` in every ARN part).
pub fn session_arn_pattern(pattern: &str) -> String {
    format!("arn:*:glue:*:*:session/{pattern}")
}

/// Whether a principal pattern may be widened to one IAM can name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Widen {
    /// For exclusions: an assumed-role session pattern becomes its whole role.
    Yes,
    /// For inclusions: a pattern IAM cannot name is left out.
    No,
}

/// The policy's principal pattern as a pattern of `aws:PrincipalArn` (for a role session, the
/// role's ARN with its path). `arn:aws:sts::A:assumed-role/R/S` names sessions, which IAM cannot:
/// widened, it becomes `arn:aws:iam::A:role/*R` (the role under any path, and any role whose name
/// ends in R); not widened, `None`.
fn principal_arn_pattern(pattern: &str, widen: Widen) -> Option<String> {
    let parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let [_, partition, service, _, account, resource] = parts[..] else {
        return None;
    };
    if let Some(rest) = resource.strip_prefix("assumed-role/") {
        let role = rest.split('/').next().unwrap_or(rest);
        return (widen == Widen::Yes)
            .then(|| format!("arn:{partition}:iam::{account}:role/*{role}"));
    }
    match service {
        "*" if resource.starts_with("role/") || resource.starts_with("user/") => {
            Some(format!("arn:{partition}:iam::{account}:{resource}"))
        }
        _ => Some(pattern.to_string()),
    }
}

/// A whole IAM policy document (`Version` 2012-10-17) of `statements`.
pub fn document(statements: Vec<Value>) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The SCP as printed: pretty JSON when it fits [`MAX_SCP_CHARS`], else compact JSON; when even
/// that does not fit, the last statements are dropped until it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Scp {
    /// The document to print (`None` when no deny fits at all, or the policy has none).
    pub text: Option<String>,
    /// The denies it holds.
    pub kept: Vec<Deny>,
    /// The denies left out to fit, with the rule each stood for.
    pub dropped: Vec<Deny>,
    /// What IAM cannot say (see [`denies`]).
    pub notes: Vec<String>,
}

/// The service control policy for `policy`.
pub fn scp(policy: &Policy) -> Scp {
    let (mut kept, notes) = denies(policy, Layer::Scp);
    let mut dropped = Vec::new();
    loop {
        if kept.is_empty() {
            dropped.reverse();
            return Scp {
                text: None,
                kept,
                dropped,
                notes,
            };
        }
        let whole = document(kept.iter().map(|deny| deny.statement.clone()).collect());
        let pretty = serde_json::to_string_pretty(&whole).expect("JSON values serialize");
        let compact = serde_json::to_string(&whole).expect("JSON values serialize");
        let fitting = [pretty, compact]
            .into_iter()
            .find(|text| text.chars().count() <= MAX_SCP_CHARS);
        if let Some(text) = fitting {
            dropped.reverse();
            return Scp {
                text: Some(text),
                kept,
                dropped,
                notes,
            };
        }
        dropped.push(kept.pop().expect("not empty"));
    }
}

/// A role named in `usage_profiles.roles`, resolved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Assignment {
    /// The role's ARN as the policy gives it.
    pub role_arn: String,
    /// The role's name (the last part of its path): what `TagRole` takes.
    pub role_name: String,
    /// The 12-digit account it lives in: deploy acts only on roles of the account it targets.
    pub account: String,
    /// `default` or the override whose boundaries the Lambda judges this role's sessions by.
    pub boundary_set: String,
    /// The usage profile's name, the value of its `glue:UsageProfile` tag; `None` when the
    /// boundary set limits nothing a profile can hold (the role then gets only the IAM policy).
    pub usage_profile: Option<String>,
}

/// A role ARN's partition, account and name, when `arn` is an exact IAM role ARN (no wildcards).
pub fn parse_role_arn(arn: &str) -> Option<(String, String, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, "iam", "", account, resource] = parts[..] else {
        return None;
    };
    let path_and_name = resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next()?;
    let valid_name = |name: &str| {
        (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    };
    (scheme == "arn"
        && !partition.is_empty()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && valid_name(name)
        && path_and_name
            .chars()
            .all(|c| c != '*' && c != '?' && !c.is_whitespace()))
    .then(|| (partition.to_string(), account.to_string(), name.to_string()))
}

/// Which boundary set the Lambda judges sessions of `role_arn` by: the first override one of
/// whose principals matches the role (as the issuer of its sessions), else `default`. With
/// `now` (Unix seconds), an override that has expired by then is passed over, as the Lambda
/// passes it over for sessions started after its expiry; `None`: every override as written.
pub fn boundary_set_of(policy: &Policy, role_arn: &str, now: Option<i64>) -> String {
    // An override that also picks by session id holds for some of the role's sessions only.
    policy
        .overrides
        .iter()
        .filter(|rule| rule.session_ids.is_empty())
        .filter(|rule| {
            now.is_none_or(|now| {
                crate::exceptions::standing(rule.expires.as_deref(), Some(now)).applies()
            })
        })
        .find(|rule| {
            rule.principals
                .iter()
                .any(|pattern| ArnPattern::any_matches(pattern, [role_arn]))
        })
        .map_or(DEFAULT_BOUNDARY_SET.to_string(), |rule| rule.name.clone())
}

/// True when `pattern` singles out some sessions of the role `role_arn` by session name: then
/// the role's sessions are judged by more than one boundary set, which one profile cannot be.
pub fn splits_role_sessions(pattern: &str, role_arn: &str) -> bool {
    let Some((partition, account, name)) = parse_role_arn(role_arn) else {
        return false;
    };
    let parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let [_, p, service, _, a, resource] = parts[..] else {
        return false;
    };
    let Some((role, session)) = resource
        .strip_prefix("assumed-role/")
        .and_then(|rest| rest.split_once('/'))
    else {
        return false;
    };
    matches!(service, "sts" | "*")
        && !session.chars().all(|c| c == '*')
        && glob_match(p.as_bytes(), partition.as_bytes())
        && glob_match(a.as_bytes(), account.as_bytes())
        && glob_match(role.as_bytes(), name.as_bytes())
}

/// The policy's `usage_profiles.roles`, each with its profile. Validation has checked them.
/// With `now`, a role named by an override that has expired gets the profile of the boundary
/// set that judges it now ([`boundary_set_of`]): deploy then re-tags it, so the expired
/// override's profile is no longer assigned.
pub fn assignments(policy: &Policy, now: Option<i64>) -> Vec<Assignment> {
    let profiles = usage_profiles(policy);
    let Some(section) = &policy.usage_profiles else {
        return Vec::new();
    };
    section
        .roles
        .iter()
        .filter_map(|assignment| {
            let (_, account, role_name) = parse_role_arn(&assignment.role)?;
            let boundary_set = boundary_set_of(policy, &assignment.role, now);
            let profile = profile_of(&profiles, &boundary_set).map(|profile| profile.name.clone());
            Some(Assignment {
                role_arn: assignment.role.clone(),
                role_name,
                account,
                boundary_set,
                usage_profile: profile,
            })
        })
        .collect()
}

/// Where one boundary is enforced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Coverage {
    /// The boundary, as the policy names it (`max_workers`, `required_tags owner`).
    pub boundary: String,
    /// Its value in the default boundaries and in each override that changes it.
    pub values: String,
    /// Layers that refuse a session out of this bound before it starts.
    pub before_start: Vec<&'static str>,
    /// What happens after a session starts: the Lambda's action.
    pub after_start: &'static str,
    /// Anything that limits the preventive layers for this boundary.
    pub notes: Vec<String>,
}

/// Layer names as coverage prints them.
pub const USAGE_PROFILE: &str = "usage profile";
pub const IAM_POLICY: &str = "IAM policy";
pub const SCP: &str = "SCP";

/// For each boundary the policy sets, which layers enforce it.
pub fn coverage(policy: &Policy) -> Vec<Coverage> {
    let after_start = match policy.enforcement.mode {
        crate::model::Mode::Enforce => match policy.enforcement.action {
            crate::model::EnforcementAction::Stop => "Lambda stops",
            crate::model::EnforcementAction::Delete => "Lambda stops and deletes",
        },
        crate::model::Mode::Audit => "Lambda reports (audit)",
    };
    let profiles = usage_profiles(policy);
    let (iam_denies, iam_notes) = denies(policy, Layer::ManagedPolicy);
    let scp = scp(policy);
    let sets: Vec<(&str, Boundaries, &Boundaries)> = std::iter::once((
        DEFAULT_BOUNDARY_SET,
        policy.boundaries.clone(),
        &policy.boundaries,
    ))
    .chain(policy.overrides.iter().map(|rule| {
        (
            rule.name.as_str(),
            policy.boundaries.overlaid_with(&rule.boundaries),
            &rule.boundaries,
        )
    }))
    .collect();
    let values = |show: &dyn Fn(&Boundaries) -> Option<String>| -> Option<String> {
        let mut parts = Vec::new();
        for (i, (set, _, own)) in sets.iter().enumerate() {
            if let Some(value) = show(own) {
                parts.push(if i == 0 {
                    value
                } else {
                    format!("{set}: {value}")
                });
            }
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    };
    let list = |items: &Option<Vec<String>>| items.as_ref().map(|items| items.join(", "));
    let mut rows = Vec::new();
    let mut row = |boundary: String, values: Option<String>, before: Vec<&'static str>, notes| {
        if let Some(values) = values {
            rows.push(Coverage {
                boundary,
                values,
                before_start: before,
                after_start,
                notes,
            });
        }
    };
    let profile_layer = vec![USAGE_PROFILE];
    // Overrides that pick sessions by id: a profile judges the caller, not the session.
    let by_id = |set: &dyn Fn(&Boundaries) -> bool| -> Vec<String> {
        policy
            .overrides
            .iter()
            .filter(|rule| !rule.session_ids.is_empty() && set(&rule.boundaries))
            .map(|rule| {
                format!(
                    "{}: picked by session id, so the usage profile of whoever creates them \
                     applies, not this value",
                    rule.name
                )
            })
            .collect()
    };
    row(
        "max_workers".into(),
        values(&|b| b.max_workers.map(|n| n.to_string())),
        profile_layer.clone(),
        by_id(&|b| b.max_workers.is_some()),
    );
    row(
        "allowed_worker_types".into(),
        values(&|b| list(&b.allowed_worker_types)),
        profile_layer.clone(),
        by_id(&|b| b.allowed_worker_types.is_some()),
    );
    row(
        "max_timeout_minutes".into(),
        values(&|b| b.max_timeout_minutes.map(|n| n.to_string())),
        profile_layer.clone(),
        by_id(&|b| b.max_timeout_minutes.is_some()),
    );
    row(
        "max_idle_timeout_minutes".into(),
        values(&|b| b.max_idle_timeout_minutes.map(|n| n.to_string())),
        profile_layer.clone(),
        by_id(&|b| b.max_idle_timeout_minutes.is_some()),
    );
    let dpu_notes: Vec<String> = profiles
        .iter()
        .filter_map(|profile| {
            profile
                .dpu_detective_only
                .as_ref()
                .map(|why| format!("{}: {why}", profile.boundary_sets.join(", ")))
        })
        .chain(by_id(&|b| b.max_dpu.is_some()))
        .collect();
    // The profile holds `max_dpu` for the boundary sets whose workers and worker types keep
    // within it (each other set is named in the notes); none when it holds it for no set.
    let held_somewhere = sets.iter().enumerate().any(|(i, (_, effective, _))| {
        let has_profile = i == 0 || policy.overrides[i - 1].session_ids.is_empty();
        has_profile
            && effective.max_dpu.is_some()
            && dpu_detective_only(policy, effective).is_none()
    });
    let dpu_before = if dpu_notes.is_empty() || held_somewhere {
        vec![USAGE_PROFILE]
    } else {
        Vec::new()
    };
    row(
        "max_dpu".into(),
        values(&|b| b.max_dpu.map(|n| n.to_string())),
        dpu_before,
        dpu_notes,
    );
    let iam_layers = |rule: &str| -> Vec<&'static str> {
        let mut layers = Vec::new();
        if iam_denies.iter().any(|deny| deny.rule == rule) {
            layers.push(IAM_POLICY);
        }
        if scp.kept.iter().any(|deny| deny.rule == rule) {
            layers.push(SCP);
        }
        layers
    };
    let iam_notes_for = |rule: &str| -> Vec<String> {
        let mut notes: Vec<String> = iam_notes
            .iter()
            .filter(|note| note.contains(rule))
            .cloned()
            .collect();
        for deny in scp.dropped.iter().filter(|deny| deny.rule == rule) {
            notes.push(format!(
                "the SCP statement {} was dropped to fit {MAX_SCP_CHARS} characters",
                deny.sid
            ));
        }
        notes
    };
    row(
        "require_vpc_connection".into(),
        values(&|b| b.require_vpc_connection.map(|v| v.to_string())),
        iam_layers("require_vpc_connection"),
        iam_notes_for("require_vpc_connection"),
    );
    row(
        "allowed_connections".into(),
        values(&|b| list(&b.allowed_connections)),
        Vec::new(),
        vec!["no IAM condition key names a session's connections".to_string()],
    );
    row(
        "allowed_glue_versions".into(),
        values(&|b| list(&b.allowed_glue_versions)),
        Vec::new(),
        vec!["neither usage profiles nor IAM can hold a session's Glue version".to_string()],
    );
    row(
        "allowed_session_types".into(),
        values(&|b| list(&b.allowed_session_types)),
        Vec::new(),
        vec!["neither usage profiles nor IAM can hold a session's type".to_string()],
    );
    row(
        "require_auto_scaling".into(),
        values(&|b| b.require_auto_scaling.map(|v| v.to_string())),
        Vec::new(),
        vec!["neither usage profiles nor IAM can hold a session's arguments".to_string()],
    );
    let mut keys: Vec<String> = Vec::new();
    for (_, limits, _) in &sets {
        for key in limits.required_tags.iter().flatten() {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
    }
    for key in keys {
        let rule = format!("required_tags `{key}`");
        row(
            rule.clone(),
            values(&|b| {
                b.required_tags.as_ref().map(|tags| {
                    (if tags.contains(&key) {
                        "required"
                    } else {
                        "not required"
                    })
                    .to_string()
                })
            }),
            iam_layers(&rule),
            iam_notes_for(&rule),
        );
    }
    if let Some(jobs) = &policy.jobs {
        job_rows(jobs, &profiles, &mut row, &iam_layers, &iam_notes_for);
    }
    // Team budgets: no AWS layer caps what a team runs at once (a usage profile judges one
    // session or run; service quotas are per account), so only the Lambda enforces them.
    for budget in &policy.budgets {
        row(
            format!("budget {} max_concurrent_dpu", budget.name),
            Some(budget.max_concurrent_dpu.to_string()),
            Vec::new(),
            vec![
                "no preventive layer exists for a sum over sessions and runs: the Lambda \
                 enforces it when a session starts and on every sweep"
                    .to_string(),
            ],
        );
    }
    rows
}

/// The coverage rows of the `jobs` boundaries (`jobs.max_workers`, ...): the usage profiles'
/// `JobConfiguration` holds the loosest of the job boundary sets ([`job_profile_settings`]);
/// the IAM denies on `CreateJob`/`UpdateJob` hold the VPC connection and required tags
/// ([`job_denies`]); the rest only the Lambda.
fn job_rows(
    jobs: &crate::model::Jobs,
    profiles: &[ProfileSpec],
    row: &mut dyn FnMut(String, Option<String>, Vec<&'static str>, Vec<String>),
    iam_layers: &dyn Fn(&str) -> Vec<&'static str>,
    iam_notes_for: &dyn Fn(&str) -> Vec<String>,
) {
    let sets: Vec<(&str, &Boundaries)> = std::iter::once(("jobs", &jobs.boundaries))
        .chain(
            jobs.overrides
                .iter()
                .map(|rule| (rule.name.as_str(), &rule.boundaries)),
        )
        .collect();
    let values = |show: &dyn Fn(&Boundaries) -> Option<String>| -> Option<String> {
        let parts: Vec<String> = sets
            .iter()
            .enumerate()
            .filter_map(|(i, (set, own))| {
                show(own).map(|value| {
                    if i == 0 {
                        value
                    } else {
                        format!("{set}: {value}")
                    }
                })
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    };
    let list = |items: &Option<Vec<String>>| items.as_ref().map(|items| items.join(", "));
    let held = profiles.first().and_then(|profile| profile.jobs.clone());
    let loosest_note = (!jobs.overrides.is_empty()).then(|| {
        "every usage profile holds the loosest of the job boundary sets (a profile cannot tell \
         which job override applies); the Lambda judges each run by its own"
            .to_string()
    });
    let by_profile = |holds: bool| -> (Vec<&'static str>, Vec<String>) {
        match (holds, &loosest_note) {
            (true, note) => (vec![USAGE_PROFILE], note.iter().cloned().collect()),
            (false, _) => (Vec::new(), Vec::new()),
        }
    };
    let (before, notes) = by_profile(held.as_ref().is_some_and(|h| h.max_workers.is_some()));
    row(
        "jobs.max_workers".into(),
        values(&|b| b.max_workers.map(|n| n.to_string())),
        before,
        notes,
    );
    let (before, notes) = by_profile(
        held.as_ref()
            .is_some_and(|h| h.allowed_worker_types.is_some()),
    );
    row(
        "jobs.allowed_worker_types".into(),
        values(&|b| list(&b.allowed_worker_types)),
        before,
        notes,
    );
    let (before, notes) = by_profile(
        held.as_ref()
            .is_some_and(|h| h.max_timeout_minutes.is_some()),
    );
    row(
        "jobs.max_timeout_minutes".into(),
        values(&|b| b.max_timeout_minutes.map(|n| n.to_string())),
        before,
        notes,
    );
    row(
        "jobs.max_dpu".into(),
        values(&|b| b.max_dpu.map(|n| n.to_string())),
        Vec::new(),
        vec!["a profile bounds workers and worker types, not their product".to_string()],
    );
    let rule = "jobs require_vpc_connection";
    row(
        "jobs.require_vpc_connection".into(),
        values(&|b| b.require_vpc_connection.map(|v| v.to_string())),
        iam_layers(rule),
        iam_notes_for(rule),
    );
    for (key, what) in [
        (
            "allowed_connections",
            "no IAM condition key names a job's connections",
        ),
        (
            "allowed_glue_versions",
            "neither usage profiles nor IAM can hold a job's Glue version",
        ),
        (
            "allowed_execution_classes",
            "neither usage profiles nor IAM can hold a job's execution class",
        ),
        (
            "require_auto_scaling",
            "neither usage profiles nor IAM can hold a job's arguments",
        ),
    ] {
        let shown = |b: &Boundaries| match key {
            "allowed_connections" => list(&b.allowed_connections),
            "allowed_glue_versions" => list(&b.allowed_glue_versions),
            "allowed_execution_classes" => list(&b.allowed_execution_classes),
            _ => b.require_auto_scaling.map(|v| v.to_string()),
        };
        row(
            format!("jobs.{key}"),
            values(&shown),
            Vec::new(),
            vec![what.to_string()],
        );
    }
    let mut keys: Vec<String> = Vec::new();
    for (_, own) in &sets {
        for key in own.required_tags.iter().flatten() {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
    }
    for key in keys {
        let rule = format!("jobs required_tags `{key}`");
        row(
            format!("jobs.required_tags `{key}`"),
            values(&|b| {
                b.required_tags.as_ref().map(|tags| {
                    (if tags.contains(&key) {
                        "required"
                    } else {
                        "not required"
                    })
                    .to_string()
                })
            }),
            iam_layers(&rule),
            iam_notes_for(&rule),
        );
    }
}

#[cfg(all(test, feature = "yaml"))]
mod tests;
