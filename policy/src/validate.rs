//! Loading and validating a policy file: every problem is reported as
//! `file:line:col: field.path: reason`, and a policy with any problem is never returned.

#[cfg(feature = "yaml")]
use std::collections::{BTreeMap, HashMap, HashSet};

pub use crate::errors::{Location, PolicyError, PolicyErrors, printable};

#[cfg(feature = "yaml")]
use crate::catalogue::{self, SessionType, WORKER_TYPES};
#[cfg(feature = "yaml")]
use crate::glob::ArnPattern;
#[cfg(feature = "yaml")]
use crate::limits::{LAMBDA_ENVIRONMENT_BYTES, TAG_KEY_CHARS, TAG_VALUE_CHARS};
#[cfg(feature = "yaml")]
use crate::locate::{LocationIndex, join};
#[cfg(feature = "yaml")]
use crate::model::{
    Boundaries, Exemption, FORMAT_VERSION, History, Jobs, Network, Notifications, Organization,
    Policy, SlackChannel, TeamsChannel, UsageProfiles,
};

/// Largest policy file accepted, before any parsing.
pub const MAX_POLICY_BYTES: usize = crate::runtime::MAX_INFLATED_BYTES;

#[cfg(feature = "yaml")]
/// The fewest workers a Glue session has.
const MIN_SESSION_WORKERS: f64 = 2.0;

#[cfg(feature = "yaml")]
/// Most problems with the file's shape reported at once.
const MAX_SHAPE_ERRORS: usize = 50;

/// Longest a sane timeout may be, in minutes (7 days).
#[cfg(feature = "yaml")]
const MAX_SANE_MINUTES: u32 = 7 * 24 * 60;
/// Most workers a sane limit may allow.
#[cfg(feature = "yaml")]
const MAX_SANE_WORKERS: u32 = 1000;
/// Most concurrent executions a policy may reserve for the enforcer.
#[cfg(feature = "yaml")]
const MAX_SANE_RESERVED_CONCURRENCY: u32 = 1000;
/// Longest the Lambda may wait for a session to be ready: its own limit is 900 s, minus margin.
pub const MAX_WAIT_FOR_READY_SECONDS: u32 = 780;
/// Most subnets and security groups a Lambda function's `VpcConfig` takes.
pub const MAX_SUBNETS: usize = 16;
pub const MAX_SECURITY_GROUPS: usize = 5;

#[cfg(feature = "yaml")]
/// Parses and validates the policy text read from `file` (the name is only used in messages).
/// Warnings (see [`load_policy_with_warnings`]) are dropped.
pub fn load_policy(file: &str, bytes: &[u8]) -> Result<Policy, PolicyErrors> {
    load_policy_with_warnings(file, bytes).map(|loaded| loaded.policy)
}

#[cfg(feature = "yaml")]
/// A valid policy, and what is worth a look in it without making it invalid: a worker type or
/// Glue version this build's catalogue does not know (Glue may have shipped it since), each at
/// its `file:line:col`.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub policy: Policy,
    pub warnings: Vec<PolicyError>,
}

#[cfg(feature = "yaml")]
/// Warnings, at their place in `bytes` (the policy file `policy` was loaded from), about its
/// exceptions that have expired at `now` (Unix seconds) or expire within
/// [`crate::exceptions::WARN_DAYS`] days of it: `overrides[1].expires: override "burst" expires
/// at 2027-01-31T00:00:00Z, in 3 days (ticket: DATA-12)`. Pure: the caller gives the clock.
pub fn expiry_warnings(
    file: &str,
    bytes: &[u8],
    policy: &Policy,
    now: crate::time::UnixSeconds,
) -> Vec<PolicyError> {
    use crate::exceptions::{Due, WARN_DAYS, expiring, sentence};
    let text = std::str::from_utf8(bytes).unwrap_or_default();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (index, _) = LocationIndex::build(text);
    expiring(policy, now, WARN_DAYS)
        .into_iter()
        .map(|(exception, due)| {
            let path = join(&exception.path, "expires");
            let advice = match due {
                Due::Expired => {
                    "; it applies to nothing now: remove it, or renew it with a new \
                                 `expires`"
                }
                Due::ExpiresSoon => "; renew it with a later `expires` if it is still needed",
            };
            PolicyError::new(
                file,
                index.locate(&path),
                &path,
                &format!("{}{advice}", sentence(&exception, due, now)),
            )
        })
        .collect()
}

#[cfg(feature = "yaml")]
/// Like [`load_policy`], keeping the warnings.
pub fn load_policy_with_warnings(file: &str, bytes: &[u8]) -> Result<Loaded, PolicyErrors> {
    let whole_file = |reason: String| {
        PolicyErrors(vec![PolicyError::new(
            file,
            Location { line: 1, col: 1 },
            "",
            &reason,
        )])
    };
    if bytes.len() > MAX_POLICY_BYTES {
        return Err(whole_file(format!(
            "the file is {} bytes; a policy may be at most {MAX_POLICY_BYTES}",
            bytes.len()
        )));
    }
    let text = std::str::from_utf8(bytes).map_err(|error| {
        whole_file(format!(
            "not UTF-8 text (invalid byte at offset {})",
            error.valid_up_to()
        ))
    })?;
    // A byte-order mark is not part of the document.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(whole_file(
            "the file is empty; a policy needs at least `version` and `stack`".to_string(),
        ));
    }

    let (index, problems) = LocationIndex::build(text);
    if !problems.is_empty() {
        return Err(PolicyErrors(
            problems
                .into_iter()
                .map(|problem| {
                    PolicyError::new(file, problem.location, &problem.path, &problem.reason)
                })
                .collect(),
        ));
    }

    // Syntax first: what is not YAML at all stops here, with serde_yaml's own position.
    let mut document: serde_yaml::Value = serde_yaml::from_str(text).map_err(|error| {
        let location = error
            .location()
            .map(|at| Location {
                line: at.line(),
                col: at.column(),
            })
            .unwrap_or(Location { line: 1, col: 1 });
        let (path, reason) = split_serde_message(&error.to_string());
        PolicyErrors(vec![PolicyError::new(file, location, &path, &reason)])
    })?;
    // Nothing but comments, a document marker or `~`/`null`: no policy at all, as an empty file.
    if document.is_null() {
        return Err(whole_file(
            "the file holds no policy (nothing but comments, `---` or null); a policy needs at \
             least `version` and `stack`"
                .to_string(),
        ));
    }
    // Then the shape, reporting every problem, not just the first: each one found is reported
    // and taken out of the document, and the rest is read again.
    let (mut shape_errors, mut taken_out) = crate::shape::empty_values(&mut document, &index, file);
    // The keys written with no value: what holds them is still checked ([`Checker::fail_empty`]).
    let emptied = taken_out.clone();
    shape_errors.extend(crate::shape::unquoted_versions(
        &mut document,
        text,
        &index,
        file,
    ));
    let mut removed_elements: Vec<(String, usize)> = Vec::new();
    // The missing keys of list elements a stand-in holds: only what is said of the stand-in
    // (its path, and any message naming it) is dropped, not what is said of its element.
    let mut stood_in: Vec<String> = Vec::new();
    let policy = loop {
        match serde_path_to_error::deserialize::<_, Policy>(document.clone()) {
            Ok(policy) => break Some(policy),
            Err(error) => {
                let problem = crate::shape::Problem::of(&error);
                // The document's list indices shift as elements are taken out; the file's do not.
                let (path, element) = problem.as_written(&removed_elements);
                let missing = problem
                    .missing
                    .as_deref()
                    .map(|missing| crate::shape::written_path(missing, &removed_elements));
                // A required key missing because its unreadable value was taken out: already
                // said. A stand-in of the right shape lets the rest of the file be checked, else
                // an element of a list goes whole (the checks on either are dropped below, with
                // the rest of what was taken out).
                if missing
                    .as_ref()
                    .is_some_and(|missing| taken_out.contains(missing))
                {
                    // A required key written with no value: it cannot be left out.
                    if let Some(error) = shape_errors.iter_mut().find(|error| {
                        Some(&error.path) == missing.as_ref()
                            && error.reason.ends_with(crate::shape::EMPTY_VALUE_ADVICE)
                    }) {
                        error.reason = error.reason.replace(
                            crate::shape::EMPTY_VALUE_ADVICE,
                            "it is required: write its value",
                        );
                    }
                    if problem.put_stand_in(&mut document) {
                        continue;
                    }
                    if problem.take_out(&mut document) {
                        removed_elements.extend(element);
                        taken_out.push(path);
                        continue;
                    }
                    break None;
                }
                shape_errors.push(PolicyError::new(
                    file,
                    index.locate(&path),
                    &path,
                    &problem.reason,
                ));
                let again = shape_errors.len() < MAX_SHAPE_ERRORS && !taken_out.contains(&path);
                if again && element.is_some() && problem.put_stand_in(&mut document) {
                    // A list element without a required key (a chat channel without its
                    // `team_id`): a stand-in keeps it, so that every key it lacks is said at
                    // once, and what else is wrong with it; the checks on the stand-in itself
                    // are dropped below.
                    stood_in.extend(missing.clone());
                    taken_out.extend(missing);
                } else if again && problem.take_out(&mut document) {
                    removed_elements.extend(element);
                    taken_out.push(path);
                } else if again && problem.put_stand_in(&mut document) {
                    // A required key missing outright (`stack` without its `name`): a stand-in
                    // lets the rest be checked; the checks on it are dropped below.
                    taken_out.extend(missing);
                } else {
                    break None;
                }
            }
        }
    };
    let Some(policy) = policy else {
        shape_errors.sort_by_key(|error| (error.location.line, error.location.col));
        return Err(PolicyErrors(shape_errors));
    };

    let mut checker = Checker {
        file,
        index: &index,
        removed: &removed_elements,
        emptiness: Vec::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    checker.policy(&policy);
    checker.credentials("", &document);
    // The checks read the document, whose list indices shift down as elements are taken out;
    // each is said at its place as written.
    if !removed_elements.is_empty() {
        for error in checker.errors.iter_mut().chain(checker.warnings.iter_mut()) {
            let written = crate::shape::written_path(&error.path, &removed_elements);
            if written != error.path {
                error.location = index.locate(&written);
                error.path = written;
            }
        }
    }
    // What was taken out cannot be judged further: a check on what contains it (an override
    // whose only boundary was unreadable "changes nothing") would only repeat the problem. A key
    // with no value hides only what says its holder holds nothing; the holder's other problems
    // (an exemption listed twice) are still said.
    let emptiness = std::mem::take(&mut checker.emptiness);
    let mut at = 0;
    checker.errors.retain(|error| {
        let says_empty = emptiness.contains(&at);
        at += 1;
        !taken_out.iter().any(|out| {
            crate::shape::within(&error.path, out)
                || (crate::shape::within(out, &error.path)
                    && !stood_in.contains(out)
                    && (says_empty || !emptied.contains(out)))
        })
    });
    // A message naming a stand-in is about a key that is missing, which is said already (an
    // override a usage profile's role refers to by the stand-in's name).
    for list in [&mut checker.errors, &mut checker.warnings] {
        list.retain(|error| !error.reason.contains(crate::shape::STAND_IN));
    }
    // At one place, the shape's problem (a missing key) before what the checks found.
    shape_errors.append(&mut checker.errors);
    checker.errors = shape_errors;
    // In the order they appear in the file (sort is stable for errors at one place).
    for list in [&mut checker.errors, &mut checker.warnings] {
        list.sort_by_key(|error| (error.location.line, error.location.col));
    }
    if checker.errors.is_empty() {
        Ok(Loaded {
            policy,
            warnings: checker.warnings,
        })
    } else {
        Err(PolicyErrors(checker.errors))
    }
}

