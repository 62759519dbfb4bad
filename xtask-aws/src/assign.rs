//! The preventive layer in the account: the roles `usage_profiles.roles` names, tagged
//! `glue:UsageProfile=<profile>` and given the stack's guardrail managed policy.
//!
//! What deploy adds is exactly what clean-up removes: a `glue:UsageProfile` tag deploy added
//! carries a second tag, `glue-session-guard:stack=<stack>`; a tag that was there before has
//! none and is never changed or removed. Every attachment of the guardrail policy is the stack's
//! own (the policy is the stack's), so clean-up detaches all of them before the stack (and the
//! policy with it) is deleted.
//!
//! IAM API reference: `GetRole`, `ListRoleTags`, `TagRole`, `UntagRole`,
//! `ListAttachedRolePolicies`, `AttachRolePolicy`, `DetachRolePolicy`, `ListEntitiesForPolicy`,
//! `DetachUserPolicy`, `DetachGroupPolicy`.

use std::fmt;

use aws_sdk_iam::types::Tag;
use policy::guardrails::{Assignment, PROFILE_TAG_KEY};

use crate::aws::{self, Aws};

/// The tag that says deploy of stack `<value>` added the role's `glue:UsageProfile` tag.
pub const MARKER_TAG_KEY: &str = "glue-session-guard:stack";

/// What IAM says of one named role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleState {
    /// False when the account has no role of that name (or it sits under another path).
    pub found: bool,
    /// Its `glue:UsageProfile` tag.
    pub profile_tag: Option<String>,
    /// Its `glue-session-guard:stack` tag.
    pub marker: Option<String>,
    /// Whether the stack's guardrail policy is attached to it.
    pub attached: bool,
}

/// One change to one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Add `glue:UsageProfile=<profile>` and the marker.
    Tag {
        role: String,
        profile: String,
    },
    /// Change a `glue:UsageProfile` tag this stack added (the role's profile changed).
    Retag {
        role: String,
        from: String,
        to: String,
    },
    /// Remove the `glue:UsageProfile` tag this stack added, and the marker.
    Untag {
        role: String,
        profile: String,
    },
    Attach {
        role: String,
    },
    Detach {
        role: String,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Tag { role, profile } => write!(f, "tag role {role} {PROFILE_TAG_KEY}={profile}"),
            Step::Retag { role, from, to } => {
                write!(f, "retag role {role} {PROFILE_TAG_KEY}: {from} -> {to}")
            }
            Step::Untag { role, profile } if profile.is_empty() => {
                write!(
                    f,
                    "untag role {role} (the marker {MARKER_TAG_KEY}, added by deploy)"
                )
            }
            Step::Untag { role, profile } => {
                write!(
                    f,
                    "untag role {role} ({PROFILE_TAG_KEY}={profile}, added by deploy)"
                )
            }
            Step::Attach { role } => write!(f, "attach the guardrail policy to role {role}"),
            Step::Detach { role } => write!(f, "detach the guardrail policy from role {role}"),
        }
    }
}

/// Why deploy will not touch a role: said before anything changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub role_arn: String,
    pub reason: String,
}

/// What deploy does to the roles (pure): `wanted` with their states (same order), and the roles
/// the guardrail policy is attached to now (`attached_now`, names) that the policy no longer
/// names, with their states. Any conflict stops deploy before it changes anything.
pub fn steps(
    stack: &str,
    wanted: &[(Assignment, RoleState)],
    no_longer_named: &[(String, RoleState)],
) -> Result<Vec<Step>, Vec<Conflict>> {
    let mut steps = Vec::new();
    let mut conflicts = Vec::new();
    let ours = |state: &RoleState| state.marker.as_deref() == Some(stack);
    for (assignment, state) in wanted {
        let role = assignment.role_name.clone();
        if !state.found {
            conflicts.push(Conflict {
                role_arn: assignment.role_arn.clone(),
                reason: "no such role in this account (check the name and path)".to_string(),
            });
            continue;
        }
        match (&assignment.usage_profile, &state.profile_tag) {
            (Some(profile), None) => steps.push(Step::Tag {
                role: role.clone(),
                profile: profile.clone(),
            }),
            (Some(profile), Some(tag)) if tag == profile => {}
            (Some(profile), Some(tag)) if ours(state) => steps.push(Step::Retag {
                role: role.clone(),
                from: tag.clone(),
                to: profile.clone(),
            }),
            (Some(profile), Some(tag)) => conflicts.push(Conflict {
                role_arn: assignment.role_arn.clone(),
                reason: format!(
                    "it is already tagged {PROFILE_TAG_KEY}={tag} (not by this stack), and the \
                     policy gives it {profile}: remove that tag, or leave the role out of \
                     usage_profiles.roles"
                ),
            }),
            (None, Some(tag)) if ours(state) => steps.push(Step::Untag {
                role: role.clone(),
                profile: tag.clone(),
            }),
            (None, _) => {}
        }
        if !state.attached {
            steps.push(Step::Attach { role });
        }
    }
    for (role, state) in no_longer_named {
        if state.attached {
            steps.push(Step::Detach { role: role.clone() });
        }
        // Ours even when someone removed the profile tag since: the marker goes too.
        if ours(state) {
            steps.push(Step::Untag {
                role: role.clone(),
                profile: state.profile_tag.clone().unwrap_or_default(),
            });
        }
    }
    if conflicts.is_empty() {
        Ok(steps)
    } else {
        Err(conflicts)
    }
}

