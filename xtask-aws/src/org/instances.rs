//! The pure part of the organization commands: which stack instances a policy wants, what a
//! deploy would do to the ones there are, and which of them need attention. No AWS calls.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

/// One stack instance of the stack set: an account and a Region, as `ListStackInstances`
/// reports it (`StackInstanceSummary`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Instance {
    pub account: String,
    pub region: String,
    /// `Status`: `CURRENT`, `OUTDATED` or `INOPERABLE`.
    pub status: String,
    /// `StackInstanceStatus.DetailedStatus`: `SUCCEEDED`, `FAILED`, `RUNNING`, `PENDING`, ….
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detailed_status: Option<String>,
    /// Why it is not `CURRENT`, when CloudFormation says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// `DriftStatus`: `DRIFTED`, `IN_SYNC`, `UNKNOWN` or `NOT_CHECKED`; absent when not reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<String>,
    /// The OU the instance was deployed through, when reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizational_unit: Option<String>,
    /// The instance's stack in the member account (`StackId`), when reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_id: Option<String>,
}

impl Instance {
    pub fn key(&self) -> (String, String) {
        (self.account.clone(), self.region.clone())
    }

    /// Why the instance needs someone to look at it, if it does: not `CURRENT`, a failed
    /// last operation, or drift.
    pub fn attention(&self) -> Option<String> {
        if self.status != "CURRENT" {
            return Some(match &self.status_reason {
                Some(reason) => format!("{}: {reason}", self.status),
                None => self.status.clone(),
            });
        }
        if let Some(detailed) = &self.detailed_status
            && !matches!(detailed.as_str(), "SUCCEEDED" | "RUNNING" | "PENDING")
        {
            return Some(detailed.clone());
        }
        if self.drift.as_deref() == Some("DRIFTED") {
            return Some("DRIFTED: its resources differ from the template".to_string());
        }
        None
    }
}

/// What a deploy does to each account and Region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InstancePlan {
    /// Wanted, not there: `CreateStackInstances`.
    pub create: Vec<(String, String)>,
    /// There and wanted, and the template or its parameters change: `UpdateStackSet`.
    pub update: Vec<(String, String)>,
    /// There, no longer wanted (a Region, an OU or an account left the policy):
    /// `DeleteStackInstances`.
    pub remove: Vec<(String, String)>,
    /// There and wanted, the stack set unchanged, but not `CURRENT` (an earlier operation failed
    /// there): `UpdateStackInstances` applies the stack set to them again.
    pub retry: Vec<(String, String)>,
    /// There, wanted, nothing changes.
    pub unchanged: Vec<(String, String)>,
    /// The accounts in the OUs could not be read (no `organizations:List*` for the caller):
    /// `create` then lists the Regions with `*` as the account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts_unknown: Option<String>,
}

/// The instances the policy wants: every account (in the OUs, filtered) × every Region.
pub fn wanted(accounts: &BTreeSet<String>, regions: &[String]) -> BTreeSet<(String, String)> {
    accounts
        .iter()
        .flat_map(|account| {
            regions
                .iter()
                .map(move |region| (account.clone(), region.clone()))
        })
        .collect()
}

impl InstancePlan {
    /// Compares the wanted instances with the ones there are. `stack_set_changes`: the template
    /// or a parameter differs, so every kept instance is updated. `wanted: None` means the
    /// accounts are unknown (`why`): then only Regions are compared.
    pub fn new(
        wanted: Option<&BTreeSet<(String, String)>>,
        regions: &[String],
        existing: &[Instance],
        stack_set_changes: bool,
        why_unknown: Option<String>,
    ) -> InstancePlan {
        let there: BTreeSet<(String, String)> = existing.iter().map(Instance::key).collect();
        let not_current: BTreeSet<(String, String)> = existing
            .iter()
            .filter(|instance| instance.status != "CURRENT")
            .map(Instance::key)
            .collect();
        let mut plan = InstancePlan {
            accounts_unknown: why_unknown,
            ..InstancePlan::default()
        };
        let keep = |key: &(String, String)| match wanted {
            Some(wanted) => wanted.contains(key),
            None => regions.contains(&key.1),
        };
        for key in &there {
            if !keep(key) {
                plan.remove.push(key.clone());
            } else if stack_set_changes {
                plan.update.push(key.clone());
            } else if not_current.contains(key) {
                plan.retry.push(key.clone());
            } else {
                plan.unchanged.push(key.clone());
            }
        }
        match wanted {
            Some(wanted) => plan.create = wanted.difference(&there).cloned().collect(),
            None => {
                let covered: BTreeSet<&String> = there.iter().map(|(_, region)| region).collect();
                plan.create = regions
                    .iter()
                    .filter(|region| !covered.contains(region))
                    .map(|region| ("*".to_string(), region.clone()))
                    .collect();
            }
        }
        plan
    }