#[cfg(feature = "yaml")]
/// serde_yaml messages read `path.to.field: reason at line L column C`; split off the path and
/// drop the position (it is printed in front).
fn split_serde_message(message: &str) -> (String, String) {
    let message = match message.rfind(" at line ") {
        Some(cut) => &message[..cut],
        None => message,
    };
    let (path, reason) = match message.split_once(": ") {
        Some((path, reason))
            if !path.contains(' ') && path.chars().all(|c| c != '`' && c != '"') =>
        {
            (path.to_string(), reason.to_string())
        }
        _ => (String::new(), message.to_string()),
    };
    (path, in_user_words(&reason))
}

#[cfg(feature = "yaml")]
/// The few messages the YAML reader gives in Rust's words, in the user's.
fn in_user_words(reason: &str) -> String {
    if reason.contains(" as u128, expected ")
        && let Some(number) = reason.split('`').nth(1)
    {
        return format!("the number {number} is too large for any field of a policy");
    }
    if reason == "recursion limit exceeded" {
        return "nested too deeply (more than 128 levels of lists and mappings)".to_string();
    }
    reason.to_string()
}

#[cfg(feature = "yaml")]
struct Checker<'a> {
    file: &'a str,
    index: &'a LocationIndex,
    /// The list elements taken out of the document (each list's path as written, and the
    /// element's index as written): [`Checker::written`].
    removed: &'a [(String, usize)],
    /// The indices in `errors` of those that say something holds nothing
    /// ([`Checker::fail_empty`]).
    emptiness: Vec<usize>,
    errors: Vec<PolicyError>,
    warnings: Vec<PolicyError>,
}

#[cfg(feature = "yaml")]
/// What a set of boundaries bounds: some keys belong to one of them only.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Guarded {
    Sessions,
    Jobs,
}

#[cfg(feature = "yaml")]
/// What the catalogue says of a name in an allowed list.
enum Known {
    Yes,
    /// Well formed, but not in this build's catalogue: accepted, with this warning.
    Unknown(String),
    /// Not a name of that kind at all: refused, with this reason.
    Malformed(String),
}

