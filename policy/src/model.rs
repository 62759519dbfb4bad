//! The policy file model (format version 1): what a platform team writes in `policies/*.yaml`.
//!
//! Every struct denies unknown keys so that a typo is an error, never a silently ignored limit.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// The only policy format version this build understands.
pub const FORMAT_VERSION: u64 = 1;

/// A whole policy file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub version: u64,
    pub stack: Stack,
    #[serde(default)]
    pub enforcement: Enforcement,
    #[serde(default)]
    pub sweep: Sweep,
    #[serde(default)]
    pub boundaries: Boundaries,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<Override>,
    /// Principals whose sessions and runs are never stopped nor notified (logged): ARN globs, or entries
    /// with an expiry (`{principal, expires, reason, ticket}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exempt_principals: Vec<Exemption>,
    /// Sessions never stopped nor notified (logged), by their id (globs: `glue-studio-datapreview-*`, the
    /// sessions Glue Studio's data previews create), whoever creates them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exempt_session_ids: Vec<String>,
    /// What Glue job runs and job definitions may be. Absent: jobs are not guarded. The
    /// enforcement mode, exemptions and notifications are the sessions'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<Jobs>,
    /// Caps on the DPUs a team runs at once, across its sessions (and job runs). Enforced by the
    /// Lambda only: AWS has no such limit ([`crate::budgets`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub budgets: Vec<Budget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Notifications>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<Alarms>,
    /// DPUs per worker of worker types the Glue catalogue of this build lacks (`X.3X: 3`), so
    /// that a policy can use a worker type Glue ships before this tool learns it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub worker_type_dpu: BTreeMap<String, f64>,
    /// The VPC subnets and security groups the enforcer runs in. Absent: Lambda's own network.
    /// Deploy-time only: the Lambda's runtime policy leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// The preventive layer's assignments: which roles deploy tags with their Glue usage profile
    /// and attaches the guardrail policy to, and the defaults the profiles give. Deploy-time only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_profiles: Option<UsageProfiles>,
    /// Deploying the guard to the accounts of an AWS Organization with one CloudFormation
    /// StackSet (service-managed permissions) instead of one stack. Absent: one stack in the
    /// account deploy targets. Deploy-time only: the Lambda's runtime policy leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<Organization>,
    /// Where `backtest --athena` reads the organization's history by default, so that a pull
    /// request's backtest needs no flags. Backtest-time only: the Lambda's runtime policy leaves
    /// it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<History>,
}

impl Policy {
    /// DPUs of one worker of `worker_type`, and where the figure comes from: the Glue
    /// catalogue's, else the policy's `worker_type_dpu`, else what the name says
    /// ([`crate::catalogue::dpu_from_name`]); `None` when none of them knows it (`max_dpu` then
    /// fails closed).
    pub fn worker_dpu(&self, worker_type: &str) -> Option<WorkerDpu> {
        let (per_worker, source) = crate::catalogue::dpu_per_worker(worker_type)
            .map(|dpu| (dpu, DpuSource::Catalogue))
            .or_else(|| {
                let given = self.worker_type_dpu.get(worker_type).copied();
                given.map(|dpu| (dpu, DpuSource::Policy))
            })
            .or_else(|| {
                crate::catalogue::dpu_from_name(worker_type).map(|dpu| (dpu, DpuSource::Name))
            })?;
        Some(WorkerDpu { per_worker, source })
    }

    /// DPUs of one worker of `worker_type` (see [`Policy::worker_dpu`]).
    pub fn dpu_per_worker(&self, worker_type: &str) -> Option<f64> {
        self.worker_dpu(worker_type).map(|dpu| dpu.per_worker)
    }
}

/// The DPUs one worker of a type counts for, and whose figure it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkerDpu {
    pub per_worker: f64,
    pub source: DpuSource,
}

/// Where a worker type's DPUs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpuSource {
    /// The Glue catalogue of this build (`policy::catalogue::WORKER_TYPES`).
    Catalogue,
    /// The policy's `worker_type_dpu`.
    Policy,
    /// Derived from the name by Glue's naming (`G.2X` is 2): the catalogue lacks the type.
    Name,
}

/// Where the guard is deployed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Concurrent executions reserved for (and capping) the enforcer Lambda. Absent: none, the
    /// function shares the account's unreserved pool (Lambda refuses a reservation that leaves
    /// fewer than 100 unreserved, and new accounts often have a quota of 10 or 50 in all).
    /// Deploy-time only: deploy's preflight reads the account's quota before any change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_concurrency: Option<u32>,
}