    pub fn is_empty(&self) -> bool {
        self.create.is_empty()
            && self.update.is_empty()
            && self.remove.is_empty()
            && self.retry.is_empty()
    }

    /// The Regions that get new instances.
    pub(crate) fn create_regions(&self) -> Vec<String> {
        distinct(self.create.iter().map(|(_, region)| region))
    }

    /// One line per kind: `create 3 (111122223333 eu-west-1, …)`.
    fn summary_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (verb, keys) in [
            ("create", &self.create),
            ("update", &self.update),
            ("remove", &self.remove),
            ("retry", &self.retry),
        ] {
            if !keys.is_empty() {
                lines.push(format!("{verb} {}: {}", keys.len(), by_region(keys)));
            }
        }
        if !self.unchanged.is_empty() {
            lines.push(format!("unchanged {}", self.unchanged.len()));
        }
        if let Some(why) = &self.accounts_unknown {
            lines.push(format!(
                "note: the accounts in the OUs are unknown ({why}); new instances are shown per \
                 Region as `*`"
            ));
        }
        lines
    }

    /// A Markdown table for a pull-request comment: one row per Region.
    pub fn to_markdown(&self) -> String {
        let mut rows: BTreeMap<&str, [usize; 5]> = BTreeMap::new();
        for (column, keys) in [
            (0, &self.create),
            (1, &self.update),
            (2, &self.remove),
            (3, &self.retry),
            (4, &self.unchanged),
        ] {
            for (_, region) in keys {
                rows.entry(region.as_str()).or_default()[column] += 1;
            }
        }
        let mut out = String::from(
            "| Region | create | update | remove | retry | unchanged |\n|---|---:|---:|---:|---:|---:|\n",
        );
        for (region, counts) in rows {
            out.push_str(&format!(
                "| {region} | {} | {} | {} | {} | {} |\n",
                counts[0], counts[1], counts[2], counts[3], counts[4]
            ));
        }
        if let Some(why) = &self.accounts_unknown {
            out.push_str(&format!(
                "\nThe accounts in the OUs are unknown ({why}): `create` counts Regions.\n"
            ));
        }
        out
    }
}