#[cfg(feature = "yaml")]
impl Checker<'_> {
    /// A path of the document (`overrides[2]`) as written in the file, for a message that names
    /// another element: the document's indices shift down as elements are taken out. (The
    /// paths errors are said at are mapped once, after the checks.)
    fn written(&self, path: &str) -> String {
        crate::shape::written_path(path, self.removed)
    }

    /// An error that says something holds nothing (no boundary, no principal, nowhere to
    /// send): when it holds nothing because a key with no value was taken out of it, the key's
    /// own error says it all, and this one is not said ([`Checker::emptiness`]).
    fn fail_empty(&mut self, path: &str, reason: impl Into<String>) {
        self.emptiness.push(self.errors.len());
        self.fail(path, reason);
    }

    fn fail(&mut self, path: &str, reason: impl Into<String>) {
        let location = self.index.locate(path);
        self.errors
            .push(PolicyError::new(self.file, location, path, &reason.into()));
    }

    fn warn(&mut self, path: &str, reason: impl Into<String>) {
        let location = self.index.locate(path);
        self.warnings
            .push(PolicyError::new(self.file, location, path, &reason.into()));
    }

    /// Refuses a credential in any string value of the document ([`crate::credentials`]).
    fn credentials(&mut self, path: &str, value: &serde_yaml::Value) {
        match value {
            serde_yaml::Value::String(text) => {
                if let Some(kind) = crate::credentials::credential_in(text) {
                    self.fail(
                        path,
                        format!(
                            "holds {kind}; the policy is published (the repository, the stack, the \
                             enforcer's environment): keep credentials out of it and revoke this one"
                        ),
                    );
                }
            }
            serde_yaml::Value::Sequence(items) => {
                for (at, item) in items.iter().enumerate() {
                    self.credentials(&format!("{path}[{at}]"), item);
                }
            }
            serde_yaml::Value::Mapping(entries) => {
                for (key, item) in entries {
                    let Some(key) = key.as_str() else { continue };
                    let field = crate::locate::join(path, key);
                    self.credentials(&field, item);
                }
            }
            serde_yaml::Value::Tagged(tagged) => self.credentials(path, &tagged.value),
            serde_yaml::Value::Null | serde_yaml::Value::Bool(_) | serde_yaml::Value::Number(_) => {
            }
        }
    }

    fn policy(&mut self, policy: &Policy) {
        if policy.version != FORMAT_VERSION {
            self.fail(
                "version",
                format!(
                    "unsupported format version {}; this build reads version {FORMAT_VERSION}",
                    policy.version
                ),
            );
        }
        self.stack(policy);
        let enforcement = &policy.enforcement;
        if !(1..=MAX_WAIT_FOR_READY_SECONDS).contains(&enforcement.wait_for_ready_seconds) {
            self.fail(
                "enforcement.wait_for_ready_seconds",
                format!(
                    "must be between 1 and {MAX_WAIT_FOR_READY_SECONDS} (the Lambda runs at most \
                     900 s), got {}",
                    enforcement.wait_for_ready_seconds
                ),
            );
        }
        if policy.sweep.every_minutes > 1440 {
            self.fail(
                "sweep.every_minutes",
                format!(
                    "must be 0 (off) or between 1 and 1440, got {}",
                    policy.sweep.every_minutes
                ),
            );
        }
        if enforcement.mode == crate::model::Mode::Audit
            && enforcement.action == crate::model::EnforcementAction::Delete
        {
            self.warn(
                "enforcement.action",
                "`delete` does nothing in audit mode, which never stops or deletes a session; it \
                 takes effect when mode becomes `enforce`",
            );
        }
        self.smallest_session_fits("boundaries", &policy.boundaries, policy);
        for (i, rule) in policy.overrides.iter().enumerate() {
            let limits = policy.boundaries.overlaid_with(&rule.boundaries);
            let at = format!("overrides[{i}].boundaries");
            if rule.boundaries.max_dpu.is_some() || rule.boundaries.allowed_worker_types.is_some() {
                self.smallest_session_fits(&at, &limits, policy);
            }
        }
        self.idle_within_timeout("boundaries", &policy.boundaries, &policy.boundaries);
        for (i, rule) in policy.overrides.iter().enumerate() {
            let limits = policy.boundaries.overlaid_with(&rule.boundaries);
            self.idle_within_timeout(
                &format!("overrides[{i}].boundaries"),
                &limits,
                &rule.boundaries,
            );
        }
        if policy.boundaries.is_empty() {
            self.fail_empty(
                "boundaries",
                "set at least one boundary; a policy without any limit enforces nothing",
            );
        }
        self.boundaries("boundaries", &policy.boundaries, policy, Guarded::Sessions);
        self.worker_type_dpu(policy);

        let mut names = HashSet::new();
        for (i, rule) in policy.overrides.iter().enumerate() {
            let at = format!("overrides[{i}]");
            if !valid_name(&rule.name) {
                self.fail(
                    &join(&at, "name"),
                    format!(
                        "`{}` is not a valid override name: use 1 to 64 letters, digits, `-` or `_`",
                        rule.name
                    ),
                );
            } else if !names.insert(rule.name.as_str()) {
                self.fail(
                    &join(&at, "name"),
                    format!(
                        "override name `{}` is used twice; names must be unique",
                        rule.name
                    ),
                );
            } else if policy.stack.name.len() + "-override-".len() + rule.name.len()
                > MAX_USAGE_PROFILE_NAME
            {
                self.fail(
                    &join(&at, "name"),
                    format!(
                        "`{}` makes its Glue usage profile's name `{}-override-{}` longer than \
                         the {MAX_USAGE_PROFILE_NAME} characters CloudFormation allows; shorten \
                         the override's name or stack.name",
                        rule.name, policy.stack.name, rule.name
                    ),
                );
            }
            if rule.principals.is_empty() && rule.session_ids.is_empty() {
                self.fail_empty(
                    &join(&at, "principals"),
                    "list at least one principal ARN pattern (or session id pattern under \
                     session_ids)",
                );
            }
            self.principals(&join(&at, "principals"), &rule.principals);
            self.session_ids(&join(&at, "session_ids"), &rule.session_ids);
            self.term(
                &at,
                rule.expires.as_deref(),
                rule.reason.as_deref(),
                rule.ticket.as_deref(),
            );
            if rule.principals.is_empty() && !rule.session_ids.is_empty() {
                self.warn(
                    &join(&at, "session_ids"),
                    "a session id is chosen by whoever creates the session: with no \
                     principals, anyone who may call CreateSession gets these limits by naming \
                     a session so; add principals to keep the override to the people it is for",
                );
            }
            if rule.boundaries.is_empty() {
                self.fail_empty(
                    &join(&at, "boundaries"),
                    "an override must replace at least one boundary",
                );
            }
            self.boundaries(
                &join(&at, "boundaries"),
                &rule.boundaries,
                policy,
                Guarded::Sessions,
            );
        }
        if let Some(jobs) = &policy.jobs {
            self.jobs(jobs, policy);
        }
        self.budgets(policy);
        for (i, exemption) in policy.exempt_principals.iter().enumerate() {
            let item = format!("exempt_principals[{i}]");
            let at = if exemption == &Exemption::permanent(&exemption.principal) {
                item.clone()
            } else {
                join(&item, "principal")
            };
            if let Err(reason) = ArnPattern::parse(&exemption.principal) {
                self.fail(&at, format!("`{}`: {reason}", exemption.principal));
            }
            // Listed twice, one entry could outlast the other's expiry unseen: one entry each.
            if let Some(j) = policy.exempt_principals[..i]
                .iter()
                .position(|earlier| earlier.principal == exemption.principal)
            {
                let earlier = self.written(&format!("exempt_principals[{j}]"));
                self.fail(
                    &at,
                    format!(
                        "`{}` is listed twice (also {earlier}): list each principal once, with \
                         its one `expires` if any",
                        exemption.principal
                    ),
                );
            } else if exemption.expires.is_some()
                && !exemption.principal.contains(['*', '?'])
                && let Some(j) = policy.exempt_principals.iter().position(|other| {
                    other.expires.is_none()
                        && other.principal != exemption.principal
                        && ArnPattern::any_matches(&other.principal, [exemption.principal.as_str()])
                })
            {
                let other = self.written(&format!("exempt_principals[{j}]"));
                self.warn(
                    &at,
                    format!(
                        "{other} (`{}`) exempts `{}` with no end: this entry's `expires` ends \
                         nothing",
                        policy.exempt_principals[j].principal, exemption.principal
                    ),
                );
            }
            self.term(
                &item,
                exemption.expires.as_deref(),
                exemption.reason.as_deref(),
                exemption.ticket.as_deref(),
            );
        }
        self.session_ids("exempt_session_ids", &policy.exempt_session_ids);
        if !policy.exempt_session_ids.is_empty() {
            self.warn(
                "exempt_session_ids",
                "a session id is chosen by whoever creates the session: anyone who may call \
                 CreateSession is never stopped by naming a session so; deny \
                 glue:CreateSession on these session ids to everyone else (docs/policy.md: \
                 \"Sessions picked by id\")",
            );
        }
        if let Some(notifications) = &policy.notifications {
            self.notifications(notifications, policy.stack.region.as_ref());
            if let Some(text) = &notifications.exception_instructions
                && (text.trim().is_empty() || text.len() > 500 || text.contains('\n'))
            {
                self.fail(
                    "notifications.exception_instructions",
                    "must be one non-empty line of at most 500 characters",
                );
            }
        }
        if let Some(alarms) = &policy.alarms {
            self.emails("alarms.emails", &alarms.emails);
        }
        if let Some(network) = &policy.network {
            self.network(network);
        }
        if let Some(section) = &policy.usage_profiles {
            self.usage_profiles(section, policy);
        }
        if let Some(organization) = &policy.organization {
            self.organization(organization);
        }
        if let Some(history) = &policy.history {
            self.history(history);
        }
        if self.errors.is_empty() {
            let env = crate::runtime::runtime_policy_env(policy);
            let size = crate::runtime::environment_bytes(policy, &env);
            if size > LAMBDA_ENVIRONMENT_BYTES {
                self.fail(
                    "",
                    format!(
                        "the enforcer's environment would take {size} bytes as Lambda measures \
                         it (all variables as JSON, the policy compressed, the CloudFormation-named \
                         topic's ARN at its longest), more than Lambda's {LAMBDA_ENVIRONMENT_BYTES}; \
                         use fewer or broader overrides and principal patterns"
                    ),
                );
            }
        }
    }

    fn stack(&mut self, policy: &Policy) {
        let stack = &policy.stack;
        if !valid_stack_name(&stack.name) {
            self.fail(
                "stack.name",
                format!(
                    "`{}` is not a valid stack name: start with a letter, then letters, digits \
                     or `-`, at most {MAX_STACK_NAME} characters (the function is named \
                     `<stack>-enforcer`, and Lambda names stop at 64)",
                    stack.name
                ),
            );
        }
        if let Some(region) = &stack.region
            && let Some(reason) = region_problem(region)
        {
            self.fail("stack.region", format!("`{region}` {reason}"));
        }
        if let Some(reserved) = stack.reserved_concurrency {
            if !(1..=MAX_SANE_RESERVED_CONCURRENCY).contains(&reserved) {
                self.fail(
                    "stack.reserved_concurrency",
                    format!(
                        "must be between 1 and {MAX_SANE_RESERVED_CONCURRENCY}, got {reserved}; \
                         leave it out to reserve nothing"
                    ),
                );
            } else if policy.organization.is_some() {
                self.fail(
                    "stack.reserved_concurrency",
                    "cannot be checked in the accounts an organization's stack set reaches \
                     (auto-deployment adds accounts whose Lambda quota may be 10 or 50, and \
                     Lambda refuses a reservation that leaves fewer than 100 unreserved): leave \
                     it out with `organization`",
                );
            }
        }
        if stack.tags.len() > crate::limits::CLOUDFORMATION_STACK_TAGS {
            self.fail(
                "stack.tags",
                format!(
                    "at most {} tags, got {}",
                    crate::limits::CLOUDFORMATION_STACK_TAGS,
                    stack.tags.len()
                ),
            );
        }
        for (key, value) in &stack.tags {
            let at = join("stack.tags", key);
            if key.is_empty() || key.chars().count() > TAG_KEY_CHARS {
                self.fail(
                    &at,
                    format!("a tag key must be 1 to {TAG_KEY_CHARS} characters"),
                );
            } else if key.to_ascii_lowercase().starts_with("aws:") {
                self.fail(&at, "tag keys starting with `aws:` are reserved by AWS");
            } else if !key.chars().all(tag_char) {
                self.fail(
                    &at,
                    "a tag key may hold letters, digits, spaces and `_ . : / = + - @` only",
                );
            }
            if value.is_empty() {
                self.fail(
                    &at,
                    "a tag value must not be empty: CloudFormation's stack tags take 1 to 256 \
                     characters (remove the tag instead)",
                );
            } else if value.chars().count() > TAG_VALUE_CHARS || !value.chars().all(tag_char) {
                self.fail(
                    &at,
                    format!(
                        "a tag value must be 1 to {TAG_VALUE_CHARS} letters, digits, spaces and \
                         `_ . : / = + - @`"
                    ),
                );
            }
        }
    }

    /// `budgets`: a unique name (it names a metric and an alarm), members chosen by principal
    /// patterns and/or tags (a session's tags as Glue takes them), a positive cap, what it
    /// covers (jobs only when the policy guards jobs), a warning share of 1-100 %.
    fn budgets(&mut self, policy: &Policy) {
        let mut names = HashSet::new();
        for (i, budget) in policy.budgets.iter().enumerate() {
            let at = format!("budgets[{i}]");
            if !valid_name(&budget.name) {
                self.fail(
                    &join(&at, "name"),
                    format!(
                        "`{}` is not a valid budget name: use 1 to 64 letters, digits, `-` or `_` \
                         (it names the budget's CloudWatch metric and alarm)",
                        printable(&budget.name)
                    ),
                );
            } else if !names.insert(budget.name.as_str()) {
                self.fail(
                    &join(&at, "name"),
                    format!(
                        "budget name `{}` is used twice; names must be unique",
                        budget.name
                    ),
                );
            }
            let members = &budget.members;
            if members.principals.is_empty() && members.tags.is_empty() {
                self.fail_empty(
                    &join(&at, "members"),
                    "list at least one principal ARN pattern under principals, or tags under \
                     tags: who counts against the budget",
                );
            }
            self.principals(&join(&at, "members.principals"), &members.principals);
            self.tag_pairs(&join(&at, "members.tags"), &members.tags);
            // An exempt principal never counts against a budget (policy.md, "Team budgets"):
            // a member pattern written as an exemption names nobody the budget counts.
            for (j, pattern) in members.principals.iter().enumerate() {
                if let Some(e) = policy.exempt_principals.iter().position(|exemption| {
                    exemption.principal == *pattern && exemption.expires.is_none()
                }) {
                    let exemption = self.written(&format!("exempt_principals[{e}]"));
                    self.warn(
                        &format!("{}[{j}]", join(&at, "members.principals")),
                        format!(
                            "`{pattern}` is exempt ({exemption}): its sessions and job runs \
                             never count against the budget"
                        ),
                    );
                }
            }
            let cap = budget.max_concurrent_dpu;
            if !cap.is_finite() || cap <= 0.0 {
                self.fail(
                    &join(&at, "max_concurrent_dpu"),
                    format!("must be a number of DPUs above 0, got {cap}"),
                );
            }
            if let Some(covers) = &budget.covers {
                if covers.is_empty() {
                    self.fail(
                        &join(&at, "covers"),
                        "list sessions and/or jobs, or leave it out (sessions, and job runs when \
                         the policy guards jobs)",
                    );
                }
                let mut seen = HashSet::new();
                for (j, covered) in covers.iter().enumerate() {
                    let item = format!("{}[{j}]", join(&at, "covers"));
                    if !seen.insert(*covered) {
                        self.fail(&item, "listed twice");
                    } else if *covered == crate::model::Covered::Jobs && policy.jobs.is_none() {
                        self.fail(
                            &item,
                            "the policy does not guard jobs: add a `jobs` section, or cover \
                             sessions only",
                        );
                    }
                }
            }
            if let Some(percent) = budget.warn_at_percent
                && !(1..=100).contains(&percent)
            {
                self.fail(
                    &join(&at, "warn_at_percent"),
                    format!("must be between 1 and 100, got {percent}"),
                );
            }
        }
    }

    /// The `jobs` section: its boundaries (at least one, none of the session-only keys), and its
    /// overrides as the sessions' (a unique name, a pattern, a boundary replaced).
    fn jobs(&mut self, jobs: &Jobs, policy: &Policy) {
        if jobs.boundaries.is_empty() {
            self.fail_empty(
                "jobs.boundaries",
                "set at least one boundary for jobs; leave out the `jobs` section to not guard \
                 jobs",
            );
        }
        self.boundaries("jobs.boundaries", &jobs.boundaries, policy, Guarded::Jobs);
        let mut names = HashSet::new();
        for (i, rule) in jobs.overrides.iter().enumerate() {
            let at = format!("jobs.overrides[{i}]");
            if !valid_name(&rule.name) {
                self.fail(
                    &join(&at, "name"),
                    format!(
                        "`{}` is not a valid override name: use 1 to 64 letters, digits, `-` or `_`",
                        rule.name
                    ),
                );
            } else if !names.insert(rule.name.as_str()) {
                self.fail(
                    &join(&at, "name"),
                    format!(
                        "override name `{}` is used twice in jobs.overrides; names must be unique",
                        rule.name
                    ),
                );
            }
            if rule.principals.is_empty() && rule.job_names.is_empty() {
                self.fail_empty(
                    &join(&at, "principals"),
                    "list at least one principal ARN pattern (or job name pattern under \
                     job_names)",
                );
            }
            self.principals(&join(&at, "principals"), &rule.principals);
            self.job_names(&join(&at, "job_names"), &rule.job_names);
            self.term(
                &at,
                rule.expires.as_deref(),
                rule.reason.as_deref(),
                rule.ticket.as_deref(),
            );
            if rule.boundaries.is_empty() {
                self.fail_empty(
                    &join(&at, "boundaries"),
                    "an override must replace at least one boundary",
                );
            }
            self.boundaries(
                &join(&at, "boundaries"),
                &rule.boundaries,
                policy,
                Guarded::Jobs,
            );
        }
    }

    /// Job name patterns (globs: `*` any run, `?` one character): each what Glue's job name
    /// (`NameString`, 1 to 255 characters on one line) could match, and not every job.
    fn job_names(&mut self, at: &str, patterns: &[String]) {
        for (i, pattern) in patterns.iter().enumerate() {
            let item = format!("{at}[{i}]");
            if pattern.is_empty()
                || pattern.chars().count() > 255
                || pattern.chars().any(|c| c.is_control())
            {
                self.fail(
                    &item,
                    format!(
                        "`{}`: a job name pattern is 1 to 255 characters on one line (like \
                         `nightly-*`)",
                        printable(pattern)
                    ),
                );
            } else if pattern.chars().all(|c| c == '*') {
                self.fail(
                    &item,
                    "a bare `*` matches every job; change jobs.boundaries themselves instead",
                );
            }
        }
    }

    fn boundaries(&mut self, at: &str, limits: &Boundaries, policy: &Policy, guarded: Guarded) {
        match guarded {
            Guarded::Sessions => {
                if limits.allowed_execution_classes.is_some() {
                    self.fail(
                        &join(at, "allowed_execution_classes"),
                        "a job boundary: sessions have no ExecutionClass; set it under \
                         jobs.boundaries",
                    );
                }
            }
            Guarded::Jobs => {
                for (key, set, why) in [
                    (
                        "max_idle_timeout_minutes",
                        limits.max_idle_timeout_minutes.is_some(),
                        "job runs have no idle timeout (Glue's Job and JobRun have no \
                         IdleTimeout); bound them with max_timeout_minutes",
                    ),
                    (
                        "allowed_session_types",
                        limits.allowed_session_types.is_some(),
                        "jobs have no SessionType",
                    ),
                ] {
                    if set {
                        self.fail(&join(at, key), format!("a session-only boundary: {why}"));
                    }
                }
                if let Some(classes) = &limits.allowed_execution_classes {
                    self.names_from(&join(at, "allowed_execution_classes"), classes, |name| {
                        let known = catalogue::EXECUTION_CLASSES.join(", ");
                        if catalogue::EXECUTION_CLASSES.contains(&name) {
                            Known::Yes
                        } else if !name.is_empty()
                            && name.len() <= 64
                            && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                        {
                            Known::Unknown(format!(
                                "`{name}` is not an execution class this build knows ({known}): \
                                 accepted as written"
                            ))
                        } else {
                            Known::Malformed(format!(
                                "not a Glue execution class: Glue names them in capitals ({known})"
                            ))
                        }
                    });
                }
            }
        }
        if let Some(workers) = limits.max_workers
            && !(1..=MAX_SANE_WORKERS).contains(&workers)
        {
            self.fail(
                &join(at, "max_workers"),
                format!("must be between 1 and {MAX_SANE_WORKERS}, got {workers}"),
            );
        }
        if let Some(dpu) = limits.max_dpu
            && !(dpu.is_finite() && (0.25..=16_000.0).contains(&dpu))
        {
            self.fail(
                &join(at, "max_dpu"),
                format!("must be between 0.25 and 16000, got {dpu}"),
            );
        }
        for (key, minutes) in [
            ("max_idle_timeout_minutes", limits.max_idle_timeout_minutes),
            ("max_timeout_minutes", limits.max_timeout_minutes),
        ] {
            if let Some(minutes) = minutes
                && !(1..=MAX_SANE_MINUTES).contains(&minutes)
            {
                self.fail(
                    &join(at, key),
                    format!("must be between 1 and {MAX_SANE_MINUTES} minutes, got {minutes}"),
                );
            }
        }
        if let Some(types) = &limits.allowed_worker_types {
            self.names_from(&join(at, "allowed_worker_types"), types, |name| {
                worker_type_known(name, policy)
            });
        }
        if let Some(versions) = &limits.allowed_glue_versions {
            self.names_from(&join(at, "allowed_glue_versions"), versions, |name| {
                // What the guarded kind accepts: jobs every version Glue documents, sessions
                // those greater than 2.0.
                let (kind, accepted) = match guarded {
                    Guarded::Jobs => (
                        "jobs",
                        catalogue::GLUE_VERSIONS
                            .iter()
                            .map(|row| row.version)
                            .collect::<Vec<_>>(),
                    ),
                    _ => ("sessions", catalogue::session_glue_versions()),
                };
                let accepted = accepted.join(", ");
                match catalogue::glue_version(name) {
                    Some(_) if guarded == Guarded::Jobs => Known::Yes,
                    Some(row) if row.sessions => Known::Yes,
                    Some(_) => Known::Malformed(format!(
                        "interactive sessions need a Glue version greater than 2.0 (Glue's \
                         CreateSession); sessions accept {accepted}"
                    )),
                    None if catalogue::is_well_formed_glue_version(name) => {
                        Known::Unknown(format!(
                            "`{name}` is not a Glue version this build knows {kind} accept \
                             ({accepted}): accepted as written (`cargo xtask catalogue` lists \
                             what this build knows)"
                        ))
                    }
                    None => Known::Malformed(format!(
                        "not a Glue version: Glue takes words of letters, digits and `_` joined \
                         by `.` (like \"5.1\"); {kind} accept {accepted}"
                    )),
                }
            });
        }
        if let Some(kinds) = &limits.allowed_session_types {
            self.names_from(&join(at, "allowed_session_types"), kinds, |name| {
                let known: Vec<&str> = SessionType::ALL.iter().map(|k| k.as_str()).collect();
                if SessionType::from_name(name).is_some() {
                    Known::Yes
                } else if catalogue::is_well_formed_session_type(name) {
                    Known::Unknown(format!(
                        "`{name}` is not a session type this build knows ({}): accepted as \
                         written",
                        known.join(", ")
                    ))
                } else {
                    Known::Malformed(format!(
                        "not a Glue session type: Glue names them in capitals ({})",
                        known.join(", ")
                    ))
                }
            });
        }
        if let Some(connections) = &limits.allowed_connections {
            self.names_from(&join(at, "allowed_connections"), connections, |name| {
                if !name.trim().is_empty() && name.len() <= 255 {
                    Known::Yes
                } else {
                    Known::Malformed("a connection name must be 1 to 255 characters".into())
                }
            });
        }
        if let Some(tags) = &limits.required_tags {
            self.names_from(&join(at, "required_tags"), tags, |name| {
                if !name.is_empty() && name.chars().count() <= 128 && name.chars().all(tag_char) {
                    Known::Yes
                } else {
                    Known::Malformed(
                        "a tag key must be 1 to 128 letters, digits, spaces and `_ . : / = + - @`"
                            .into(),
                    )
                }
            });
        }
    }

    /// The idle timeout within the timeout: Glue's usage profiles hold the one within the other
    /// (AWS Glue Developer Guide, "Creating and managing usage profiles": "Idle timeout range
    /// should be within the limit of timeout"), and a session's idle timeout never outlasts its
    /// timeout. `limits` are the effective boundaries; `own` those written at `at`, where the
    /// error goes (to the key it set); limits that set neither key are not told again what
    /// they inherit.
    fn idle_within_timeout(&mut self, at: &str, limits: &Boundaries, own: &Boundaries) {
        let (Some(idle), Some(timeout)) =
            (limits.max_idle_timeout_minutes, limits.max_timeout_minutes)
        else {
            return;
        };
        // Limits that set neither inherit the conflict: it is said where it is written.
        let inherited = own.max_idle_timeout_minutes.is_none() && own.max_timeout_minutes.is_none();
        if idle <= timeout || !(1..=MAX_SANE_MINUTES).contains(&idle) || inherited {
            return;
        }
        let key = if own.max_idle_timeout_minutes.is_some() || own.max_timeout_minutes.is_none() {
            "max_idle_timeout_minutes"
        } else {
            "max_timeout_minutes"
        };
        self.fail(
            &join(at, key),
            format!(
                "max_idle_timeout_minutes ({idle}) is above max_timeout_minutes ({timeout}): an \
                 idle timeout never outlasts the session, and the Glue usage profile rendered \
                 from these limits must keep its idle timeout within its timeout"
            ),
        );
    }

    /// A `max_dpu` below the smallest session Glue allows with the allowed worker types would stop
    /// every session: refused. Glue's smallest session has 2 workers ("AWS Glue interactive
    /// sessions pricing": at least 2 DPU; `NumberOfWorkers` is at least 2).
    fn smallest_session_fits(&mut self, at: &str, limits: &Boundaries, policy: &Policy) {
        // Out of range is its own error.
        let Some(max_dpu) = limits.max_dpu.filter(|dpu| *dpu >= 0.25) else {
            return;
        };
        let smallest = match &limits.allowed_worker_types {
            Some(types) => types
                .iter()
                .filter_map(|name| policy.dpu_per_worker(name).map(|dpu| (name.as_str(), dpu)))
                .min_by(|a, b| a.1.total_cmp(&b.1)),
            None => WORKER_TYPES
                .iter()
                .map(|row| (row.name, row.dpu))
                .min_by(|a, b| a.1.total_cmp(&b.1)),
        };
        if let Some((name, dpu)) = smallest
            && max_dpu < MIN_SESSION_WORKERS * dpu
        {
            self.fail(
                &join(at, "max_dpu"),
                format!(
                    "{max_dpu} is below the smallest session Glue allows with the allowed worker \
                     types ({MIN_SESSION_WORKERS} x {name} = {} DPU): every session would be \
                     stopped",
                    MIN_SESSION_WORKERS * dpu
                ),
            );
        }
    }

    /// `worker_type_dpu`: well-formed worker type names, each with a sane DPU figure, none that
    /// contradicts the catalogue. A name the catalogue lacks is warned about (as everywhere a
    /// name is read); one whose name already says the same figure can go.
    fn worker_type_dpu(&mut self, policy: &Policy) {
        for (name, dpu) in &policy.worker_type_dpu {
            let at = join("worker_type_dpu", name);
            if !catalogue::is_well_formed_worker_type(name) {
                self.fail(&at, format!("`{name}`: {}", malformed_worker_type()));
            } else if !(dpu.is_finite() && *dpu > 0.0 && *dpu <= 100.0) {
                self.fail(
                    &at,
                    format!("DPUs per worker must be more than 0 and at most 100, got {dpu}"),
                );
            } else if let Some(known) = catalogue::dpu_per_worker(name) {
                if known == *dpu {
                    self.warn(
                        &at,
                        format!("`{name}` is in the Glue catalogue with the same figure; this entry can go"),
                    );
                } else {
                    self.fail(
                        &at,
                        format!(
                            "`{name}` is {known} DPU per worker in the Glue catalogue, not {dpu}"
                        ),
                    );
                }
            } else {
                let from_name = match catalogue::dpu_from_name(name) {
                    Some(derived) if derived == *dpu => format!(
                        "; its name already says {derived} per worker, so this entry can go"
                    ),
                    Some(derived) => {
                        format!(" (its name says {derived} per worker; this entry overrules that)")
                    }
                    None => String::new(),
                };
                self.warn(
                    &at,
                    format!(
                        "`{name}` is not in this build's Glue catalogue{}: {dpu} DPU per worker \
                         as given here{from_name}",
                        case_near(name)
                    ),
                );
            }
        }
    }

    /// A list of names: not empty, no duplicates, each judged by `known`.
    fn names_from(&mut self, at: &str, names: &[String], known: impl Fn(&str) -> Known) {
        if names.is_empty() {
            let reason = if at.ends_with("required_tags") {
                "an empty list requires nothing; remove the key to require no tag"
            } else {
                "an empty list allows nothing; remove the key to allow any value"
            };
            self.fail(at, reason);
        }
        let mut seen = HashSet::new();
        for (i, name) in names.iter().enumerate() {
            let item = format!("{at}[{i}]");
            match known(name) {
                Known::Malformed(reason) => {
                    self.fail(&item, format!("`{name}`: {reason}"));
                    continue;
                }
                Known::Unknown(warning) => self.warn(&item, warning),
                Known::Yes => {}
            }
            if !seen.insert(name) {
                self.fail(&item, format!("`{name}` is listed twice"));
            }
        }
    }

    /// `network`: what Lambda's `VpcConfig` accepts: 1 to 16 subnets and 1 to 5 security groups,
    /// each an EC2 id (`subnet-` or `sg-`, then 8 or 17 hexadecimal digits), none twice.
    fn network(&mut self, network: &Network) {
        for kind in [Ec2Id::Subnet, Ec2Id::SecurityGroup] {
            let (key, ids) = match kind {
                Ec2Id::Subnet => ("subnet_ids", &network.subnet_ids),
                Ec2Id::SecurityGroup => ("security_group_ids", &network.security_group_ids),
            };
            let at = join("network", key);
            let (what, most) = kind.described();
            if ids.is_empty() {
                self.fail_empty(
                    &at,
                    format!("list at least one {what}; remove `network` to run outside a VPC"),
                );
            } else if ids.len() > most {
                self.fail(
                    &at,
                    format!(
                        "at most {most} {what}s (Lambda's limit for a function), got {}",
                        ids.len()
                    ),
                );
            }
            let mut seen = HashSet::new();
            for (i, id) in ids.iter().enumerate() {
                let item = format!("{at}[{i}]");
                if !kind.is_shaped(id) {
                    self.fail(
                        &item,
                        format!(
                            "`{id}` is not a {what} id: `{}` and 8 or 17 lowercase hexadecimal \
                             digits, like `{}0123456789abcdef0`",
                            kind.prefix(),
                            kind.prefix()
                        ),
                    );
                } else if !seen.insert(id) {
                    self.fail(&item, format!("`{id}` is listed twice"));
                }
            }
        }
    }

    /// `usage_profiles`: defaults within the default boundaries, and roles that are exact role
    /// ARNs whose profile agrees with how the Lambda judges them.
    fn usage_profiles(&mut self, section: &UsageProfiles, policy: &Policy) {
        use crate::guardrails::{self, DEFAULT_BOUNDARY_SET};
        let limits = &policy.boundaries;
        let defaults = &section.defaults;
        let at = "usage_profiles.defaults";
        if let Some(workers) = defaults.number_of_workers {
            if !(1..=MAX_SANE_WORKERS).contains(&workers) {
                self.fail(
                    &join(at, "number_of_workers"),
                    format!("must be between 1 and {MAX_SANE_WORKERS}, got {workers}"),
                );
            } else if let Some(max) = limits.max_workers.filter(|max| workers > *max) {
                self.fail(
                    &join(at, "number_of_workers"),
                    format!(
                        "{workers} is above boundaries.max_workers ({max}): a default must sit \
                         inside the limits"
                    ),
                );
            }
        }
        if let Some(worker_type) = &defaults.worker_type {
            let known = worker_type_known(worker_type, policy);
            if let Known::Malformed(reason) = &known {
                self.fail(
                    &join(at, "worker_type"),
                    format!("`{worker_type}`: {reason}"),
                );
            } else if let Some(allowed) = limits
                .allowed_worker_types
                .as_ref()
                .filter(|allowed| !allowed.contains(worker_type))
            {
                self.fail(
                    &join(at, "worker_type"),
                    format!(
                        "`{worker_type}` is not in boundaries.allowed_worker_types ({}): a \
                         default must sit inside the limits",
                        allowed.join(", ")
                    ),
                );
            } else if let Known::Unknown(warning) = known
                && limits.allowed_worker_types.is_none()
            {
                // In an allowed list it is warned about there already.
                self.warn(&join(at, "worker_type"), warning);
            }
        }
        for (key, minutes, max, limit) in [
            (
                "timeout_minutes",
                defaults.timeout_minutes,
                limits.max_timeout_minutes,
                "max_timeout_minutes",
            ),
            (
                "idle_timeout_minutes",
                defaults.idle_timeout_minutes,
                limits.max_idle_timeout_minutes,
                "max_idle_timeout_minutes",
            ),
        ] {
            let Some(minutes) = minutes else { continue };
            if !(1..=MAX_SANE_MINUTES).contains(&minutes) {
                self.fail(
                    &join(at, key),
                    format!("must be between 1 and {MAX_SANE_MINUTES} minutes, got {minutes}"),
                );
            } else if let Some(max) = max.filter(|max| minutes > *max) {
                self.fail(
                    &join(at, key),
                    format!(
                        "{minutes} is above boundaries.{limit} ({max}): a default must sit \
                         inside the limits"
                    ),
                );
            }
        }
        if let (Some(idle), Some(timeout)) =
            (defaults.idle_timeout_minutes, defaults.timeout_minutes)
            && idle > timeout
        {
            self.fail(
                &join(at, "idle_timeout_minutes"),
                format!(
                    "{idle} is above timeout_minutes ({timeout}): a usage profile keeps the idle \
                     timeout within the timeout"
                ),
            );
        }
        if let (Some(workers), Some(worker_type), Some(max_dpu)) = (
            defaults.number_of_workers,
            defaults.worker_type.as_deref(),
            limits.max_dpu,
        ) && let Some(dpu) = policy.dpu_per_worker(worker_type)
            && f64::from(workers) * dpu > max_dpu
        {
            self.fail(
                &join(at, "number_of_workers"),
                format!(
                    "{workers} x {worker_type} is {} DPU, above boundaries.max_dpu ({max_dpu}): \
                     a default session must sit inside the limits",
                    f64::from(workers) * dpu
                ),
            );
        }

        if !section.roles.is_empty() {
            for (o, rule) in policy.overrides.iter().enumerate() {
                let b = &rule.boundaries;
                let profile_held = b.max_workers.is_some()
                    || b.allowed_worker_types.is_some()
                    || b.max_timeout_minutes.is_some()
                    || b.max_idle_timeout_minutes.is_some();
                if !rule.session_ids.is_empty() && profile_held {
                    self.warn(
                        &format!("overrides[{o}].session_ids"),
                        format!(
                            "a usage profile judges who creates a session, not its id: the \
                             creator's profile still bounds the workers, worker types and \
                             timeouts of the sessions `{}` picks by id",
                            rule.name
                        ),
                    );
                }
            }
        }
        let mut seen = HashSet::new();
        for (i, assignment) in section.roles.iter().enumerate() {
            let item = format!("usage_profiles.roles[{i}]");
            let role = &assignment.role;
            if guardrails::parse_role_arn(role).is_none() {
                self.fail(
                    &join(&item, "role"),
                    format!(
                        "`{role}` is not an IAM role ARN (`arn:aws:iam::123456789012:role/Name`, \
                         no wildcards): deploy tags exactly this role"
                    ),
                );
                continue;
            }
            if !seen.insert(role.as_str()) {
                self.fail(&join(&item, "role"), format!("`{role}` is listed twice"));
                continue;
            }
            let exempt = policy.exempt_principals.iter().position(|exemption| {
                ArnPattern::any_matches(&exemption.principal, [role.as_str()])
            });
            if let Some(e) = exempt {
                let exemption = self.written(&format!("exempt_principals[{e}]"));
                self.fail(
                    &join(&item, "role"),
                    format!(
                        "`{role}` matches {exemption}: a usage profile would refuse sessions the \
                         Lambda lets it run; drop it from usage_profiles.roles"
                    ),
                );
                continue;
            }
            let splitting = policy.overrides.iter().enumerate().find_map(|(o, rule)| {
                rule.principals
                    .iter()
                    .find(|pattern| guardrails::splits_role_sessions(pattern, role))
                    .map(|pattern| (o, rule, pattern))
            });
            if let Some((o, rule, pattern)) = splitting {
                let rule_at = self.written(&format!("overrides[{o}]"));
                self.fail(
                    &join(&item, "role"),
                    format!(
                        "{rule_at} (`{}`) picks some sessions of this role by session name \
                         (`{pattern}`), but a usage profile is one per role; name the role in the \
                         override, or leave it out of usage_profiles.roles",
                        rule.name
                    ),
                );
                continue;
            }
            let judged_by = guardrails::boundary_set_of(policy, role, None);
            if let Some(profile) = &assignment.profile {
                let known = profile == DEFAULT_BOUNDARY_SET
                    || policy.overrides.iter().any(|rule| &rule.name == profile);
                if !known {
                    let mut names = vec![DEFAULT_BOUNDARY_SET.to_string()];
                    names.extend(policy.overrides.iter().map(|rule| rule.name.clone()));
                    self.fail(
                        &join(&item, "profile"),
                        format!(
                            "`{profile}` is neither `default` nor an override's name ({})",
                            names.join(", ")
                        ),
                    );
                } else if *profile != judged_by {
                    let why = if judged_by == DEFAULT_BOUNDARY_SET {
                        "no override matches it, so the Lambda judges it by the default \
                         boundaries"
                            .to_string()
                    } else {
                        format!("the override `{judged_by}` is the first to match it")
                    };
                    self.fail(
                        &join(&item, "profile"),
                        format!(
                            "`{profile}` disagrees with the Lambda: {why}; give `{judged_by}` \
                             (or leave `profile` out) so that the two layers never disagree"
                        ),
                    );
                }
            }
        }
    }

    /// `organization`: what a service-managed StackSet accepts. OU or root ids and Regions, at
    /// least one of each; account ids of 12 digits; none of them twice; percentages in AWS's
    /// ranges; a standard SNS topic's ARN.
    /// `history.athena`: each name as Athena and the Glue Data Catalog take it, the scope's ids
    /// and Regions, a bill and a window that bound something.
    fn history(&mut self, history: &History) {
        let Some(athena) = &history.athena else {
            self.fail(
                "history",
                "give `athena` (the CloudTrail table `backtest --athena` reads), or remove the \
                 section",
            );
            return;
        };
        let at = "history.athena";
        for (key, name) in [("database", &athena.database), ("table", &athena.table)] {
            if let Some(name) = name
                && !valid_catalog_name(name)
            {
                self.fail(
                    &join(at, key),
                    format!(
                        "`{name}` is not a {key} name Athena reads as written: 1 to 255 lowercase \
                         letters, digits or `_`"
                    ),
                );
            }
        }
        if let Some(workgroup) = &athena.workgroup
            && !valid_workgroup_name(workgroup)
        {
            self.fail(
                &join(at, "workgroup"),
                format!(
                    "`{workgroup}` is not an Athena workgroup name: 1 to 128 letters, digits, \
                     `.`, `_` or `-`"
                ),
            );
        }
        if let Some(location) = &athena.output_location
            && !valid_s3_location(location)
        {
            self.fail(
                &join(at, "output_location"),
                format!(
                    "`{location}` is not an S3 location: `s3://bucket/prefix/`, where Athena \
                     writes the query's result"
                ),
            );
        }
        self.distinct_ids(&join(at, "accounts"), &athena.accounts, |id| {
            (!valid_account_id(id))
                .then(|| format!("`{id}` is not an AWS account id: 12 digits, like `111122223333`"))
        });
        self.distinct_ids(&join(at, "regions"), &athena.regions, |region| {
            region_problem(region).map(|reason| format!("`{region}` {reason}"))
        });
        // An organization and its trail live in one partition.
        if let Some(first) = athena.regions.first() {
            let partition = catalogue::partition_of_region(first);
            for (index, region) in athena.regions.iter().enumerate().skip(1) {
                if catalogue::partition_of_region(region) != partition {
                    self.fail(
                        &format!("{}[{index}]", join(at, "regions")),
                        format!(
                            "`{region}` is in the partition `{}`, but `{first}` is in \
                             `{partition}`: an organization and its trail are in one partition",
                            catalogue::partition_of_region(region)
                        ),
                    );
                }
            }
        }
        if let Some(gb) = athena.max_scan_gb
            && !(gb.is_finite() && gb > 0.0)
        {
            self.fail(
                &join(at, "max_scan_gb"),
                format!(
                    "must be more than 0 (the most one query may scan, in GB), got {gb}: the \
                     backtest runs only in a workgroup whose per-query data limit is at most this"
                ),
            );
        }
        if athena.days == Some(0) {
            self.fail(
                &join(at, "days"),
                "must be at least 1 (how many days before --until, or now, the backtest reads)",
            );
        }
    }

    fn organization(&mut self, organization: &Organization) {
        let at = "organization";
        if !valid_organization_id(&organization.id) {
            self.fail(
                &join(at, "id"),
                if organization.id.is_empty() {
                    "give the organization's id (`o-` and 10 to 32 lowercase letters or digits, \
                     as `aws organizations describe-organization` prints it): member accounts \
                     are let in by it (aws:PrincipalOrgID)"
                        .to_string()
                } else {
                    format!(
                        "`{}` is not an organization id: `o-` and 10 to 32 lowercase letters or \
                         digits, like `o-a1b2c3d4e5`",
                        organization.id
                    )
                },
            );
        }
        let units = join(at, "organizational_units");
        if organization.organizational_units.is_empty() {
            self.fail_empty(
                &units,
                "list at least one OU id (like `ou-ab12-11111111`), or the root id (like \
                 `r-ab12`) to deploy to the whole organization",
            );
        }
        self.distinct_ids(&units, &organization.organizational_units, |id| {
            (!valid_organizational_unit_id(id)).then(|| {
                format!(
                    "`{id}` is not an OU id (`ou-`, 4 to 32 lowercase letters or digits, `-`, 8 \
                     to 32 more, like `ou-ab12-11111111`) or a root id (`r-` and 4 to 32, like \
                     `r-ab12`)"
                )
            })
        });
        if let Some(accounts) = &organization.accounts {
            let at = join(at, "accounts");
            if accounts.is_empty() {
                self.fail(
                    &at,
                    "an empty list deploys to no account; remove the key to deploy to every \
                     account in the organizational units",
                );
            }
            self.distinct_ids(&at, accounts, |id| {
                (!valid_account_id(id)).then(|| {
                    format!("`{id}` is not an AWS account id: 12 digits, like `111122223333`")
                })
            });
        }
        let regions = join(at, "regions");
        if organization.regions.is_empty() {
            self.fail_empty(&regions, "list at least one Region to deploy to");
        }
        self.distinct_ids(&regions, &organization.regions, |region| {
            region_problem(region).map(|reason| format!("`{region}` {reason}"))
        });
        // A stack set lives in one partition: its Regions must all be in it.
        if let Some(first) = organization.regions.first() {
            let partition = catalogue::partition_of_region(first);
            for (index, region) in organization.regions.iter().enumerate().skip(1) {
                if catalogue::partition_of_region(region) != partition {
                    self.fail(
                        &format!("{regions}[{index}]"),
                        format!(
                            "`{region}` is in the partition `{}`, but `{first}` is in `{partition}`: \
                             a stack set deploys within one partition",
                            catalogue::partition_of_region(region)
                        ),
                    );
                }
            }
        }
        if !(1..=100).contains(&organization.max_concurrent_percentage) {
            self.fail(
                &join(at, "max_concurrent_percentage"),
                format!(
                    "must be between 1 and 100 (percent of a Region's accounts deployed to at \
                     once), got {}",
                    organization.max_concurrent_percentage
                ),
            );
        }
        if organization.failure_tolerance_percentage > 100 {
            self.fail(
                &join(at, "failure_tolerance_percentage"),
                format!(
                    "must be between 0 and 100 (percent of a Region's accounts that may fail \
                     before the operation stops), got {}",
                    organization.failure_tolerance_percentage
                ),
            );
        }
        if organization.retain_stacks_on_account_removal && !organization.auto_deployment {
            self.fail(
                &join(at, "retain_stacks_on_account_removal"),
                "applies only with `auto_deployment: true` (StackSets keeps or removes the stack \
                 of an account that leaves the OUs only when it deploys to accounts that join \
                 them); remove it, or turn auto_deployment on",
            );
        }
        if organization.accounts.is_some() && organization.auto_deployment {
            self.fail(
                &join(at, "accounts"),
                "StackSets deploys to every account that joins the OUs whatever `accounts` \
                 says (automatic deployments ignore account filters): set `auto_deployment: \
                 false` to keep to these accounts, or remove `accounts`",
            );
        }
        if let Some(arn) = &organization.notifications_topic_arn
            && let Err(reason) = check_topic_arn(arn)
        {
            self.fail(
                &join(at, "notifications_topic_arn"),
                format!("`{arn}` is not the ARN of a standard SNS topic: {reason}"),
            );
        }
    }

    /// Each id of a list at `at` judged by `problem` (a reason when it is malformed), and none
    /// listed twice.
    fn distinct_ids(&mut self, at: &str, ids: &[String], problem: impl Fn(&str) -> Option<String>) {
        let mut seen = HashSet::new();
        for (i, id) in ids.iter().enumerate() {
            let item = format!("{at}[{i}]");
            if let Some(reason) = problem(id) {
                self.fail(&item, reason);
            } else if !seen.insert(id) {
                self.fail(&item, format!("`{id}` is listed twice"));
            }
        }
    }

    /// An exception's term: `expires` an RFC 3339 time with a time zone (what
    /// [`crate::time::parse_rfc3339`] reads), `reason` and `ticket` one line each.
    fn term(
        &mut self,
        at: &str,
        expires: Option<&str>,
        reason: Option<&str>,
        ticket: Option<&str>,
    ) {
        if let Some(expires) = expires
            && crate::time::parse_rfc3339(expires).is_none()
        {
            let reason = match crate::time::impossible_rfc3339(expires) {
                Some(why) => format!("{why}: write an instant that exists"),
                None => "write a date, a time and a zone".to_string(),
            };
            self.fail(
                &join(at, "expires"),
                format!(
                    "`{}` is not an RFC 3339 time: {reason}, like `2027-01-31T00:00:00Z` (quoted \
                     or not)",
                    printable(expires)
                ),
            );
        }
        for (key, text, max) in [("reason", reason, 500), ("ticket", ticket, 200)] {
            if let Some(text) = text
                && (text.trim().is_empty() || text.chars().count() > max || text.contains('\n'))
            {
                self.fail(
                    &join(at, key),
                    format!("must be one non-empty line of at most {max} characters"),
                );
            }
        }
    }

    /// Tags to match (`key: value`), each a key and a value Glue could carry.
    fn tag_pairs(&mut self, at: &str, tags: &BTreeMap<String, String>) {
        for (key, value) in tags {
            let tag_at = join(at, key);
            if key.is_empty() || key.chars().count() > TAG_KEY_CHARS || !key.chars().all(tag_char) {
                self.fail(
                    &tag_at,
                    format!(
                        "a Glue tag key is 1 to {TAG_KEY_CHARS} letters, digits, spaces and \
                         `_ . : / = + - @`"
                    ),
                );
            } else if key.to_ascii_lowercase().starts_with("aws:") {
                self.fail(&tag_at, "tag keys starting with `aws:` are reserved by AWS");
            }
            if value.chars().count() > TAG_VALUE_CHARS || !value.chars().all(tag_char) {
                self.fail(
                    &tag_at,
                    format!(
                        "a Glue tag value is 0 to {TAG_VALUE_CHARS} letters, digits, spaces \
                         and `_ . : / = + - @`"
                    ),
                );
            } else if value.is_empty() {
                // AWS allows an empty tag value, and a tag is matched by its exact value: this
                // matches only the sessions and runs whose tag is there and empty, never "any
                // value", which is seldom what was meant.
                self.warn(
                    &tag_at,
                    format!(
                        "the value is empty: only a session or job run whose tag `{key}` is there \
                         and empty matches (a tag is matched by its exact value, never any value)"
                    ),
                );
            }
        }
    }

    /// `notifications`: the default list's e-mails and chat channels, and its routes.
    fn notifications(&mut self, notifications: &Notifications, self_region: Option<&String>) {
        let at = "notifications";
        let has_default = !notifications.emails.is_empty()
            || !notifications.slack.is_empty()
            || !notifications.teams.is_empty();
        if !notifications.emails.is_empty() || !has_default && notifications.routes.is_empty() {
            self.emails("notifications.emails", &notifications.emails);
        }
        // A channel in two configurations is refused by AWS: once across the whole policy.
        let mut channels = HashMap::new();
        self.chat_channels(
            at,
            &notifications.slack,
            &notifications.teams,
            &mut channels,
        );
        let mut names = HashSet::new();
        for (i, route) in notifications.routes.iter().enumerate() {
            let item = format!("notifications.routes[{i}]");
            let name_ok = !route.name.is_empty()
                && route.name.len() <= MAX_ROUTE_NAME
                && route
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !name_ok {
                self.fail(
                    &join(&item, "name"),
                    format!(
                        "`{}` is not a valid route name: use 1 to {MAX_ROUTE_NAME} lowercase \
                         letters, digits or `-` (it is the notifications' `routes` attribute and \
                         names the route's chat topic)",
                        printable(&route.name)
                    ),
                );
            } else if route.name == crate::routes::DEFAULT_AUDIENCE {
                self.fail(
                    &join(&item, "name"),
                    "`default` names the default list; choose another name",
                );
            } else if !names.insert(route.name.as_str()) {
                self.fail(
                    &join(&item, "name"),
                    format!(
                        "route name `{}` is used twice; names must be unique",
                        route.name
                    ),
                );
            }
            if route.principals.is_empty() && route.tags.is_empty() {
                // Point at what was written empty: `tags: {}` is a mistake in the tags.
                let tags = join(&item, "tags");
                let (at, what) = if self.index.written(&tags)
                    && !self.index.written(&join(&item, "principals"))
                {
                    (tags, "`tags` is empty: ")
                } else {
                    (join(&item, "principals"), "")
                };
                self.fail_empty(
                    &at,
                    format!(
                        "{what}list principal ARN patterns under principals, or tags under \
                         tags: whose notifications the route gets"
                    ),
                );
            }
            self.principals(&join(&item, "principals"), &route.principals);
            self.tag_pairs(&join(&item, "tags"), &route.tags);
            if route.emails.is_empty() && route.slack.is_empty() && route.teams.is_empty() {
                self.fail_empty(
                    &item,
                    "a route needs somewhere to send: emails, slack or teams",
                );
            }
            if !route.emails.is_empty() {
                self.emails(&join(&item, "emails"), &route.emails);
            }
            self.chat_channels(&item, &route.slack, &route.teams, &mut channels);
        }
        if !channels.is_empty()
            && let Some(region) = &self_region
            && (region.starts_with("cn-") || region.starts_with("us-gov-"))
        {
            self.fail(
                "notifications",
                format!(
                    "Slack and Microsoft Teams channels need Amazon Q Developer in chat \
                     applications, which the partition of {region} does not have"
                ),
            );
        }
        if !has_default && !notifications.routes.is_empty() {
            self.warn(
                "notifications",
                "no default list (emails, slack or teams): a notification no route takes (a \
                 session or job run no route matches, a reminder of an expiring exception) \
                 reaches nobody",
            );
        }
        if notifications.default_receives == crate::model::DefaultReceives::Unrouted
            && notifications.routes.is_empty()
        {
            self.warn(
                "notifications.default_receives",
                "`unrouted` without routes: the default list gets everything anyway",
            );
        }
    }

    /// Slack and Microsoft Teams channels under `at`, each as Amazon Q Developer in chat
    /// applications takes it (`AWS::Chatbot::SlackChannelConfiguration`,
    /// `AWS::Chatbot::MicrosoftTeamsChannelConfiguration`), and none twice.
    fn chat_channels(
        &mut self,
        at: &str,
        slack: &[SlackChannel],
        teams: &[TeamsChannel],
        seen: &mut HashMap<(String, String), String>,
    ) {
        for (i, channel) in slack.iter().enumerate() {
            let item = format!("{at}.slack[{i}]");
            if !valid_slack_workspace_id(&channel.workspace_id) {
                self.fail(
                    &join(&item, "workspace_id"),
                    format!(
                        "`{}` is not a Slack workspace id (`T0123ABCD`: upper-case letters and \
                         digits, shown in the chat applications console once the workspace is \
                         authorized)",
                        printable(&channel.workspace_id)
                    ),
                );
            }
            if !valid_slack_channel_id(&channel.channel_id) {
                // A pasted link holds the id: `https://acme.slack.com/archives/C0123ABCDEF`, or
                // the browser's `https://app.slack.com/client/T0123ABCD/C0123ABCDEF`.
                let in_link = channel
                    .channel_id
                    .strip_prefix("https://")
                    .and_then(|link| link.split(['?', '#']).next())
                    .and_then(|path| {
                        path.split('/')
                            .filter(|segment| !segment.is_empty())
                            .skip(1)
                            .find(|segment| {
                                segment.starts_with(['C', 'G']) && valid_slack_channel_id(segment)
                            })
                    });
                let reason = match in_link {
                    Some(id) => format!(
                        "`{}` is the channel's link, not its id: write `{id}`, the id at its end",
                        printable(&channel.channel_id)
                    ),
                    None => format!(
                        "`{}` is not a Slack channel id (`C0123ABCDEF`: letters and digits, at \
                         the end of the channel's link, or at the bottom of its details in \
                         Slack)",
                        printable(&channel.channel_id)
                    ),
                };
                self.fail(&join(&item, "channel_id"), reason);
            }
            let key = (channel.workspace_id.clone(), channel.channel_id.clone());
            let stand_in = |id: &str| id == crate::shape::STAND_IN;
            if stand_in(&key.0) || stand_in(&key.1) {
                // A channel whose id is missing (a stand-in holds its place) is no channel yet.
            } else if let Some(earlier) = seen.get(&key) {
                let earlier = self.written(earlier);
                self.fail(
                    &item,
                    format!(
                        "this Slack channel is listed twice (also {earlier}; a channel takes one \
                         configuration): list it once, under the route or the default list"
                    ),
                );
            } else {
                seen.insert(key, item.clone());
            }
        }
        for (i, channel) in teams.iter().enumerate() {
            let item = format!("{at}.teams[{i}]");
            for (key, id) in [
                ("tenant_id", &channel.tenant_id),
                ("team_id", &channel.team_id),
            ] {
                if !valid_guid(id) {
                    self.fail(
                        &join(&item, key),
                        format!(
                            "`{}` is not a GUID (`00000000-0000-0000-0000-000000000000`)",
                            printable(id)
                        ),
                    );
                }
            }
            if !valid_teams_channel_id(&channel.channel_id) {
                self.fail(
                    &join(&item, "channel_id"),
                    match teams_channel_id_in(&channel.channel_id) {
                        Some(id) => format!(
                            "`{}` holds more than the channel id: write `{id}` (the part of the \
                             channel's link after `/channel/`, up to the next `/`)",
                            printable(&channel.channel_id)
                        ),
                        None => format!(
                            "`{}` is not a Microsoft Teams channel id: write \
                             `19:<thread>@thread.<kind>` (`19:3f2a...@thread.tacv2`), the part \
                             of the channel's link after `/channel/`, up to the next `/`",
                            printable(&channel.channel_id)
                        ),
                    },
                );
            }
            let key = (
                channel.team_id.clone(),
                decoded_teams_channel_id(&channel.channel_id),
            );
            let stand_in = |id: &str| id == crate::shape::STAND_IN;
            if stand_in(&channel.team_id) || stand_in(&channel.channel_id) {
                // A channel whose id is missing (a stand-in holds its place) is no channel yet.
            } else if let Some(earlier) = seen.get(&key) {
                let earlier = self.written(earlier);
                self.fail(
                    &item,
                    format!(
                        "this Microsoft Teams channel is listed twice (also {earlier}; a \
                         channel takes one configuration): list it once, under the route or the \
                         default list"
                    ),
                );
            } else {
                seen.insert(key, item.clone());
            }
        }
    }

    fn principals(&mut self, at: &str, patterns: &[String]) {
        for (i, pattern) in patterns.iter().enumerate() {
            if let Err(reason) = ArnPattern::parse(pattern) {
                self.fail(&format!("{at}[{i}]"), format!("`{pattern}`: {reason}"));
            }
        }
    }

    /// Session id patterns (globs: `*` any run, `?` one character): each what Glue's session id
    /// (`NameString`, 1 to 255 characters on one line) could match, and not every session.
    fn session_ids(&mut self, at: &str, patterns: &[String]) {
        let mut seen = HashSet::new();
        for (i, pattern) in patterns.iter().enumerate() {
            let item = format!("{at}[{i}]");
            if pattern.is_empty()
                || pattern.chars().count() > 255
                || pattern.chars().any(|c| c.is_control())
            {
                self.fail(
                    &item,
                    format!(
                        "`{}`: a session id pattern is 1 to 255 characters on one line (like \
                         `glue-studio-datapreview-*`)",
                        printable(pattern)
                    ),
                );
            } else if pattern.chars().all(|c| c == '*') {
                self.fail(
                    &item,
                    "a bare `*` matches every session; change the boundaries themselves instead",
                );
            } else if !seen.insert(pattern) {
                self.fail(&item, format!("`{pattern}` is listed twice"));
            }
        }
    }

    fn emails(&mut self, at: &str, emails: &[String]) {
        if emails.is_empty() {
            self.fail_empty(
                at,
                "list at least one address, or remove the section to send no email",
            );
        }
        let mut seen = HashSet::new();
        for (i, email) in emails.iter().enumerate() {
            let item = format!("{at}[{i}]");
            if !valid_email(email) {
                self.fail(&item, format!("`{email}` is not an email address"));
            } else if !seen.insert(email.to_ascii_lowercase()) {
                self.fail(&item, format!("`{email}` is listed twice"));
            }
        }
    }
}

