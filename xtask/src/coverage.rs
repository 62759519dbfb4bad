//! The coverage report: for each boundary of the policy, whether it is enforced before a session
//! starts (the Glue usage profile, the guardrail IAM policy, the SCP) and what happens after (the
//! Lambda); then the usage profiles and the roles the policy names, with what the account says
//! of each when it was read (`xtask-aws`). Pure. Used by the coverage and plan commands.

use std::fmt::Write as _;

use policy::guardrails::{self, Coverage};

use serde::Serialize;

use crate::output::{Answer, Outcome};

/// What the coverage commands (`cargo xtask coverage`, and the same command in `xtask-aws` when
/// roles are read in the account) take.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct CoverageArgs {
    /// The policy file and, for reading the named roles, the account's flags.
    #[command(flatten)]
    pub aws: crate::aws_args::AwsArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: crate::output::Format,
    /// Do not read the named roles in the account (no AWS calls).
    #[arg(long)]
    pub offline: bool,
}

/// What the account says of one named role (filled in by the AWS side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum RoleCheck {
    /// Not read: `--offline`, or the role is in another account.
    NotRead(String),
    /// It has its profile tag and the guardrail policy.
    Ready,
    /// What it lacks, one item each.
    Lacks(Vec<String>),
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
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
    /// The report with every role `NotRead(why)`. Each role gets the profile deploy gives it
    /// at `now` (Unix seconds): a role named by an override that has expired, the profile of
    /// the boundary set that judges it now.
    pub fn offline(policy: &policy::Policy, why: &str, now: i64) -> Report {
        Report {
            stack: policy.stack.name.clone(),
            rows: guardrails::coverage(policy),
            profiles: guardrails::usage_profiles(policy)
                .into_iter()
                .map(|profile| (profile.name, profile.boundary_sets))
                .collect(),
            roles: guardrails::assignments(policy, Some(now))
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
                    assignment.usage_profile.as_deref().unwrap_or("(none)"),
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
        if !self.profiles.is_empty() {
            out.push_str(
                "\n| usage profile (binds only the roles tagged with it) | boundary sets |\n\
                 |---|---|\n",
            );
            for (name, sets) in &self.profiles {
                let _ = writeln!(out, "| `{name}` | {} |", cell(&sets.join(", ")));
            }
            for (name, why) in &self.profile_problems {
                let _ = writeln!(out, "| `{name}` | NEEDS ATTENTION: {} |", cell(why));
            }
            for (name, why) in &self.profile_notes {
                let _ = writeln!(out, "| `{name}` | could not be read: {} |", cell(why));
            }
        }
        if self.roles.is_empty() {
            out.push_str(
                "\nNo role is named (`usage_profiles.roles`): the profiles and the guardrail \
                 policy bind nobody until roles are tagged and given it.\n",
            );
        } else {
            out.push_str("\n| role | usage profile | in the account |\n|---|---|---|\n");
            for (assignment, check) in &self.roles {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} |",
                    assignment.role_arn,
                    assignment.usage_profile.as_deref().unwrap_or("(none)"),
                    cell(&Self::check_text(check))
                );
            }
        }
        out
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Outcome for Report {
    fn markdown(&self) -> String {
        self.to_markdown()
    }

    /// No when a named role lacks something, or a profile is missing in the account.
    fn answer(&self) -> Answer {
        Answer::no_when(self.needs_attention())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_policy() -> policy::Policy {
        crate::paths::load_policy(&crate::paths::policies_dir().join("default.yaml")).unwrap()
    }

    #[test]
    fn the_table_says_which_layer_holds_each_boundary() {
        let report = Report::offline(&default_policy(), "--offline", 0);
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
        assert!(line("max_dpu").ends_with("usage profile Lambda stops"));
        assert_eq!(
            line("budget ml-training max_concurrent_dpu"),
            "budget ml-training max_concurrent_dpu 100 - Lambda stops",
            "budgets: the Lambda only"
        );
        assert!(
            text.contains("no preventive layer exists for a sum"),
            "{text}"
        );
        assert!(text.contains("max_dpu: platform-admins: max_dpu 120 is tighter than max_workers x the largest allowed worker type"), "{text}");
        assert!(text.contains("glue-session-guard-override-ml-training: ml-training"));
        assert!(text.contains("roles: none named"));
        assert!(!report.needs_attention());

        let markdown = report.to_markdown();
        assert!(
            markdown.contains("| require_vpc_connection | true | IAM policy, SCP | Lambda stops |"),
            "{markdown}"
        );
        // The profiles and the roles, as the text lists them.
        assert!(
            markdown.contains("| `glue-session-guard-override-ml-training` | ml-training |"),
            "{markdown}"
        );
        assert!(markdown.contains("No role is named"), "{markdown}");
    }

    /// A role named by an override gets that override's profile until it expires, then the
    /// profile of what judges it then (the default), as deploy tags it.
    #[test]
    fn a_role_gets_the_profile_of_the_override_that_judges_it_now() {
        let policy = policy::load_policy(
            "p.yaml",
            b"version: 1
stack: {name: guard}
boundaries: {max_workers: 10}
overrides:
  - name: old-one
    principals: [\"arn:aws:iam::123456789012:role/OldRole\"]
    boundaries: {max_workers: 20}
    expires: 2026-11-01T00:00:00Z
usage_profiles:
  roles:
    - role: arn:aws:iam::123456789012:role/OldRole
",
        )
        .unwrap();
        let boundary_set = |now: &str| {
            let now = policy::time::parse_rfc3339(now).unwrap();
            let report = Report::offline(&policy, "--offline", now);
            report.roles[0].0.boundary_set.clone()
        };
        assert_eq!(boundary_set("2026-10-31T00:00:00Z"), "old-one");
        assert_eq!(boundary_set("2026-11-02T00:00:00Z"), "default");
    }
}
