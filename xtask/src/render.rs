//! `cargo xtask render`: the CloudFormation stack for a policy. (Being built: issue 3.)

use std::path::PathBuf;

use crate::Outcome;

#[derive(clap::Args)]
pub struct Render {
    /// The policy to render.
    #[arg(long)]
    policy: Option<PathBuf>,
}

impl Render {
    pub fn run(self) -> anyhow::Result<Outcome> {
        anyhow::bail!("render is not built yet")
    }
}