#[cfg(feature = "yaml")]
fn malformed_worker_type() -> String {
    format!(
        "not a Glue worker type name: Glue takes 1 to {} letters, digits, `_`, `.` and `-` \
         (like `G.1X`)",
        catalogue::MAX_WORKER_TYPE_CHARS
    )
}

/// ` (did you mean `G.1X`?)` for a worker type the catalogue has in another case, else nothing.
#[cfg(feature = "yaml")]
fn case_near(name: &str) -> String {
    WORKER_TYPES
        .iter()
        .find(|row| row.name.eq_ignore_ascii_case(name))
        .map(|row| format!(" (did you mean `{}`?)", row.name))
        .unwrap_or_default()
}

/// What the catalogue, the policy's `worker_type_dpu` and Glue's naming say of a worker type.
#[cfg(feature = "yaml")]
fn worker_type_known(name: &str, policy: &Policy) -> Known {
    if catalogue::worker_type(name).is_some() || policy.worker_type_dpu.contains_key(name) {
        return Known::Yes;
    }
    if !catalogue::is_well_formed_worker_type(name) {
        return Known::Malformed(malformed_worker_type());
    }
    let near = case_near(name);
    Known::Unknown(match catalogue::dpu_from_name(name) {
        Some(dpu) => format!(
            "`{name}` is not in this build's Glue catalogue{near}: accepted; its DPUs are taken \
             from its name ({dpu} per worker), or give them in worker_type_dpu"
        ),
        None => format!(
            "`{name}` is not in this build's Glue catalogue{near}: accepted, but neither the \
             catalogue nor its name gives its DPUs, so max_dpu fails closed for it; give them \
             in worker_type_dpu (`worker_type_dpu: {{{name}: <DPUs per worker>}}`)"
        ),
    })
}