/// What happens to a session that is out of bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enforcement {
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub action: EnforcementAction,
    #[serde(default = "default_wait_for_ready_seconds")]
    pub wait_for_ready_seconds: u32,
}

impl Default for Enforcement {
    fn default() -> Self {
        Enforcement {
            mode: Mode::default(),
            action: EnforcementAction::default(),
            wait_for_ready_seconds: default_wait_for_ready_seconds(),
        }
    }
}

fn default_wait_for_ready_seconds() -> u32 {
    100
}

/// `enforce` stops sessions; `audit` only notifies and never stops anything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    Audit,
}

/// How an out-of-bounds session is ended in `enforce` mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnforcementAction {
    #[default]
    Stop,
    /// Stop, then `DeleteSession` once stopped.
    Delete,
}

/// The scheduled re-check of running sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Minutes between sweeps; 0 turns the sweep off.
    #[serde(default = "default_sweep_minutes")]
    pub every_minutes: u32,
}

impl Default for Sweep {
    fn default() -> Self {
        Sweep {
            every_minutes: default_sweep_minutes(),
        }
    }
}

fn default_sweep_minutes() -> u32 {
    10
}

/// Every rule a verdict can name (`Violation::rule`): each boundary key of [`Boundaries`], and
/// a team budget's (`budgets::RULE`, `max_concurrent_dpu`). `policy/tests/validation.rs` checks
/// the list against the keys serde reads.
pub const RULES: &[&str] = &[
    "max_workers",
    "max_dpu",
    "allowed_worker_types",
    "max_idle_timeout_minutes",
    "max_timeout_minutes",
    "require_vpc_connection",
    "allowed_connections",
    "allowed_glue_versions",
    "required_tags",
    "allowed_session_types",
    "require_auto_scaling",
    "allowed_execution_classes",
    "max_concurrent_dpu",
];

/// The limits a session must stay within. Every limit is optional; an absent one is not checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boundaries {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_workers: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_dpu: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_worker_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_idle_timeout_minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_timeout_minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_vpc_connection: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_connections: Option<Vec<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "glue_versions"
    )]
    pub allowed_glue_versions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_tags: Option<Vec<String>>,
    /// The `SessionType`s allowed (`LIVY`, `SPARK_CONNECT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_session_types: Option<Vec<String>>,
    /// `true`: a session must scale its workers (`--enable-auto-scaling true` or
    /// `--scaling-profile balanced` in its `DefaultArguments`), so that it holds only the workers
    /// it uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_auto_scaling: Option<bool>,
    /// Jobs only: the `ExecutionClass`es allowed (`STANDARD`, `FLEX`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_execution_classes: Option<Vec<String>>,
}

impl Boundaries {
    /// True when no limit at all is set.
    pub fn is_empty(&self) -> bool {
        *self == Boundaries::default()
    }

    /// These boundaries with every limit that `replacement` sets replaced by its value.
    pub fn overlaid_with(&self, replacement: &Boundaries) -> Boundaries {
        fn pick<T: Clone>(base: &Option<T>, over: &Option<T>) -> Option<T> {
            over.clone().or_else(|| base.clone())
        }
        Boundaries {
            max_workers: pick(&self.max_workers, &replacement.max_workers),
            max_dpu: pick(&self.max_dpu, &replacement.max_dpu),
            allowed_worker_types: pick(
                &self.allowed_worker_types,
                &replacement.allowed_worker_types,
            ),
            max_idle_timeout_minutes: pick(
                &self.max_idle_timeout_minutes,
                &replacement.max_idle_timeout_minutes,
            ),
            max_timeout_minutes: pick(&self.max_timeout_minutes, &replacement.max_timeout_minutes),
            require_vpc_connection: pick(
                &self.require_vpc_connection,
                &replacement.require_vpc_connection,
            ),
            allowed_connections: pick(&self.allowed_connections, &replacement.allowed_connections),
            allowed_glue_versions: pick(
                &self.allowed_glue_versions,
                &replacement.allowed_glue_versions,
            ),
            required_tags: pick(&self.required_tags, &replacement.required_tags),
            allowed_session_types: pick(
                &self.allowed_session_types,
                &replacement.allowed_session_types,
            ),
            require_auto_scaling: pick(
                &self.require_auto_scaling,
                &replacement.require_auto_scaling,
            ),
            allowed_execution_classes: pick(
                &self.allowed_execution_classes,
                &replacement.allowed_execution_classes,
            ),
        }
    }
}

