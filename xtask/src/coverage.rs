//! `cargo xtask coverage`: for each boundary of the policy, whether it is enforced before a
//! session starts (the Glue usage profile, the guardrail IAM policy, the SCP) and what happens
//! after (the Lambda); then the usage profiles and the roles the policy names. The table is
//! pure; with roles named (and without `--offline`), the AWS build also reads each role in the
//! account (read-only IAM calls) and says what it lacks.

use std::fmt::Write as _;

use policy::guardrails::{self, Coverage};

use crate::{Exit, paths};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CoverageFormat {
    #[default]
    Text,
    /// For a pull-request comment.
    Markdown,
}

#[derive(clap::Args, Clone, Debug)]
pub struct CoverageCommand {
    /// The policy file and, for reading the named roles, the account's flags.
    #[command(flatten)]
    pub aws: crate::cli::AwsArgs,
    #[arg(long, value_enum, default_value_t)]
    pub format: CoverageFormat,
    /// Do not read the named roles in the account (no AWS calls).
    #[arg(long)]
    pub offline: bool,
}

/// What the account says of one named role (filled in by the AWS build).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleCheck {
    /// Not read: `--offline`, or the role is in another account.
    NotRead(String),
    /// It has its profile tag and the guardrail policy.
    Ready,
    /// What it lacks, one item each.
    Lacks(Vec<String>),
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Report {
    pub stack: String,
    pub rows: Vec<Coverage>,
    /// Each usage profile and the boundary sets it stands for.
    pub profiles: Vec<(String, Vec<String>)>,
    /// Each named role, its profile, and what the account says of it.
    pub roles: Vec<(guardrails::Assignment, RoleCheck)>,
    /// Usage profiles Glue does not have in the account (name, why): needs attention.
    pub profile_problems: Vec<(String, String)>,
    /// Usage profiles that could not be read (name, why): said, not judged.
    pub profile_notes: Vec<(String, String)>,
}

impl Report {
    /// The report with every role `NotRead(why)`.
    pub fn offline(policy: &policy::Policy, why: &str) -> Report {
        Report {
            stack: policy.stack.name.clone(),
            rows: guardrails::coverage(policy),
            profiles: guardrails::usage_profiles(policy)
                .into_iter()
                .map(|profile| (profile.name, profile.boundary_sets))
                .collect(),
            roles: guardrails::assignments(policy)
                .into_iter()
                .map(|assignment| (assignment, RoleCheck::NotRead(why.to_string())))
                .collect(),
            profile_problems: Vec::new(),
            profile_notes: Vec::new(),
        }
    }

    /// True when a named role lacks something, or a profile is missing in the account.
    pub fn needs_attention(&self) -> bool {
        !self.profile_problems.is_empty()
            || self
                .roles
                .iter()
                .any(|(_, check)| matches!(check, RoleCheck::Lacks(_)))
    }

    fn layers(row: &Coverage) -> String {
        if row.before_start.is_empty() {
            "-".to_string()
        } else {
            row.before_start.join(", ")
        }
    }

    pub fn to_text(&self) -> String {
        let mut out = format!("coverage of stack {}\n\n", self.stack);
        let width = |f: &dyn Fn(&Coverage) -> usize, title: &str| {
            self.rows.iter().map(f).max().unwrap_or(0).max(title.len())
        };
        let b = width(&|row| row.boundary.chars().count(), "boundary");
        let v = width(&|row| row.values.chars().count(), "value");
        let l = width(&|row| Self::layers(row).len(), "before the session starts");
        let _ = writeln!(
            out,
            "{:<b$}  {:<v$}  {:<l$}  after it starts",
            "boundary", "value", "before the session starts"
        );
        for row in &self.rows {
            let _ = writeln!(
                out,
                "{:<b$}  {:<v$}  {:<l$}  {}",
                row.boundary,
                row.values,
                Self::layers(row),
                row.after_start
            );
        }
        let notes: Vec<String> = self.notes();
        if !notes.is_empty() {
            out.push_str("\nnotes:\n");
            for note in notes {
                let _ = writeln!(out, "  - {note}");
            }
        }
        out.push_str("\nusage profiles (they bind only the roles tagged with them):\n");
        for (name, sets) in &self.profiles {
            let _ = writeln!(out, "  {name}: {}", sets.join(", "));
        }
        for (name, why) in &self.profile_problems {
            let _ = writeln!(out, "  {name}: NEEDS ATTENTION: {why}");
        }
        for (name, why) in &self.profile_notes {
            let _ = writeln!(out, "  {name}: could not be read: {why}");
        }
        if self.roles.is_empty() {
            out.push_str(
                "\nroles: none named (usage_profiles.roles); the profiles and the guardrail \
                 policy bind nobody until roles are tagged and given it\n",
            );
        } else {
            out.push_str("\nroles (usage_profiles.roles):\n");
            for (assignment, check) in &self.roles {
                let _ = writeln!(
                    out,
                    "  {}  profile {}  {}",
                    assignment.role_arn,
                    assignment.profile.as_deref().unwrap_or("(none)"),
                    Self::check_text(check)
                );
            }
        }
        out
    }