/// A subnet id as EC2 writes it: `subnet-` and 8 or 17 lowercase hexadecimal digits.
pub fn valid_subnet_id(id: &str) -> bool {
    Ec2Id::Subnet.is_shaped(id)
}

/// A security group id as EC2 writes it: `sg-` and 8 or 17 lowercase hexadecimal digits.
pub fn valid_security_group_id(id: &str) -> bool {
    Ec2Id::SecurityGroup.is_shaped(id)
}

/// The two kinds of EC2 id a `network` lists.
#[derive(Clone, Copy)]
enum Ec2Id {
    Subnet,
    SecurityGroup,
}

impl Ec2Id {
    fn prefix(self) -> &'static str {
        match self {
            Ec2Id::Subnet => "subnet-",
            Ec2Id::SecurityGroup => "sg-",
        }
    }

    /// What it is called in messages, and how many a function takes.
    #[cfg(feature = "yaml")]
    fn described(self) -> (&'static str, usize) {
        match self {
            Ec2Id::Subnet => ("subnet", MAX_SUBNETS),
            Ec2Id::SecurityGroup => ("security group", MAX_SECURITY_GROUPS),
        }
    }

    /// The prefix, then 8 (older ids) or 17 lowercase hexadecimal digits, as EC2 writes them.
    fn is_shaped(self, id: &str) -> bool {
        id.strip_prefix(self.prefix()).is_some_and(|digits| {
            matches!(digits.len(), 8 | 17)
                && digits
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        })
    }
}