/// The guardrail policy's ARN in `account`, for the stack deployed to `region`.
pub fn guardrail_policy_arn(partition: &str, account: &str, stack: &str, region: &str) -> String {
    format!(
        "arn:{partition}:iam::{account}:policy/{}",
        xtask::template::guardrail_policy_name(stack, region)
    )
}

/// The partition of a caller ARN (`arn:aws:sts::...` -> `aws`).
pub(crate) fn partition_of(arn: &str) -> String {
    arn.split(':').nth(1).unwrap_or("aws").to_string()
}

/// Reads one role's state. `role_arn` must match the role IAM has under that name (its path
/// included), else the role counts as not found.
pub(crate) async fn read_role(
    iam: &aws_sdk_iam::Client,
    aws: &Aws,
    role_name: &str,
    role_arn: Option<&str>,
    policy_arn: &str,
) -> anyhow::Result<RoleState> {
    let found = match iam.get_role().role_name(role_name).send().await {
        Ok(output) => output
            .role()
            .is_some_and(|role| role_arn.is_none_or(|arn| role.arn() == arn)),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|error| error.is_no_such_entity_exception()) =>
        {
            false
        }
        Err(error) => {
            return Err(aws::failure(
                &format!("reading role {role_name} (iam:GetRole)"),
                &error,
                aws.endpoint_url.as_deref(),
            ));
        }
    };
    if !found {
        return Ok(RoleState {
            found,
            profile_tag: None,
            marker: None,
            attached: false,
        });
    }
    let tags = iam
        .list_role_tags()
        .role_name(role_name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| {
            aws::failure(
                &format!("reading the tags of role {role_name} (iam:ListRoleTags)"),
                &error,
                aws.endpoint_url.as_deref(),
            )
        })?;
    let tag = |key: &str| {
        tags.iter()
            .find(|tag| tag.key() == key)
            .map(|tag| tag.value().to_string())
    };
    let attached = iam
        .list_attached_role_policies()
        .role_name(role_name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| {
            aws::failure(
                &format!("reading the policies of role {role_name} (iam:ListAttachedRolePolicies)"),
                &error,
                aws.endpoint_url.as_deref(),
            )
        })?
        .iter()
        .any(|attached| attached.policy_arn() == Some(policy_arn));
    Ok(RoleState {
        found,
        profile_tag: tag(PROFILE_TAG_KEY),
        marker: tag(MARKER_TAG_KEY),
        attached,
    })
}

/// The entities the guardrail policy is attached to: (roles, users, groups) by name. An absent
/// policy (no stack yet) has none.
pub(crate) async fn attachments(
    iam: &aws_sdk_iam::Client,
    aws: &Aws,
    policy_arn: &str,
) -> anyhow::Result<(Vec<String>, Vec<String>, Vec<String>)> {
    let mut roles = Vec::new();
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut pages = iam
        .list_entities_for_policy()
        .policy_arn(policy_arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_no_such_entity_exception()) =>
            {
                break;
            }
            Err(error) => {
                return Err(aws::failure(
                    "listing what the guardrail policy is attached to (iam:ListEntitiesForPolicy)",
                    &error,
                    aws.endpoint_url.as_deref(),
                ));
            }
        };
        roles.extend(
            page.policy_roles()
                .iter()
                .filter_map(|role| role.role_name().map(str::to_string)),
        );
        users.extend(
            page.policy_users()
                .iter()
                .filter_map(|user| user.user_name().map(str::to_string)),
        );
        groups.extend(
            page.policy_groups()
                .iter()
                .filter_map(|group| group.group_name().map(str::to_string)),
        );
    }
    Ok((roles, users, groups))
}

