//! `cargo xtask render`: the CloudFormation template for a policy (`template::render_stack`), to
//! stdout or a file; the committed renders in `policies/rendered/` kept fresh (`--check`,
//! `--write-all`); the service control policy (`--scp`) and the central topic's access policy
//! (`--central`) derived from the same policy; the CloudTrail table `backtest --athena`
//! queries (`--athena-table`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::template::{central_topic_policy, check_all, render_stack, write_all, write_atomically};
use crate::{Exit, paths};

#[derive(clap::Args)]
pub struct RenderCommand {
    /// The policy to render; the template goes to stdout or to --out. With --athena-table, the
    /// policy whose `history.athena` names the table.
    #[arg(
        long,
        required_unless_present_any = ["check", "write_all", "athena_table", "trail_bucket"],
        conflicts_with_all = ["check", "write_all"]
    )]
    policy: Option<PathBuf>,
    /// Write the template (or the --athena-table DDL) to this file (atomically: complete or
    /// nothing).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Fail when a committed render in policies/rendered/ is stale or missing (CI runs this).
    #[arg(long, conflicts_with = "write_all")]
    check: bool,
    /// Re-render every policy in policies/ into policies/rendered/.
    #[arg(long)]
    write_all: bool,
    /// Print the service control policy for the organization's administrators instead of the
    /// stack: the same denies on glue:CreateSession, exempt principals excluded, at most 5,120
    /// characters (what does not fit is named on stderr).
    #[arg(long, requires = "policy")]
    scp: bool,
    /// Print the access policy of the organization's central SNS topic
    /// (organization.notifications_topic_arn) instead of the stack: every account of the
    /// organization (aws:PrincipalOrgID) may publish to it. The topic's owner applies it.
    #[arg(long, requires = "policy", conflicts_with = "scp")]
    central: bool,
    /// Print the `CREATE EXTERNAL TABLE` of the CloudTrail table `backtest --athena` queries,
    /// for a team that has none: AWS's documented columns, partition projection by account,
    /// Region and day over the trail's bucket (run it once in the Athena console or with
    /// `aws athena start-query-execution`).
    #[arg(
        long,
        conflicts_with_all = ["check", "write_all", "scp", "central"],
        requires = "trail_bucket"
    )]
    athena_table: bool,
    #[command(flatten)]
    table: AthenaTableArgs,
}

/// What `render --athena-table` needs to know about the trail.
#[derive(clap::Args)]
struct AthenaTableArgs {
    /// Where the trail writes: `s3://bucket` or `s3://bucket/prefix` (the folder above
    /// `AWSLogs/`).
    #[arg(long, value_name = "S3_URI", requires = "athena_table")]
    trail_bucket: Option<String>,
    /// The organization's id (`o-…`) for an organization trail (`AWSLogs/<org-id>/<account>/`);
    /// left out for an account's own trail (`AWSLogs/<account>/`).
    #[arg(long, value_name = "ORG_ID", requires = "athena_table")]
    organization_id: Option<String>,
    /// The accounts to project (comma-separated); left out, the account partition is injected
    /// and each backtest names its accounts (--accounts; by default the organization's).
    #[arg(
        long,
        value_name = "ACCOUNT_ID",
        value_delimiter = ',',
        requires = "athena_table"
    )]
    accounts: Vec<String>,
    /// The Regions to project (comma-separated); every commercial Region when left out.
    #[arg(
        long,
        value_name = "REGION",
        value_delimiter = ',',
        requires = "athena_table"
    )]
    regions: Vec<String>,
    /// The table's Glue Data Catalog database [default: the --policy's history.athena.database,
    /// else `default`].
    #[arg(long, value_name = "NAME", requires = "athena_table", value_parser = crate::history::catalog_name)]
    database: Option<String>,
    /// The table's name [default: the --policy's history.athena.table, else `cloudtrail_logs`,
    /// as backtest --athena reads them].
    #[arg(long, value_name = "NAME", requires = "athena_table", value_parser = crate::history::catalog_name)]
    table: Option<String>,
    /// The first day the projection reaches (`yyyy/MM/dd`, or `yyyy-MM-dd`): the trail's first
    /// day (not after today).
    #[arg(
        long,
        value_name = "DAY",
        default_value = "2024/01/01",
        requires = "athena_table"
    )]
    first_day: String,
}

impl RenderCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        if self.check {
            return check_all(&paths::default_policies()?, &paths::rendered_dir());
        }
        if self.write_all {
            return write_all(&paths::default_policies()?, &paths::rendered_dir());
        }
        if self.athena_table {
            // The table backtest --athena reads: the policy's history.athena names it.
            let section = match &self.policy {
                Some(file) => paths::load_policy(file)?
                    .history
                    .and_then(|history| history.athena),
                None => None,
            };
            return print_athena_table(self.table, section, self.out.as_deref());
        }
        let policy_file = self
            .policy
            .context("name a policy with --policy, or use --check or --write-all")?;
        // Errors as every command says them: an invalid policy is exit 1 with its located
        // lines, an unreadable file exit 2.
        let policy = paths::load_policy(&policy_file)?;
        if self.scp {
            return print_scp(&policy, &policy_file, self.out.as_deref());
        }
        if self.central {
            return print_central_topic_policy(&policy, &policy_file, self.out.as_deref());
        }
        let template = render_stack(&policy)
            .map_err(|error| anyhow::anyhow!("{}: {error}", paths::shown(&policy_file)))?;
        match &self.out {
            Some(out) => {
                write_atomically(out, &template)?;
                eprintln!(
                    "rendered {} to {}",
                    paths::shown(&policy_file),
                    paths::shown(out)
                );
            }
            None => std::io::stdout()
                .write_all(template.as_bytes())
                .context("writing the template to stdout")?,
        }
        Ok(Exit::Success)
    }
}

