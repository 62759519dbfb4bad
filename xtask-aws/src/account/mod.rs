//! The guard in one account (one stack): deploy, plan, status and clean-up, each a procedure the
//! commands (and the demo, and the tests) call with plain options. With an `organization` the
//! same commands work on a stack set instead (`crate::org`).

pub mod clean_up;
pub mod demo;
pub mod deploy;
pub mod plan;
pub mod status;

use xtask::paths;

/// A policy with an `organization` is deployed as a stack set (`--org`): its template reads the
/// code from one bucket per Region, which a single-account deploy or clean-up does not handle.
pub(crate) fn refuse_organization(
    policy: &policy::Policy,
    file: &std::path::Path,
    command: &str,
) -> anyhow::Result<()> {
    if policy.organization.is_some() {
        anyhow::bail!(
            "{}: organization: this policy is deployed to an organization as a stack set: run \
             `cargo xtask {command} --org` (nothing was changed)",
            paths::shown(file)
        );
    }
    Ok(())
}