/// Different limits for some sessions: those of some principals (ARN globs) and/or with some
/// session ids (globs, e.g. `glue-studio-datapreview-*`). An override matches a session when one
/// of its principals matches (if it names any) and one of its session ids matches (if it names
/// any); the first that matches wins. At least one pattern is required (validation says so).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_ids: Vec<String>,
    pub boundaries: Boundaries,
    /// When the override stops applying (RFC 3339, `2027-01-31T00:00:00Z`): it applies to an
    /// event whose own time is before this instant. Absent: it never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Why the exception exists, in a sentence (shown by `validate`, `plan` and reminders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The ticket that granted it (`DATA-1234`, a URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// The `jobs` section: the limits of Glue job runs and job definitions.
///
/// `boundaries` is a set of its own: nothing is inherited from the session boundaries, and an
/// absent key is not checked. The session-only keys (`max_idle_timeout_minutes`,
/// `allowed_session_types`) are refused here by validation; `allowed_execution_classes` is
/// allowed only here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jobs {
    #[serde(default)]
    pub boundaries: Boundaries,
    /// Different limits for some jobs; the first that matches wins, as for sessions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<JobOverride>,
}

/// Different limits for some jobs: those started or written by some principals (ARN globs)
/// and/or with some job names (globs, `nightly-*`). It matches when one of its principals matches
/// (if it names any) and one of its job names matches (if it names any). At least one pattern is
/// required (validation says so).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobOverride {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub job_names: Vec<String>,
    pub boundaries: Boundaries,
    /// As [`Override::expires`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// One entry of `exempt_principals`: an ARN glob, written alone (`"arn:aws:iam::*:role/Admin"`)
/// or as a mapping with an expiry (`{principal: .., expires: 2027-01-31T00:00:00Z, reason: ..,
/// ticket: ..}`). It applies to an event whose own time is before `expires`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exemption {
    pub principal: String,
    /// RFC 3339; absent: it never expires.
    pub expires: Option<String>,
    pub reason: Option<String>,
    pub ticket: Option<String>,
}

impl Exemption {
    /// An exemption that never expires.
    pub fn permanent(principal: impl Into<String>) -> Exemption {
        Exemption {
            principal: principal.into(),
            ..Exemption::default()
        }
    }
}

/// The mapping form of an [`Exemption`], so that a misspelt key is an error.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExemptionEntry {
    principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ticket: Option<String>,
}

impl Serialize for Exemption {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.expires.is_none() && self.reason.is_none() && self.ticket.is_none() {
            return serializer.serialize_str(&self.principal);
        }
        ExemptionEntry {
            principal: self.principal.clone(),
            expires: self.expires.clone(),
            reason: self.reason.clone(),
            ticket: self.ticket.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Exemption {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Exemption;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a principal ARN pattern, or a mapping with `principal`, `expires`, `reason`, `ticket`")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Exemption, E> {
                Ok(Exemption::permanent(text))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Exemption, A::Error> {
                let entry =
                    ExemptionEntry::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(Exemption {
                    principal: entry.principal,
                    expires: entry.expires,
                    reason: entry.reason,
                    ticket: entry.ticket,
                })
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A cap on the DPUs a team runs at once (`budgets[]`): the sessions and job runs of its members,
/// each counted at its configured maximum (workers x DPUs per worker, or `MaxCapacity`), while it
/// holds DPUs (sessions `PROVISIONING`/`READY`, runs `STARTING`/`RUNNING`/`WAITING`). A session or
/// run that would take the sum over `max_concurrent_dpu` is stopped (audit: notified); which one
/// is decided by creation time ([`crate::budgets`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// 1 to 64 letters, digits, `-` or `_`; unique. Names the budget's metric and alarm.
    pub name: String,
    pub members: BudgetMembers,
    /// DPUs the members may hold at once (> 0).
    pub max_concurrent_dpu: f64,
    /// What counts against it. Absent: sessions, and job runs too when the policy has a `jobs`
    /// section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covers: Option<Vec<Covered>>,
    /// The budget's alarm goes off when its DPUs in use reach this share of the cap (1-100).
    /// Absent: 80.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_at_percent: Option<u8>,
}

impl Budget {
    /// The alarm's threshold when `warn_at_percent` is absent.
    pub const DEFAULT_WARN_AT_PERCENT: u8 = 80;

    /// Whether sessions (or job runs) count against this budget, under `policy`.
    pub fn covers(&self, covered: Covered, policy: &Policy) -> bool {
        match &self.covers {
            Some(list) => list.contains(&covered),
            None => covered == Covered::Sessions || policy.jobs.is_some(),
        }
    }

    /// `warn_at_percent`, or its default.
    pub fn warn_at_percent(&self) -> u8 {
        self.warn_at_percent
            .unwrap_or(Self::DEFAULT_WARN_AT_PERCENT)
    }
}

/// Who counts against a budget: a session or job run is a member when its creator (or, for an
/// assumed role, the role) matches one of `principals` (ARN globs, as in overrides), or when it
/// carries every tag of `tags` (key and value). At least one of the two is required.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetMembers {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// What a budget covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Covered {
    Sessions,
    Jobs,
}

/// Who hears about out-of-bounds sessions, job runs and job definitions: the default list
/// (`emails`, `slack`, `teams`) and, through `routes`, the teams they belong to
/// ([`crate::routes`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    /// One line telling a creator how to ask for an exception; included in every notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_instructions: Option<String>,
    /// Slack channels of the default list (Amazon Q Developer in chat applications).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slack: Vec<SlackChannel>,
    /// Microsoft Teams channels of the default list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<TeamsChannel>,
    /// Extra recipients of the notifications of some sessions and runs: by who created them or
    /// by their tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// What the default list gets: `all` (absent) or only what no route takes (`unrouted`).
    #[serde(default, skip_serializing_if = "DefaultReceives::is_all")]
    pub default_receives: DefaultReceives,
}

/// What the default list of `notifications` gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultReceives {
    /// Every notification, routed or not.
    #[default]
    All,
    /// Only the notifications no route takes (reminders of expiring exceptions too).
    Unrouted,
}