/// The plan for the roles of the account deploy targets: their states read (read-only), then
/// [`steps`]. Roles of other accounts are returned apart, to be said and skipped.
pub struct RolePlan {
    pub steps: Vec<Step>,
    pub other_accounts: Vec<String>,
}

pub(crate) async fn plan_roles(
    aws: &Aws,
    policy: &policy::Policy,
    account: &str,
    partition: &str,
) -> anyhow::Result<Result<RolePlan, Vec<Conflict>>> {
    let iam = aws.iam();
    let policy_arn = guardrail_policy_arn(partition, account, &policy.stack.name, &aws.region);
    let (here, other): (Vec<Assignment>, Vec<Assignment>) = policy::guardrails::assignments(
        policy,
        Some(policy::time::unix_seconds(std::time::SystemTime::now())),
    )
    .into_iter()
    .partition(|assignment| assignment.account == account);
    let mut wanted = Vec::new();
    for assignment in here {
        let state = read_role(
            &iam,
            aws,
            &assignment.role_name,
            Some(&assignment.role_arn),
            &policy_arn,
        )
        .await?;
        wanted.push((assignment, state));
    }
    let (attached, _, _) = attachments(&iam, aws, &policy_arn).await?;
    let mut no_longer_named = Vec::new();
    for role in attached {
        if wanted
            .iter()
            .any(|(assignment, _)| assignment.role_name == role)
        {
            continue;
        }
        let state = read_role(&iam, aws, &role, None, &policy_arn).await?;
        no_longer_named.push((role, state));
    }
    Ok(
        steps(&policy.stack.name, &wanted, &no_longer_named).map(|steps| RolePlan {
            steps,
            other_accounts: other.into_iter().map(|a| a.role_arn).collect(),
        }),
    )
}

/// Carries out `steps` in order, printing each.
pub async fn apply(aws: &Aws, stack: &str, policy_arn: &str, steps: &[Step]) -> anyhow::Result<()> {
    let iam = aws.iam();
    let endpoint = aws.endpoint_url.as_deref();
    let tag = |key: &str, value: &str| {
        Tag::builder()
            .key(key)
            .value(value)
            .build()
            .expect("key and value are set")
    };
    for step in steps {
        let done = match step {
            Step::Tag { role, profile: to } | Step::Retag { role, to, .. } => iam
                .tag_role()
                .role_name(role)
                .tags(tag(PROFILE_TAG_KEY, to))
                .tags(tag(MARKER_TAG_KEY, stack))
                .send()
                .await
                .map(|_| ())
                .map_err(|error| aws::failure(&format!("iam:TagRole {role}"), &error, endpoint)),
            Step::Untag { role, .. } => iam
                .untag_role()
                .role_name(role)
                .tag_keys(PROFILE_TAG_KEY)
                .tag_keys(MARKER_TAG_KEY)
                .send()
                .await
                .map(|_| ())
                .map_err(|error| aws::failure(&format!("iam:UntagRole {role}"), &error, endpoint)),
            Step::Attach { role } => iam
                .attach_role_policy()
                .role_name(role)
                .policy_arn(policy_arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|error| {
                    aws::failure(&format!("iam:AttachRolePolicy {role}"), &error, endpoint)
                }),
            Step::Detach { role } => iam
                .detach_role_policy()
                .role_name(role)
                .policy_arn(policy_arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|error| {
                    aws::failure(&format!("iam:DetachRolePolicy {role}"), &error, endpoint)
                }),
        };
        done.map_err(|error| {
            error.context(
                "the roles are partly assigned: run deploy again to finish (each step is \
                 idempotent), or clean-up to undo",
            )
        })?;
        eprintln!("  {step}");
    }
    Ok(())
}