#[cfg(feature = "yaml")]
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A Glue Data Catalog database or table name Athena reads without surprises: lowercase
/// letters, digits and underscores, 1 to 255 characters (Amazon Athena User Guide, "Name
/// databases, tables, and columns").
pub fn valid_catalog_name(text: &str) -> bool {
    (1..=255).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// An Athena workgroup name: 1 to 128 letters, digits, `.`, `_` or `-` (Athena API reference,
/// `CreateWorkGroup`'s `Name`, pattern `[a-zA-Z0-9._-]{1,128}`).
pub fn valid_workgroup_name(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// Where Athena may write a query's result: `s3://bucket/prefix/`, a bucket named after the
/// scheme.
pub fn valid_s3_location(text: &str) -> bool {
    text.strip_prefix("s3://")
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
}

/// AWS Organizations' organization id: `o-[a-z0-9]{10,32}`.
pub fn valid_organization_id(id: &str) -> bool {
    id.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

/// Longest name CloudFormation takes for an `AWS::Glue::UsageProfile` (`Name`, 1 to 128).
pub const MAX_USAGE_PROFILE_NAME: usize = 128;

/// What the stack's function name adds to the stack name: `<stack>-enforcer`.
pub const FUNCTION_NAME_SUFFIX: &str = "-enforcer";
/// Lambda's limit for a function name.
pub const MAX_FUNCTION_NAME: usize = 64;
/// Longest stack name, the one limit for validation and rendering: CloudFormation allows 128,
/// but the function is named `<stack>-enforcer` and Lambda function names stop at 64.
pub const MAX_STACK_NAME: usize = MAX_FUNCTION_NAME - FUNCTION_NAME_SUFFIX.len();

/// CloudFormation's `[a-zA-Z][-a-zA-Z0-9]*`, short enough to name the function after.
pub fn valid_stack_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_STACK_NAME
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(feature = "yaml")]
/// `eu-west-1`, `us-gov-west-1`, `ap-southeast-3`: letters-letters[-letters]-digit(s).
fn valid_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    (3..=4).contains(&parts.len())
        && parts[..parts.len() - 1]
            .iter()
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase()))
        && parts[0].len() == 2
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

