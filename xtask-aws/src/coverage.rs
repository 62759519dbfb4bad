//! The coverage report (`xtask::coverage::Report`) with the account read: each named role's tag
//! and guardrail attachment (read-only IAM calls) and each usage profile looked up in Glue. Used
//! by the coverage and plan commands.

use policy::guardrails;
use xtask::coverage::{Report, RoleCheck};

/// The coverage report with the named roles of the caller's account read (read-only IAM calls)
/// and the stack's usage profiles looked up in Glue.
pub async fn account_report(
    aws: &crate::aws::Aws,
    caller: &crate::aws::Caller,
    policy: &policy::Policy,
) -> anyhow::Result<Report> {
    let partition = crate::assign::partition_of(&caller.arn);
    let policy_arn = crate::assign::guardrail_policy_arn(
        &partition,
        &caller.account,
        &policy.stack.name,
        &aws.region,
    );
    let mut report = Report::offline(
        policy,
        "",
        policy::time::unix_seconds(std::time::SystemTime::now()),
    );
    let iam = aws.iam();
    for (assignment, check) in &mut report.roles {
        if assignment.account != caller.account {
            *check = RoleCheck::NotRead(format!("in account {}", assignment.account));
            continue;
        }
        let state = crate::assign::read_role(
            &iam,
            aws,
            &assignment.role_name,
            Some(&assignment.role_arn),
            &policy_arn,
        )
        .await?;
        *check = role_check(assignment, &state);
    }
    (report.profile_problems, report.profile_notes) =
        crate::assign::missing_profiles(&aws.glue(), &report.profiles).await;
    Ok(report)
}

/// What a named role lacks, from its state in the account.
fn role_check(assignment: &guardrails::Assignment, state: &crate::assign::RoleState) -> RoleCheck {
    if !state.found {
        return RoleCheck::Lacks(vec!["the role itself (no such role in the account)".into()]);
    }
    let mut lacks = Vec::new();
    match (&assignment.usage_profile, &state.profile_tag) {
        (Some(profile), None) => {
            lacks.push(format!("the tag {}={profile}", guardrails::PROFILE_TAG_KEY))
        }
        (Some(profile), Some(tag)) if tag != profile => lacks.push(format!(
            "the tag {}={profile} (it has {tag})",
            guardrails::PROFILE_TAG_KEY
        )),
        _ => {}
    }
    if !state.attached {
        lacks.push("the guardrail policy".to_string());
    }
    if lacks.is_empty() {
        RoleCheck::Ready
    } else {
        RoleCheck::Lacks(lacks)
    }
}