impl DefaultReceives {
    pub fn is_all(&self) -> bool {
        *self == DefaultReceives::All
    }
}

/// One route (`notifications.routes[]`): the notifications of the sessions and job runs whose
/// creator matches one of `principals` (ARN globs, as in overrides: the caller or its role), or
/// that carry every tag of `tags`, also go to its `emails` and chat channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// 1 to 40 lowercase letters, digits or `-`; unique; not `default`. The value of the
    /// notifications' `routes` attribute that the route's subscriptions filter on.
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slack: Vec<SlackChannel>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<TeamsChannel>,
}

/// A Slack channel, as Amazon Q Developer in chat applications names it once its workspace is
/// authorized (`AWS::Chatbot::SlackChannelConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackChannel {
    /// The workspace (team) id, `T` and 8 to 11 letters and digits (`T0123ABCD`).
    pub workspace_id: String,
    /// The channel id (`C0123ABCDEF`), from the channel's details in Slack.
    pub channel_id: String,
}

/// A Microsoft Teams channel (`AWS::Chatbot::MicrosoftTeamsChannelConfiguration`), once its team
/// is authorized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsChannel {
    /// The Microsoft Entra tenant id (a GUID).
    pub tenant_id: String,
    /// The team id (a GUID).
    pub team_id: String,
    /// The channel id (`19:...@thread.tacv2`), from the channel's link.
    pub channel_id: String,
}

/// Who hears about the guard itself failing (CloudWatch alarms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alarms {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
}

/// Where the enforcer runs when it must stay inside a VPC: Lambda's `VpcConfig`. The function
/// then reaches Glue, SNS, DynamoDB and CloudTrail only through VPC endpoints or a NAT gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Subnets of one VPC (`subnet-0123abcd`), at most 16.
    pub subnet_ids: Vec<String>,
    /// Security groups of that VPC (`sg-0123abcd`), at most 5.
    pub security_group_ids: Vec<String>,
}

/// The `usage_profiles` section. The stack always holds one Glue usage profile for the default
/// boundaries and one per override that changes what a profile can hold; this section only says
/// what their defaults are and which roles get them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageProfiles {
    /// What Glue gives a session that leaves a value out (each profile's `DefaultValue`s).
    #[serde(default, skip_serializing_if = "SessionDefaults::is_empty")]
    pub defaults: SessionDefaults,
    /// The roles that create sessions in the account deploy targets: deploy tags each with
    /// `glue:UsageProfile` and attaches the guardrail policy; clean-up undoes exactly that.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleAssignment>,
}

