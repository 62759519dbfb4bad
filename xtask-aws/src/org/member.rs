//! Reading a member account: the same credentials' AssumeRole into a role of that account
//! (`OrganizationAccountAccessRole` by default, the role AWS Organizations creates in the
//! accounts it creates). Used by `status --org --deep`; nothing here changes an account.

use anyhow::Context;
use aws_config::Region;
use aws_sdk_sts::config::Credentials;

use crate::aws::{Aws, described};

/// The role `status --org --deep` assumes in each member account unless told otherwise.
pub const DEFAULT_ROLE: &str = "OrganizationAccountAccessRole";

/// `aws` as `role_name` in `account`, in `region`: STS AssumeRole with a one-hour session.
pub async fn in_account(
    aws: &Aws,
    partition: &str,
    account: &str,
    role_name: &str,
    region: &str,
) -> anyhow::Result<Aws> {
    let role_arn = format!("arn:{partition}:iam::{account}:role/{role_name}");
    let assumed = aws
        .sts()
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("glue-session-guard-status")
        .send()
        .await
        .map_err(|error| {
            anyhow::anyhow!("STS AssumeRole {role_arn} failed: {}", described(&error))
        })?;
    let credentials = assumed
        .credentials
        .with_context(|| format!("AssumeRole {role_arn} returned no credentials"))?;
    let config = aws
        .config
        .to_builder()
        .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
            Credentials::new(
                credentials.access_key_id,
                credentials.secret_access_key,
                Some(credentials.session_token),
                None,
                "assumed-role",
            ),
        ))
        .region(Region::new(region.to_string()))
        .build();
    Ok(Aws {
        config,
        region: region.to_string(),
        endpoint_url: aws.endpoint_url.clone(),
    })
}
