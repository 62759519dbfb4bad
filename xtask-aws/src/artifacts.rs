//! The artifact bucket xtask owns: created on the first deploy (encrypted, public access
//! blocked, TLS only, versioned), holding Lambda packages keyed by their content hash.

use std::path::{Path, PathBuf};

use anyhow::Context;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, VersioningConfiguration,
};
use sha2::{Digest, Sha256};

/// The bucket for one stack in one account and region. S3 names are global, lower case and at
/// most 63 characters, so the stack name enters as a short hash (the bucket is tagged with it).
pub fn bucket_name(stack_name: &str, account: &str, region: &str) -> String {
    format!("{}-{region}", bucket_prefix(stack_name, account))
}

/// The name of every artifact bucket of one stack in one account, without the Region.
fn bucket_prefix(stack_name: &str, account: &str) -> String {
    format!("gsg-artifacts-{}-{account}", short_hash(stack_name))
}

/// The name of every artifact bucket of one stack set (`deploy --org`) administered from one
/// account, without the Region: the stack set's `CodeBucket`, to which each stack instance
/// adds its own Region. Not the single-account buckets' names: neither command ever reads,
/// changes or deletes the other's buckets.
pub fn org_bucket_prefix(stack_name: &str, account: &str) -> String {
    format!("gsg-org-artifacts-{}-{account}", short_hash(stack_name))
}

/// The stack name as a short hash: S3 names are global, lower case and at most 63 characters.
fn short_hash(stack_name: &str) -> String {
    let digest = Sha256::digest(stack_name.as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// Every bucket of the caller's whose name starts with `prefix` (ListBuckets).
pub(crate) async fn buckets_named(
    s3: &aws_sdk_s3::Client,
    prefix: &str,
) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut pages = s3.list_buckets().prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(|e| anyhow::anyhow!("S3 ListBuckets failed: {}", crate::aws::described(&e)))?;
        found.extend(
            page.buckets()
                .iter()
                .filter_map(|b| b.name())
                .filter(|name| name.starts_with(prefix))
                .map(str::to_string),
        );
    }
    found.sort();
    Ok(found)
}

/// Hex SHA-256 of a file's bytes.
pub fn content_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How deploy reaches S3, which decides whether the bucket gets its TLS-only statement: over a
/// plain-HTTP endpoint (an emulator on loopback) every request would be one it denies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tls,
    PlainHttp,
}

impl Transport {
    pub fn of(endpoint_url: Option<&str>) -> Transport {
        match endpoint_url {
            Some(url) if url.starts_with("http://") => Transport::PlainHttp,
            _ => Transport::Tls,
        }
    }
}

/// A Lambda package as deploy uploads it: under `lambda/<sha256 of its bytes>.zip`.
pub struct Package {
    pub path: PathBuf,
    pub key: String,
    bytes: Vec<u8>,
}

impl Package {
    pub fn read(zip: &Path) -> anyhow::Result<Package> {
        let bytes = std::fs::read(zip).with_context(|| format!("reading {}", zip.display()))?;
        Ok(Package {
            path: zip.to_path_buf(),
            key: format!("lambda/{}.zip", content_hash(&bytes)),
            bytes,
        })
    }
}

/// What the artifact bucket lacks before a stack can use the package.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Staging {
    /// The bucket holds the package already: nothing to change.
    Ready,
    /// The bucket is there; the package is uploaded.
    Upload,
    /// No bucket yet: it is created (encrypted, private, TLS only, versioned), then the package
    /// is uploaded.
    CreateBucketAndUpload,
}

impl Staging {
    /// Finds out what is there (HeadBucket, HeadObject); changes nothing.
    pub async fn find(
        s3: &aws_sdk_s3::Client,
        bucket: &str,
        package: &Package,
    ) -> anyhow::Result<Staging> {
        if !bucket_exists(s3, bucket).await? {
            return Ok(Staging::CreateBucketAndUpload);
        }
        let uploaded = s3
            .head_object()
            .bucket(bucket)
            .key(&package.key)
            .send()
            .await
            .is_ok();
        Ok(if uploaded {
            Staging::Ready
        } else {
            Staging::Upload
        })
    }