impl fmt::Display for InstancePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            writeln!(
                f,
                "stack instances: no change ({} current)",
                self.unchanged.len()
            )?;
            return Ok(());
        }
        writeln!(f, "stack instances:")?;
        for line in self.summary_lines() {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// `eu-west-1: 111122223333, 444455556666; us-east-1: …`, at most 10 accounts a Region.
fn by_region(keys: &[(String, String)]) -> String {
    let mut regions: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (account, region) in keys {
        regions.entry(region).or_default().push(account);
    }
    regions
        .into_iter()
        .map(|(region, accounts)| {
            let shown: Vec<&str> = accounts.iter().take(10).copied().collect();
            let more = accounts.len().saturating_sub(shown.len());
            if more > 0 {
                format!("{region}: {} and {more} more", shown.join(", "))
            } else {
                format!("{region}: {}", shown.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn distinct<'a>(values: impl Iterator<Item = &'a String>) -> Vec<String> {
    values
        .collect::<BTreeSet<_>>()
        .into_iter()
        .cloned()
        .collect()
}

/// The Region of the guardrail policy in a rendered (or deployed) organization template: the
/// `GuardrailRegion` condition's Region, `None` without one.
pub fn guardrail_region(template: &str) -> Option<String> {
    let line = template
        .lines()
        .find(|line| line.trim_start().starts_with("GuardrailRegion: !Equals"))?;
    let inner = line.rsplit_once('"')?.0;
    Some(inner.rsplit_once('"')?.1.to_string())
}

/// One failed account and Region of a StackSet operation, with CloudFormation's reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub account: String,
    pub region: String,
    /// `StackSetOperationResultSummary.Status`: `FAILED` or `CANCELLED`.
    pub status: String,
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}: {}",
            self.account, self.region, self.status, self.reason
        )
    }
}

/// A table of instances for `status --org`: account, Region, status, drift, and what needs
/// attention (the `extra` column holds what `--deep` read in the account, if anything).
pub(crate) fn status_table(
    instances: &[Instance],
    extra: &BTreeMap<(String, String), String>,
) -> String {
    let mut rows = vec![[
        "account".to_string(),
        "region".to_string(),
        "status".to_string(),
        "drift".to_string(),
        "in the account".to_string(),
        "attention".to_string(),
    ]];
    for instance in instances {
        let key = instance.key();
        rows.push([
            instance.account.clone(),
            instance.region.clone(),
            match &instance.detailed_status {
                Some(detailed) => format!("{} ({detailed})", instance.status),
                None => instance.status.clone(),
            },
            instance
                .drift
                .clone()
                .unwrap_or_else(|| "not reported".to_string()),
            extra.get(&key).cloned().unwrap_or_else(|| "-".to_string()),
            instance.attention().unwrap_or_else(|| "-".to_string()),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(account: &str, region: &str) -> Instance {
        Instance {
            account: account.into(),
            region: region.into(),
            status: "CURRENT".into(),
            detailed_status: Some("SUCCEEDED".into()),
            status_reason: None,
            drift: None,
            organizational_unit: None,
            stack_id: None,
        }
    }

    fn key(account: &str, region: &str) -> (String, String) {
        (account.into(), region.into())
    }

    fn regions(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn a_new_region_and_account_are_created_a_dropped_region_removed_the_rest_updated() {
        let accounts = BTreeSet::from(["111111111111".to_string(), "222222222222".to_string()]);
        let wanted_regions = regions(&["eu-west-1", "us-east-1"]);
        let wanted = wanted(&accounts, &wanted_regions);
        let existing = [
            instance("111111111111", "eu-west-1"),
            instance("111111111111", "eu-central-1"),
        ];
        let plan = InstancePlan::new(Some(&wanted), &wanted_regions, &existing, true, None);
        assert_eq!(
            plan.create,
            [
                key("111111111111", "us-east-1"),
                key("222222222222", "eu-west-1"),
                key("222222222222", "us-east-1"),
            ]
        );
        assert_eq!(plan.update, [key("111111111111", "eu-west-1")]);
        assert_eq!(plan.remove, [key("111111111111", "eu-central-1")]);
        assert_eq!(plan.create_regions(), ["eu-west-1", "us-east-1"]);
        assert_eq!(
            distinct(plan.remove.iter().map(|(_, region)| region)),
            ["eu-central-1"]
        );
        assert_eq!(
            plan.summary_lines(),
            [
                "create 3: eu-west-1: 222222222222; us-east-1: 111111111111, 222222222222",
                "update 1: eu-west-1: 111111111111",
                "remove 1: eu-central-1: 111111111111",
            ]
        );
    }

    #[test]
    fn an_instance_an_earlier_operation_left_outdated_is_retried() {
        let accounts = BTreeSet::from(["111111111111".to_string(), "222222222222".to_string()]);
        let wanted_regions = regions(&["eu-west-1"]);
        let mut failed = instance("222222222222", "eu-west-1");
        failed.status = "OUTDATED".into();
        let existing = [instance("111111111111", "eu-west-1"), failed];
        let wanted = wanted(&accounts, &wanted_regions);
        let plan = InstancePlan::new(Some(&wanted), &wanted_regions, &existing, false, None);
        assert_eq!(plan.retry, [key("222222222222", "eu-west-1")]);
        assert_eq!(plan.unchanged, [key("111111111111", "eu-west-1")]);
        assert!(!plan.is_empty());
        // A stack set change updates every instance, the outdated one with them.
        let plan = InstancePlan::new(Some(&wanted), &wanted_regions, &existing, true, None);
        assert!(plan.retry.is_empty());
        assert_eq!(plan.update.len(), 2);
    }

    #[test]
    fn nothing_changes_when_the_instances_match_and_the_stack_set_does_not_change() {
        let accounts = BTreeSet::from(["111111111111".to_string()]);
        let wanted_regions = regions(&["eu-west-1"]);
        let plan = InstancePlan::new(
            Some(&wanted(&accounts, &wanted_regions)),
            &wanted_regions,
            &[instance("111111111111", "eu-west-1")],
            false,
            None,
        );
        assert!(plan.is_empty());
        assert_eq!(plan.unchanged, [key("111111111111", "eu-west-1")]);
        assert_eq!(plan.to_string(), "stack instances: no change (1 current)\n");
    }

    #[test]
    fn without_the_accounts_only_regions_are_compared() {
        let wanted_regions = regions(&["eu-west-1", "us-east-1"]);
        let plan = InstancePlan::new(
            None,
            &wanted_regions,
            &[
                instance("111111111111", "eu-west-1"),
                instance("111111111111", "ap-south-1"),
            ],
            false,
            Some("AccessDenied".into()),
        );
        assert_eq!(plan.create, [key("*", "us-east-1")]);
        assert_eq!(plan.remove, [key("111111111111", "ap-south-1")]);
        assert_eq!(plan.unchanged, [key("111111111111", "eu-west-1")]);
        assert!(plan.to_markdown().contains("are unknown (AccessDenied)"));
    }

    #[test]
    fn the_guardrail_region_is_read_from_the_template() {
        let template =
            "Conditions:\n  GuardrailRegion: !Equals [!Ref \"AWS::Region\", \"eu-west-1\"]\n";
        assert_eq!(guardrail_region(template).as_deref(), Some("eu-west-1"));
        assert_eq!(guardrail_region("Resources: {}"), None);
    }

    #[test]
    fn instances_need_attention_when_not_current_failed_or_drifted() {
        let mut outdated = instance("1", "r");
        outdated.status = "OUTDATED".into();
        outdated.status_reason = Some("ResourceLogicalId:EnforcerFunction, Code: ...".into());
        assert_eq!(
            outdated.attention().unwrap(),
            "OUTDATED: ResourceLogicalId:EnforcerFunction, Code: ..."
        );
        let mut failed = instance("1", "r");
        failed.detailed_status = Some("FAILED".into());
        assert_eq!(failed.attention().unwrap(), "FAILED");
        let mut drifted = instance("1", "r");
        drifted.drift = Some("DRIFTED".into());
        assert!(drifted.attention().unwrap().starts_with("DRIFTED"));
        assert_eq!(instance("1", "r").attention(), None);
    }

    #[test]
    fn the_status_table_lines_up_and_says_what_needs_attention() {
        let mut failed = instance("222222222222", "us-east-1");
        failed.status = "OUTDATED".into();
        failed.detailed_status = Some("FAILED".into());
        failed.status_reason = Some("Lambda: AccessDenied".into());
        let table = status_table(
            &[instance("111111111111", "eu-west-1"), failed],
            &BTreeMap::from([(key("111111111111", "eu-west-1"), "DLQ 0, alarms OK".into())]),
        );
        assert_eq!(
            table,
            "account       region     status               drift         in the account    attention\n\
             111111111111  eu-west-1  CURRENT (SUCCEEDED)  not reported  DLQ 0, alarms OK  -\n\
             222222222222  us-east-1  OUTDATED (FAILED)    not reported  -                 OUTDATED: Lambda: AccessDenied\n"
        );
    }
}
