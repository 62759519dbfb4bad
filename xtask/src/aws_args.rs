//! The flags every command that talks to AWS takes (`--policy`, `--region`, `--profile`,
//! `--endpoint-url`), parsed by the light CLI too (coverage, backtest) so that it can decide
//! whether to hand a command to `xtask-aws`.

use std::path::PathBuf;

/// Flags shared by the commands that talk to AWS (deploy, plan, status, scan, clean-up, demo,
/// coverage, backtest of history in AWS). The commands that change the account (deploy,
/// clean-up) add `--yes` (`ui::Confirmation`); plan and status never ask.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct AwsArgs {
    /// The policy file [default: policies/default.yaml].
    #[arg(
        long,
        default_value = "policies/default.yaml",
        hide_default_value = true
    )]
    pub policy: PathBuf,
    /// AWS region (default: the policy's stack.region, else the AWS configuration).
    #[arg(long)]
    pub region: Option<String>,
    /// AWS named profile, from the AWS configuration files (not a Glue usage profile).
    #[arg(long = "profile", value_name = "PROFILE")]
    pub aws_profile: Option<String>,
    /// Send every AWS call to this endpoint (an emulator such as moto), with its scheme:
    /// `http://127.0.0.1:5000`.
    #[arg(long, env = "AWS_ENDPOINT_URL", value_parser = endpoint_url)]
    pub endpoint_url: Option<String>,
}

/// `--endpoint-url` must be a URL with a scheme and a host: the SDK would otherwise fail each
/// call with "endpoint must contain scheme" deep in its debug output.
pub fn endpoint_url(text: &str) -> Result<String, String> {
    match text.split_once("://") {
        Some(("http" | "https", rest)) if !rest.is_empty() && !rest.starts_with('/') => {
            Ok(text.to_string())
        }
        Some((scheme, _)) => Err(format!(
            "`{text}`: the scheme must be http or https, not `{scheme}`"
        )),
        None => Err(format!(
            "`{text}` has no scheme: write http://{text} (an emulator) or https://{text}"
        )),
    }
}