/// Clean-up's part: detaches the guardrail policy from everything it is attached to, and removes
/// the `glue:UsageProfile` tags this stack added (from those roles and from the roles the policy
/// names). Returns what it did, one line each.
pub(crate) async fn undo(
    aws: &Aws,
    policy: &policy::Policy,
    account: &str,
    partition: &str,
) -> anyhow::Result<Vec<String>> {
    let iam = aws.iam();
    let endpoint = aws.endpoint_url.as_deref();
    let stack = &policy.stack.name;
    let policy_arn = guardrail_policy_arn(partition, account, stack, &aws.region);
    let (roles, users, groups) = attachments(&iam, aws, &policy_arn).await?;
    let mut steps = Vec::new();
    let mut candidates: Vec<String> = roles.clone();
    for assignment in policy::guardrails::assignments(policy, None) {
        if assignment.account == account && !candidates.contains(&assignment.role_name) {
            candidates.push(assignment.role_name);
        }
    }
    for role in candidates {
        let state = read_role(&iam, aws, &role, None, &policy_arn).await?;
        if state.attached {
            steps.push(Step::Detach { role: role.clone() });
        }
        if state.marker.as_deref() == Some(stack.as_str()) {
            steps.push(Step::Untag {
                role,
                profile: state.profile_tag.clone().unwrap_or_default(),
            });
        }
    }
    let mut done = Vec::new();
    for user in users {
        iam.detach_user_policy()
            .user_name(&user)
            .policy_arn(&policy_arn)
            .send()
            .await
            .map_err(|error| {
                aws::failure(&format!("iam:DetachUserPolicy {user}"), &error, endpoint)
            })?;
        done.push(format!("detached the guardrail policy from user {user}"));
    }
    for group in groups {
        iam.detach_group_policy()
            .group_name(&group)
            .policy_arn(&policy_arn)
            .send()
            .await
            .map_err(|error| {
                aws::failure(&format!("iam:DetachGroupPolicy {group}"), &error, endpoint)
            })?;
        done.push(format!("detached the guardrail policy from group {group}"));
    }
    apply(aws, stack, &policy_arn, &steps).await?;
    done.extend(steps.iter().map(ToString::to_string));
    Ok(done)
}

