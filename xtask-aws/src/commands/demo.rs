//! `cargo xtask demo`: the whole loop on this machine, in one account (`account::demo`) or, with
//! `--org`, in an organization (`org::demo`), against a moto server it starts and stops.

use std::path::PathBuf;

use xtask::Exit;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct DemoCommand {
    /// The policy to demonstrate.
    #[arg(long, default_value = "policies/default.yaml")]
    policy: PathBuf,
    /// Instead: the organization mode. An organization in moto (2 OUs, --accounts members),
    /// the policy deployed to it as a stack set in 3 Regions, status --org, clean-up --org.
    #[arg(long)]
    org: bool,
    /// With --org: how many member accounts.
    #[arg(long, default_value_t = 6, requires = "org")]
    accounts: usize,
    /// With --org: write the timings (deploy, status, clean-up) to this file as JSON.
    #[arg(long, value_name = "FILE", requires = "org")]
    timings: Option<PathBuf>,
}

impl DemoCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        let moto = crate::account::demo::start_emulator()?;
        let result = if self.org {
            crate::org::demo::walk_through(
                &moto.endpoint,
                &self.policy,
                self.accounts,
                self.timings.as_deref(),
            )
        } else {
            crate::account::demo::run(&moto, &self.policy)
        };
        drop(moto);
        println!("moto stopped; nothing is left running");
        result.map(|()| Exit::Success)
    }
}