#[cfg(feature = "yaml")]
/// Why `region` is not a Region this build knows (a sentence to follow the quoted name), or
/// `None` when it is a Region of the catalogue.
pub fn region_problem(region: &str) -> Option<String> {
    if !valid_region(region) {
        return Some("is not an AWS Region name (like `eu-west-1`)".to_string());
    }
    if catalogue::is_known_region(region) {
        return None;
    }
    // The Regions that share its area (`eu-`, `us-gov-`) are the likely meant ones.
    let area = region
        .rfind('-')
        .and_then(|cut| region[..cut].rfind('-'))
        .map_or(region, |cut| &region[..=cut]);
    let near: Vec<&str> = catalogue::AWS_REGIONS
        .iter()
        .copied()
        .filter(|known| known.starts_with(area))
        .collect();
    Some(if near.is_empty() {
        "is not an AWS Region this build knows (see the catalogue: commercial, AWS GovCloud (US) \
         and China Regions)"
            .to_string()
    } else {
        format!(
            "is not an AWS Region this build knows; the `{area}` Regions are {}",
            near.join(", ")
        )
    })
}

/// An AWS Organizations OU id (`ou-` + 4 to 32 lowercase letters or digits + `-` + 8 to 32 more)
/// or root id (`r-` + 4 to 32), as `DeploymentTargets.OrganizationalUnitIds` takes them.
pub fn valid_organizational_unit_id(id: &str) -> bool {
    let lower_alnum = |part: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&part.len())
            && part
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    };
    if let Some(rest) = id.strip_prefix("ou-") {
        rest.split_once('-')
            .is_some_and(|(root, unit)| lower_alnum(root, 4..=32) && lower_alnum(unit, 8..=32))
    } else if let Some(root) = id.strip_prefix("r-") {
        lower_alnum(root, 4..=32)
    } else {
        false
    }
}