/// Defaults a usage profile gives (`DefaultValue`), each optional: an absent one is the smaller
/// of Glue's own default and the profile's limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionDefaults {
    /// `numberOfWorkers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_workers: Option<u32>,
    /// `workerType`, e.g. `G.1X`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_type: Option<String>,
    /// `timeout`, minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_minutes: Option<u32>,
    /// `idleTimeout`, minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_minutes: Option<u32>,
}

impl SessionDefaults {
    pub fn is_empty(&self) -> bool {
        *self == SessionDefaults::default()
    }
}

/// One role that creates sessions, and the usage profile it gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleAssignment {
    /// The role's ARN, `arn:aws:iam::123456789012:role/path/Name` (no wildcards).
    pub role: String,
    /// `default` or an override's name. Optional: the profile follows from the overrides (the
    /// first whose principals match the role, else `default`); when given it must agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// The `history` section: where the organization's CloudTrail history is read from for
/// `cargo xtask backtest --athena`. A flag given on the command line wins over the section, and
/// the section over the built-in default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// The CloudTrail table in Amazon Athena. Required in the section (validation says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub athena: Option<HistoryAthena>,
}

/// `history.athena`: the table, the workgroup, the scope and the bill of `backtest --athena`.
///
/// Source: Amazon Athena User Guide, "Query AWS CloudTrail logs" (the table, partition
/// projection), "Control costs with workgroup data usage limits" (the per-query limit), and the
/// Athena API reference (`StartQueryExecution`'s `WorkGroup`, `ResultConfiguration`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryAthena {
    /// The Glue Data Catalog database of the CloudTrail table (`--database`; default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The CloudTrail table (`--table`; default `cloudtrail_logs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The Athena workgroup the query runs in (`--workgroup`; default `primary`). Its per-query
    /// data limit must be at most `max_scan_gb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workgroup: Option<String>,
    /// Where Athena writes the result when the workgroup sets none (`--output-location`):
    /// `s3://bucket/prefix/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_location: Option<String>,
    /// The accounts to read, 12 digits each (`--accounts`); empty: all the table holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// The Regions to read (`--regions`); empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// The most one query may scan, in GB of 10^9 bytes (`--max-scan-gb`; default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_scan_gb: Option<f64>,
    /// How many days before `--until` (or now) the backtest reads when `--since` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
}

/// The `organization` section: where a service-managed StackSet deploys the guard (one stack
/// instance per account and region) and how its operations roll out.
///
/// Source: AWS CloudFormation API reference: `DeploymentTargets` (the OUs and accounts),
/// `AutoDeployment` (accounts that join or leave the OUs), `StackSetOperationPreferences` (how
/// fast an operation goes and when it stops), and the `CallAs` parameter of the StackSet
/// operations (who acts: the management account or a delegated administrator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    /// The organization's id (`o-` and 10 to 32 lowercase letters or digits, as
    /// `aws organizations describe-organization` prints it): the `aws:PrincipalOrgID` that lets
    /// member accounts read the artifact buckets and publish to the central topic. Required
    /// (validation says so).
    #[serde(default)]
    pub id: String,
    /// `DeploymentTargets.OrganizationalUnitIds`: OU ids (`ou-ab12-11111111`), or the root id
    /// (`r-ab12`) for the whole organization. Required, at least one (validation says so, so
    /// that a missing list hides no other problem). StackSets never deploys to the management
    /// account, even when it sits in one of these.
    #[serde(default)]
    pub organizational_units: Vec<String>,
    /// `DeploymentTargets.Accounts` with `AccountFilterType: INTERSECTION`: only these accounts
    /// (12 digits each) of the OUs get the guard. Absent: every account in the OUs
    /// (`AccountFilterType: NONE`). An unquoted 12-digit id (which YAML reads as a number) is
    /// taken as its digits.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "account_ids"
    )]
    pub accounts: Option<Vec<String>>,
    /// The Regions of each account to deploy to (`eu-west-1`). Required, at least one.
    #[serde(default)]
    pub regions: Vec<String>,
    /// `AutoDeployment.Enabled`: accounts that join the OUs later get the guard, and accounts
    /// that leave lose it (unless `retain_stacks_on_account_removal`). Default true.
    #[serde(default = "default_auto_deployment")]
    pub auto_deployment: bool,
    /// `AutoDeployment.RetainStacksOnAccountRemoval`: an account that leaves the OUs keeps its
    /// stack. Only with `auto_deployment`. Default false.
    #[serde(default)]
    pub retain_stacks_on_account_removal: bool,
    /// `StackSetOperationPreferences.MaxConcurrentPercentage`: percent of the accounts (per
    /// Region) an operation works on at once, 1 to 100. Default 25.
    #[serde(default = "default_max_concurrent_percentage")]
    pub max_concurrent_percentage: u32,
    /// `StackSetOperationPreferences.FailureTolerancePercentage`: percent of the accounts (per
    /// Region) that may fail before the operation stops in that Region (and goes to no further
    /// Region), 0 to 100. Default 0: the first failure stops it.
    #[serde(default)]
    pub failure_tolerance_percentage: u32,
    /// `StackSetOperationPreferences.RegionConcurrencyType`. Default `parallel` (AWS's own
    /// default is sequential).
    #[serde(default)]
    pub region_concurrency: RegionConcurrency,
    /// `CallAs`: `self` when deploy runs in the organization's management account (default),
    /// `delegated_admin` when it runs in a member account registered as a delegated
    /// administrator for StackSets.
    #[serde(default)]
    pub call_as: CallAs,
    /// A central SNS topic (`arn:aws:sns:eu-west-1:111122223333:glue-guard-central`, a standard
    /// topic) every account's enforcer also publishes to. Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications_topic_arn: Option<String>,
}