/// `render --athena-table`: the table's DDL on stdout or `--out`.
fn print_athena_table(
    args: AthenaTableArgs,
    section: Option<policy::HistoryAthena>,
    out: Option<&Path>,
) -> anyhow::Result<Exit> {
    let section = section.unwrap_or_default();
    let spec = crate::history::athena::TableSpec {
        database: args
            .database
            .or(section.database)
            .unwrap_or_else(|| crate::history::DEFAULT_DATABASE.to_string()),
        table: args
            .table
            .or(section.table)
            .unwrap_or_else(|| crate::history::DEFAULT_TABLE.to_string()),
        trail: args.trail_bucket.unwrap_or_default(),
        organization_id: args.organization_id,
        accounts: args.accounts,
        regions: if args.regions.is_empty() {
            crate::history::athena::commercial_regions()
        } else {
            args.regions
        },
        first_day: slashed_day(&args.first_day),
    };
    spec.check()?;
    // A projection that starts after today covers no day a trail has delivered: every query
    // of the table would find nothing.
    let first = crate::history::time::parse_instant(&spec.first_day.replace('/', "-"))
        .context("--first-day was checked")?;
    let now = crate::history::time::now();
    if first > now {
        anyhow::bail!(
            "--first-day {}: after today ({}): the projection would cover no day the trail \
             has delivered; give the trail's first day",
            args.first_day,
            &crate::history::time::format_rfc3339(now)[..10]
        );
    }
    let ddl = spec.create_table();
    match out {
        Some(out) => {
            write_atomically(out, &ddl)?;
            eprintln!("wrote the CloudTrail table's DDL to {}", paths::shown(out));
        }
        None => std::io::stdout()
            .write_all(ddl.as_bytes())
            .context("writing the DDL to stdout")?,
    }
    Ok(Exit::Success)
}

/// `yyyy-MM-dd` as the projection writes a day, `yyyy/MM/dd`; anything else as given (and
/// refused, as given, if it is not a day).
fn slashed_day(day: &str) -> String {
    let bytes = day.as_bytes();
    let dashed = bytes.len() == 10
        && bytes.iter().enumerate().all(|(at, b)| match at {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if dashed {
        day.replace('-', "/")
    } else {
        day.to_string()
    }
}

/// `render --scp`: the SCP on stdout (or `--out`); what was dropped to fit, and what IAM cannot
/// say, on stderr. Exit 1 when the policy requires nothing an SCP can refuse, or nothing fits.
fn print_scp(
    policy: &policy::Policy,
    policy_file: &Path,
    out: Option<&Path>,
) -> anyhow::Result<Exit> {
    let scp = policy::guardrails::scp(policy);
    let shown = paths::shown(policy_file);
    for note in &scp.notes {
        eprintln!("note: {note}");
    }
    for deny in &scp.dropped {
        eprintln!(
            "dropped: {} ({}): the SCP would pass AWS Organizations' {}-character limit; the \
             Lambda (and the guardrail policy, where attached) still enforce it",
            deny.sid,
            deny.rule,
            policy::limits::ORGANIZATIONS_SCP_CHARS
        );
    }
    let Some(text) = scp.text else {
        if scp.dropped.is_empty() {
            eprintln!(
                "{shown}: no SCP: the policy requires neither a VPC connection nor tags, the only \
                 boundaries IAM can refuse before a session starts"
            );
        } else {
            eprintln!(
                "{shown}: no SCP: not even one deny fits in {} characters (fewer or broader \
                 exempt_principals would help)",
                policy::limits::ORGANIZATIONS_SCP_CHARS
            );
        }
        return Ok(Exit::Failed);
    };
    let text = format!("{text}\n");
    match out {
        Some(out) => {
            write_atomically(out, &text)?;
            eprintln!(
                "wrote the SCP for {shown} to {} ({} characters)",
                paths::shown(out),
                text.trim_end().chars().count()
            );
        }
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("writing the SCP to stdout")?,
    }
    Ok(Exit::Success)
}

/// `render --central`: the central topic's access policy (pretty JSON) on stdout or `--out`.
/// Exit 1, saying which field is missing, when the policy names no central topic.
fn print_central_topic_policy(
    policy: &policy::Policy,
    policy_file: &Path,
    out: Option<&Path>,
) -> anyhow::Result<Exit> {
    let shown = paths::shown(policy_file);
    let Some(document) = central_topic_policy(policy) else {
        let missing = if policy.organization.is_none() {
            "has no `organization` section, so no organization.notifications_topic_arn"
        } else {
            "sets no organization.notifications_topic_arn"
        };
        eprintln!(
            "{shown}: no central topic policy: the policy {missing} (the central SNS topic every \
             account's enforcer also publishes to)"
        );
        return Ok(Exit::Failed);
    };
    let text = serde_json::to_string_pretty(&document).context("encoding the topic policy")? + "\n";
    match out {
        Some(out) => {
            write_atomically(out, &text)?;
            eprintln!(
                "wrote the central topic policy for {shown} to {}",
                paths::shown(out)
            );
        }
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("writing the topic policy to stdout")?,
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::slashed_day;

    /// `--first-day` takes the projection's `yyyy/MM/dd` or `yyyy-MM-dd`; anything else is kept
    /// as typed, for the error to show it.
    #[test]
    fn a_dashed_day_is_written_as_the_projection_writes_it() {
        assert_eq!(slashed_day("2024-01-31"), "2024/01/31");
        assert_eq!(slashed_day("2024/01/31"), "2024/01/31");
        assert_eq!(slashed_day("2024-01/31"), "2024-01/31");
        assert_eq!(slashed_day("24-01-31"), "24-01-31");
    }
}