/// An AWS account id: exactly 12 digits.
pub fn valid_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(feature = "yaml")]
/// A standard SNS topic's ARN, `arn:<partition>:sns:<region>:<account>:<name>`, whose partition
/// is its Region's; the name 1 to 256 letters, digits, `-` or `_`. A FIFO topic (`.fifo`) is
/// refused: publishing to it needs a message group id, which the Lambda does not send.
fn check_topic_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, name] = parts[..] else {
        return Err("expected `arn:aws:sns:<region>:<account>:<topic name>`".to_string());
    };
    if scheme != "arn" || service != "sns" {
        return Err("expected `arn:aws:sns:<region>:<account>:<topic name>`".to_string());
    }
    if let Some(reason) = region_problem(region) {
        return Err(format!("the Region `{region}` {reason}"));
    }
    let expected = catalogue::partition_of_region(region);
    if partition != expected {
        return Err(format!(
            "the partition of `{region}` is `{expected}`, not `{partition}`"
        ));
    }
    if !valid_account_id(account) {
        return Err(format!("the account `{account}` is not 12 digits"));
    }
    if name.ends_with(".fifo") {
        return Err(
            "a FIFO topic needs a message group id on every message, which the enforcer does not \
             send; use a standard topic"
                .to_string(),
        );
    }
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if name.is_empty() || name.len() > 256 || !name.chars().all(name_char) {
        return Err("a topic name is 1 to 256 letters, digits, `-` or `_`".to_string());
    }
    Ok(())
}

#[cfg(feature = "yaml")]
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || " _.:/=+-@".contains(c)
}

/// A pragmatic check: one `@`, a non-empty local part, a dotted domain, nothing that would need
/// quoting anywhere (no spaces, quotes, brackets or control characters).
/// A route name's longest: the chat topic `<stack>-chat-<route>` and the chat configuration
/// names stay within their limits.
pub const MAX_ROUTE_NAME: usize = 40;

/// A Slack workspace id as `AWS::Chatbot::SlackChannelConfiguration` takes it
/// (`SlackWorkspaceId`: `^[0-9A-Z]{1,255}$`).
pub fn valid_slack_workspace_id(id: &str) -> bool {
    (1..=255).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A Slack channel id as `SlackChannelId` takes it (`^[A-Za-z0-9]+$`; the API's limit, 255).
pub fn valid_slack_channel_id(id: &str) -> bool {
    (1..=255).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A GUID (`TeamId`, `TeamsTenantId`): 8-4-4-4-12 hexadecimal digits.
pub fn valid_guid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The channel id in a Teams channel's link, or in an id with the link's `/<channel name>` tail
/// (`https://teams.microsoft.com/l/channel/19%3a3f2a%40thread.tacv2/General?...`,
/// `19:3f2a@thread.tacv2/General`), decoded: what to write instead. `None` when there is none.
#[cfg(feature = "yaml")]
fn teams_channel_id_in(text: &str) -> Option<String> {
    let after = text
        .split_once("/channel/")
        .map_or(text, |(_, after)| after);
    let id = after.split(['/', '?']).next()?;
    (id != text && valid_teams_channel_id(id)).then(|| decoded_teams_channel_id(id))
}

/// A Teams channel id as the channel's link gives it (`19:...@thread.tacv2`), whether it was
/// written so or URL-encoded as the CloudFormation resource takes it (`19%3a...%40thread.tacv2`):
/// one channel, one form.
pub fn decoded_teams_channel_id(id: &str) -> String {
    id.replace("%3a", ":")
        .replace("%3A", ":")
        .replace("%40", "@")
}

/// A Microsoft Teams channel id (`TeamsChannelId`), as its link gives it or URL-encoded:
/// `19:<thread>@thread.<kind>` once decoded (`19:3f2a9c0d...@thread.tacv2`), at most 256
/// characters, the thread of the resource's alphabet and the kind letters and digits (so a link
/// pasted whole, or with its `/<channel name>` tail, is refused).
pub fn valid_teams_channel_id(id: &str) -> bool {
    let decoded = decoded_teams_channel_id(id);
    let Some((thread, kind)) = decoded
        .strip_prefix("19:")
        .and_then(|rest| rest.rsplit_once("@thread."))
    else {
        return false;
    };
    (1..=256).contains(&id.len())
        && !thread.is_empty()
        && thread
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=+/.,".contains(c))
        && !kind.is_empty()
        && kind.chars().all(|c| c.is_ascii_alphanumeric())
}

pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || "!#$%&*+-/=?^_{|}~.".contains(c);
    email.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && local.chars().all(plain)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}