fn default_auto_deployment() -> bool {
    true
}

fn default_max_concurrent_percentage() -> u32 {
    25
}

/// How an operation moves through the Regions (`RegionConcurrencyType`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionConcurrency {
    /// All Regions at once.
    #[default]
    Parallel,
    /// One Region at a time, in the order of `regions`.
    Sequential,
}

impl RegionConcurrency {
    /// AWS's name for it (`RegionConcurrencyType`).
    pub fn as_str(self) -> &'static str {
        match self {
            RegionConcurrency::Parallel => "PARALLEL",
            RegionConcurrency::Sequential => "SEQUENTIAL",
        }
    }
}

/// Who calls the StackSet operations (`CallAs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallAs {
    /// The organization's management account (`self` in a policy).
    #[default]
    #[serde(rename = "self")]
    SelfAccount,
    /// A member account registered as a delegated administrator for StackSets.
    DelegatedAdmin,
}

impl CallAs {
    /// AWS's name for it (`CallAs`).
    pub fn as_str(self) -> &'static str {
        match self {
            CallAs::SelfAccount => "SELF",
            CallAs::DelegatedAdmin => "DELEGATED_ADMIN",
        }
    }
}

/// Account ids are text, but YAML reads an unquoted `111122223333` as a number: a whole number
/// is taken as its digits (validation then wants exactly 12). YAML keeps a leading zero
/// (`012345678901`) as text, so no digit is lost.
fn account_ids<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Vec<String>>, D::Error> {
    struct AccountId(String);

    impl<'de> Deserialize<'de> for AccountId {
        fn deserialize<D: Deserializer<'de>>(de: D) -> Result<AccountId, D::Error> {
            struct Digits;

            impl serde::de::Visitor<'_> for Digits {
                type Value = AccountId;

                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an account id of 12 digits")
                }

                fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<AccountId, E> {
                    Ok(AccountId(text.to_string()))
                }

                fn visit_u64<E: serde::de::Error>(self, number: u64) -> Result<AccountId, E> {
                    Ok(AccountId(number.to_string()))
                }

                fn visit_i64<E: serde::de::Error>(self, number: i64) -> Result<AccountId, E> {
                    Ok(AccountId(number.to_string()))
                }
            }

            de.deserialize_any(Digits)
        }
    }

    let ids: Option<Vec<AccountId>> = Option::deserialize(de)?;
    Ok(ids.map(|ids| ids.into_iter().map(|AccountId(id)| id).collect()))
}

/// Glue versions must be strings: YAML reads an unquoted `4.0` as the number 4, which would
/// silently become "4". Say so instead of giving serde's generic type error.
fn glue_versions<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Item {
        Text(String),
        Number(f64),
    }
    let items: Option<Vec<Item>> = Option::deserialize(de)?;
    let Some(items) = items else { return Ok(None) };
    items
        .into_iter()
        .map(|item| match item {
            Item::Text(text) => Ok(text),
            Item::Number(number) => Err(serde::de::Error::custom(format!(
                "versions must be quoted strings: write \"{number:.1}\", not {number} \
                 (YAML reads an unquoted version as a number)"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
