//! The AWS settings every AWS-facing command shares (`--region`, `--profile`, `--endpoint-url`),
//! and the SDK configuration built from them. `--endpoint-url` (or `AWS_ENDPOINT_URL`) points
//! every client at an emulator such as moto.

use std::path::PathBuf;

use anyhow::Context;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls;

/// Flags shared by deploy, plan, status, clean-up and demo. The commands that change the account
/// (deploy, clean-up) add `--yes` (`consent::Confirmation`); plan and status never ask.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct AwsArgs {
    /// The policy file.
    #[arg(long, default_value = "policies/default.yaml")]
    pub policy: PathBuf,
    /// AWS region (default: the policy's stack.region, else the AWS configuration).
    #[arg(long)]
    pub region: Option<String>,
    /// Named profile from the AWS configuration files.
    #[arg(long)]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (an emulator such as moto).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
}

/// An SDK configuration plus what the commands need to know about it.
#[derive(Clone, Debug)]
pub struct Aws {
    pub config: SdkConfig,
    pub region: String,
    /// Set when talking to an emulator: S3 then needs path-style addressing.
    pub endpoint_url: Option<String>,
}

impl Aws {
    /// Loads credentials and region from the flags, the policy's region and the environment.
    pub async fn load(args: &AwsArgs, policy_region: Option<&str>) -> anyhow::Result<Aws> {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if let Some(profile) = &args.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = args.region.as_deref().or(policy_region) {
            loader = loader.region(Region::new(region.to_string()));
        }
        if let Some(url) = &args.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        let region = config.region().map(|r| r.to_string()).context(
            "no AWS region: pass --region, set stack.region in the policy, or configure one",
        )?;
        Ok(Aws {
            config,
            region,
            endpoint_url: args.endpoint_url.clone(),
        })
    }

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.config)
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(self.endpoint_url.is_some())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config)
    }

    pub fn cloudtrail(&self) -> aws_sdk_cloudtrail::Client {
        aws_sdk_cloudtrail::Client::new(&self.config)
    }

    pub fn cloudwatch(&self) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::new(&self.config)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.config)
    }

    pub fn glue(&self) -> aws_sdk_glue::Client {
        aws_sdk_glue::Client::new(&self.config)
    }

    pub fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.config)
    }
}

/// Who the credentials belong to.
pub struct Caller {
    pub account: String,
    pub arn: String,
}

/// STS GetCallerIdentity, with a message that says what to fix when it fails.
pub async fn caller(aws: &Aws) -> anyhow::Result<Caller> {
    let identity = aws
        .sts()
        .get_caller_identity()
        .send()
        .await
        .map_err(|error| {
            let detail = aws_sdk_sts::error::DisplayErrorContext(&error);
            let target = aws
                .endpoint_url
                .as_deref()
                .map_or_else(|| format!("AWS in {}", aws.region), |url| url.to_string());
            anyhow::anyhow!(
                "cannot verify AWS credentials against {target}: {detail}\n\
             hint: check --profile / AWS_PROFILE / AWS_ACCESS_KEY_ID, and --endpoint-url when \
             using an emulator"
            )
        })?;
    Ok(Caller {
        account: identity.account().unwrap_or_default().to_string(),
        arn: identity.arn().unwrap_or_default().to_string(),
    })
}

/// A tokio runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