    /// What it changes, in words for a question; `None` when it changes nothing.
    pub fn changes(self, bucket: &str, package: &Package) -> Option<String> {
        let key = &package.key;
        match self {
            Staging::Ready => None,
            Staging::Upload => Some(format!("upload the package to s3://{bucket}/{key}")),
            Staging::CreateBucketAndUpload => Some(format!(
                "create the artifact bucket {bucket} and upload the package to s3://{bucket}/{key}"
            )),
        }
    }
}

/// True when the bucket exists and is ours to reach; `false` when there is no such bucket; an
/// error when it exists but cannot be used (another account's, or no permission).
pub async fn bucket_exists(s3: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<bool> {
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(error) => {
            let not_found = error.as_service_error().is_some_and(|e| e.is_not_found())
                || error
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 404);
            if not_found {
                Ok(false)
            } else {
                Err(anyhow::anyhow!(
                    "artifact bucket {bucket} exists but cannot be used: {}",
                    crate::aws::described(&error)
                ))
            }
        }
    }
}

/// The artifact bucket's policy, `None` when it has no statement:
/// - `DenyInsecureTransport` over TLS (over plain HTTP, an emulator, it would deny every
///   request);
/// - with `organization_id` (`deploy --org`), `s3:GetObject` for any principal of that
///   organization (`aws:PrincipalOrgID`): the member accounts' stack instances read the package
///   from here. A condition on the organization keeps the policy non-public, so the bucket's
///   public access block stays on.
fn bucket_policy(
    bucket: &str,
    partition: &str,
    transport: Transport,
    organization_id: Option<&str>,
) -> Option<serde_json::Value> {
    let bucket_arn = format!("arn:{partition}:s3:::{bucket}");
    let mut statements = Vec::new();
    if transport == Transport::Tls {
        statements.push(serde_json::json!({
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn.clone(), format!("{bucket_arn}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }));
    }
    if let Some(organization_id) = organization_id {
        statements.push(serde_json::json!({
            "Sid": "OrganizationReadsPackages",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("{bucket_arn}/lambda/*"),
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}}
        }));
    }
    (!statements.is_empty()).then(|| {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": statements
        })
    })
}

/// The partition of a Region: `aws-cn` for `cn-*`, `aws-us-gov` for `us-gov-*`, else `aws`.
pub(crate) fn partition_of(region: &str) -> &'static str {
    policy::catalogue::partition_of_region(region)
}

/// Creates and secures the bucket (encrypted, public access blocked, TLS only, versioned,
/// tagged with the stack's name; readable by the organization with `organization_id`).
pub async fn create_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
    stack_name: &str,
    transport: Transport,
    organization_id: Option<&str>,
) -> anyhow::Result<()> {
    eprintln!(
        "creating artifact bucket {bucket} in {region} (encrypted, private, TLS only, versioned)"
    );
    let mut create = s3.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    create
        .send()
        .await
        .context("creating the artifact bucket")?;
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .context("blocking public access on the artifact bucket")?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()?,
                        )
                        .build(),
                )
                .build()?,
        )
        .send()
        .await
        .context("enabling encryption on the artifact bucket")?;
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .context("enabling versioning on the artifact bucket")?;
    put_bucket_policy(s3, bucket, region, transport, organization_id).await?;
    if transport == Transport::PlainHttp {
        eprintln!("note: the endpoint is plain HTTP, so the TLS-only bucket policy is not applied");
    }
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(
            Tagging::builder()
                .tag_set(
                    Tag::builder()
                        .key("glue-session-guard:stack")
                        .value(stack_name)
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await
        .context("tagging the artifact bucket")?;
    Ok(())
}

/// Puts the bucket's policy ([`bucket_policy`]), when it has a statement.
pub(crate) async fn put_bucket_policy(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
    transport: Transport,
    organization_id: Option<&str>,
) -> anyhow::Result<()> {
    if let Some(policy) = bucket_policy(bucket, partition_of(region), transport, organization_id) {
        s3.put_bucket_policy()
            .bucket(bucket)
            .policy(policy.to_string())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "setting the policy of artifact bucket {bucket}: {}",
                    crate::aws::described(&e)
                )
            })?;
    }
    Ok(())
}