    fn check_text(check: &RoleCheck) -> String {
        match check {
            RoleCheck::NotRead(why) => format!("not checked ({why})"),
            RoleCheck::Ready => "ok".to_string(),
            RoleCheck::Lacks(what) => format!("NEEDS ATTENTION: lacks {}", what.join("; ")),
        }
    }

    fn notes(&self) -> Vec<String> {
        self.rows
            .iter()
            .flat_map(|row| {
                row.notes
                    .iter()
                    .map(move |note| format!("{}: {note}", row.boundary))
            })
            .collect()
    }

    pub fn to_markdown(&self) -> String {
        let cell = |text: &str| text.replace('|', "\\|");
        let mut out = format!(
            "### Coverage of `{}`\n\n| boundary | value | before the session starts | after it starts |\n|---|---|---|---|\n",
            self.stack
        );
        for row in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&row.boundary),
                cell(&row.values),
                Self::layers(row),
                row.after_start
            );
        }
        let notes = self.notes();
        if !notes.is_empty() {
            out.push('\n');
            for note in notes {
                let _ = writeln!(out, "- {}", cell(&note));
            }
        }
        if !self.roles.is_empty() {
            out.push_str("\n| role | usage profile | in the account |\n|---|---|---|\n");
            for (assignment, check) in &self.roles {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} |",
                    assignment.role_arn,
                    assignment.profile.as_deref().unwrap_or("(none)"),
                    cell(&Self::check_text(check))
                );
            }
        }
        out
    }
}

impl CoverageCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        let policy = paths::load_policy(&self.aws.policy)?;
        let named_roles = !guardrails::assignments(&policy).is_empty();
        let report = if self.offline || !named_roles {
            Report::offline(&policy, "--offline")
        } else {
            #[cfg(not(feature = "aws"))]
            return crate::cli::forward_to_aws(std::env::args_os().skip(1).collect());
            #[cfg(feature = "aws")]
            crate::aws::runtime()?.block_on(self.read_account(&policy))?
        };
        match self.format {
            CoverageFormat::Text => print!("{}", report.to_text()),
            CoverageFormat::Markdown => print!("{}", report.to_markdown()),
        }
        Ok(if report.needs_attention() {
            Exit::Failed
        } else {
            Exit::Success
        })
    }

    /// The report with each named role of the account read, and each usage profile looked up.
    #[cfg(feature = "aws")]
    pub async fn read_account(&self, policy: &policy::Policy) -> anyhow::Result<Report> {
        let aws = crate::aws::Aws::load(&self.aws, policy.stack.region.as_deref()).await?;
        let caller = crate::aws::caller(&aws).await?;
        account_report(&aws, &caller, policy).await
    }
}

/// The coverage report with the named roles of the caller's account read (read-only IAM calls)
/// and the stack's usage profiles looked up in Glue.
#[cfg(feature = "aws")]
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
    let mut report = Report::offline(policy, "");
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
#[cfg(feature = "aws")]
pub fn role_check(
    assignment: &guardrails::Assignment,
    state: &crate::assign::RoleState,
) -> RoleCheck {
    if !state.found {
        return RoleCheck::Lacks(vec!["the role itself (no such role in the account)".into()]);
    }
    let mut lacks = Vec::new();
    match (&assignment.profile, &state.profile_tag) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn default_policy() -> policy::Policy {
        paths::load_policy(&paths::policies_dir().join("default.yaml")).unwrap()
    }

    #[test]
    fn the_table_says_which_layer_holds_each_boundary() {
        let report = Report::offline(&default_policy(), "--offline");
        let text = report.to_text();
        let line = |boundary: &str| {
            text.lines()
                .find(|line| line.starts_with(&format!("{boundary} ")))
                .unwrap_or_else(|| panic!("no line for {boundary}:\n{text}"))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            line("max_workers"),
            "max_workers 10; platform-admins: 60 usage profile Lambda stops"
        );
        assert_eq!(
            line("require_vpc_connection"),
            "require_vpc_connection true IAM policy, SCP Lambda stops"
        );
        assert!(line("allowed_glue_versions").ends_with("- Lambda stops"));
        assert!(line("max_dpu").ends_with("- Lambda stops"));
        assert!(text.contains("max_dpu: platform-admins: max_dpu 120 is tighter than max_workers x the largest allowed worker type"), "{text}");
        assert!(text.contains("glue-session-guard-override-ml-training: ml-training"));
        assert!(text.contains("roles: none named"));
        assert!(!report.needs_attention());

        let markdown = report.to_markdown();
        assert!(
            markdown.contains("| require_vpc_connection | true | IAM policy, SCP | Lambda stops |"),
            "{markdown}"
        );
    }
}