/// The stack's usage profiles Glue does not have: `(missing, unreadable)`, each `(name, why)`.
/// Only a profile Glue says does not exist needs attention; one that could not be read (no
/// permission, or an emulator without the API) is said, not judged.
pub(crate) async fn missing_profiles(
    glue: &aws_sdk_glue::Client,
    profiles: &[(String, Vec<String>)],
) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let mut missing = Vec::new();
    let mut unreadable = Vec::new();
    for (name, _) in profiles {
        match glue.get_usage_profile().name(name).send().await {
            Ok(_) => {}
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_entity_not_found_exception()) =>
            {
                missing.push((
                    name.clone(),
                    "Glue has no such usage profile: deploy the stack".to_string(),
                ));
            }
            Err(error) => unreadable.push((name.clone(), aws::described_sdk(&error))),
        }
    }
    (missing, unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(role: &str, profile: Option<&str>) -> Assignment {
        Assignment {
            role_arn: format!("arn:aws:iam::123456789012:role/{role}"),
            role_name: role.to_string(),
            account: "123456789012".into(),
            boundary_set: "default".into(),
            usage_profile: profile.map(str::to_string),
        }
    }

    fn state(profile_tag: Option<&str>, marker: Option<&str>, attached: bool) -> RoleState {
        RoleState {
            found: true,
            profile_tag: profile_tag.map(str::to_string),
            marker: marker.map(str::to_string),
            attached,
        }
    }

    #[test]
    fn deploy_adds_what_is_missing_and_leaves_a_tag_that_was_there() {
        let wanted = [
            (assignment("New", Some("p")), state(None, None, false)),
            (
                assignment("Done", Some("p")),
                state(Some("p"), Some("gsg"), true),
            ),
            // Tagged by hand with the right profile: left alone (no marker added either).
            (
                assignment("ByHand", Some("p")),
                state(Some("p"), None, false),
            ),
            (
                assignment("Moved", Some("q")),
                state(Some("p"), Some("gsg"), true),
            ),
        ];
        let gone = [
            ("Old".to_string(), state(Some("p"), Some("gsg"), true)),
            ("OldByHand".to_string(), state(Some("p"), None, true)),
        ];
        let steps = steps("gsg", &wanted, &gone).unwrap();
        let role = |name: &str| name.to_string();
        assert_eq!(
            steps,
            [
                Step::Tag {
                    role: role("New"),
                    profile: "p".into()
                },
                Step::Attach { role: role("New") },
                Step::Attach {
                    role: role("ByHand")
                },
                Step::Retag {
                    role: role("Moved"),
                    from: "p".into(),
                    to: "q".into()
                },
                Step::Detach { role: role("Old") },
                Step::Untag {
                    role: role("Old"),
                    profile: "p".into()
                },
                Step::Detach {
                    role: role("OldByHand")
                },
            ]
        );
    }

    #[test]
    fn a_role_tagged_with_another_profile_by_someone_else_stops_deploy() {
        let wanted = [
            (
                assignment("A", Some("p")),
                state(Some("theirs"), None, false),
            ),
            (
                assignment("B", Some("p")),
                state(Some("other"), Some("another-stack"), false),
            ),
            (
                assignment("Missing", Some("p")),
                RoleState {
                    found: false,
                    ..state(None, None, false)
                },
            ),
        ];
        let conflicts = steps("gsg", &wanted, &[]).unwrap_err();
        assert_eq!(conflicts.len(), 3);
        assert!(
            conflicts[0]
                .reason
                .contains("already tagged glue:UsageProfile=theirs")
        );
        assert!(conflicts[2].reason.contains("no such role"));
    }

    /// moto has no usage-profile API: GetUsageProfile's contract is checked with mocked Glue
    /// answers (aws-smithy-mocks): a profile Glue has, one it says does not exist (needs
    /// attention), and one it refuses to show (said, not judged).
    #[tokio::test]
    async fn profiles_glue_lacks_need_attention_and_unreadable_ones_are_said() {
        use aws_sdk_glue::operation::get_usage_profile::{
            GetUsageProfileError, GetUsageProfileOutput,
        };
        use aws_sdk_glue::types::error::EntityNotFoundException;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        let found = mock!(aws_sdk_glue::Client::get_usage_profile)
            .match_requests(|request| request.name() == Some("gsg-default"))
            .then_output(|| GetUsageProfileOutput::builder().name("gsg-default").build());
        let missing = mock!(aws_sdk_glue::Client::get_usage_profile)
            .match_requests(|request| request.name() == Some("gsg-override-a"))
            .then_error(|| {
                GetUsageProfileError::EntityNotFoundException(
                    EntityNotFoundException::builder()
                        .message("not found")
                        .build(),
                )
            });
        let denied = mock!(aws_sdk_glue::Client::get_usage_profile)
            .match_requests(|request| request.name() == Some("gsg-override-b"))
            .then_error(|| {
                GetUsageProfileError::generic(
                    aws_sdk_glue::error::ErrorMetadata::builder()
                        .code("AccessDeniedException")
                        .message("not authorized to perform glue:GetUsageProfile")
                        .build(),
                )
            });
        let glue = mock_client!(
            aws_sdk_glue,
            RuleMode::MatchAny,
            [&found, &missing, &denied]
        );
        let profiles = ["gsg-default", "gsg-override-a", "gsg-override-b"]
            .map(|name| (name.to_string(), Vec::new()));
        let (missing_profiles, unreadable) = missing_profiles(&glue, &profiles).await;
        assert_eq!(missing_profiles.len(), 1);
        assert_eq!(missing_profiles[0].0, "gsg-override-a");
        assert_eq!(unreadable.len(), 1);
        assert_eq!(unreadable[0].0, "gsg-override-b");
        assert!(
            unreadable[0].1.contains("glue:GetUsageProfile"),
            "{:?}",
            unreadable[0]
        );
        assert_eq!(found.num_calls(), 1);
    }

    #[test]
    fn a_role_whose_boundary_set_has_no_profile_loses_only_our_tag() {
        let wanted = [
            (
                assignment("Ours", None),
                state(Some("p"), Some("gsg"), true),
            ),
            (assignment("Theirs", None), state(Some("p"), None, true)),
        ];
        assert_eq!(
            steps("gsg", &wanted, &[]).unwrap(),
            [Step::Untag {
                role: "Ours".into(),
                profile: "p".into()
            }]
        );
    }
}
