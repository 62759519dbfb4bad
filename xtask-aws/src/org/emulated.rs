//! An AWS Organization in moto, for the organization tests and the bench's scale run: the
//! caller's account becomes the management account, with OUs directly under the root and member
//! accounts spread over them (moto expands an OU target to its accounts and its child OUs'
//! accounts, one level only, so the OUs stay flat).
//!
//! One gap of moto is closed here, and only for the emulator: its DeleteStackInstances reads
//! only the self-managed `Accounts` list and ignores `DeploymentTargets`, so the service-managed
//! request `clean-up --org` sends deletes nothing there. [`remove_instances_by_account`] sends
//! the self-managed form moto understands; it is never used against AWS.

use std::collections::BTreeSet;

use anyhow::Context;
use aws_sdk_organizations::types::OrganizationFeatureSet;

use crate::aws::{Aws, described};

/// An organization created in moto.
#[derive(Clone, Debug)]
pub struct EmulatedOrganization {
    /// `o-…`
    pub id: String,
    pub management_account: String,
    /// The OUs under the root, `ou-…`.
    pub units: Vec<String>,
    /// The member accounts, spread over `units` in turn.
    pub accounts: Vec<String>,
}

impl EmulatedOrganization {
    /// Creates the organization (feature set ALL), `units` OUs under the root and `accounts`
    /// member accounts, moved into the OUs in turn.
    pub async fn create(aws: &Aws, units: usize, accounts: usize) -> anyhow::Result<Self> {
        let orgs = aws.organizations();
        let organization = orgs
            .create_organization()
            .feature_set(OrganizationFeatureSet::All)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("CreateOrganization failed: {}", described(&e)))?
            .organization
            .context("CreateOrganization returned no organization")?;
        let root = orgs
            .list_roots()
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("ListRoots failed: {}", described(&e)))?
            .roots
            .unwrap_or_default()
            .into_iter()
            .next()
            .and_then(|root| root.id)
            .context("the organization has no root")?;
        let mut unit_ids = Vec::new();
        for index in 0..units {
            let unit = orgs
                .create_organizational_unit()
                .parent_id(&root)
                .name(format!("unit-{index}"))
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("CreateOrganizationalUnit failed: {}", described(&e)))?
                .organizational_unit
                .and_then(|unit| unit.id)
                .context("CreateOrganizationalUnit returned no id")?;
            unit_ids.push(unit);
        }
        let mut account_ids = Vec::new();
        for index in 0..accounts {
            let account = orgs
                .create_account()
                .account_name(format!("member-{index}"))
                .email(format!("member-{index}@example.com"))
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("CreateAccount failed: {}", described(&e)))?
                .create_account_status
                .and_then(|status| status.account_id)
                .context("CreateAccount returned no account id")?;
            if !unit_ids.is_empty() {
                orgs.move_account()
                    .account_id(&account)
                    .source_parent_id(&root)
                    .destination_parent_id(&unit_ids[index % unit_ids.len()])
                    .send()
                    .await
                    .map_err(|e| anyhow::anyhow!("MoveAccount failed: {}", described(&e)))?;
            }
            account_ids.push(account);
        }
        Ok(EmulatedOrganization {
            id: organization.id.context("the organization has no id")?,
            management_account: organization.master_account_id.unwrap_or_default(),
            units: unit_ids,
            accounts: account_ids,
        })
    }

    /// `base` (a policy file's text) with an `organization` section for this organization.
    pub fn policy_text(&self, base: &str, regions: &[&str]) -> String {
        format!(
            "{}\norganization:\n  id: {}\n  organizational_units: [{}]\n  regions: [{}]\n  \
             max_concurrent_percentage: 50\n  failure_tolerance_percentage: 10\n",
            base.trim_end(),
            self.id,
            self.units.join(", "),
            regions.join(", ")
        )
    }
}

/// moto only (see the module's note): deletes the stack set's instances of these accounts and
/// Regions with the self-managed `Accounts` form of DeleteStackInstances.
pub async fn remove_instances_by_account(
    aws: &Aws,
    stack_set: &str,
    accounts: &BTreeSet<String>,
    regions: &BTreeSet<String>,
) -> anyhow::Result<()> {
    aws.cloudformation()
        .delete_stack_instances()
        .stack_set_name(stack_set)
        .set_accounts(Some(accounts.iter().cloned().collect()))
        .set_regions(Some(regions.iter().cloned().collect()))
        .retain_stacks(false)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("DeleteStackInstances (moto) failed: {}", described(&e)))?;
    Ok(())
}
