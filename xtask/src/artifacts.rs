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
    let digest = Sha256::digest(stack_name.as_bytes());
    let short: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("gsg-artifacts-{short}-{account}-{region}")
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

/// Creates and secures the bucket (encrypted, public access blocked, TLS only, versioned,
/// tagged with the stack's name).
pub async fn create_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
    stack_name: &str,
    transport: Transport,
) -> anyhow::Result<()> {
    eprintln!("creating artifact bucket {bucket} (encrypted, private, TLS only, versioned)");
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
    let tls_only = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    });
    if transport == Transport::Tls {
        s3.put_bucket_policy()
            .bucket(bucket)
            .policy(tls_only.to_string())
            .send()
            .await
            .context("setting the TLS-only policy on the artifact bucket")?;
    } else {
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

/// Deletes every object version and delete marker, then the bucket. `Ok(false)` when there was
/// no bucket.
pub async fn delete_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<bool> {
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