/// Uploads the package under its key.
pub async fn upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    package: &Package,
) -> anyhow::Result<()> {
    let key = &package.key;
    eprintln!(
        "uploading {} to s3://{bucket}/{key}",
        package.path.display()
    );
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(package.bytes.clone()))
        .send()
        .await
        .map_err(|e| {
            crate::aws::failure(
                &format!("uploading the Lambda package to s3://{bucket}/{key}"),
                &e,
                None,
            )
        })?;
    Ok(())
}

/// The key of a template in the artifact bucket: its content hash, so the same template is the
/// same object.
pub fn template_key(body: &str) -> String {
    format!("templates/{}.yaml", content_hash(body.as_bytes()))
}

/// The `TemplateURL` of `key` in `bucket` of `region`: virtual-hosted style, as CloudFormation
/// reads it ("The URL must point to a template (max size: 1 MB) that's located in an Amazon S3
/// bucket"; `https://` only). China's Regions end in `.amazonaws.com.cn`.
pub fn template_url(bucket: &str, region: &str, key: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{bucket}.s3.{region}.{suffix}/{key}")
}

/// Uploads the stack's template to the artifact bucket (unless the same one is already there)
/// and returns its `TemplateURL`: CloudFormation takes 1 MB from S3 and only 51,200 bytes as
/// `TemplateBody`, so nothing of a template is ever dropped to fit.
pub(crate) async fn upload_template(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
    body: &str,
) -> anyhow::Result<String> {
    let key = template_key(body);
    let there = s3
        .head_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await
        .is_ok();
    if !there {
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("application/x-yaml")
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .await
            .map_err(|e| {
                crate::aws::failure(
                    &format!("uploading the template to s3://{bucket}/{key}"),
                    &e,
                    None,
                )
            })?;
    }
    Ok(template_url(bucket, region, &key))
}

/// Deletes every object version and delete marker, then the bucket. `Ok(false)` when there was
/// no bucket.
pub(crate) async fn delete_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<bool> {
    if s3.head_bucket().bucket(bucket).send().await.is_err() {
        return Ok(false);
    }
    let mut doomed = Vec::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .context("listing the artifact bucket")?;
        for version in page.versions() {
            doomed.push((
                version.key().unwrap_or_default().to_string(),
                version.version_id().map(str::to_string),
            ));
        }
        for marker in page.delete_markers() {
            doomed.push((
                marker.key().unwrap_or_default().to_string(),
                marker.version_id().map(str::to_string),
            ));
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
    }
    for chunk in doomed.chunks(1000) {
        let objects = chunk
            .iter()
            .map(|(key, version)| {
                ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(version.clone())
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        s3.delete_objects()
            .bucket(bucket)
            .delete(
                Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()?,
            )
            .send()
            .await
            .context("emptying the artifact bucket")?;
    }
    s3.delete_bucket()
        .bucket(bucket)
        .send()
        .await
        .context("deleting the artifact bucket")?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_name_is_the_prefix_and_the_region_and_fits_s3s_63_characters() {
        let name = bucket_name("glue-session-guard", "111122223333", "ap-southeast-7");
        assert_eq!(
            name,
            format!(
                "{}-ap-southeast-7",
                bucket_prefix("glue-session-guard", "111122223333")
            )
        );
        assert!(name.len() <= 63, "{name}");
        let org = format!(
            "{}-ap-southeast-7",
            org_bucket_prefix("glue-session-guard", "111122223333")
        );
        assert!(org.len() <= 63, "{org}");
        assert!(!org.starts_with(&bucket_prefix("glue-session-guard", "111122223333")));
    }

    #[test]
    fn the_organization_may_read_the_packages_and_only_over_tls() {
        let policy = bucket_policy("b", "aws", Transport::Tls, Some("o-a1b2c3d4e5")).unwrap();
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0]["Sid"], "DenyInsecureTransport");
        assert_eq!(statements[1]["Action"], "s3:GetObject");
        assert_eq!(statements[1]["Resource"], "arn:aws:s3:::b/lambda/*");
        assert_eq!(
            statements[1]["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
            "o-a1b2c3d4e5"
        );
        // One account, an emulator over plain HTTP: no statement, no policy.
        assert_eq!(bucket_policy("b", "aws", Transport::PlainHttp, None), None);
        // China: its own partition in the ARNs.
        let china = bucket_policy("b", "aws-cn", Transport::Tls, None).unwrap();
        assert_eq!(china["Statement"][0]["Resource"][0], "arn:aws-cn:s3:::b");
    }
}
