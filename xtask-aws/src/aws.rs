//! The SDK configuration built from the AWS flags every AWS-facing command shares
//! (`xtask::aws_args::AwsArgs`: `--region`, `--profile`, `--endpoint-url`). `--endpoint-url` (or `AWS_ENDPOINT_URL`) points
//! every client at an emulator such as moto.

use anyhow::Context;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::result::SdkError;

pub use xtask::aws_args::AwsArgs;
#[cfg(test)]
use xtask::aws_args::endpoint_url;

/// An SDK error (or any error) as one readable line: each cause in the chain once, by its
/// message, without the debug dump of requests and responses that the SDK's own display adds.
pub fn described(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(error);
    while let Some(current) = cause {
        let text = current.to_string();
        let repeated = parts.iter().any(|part| part.contains(text.as_str()));
        if !text.is_empty() && !repeated {
            parts.push(text);
        }
        cause = current.source();
    }
    parts.join(": ")
}

/// An SDK error as [`described`] says it, and, when the service's answer could not be read as an
/// error (an emulator's plain-text or HTML error page), what it answered in one line
/// ([`answered`]): the reason is often only there.
pub(crate) fn described_sdk<E>(
    error: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> String
where
    E: std::error::Error + aws_sdk_glue::error::ProvideErrorMetadata + 'static,
{
    let text = described(error);
    // An answer is unreadable when the SDK found no error code in it (an AWS error always has one).
    let coded = error
        .as_service_error()
        .is_some_and(|service| service.code().is_some());
    let unreadable = !coded && (text.contains("unhandled error") || text.contains("error parsing"));
    match error.raw_response() {
        // The parser's complaint (`unexpected token '<'`) says nothing the answer does not.
        Some(raw) if unreadable => {
            let body = raw.body().bytes().unwrap_or_default();
            format!(
                "the answer is not an AWS error ({}): an endpoint or emulator without this API?",
                answered(raw.status().as_u16(), body)
            )
        }
        _ => text,
    }
}

/// A body no AWS client could read, in one line: an HTML page by its title (or first heading),
/// anything else by its first 200 characters with the whitespace folded; with the HTTP status.
pub fn answered(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let lower = text.to_ascii_lowercase();
    let folded = |text: &str, limit: usize| -> String {
        let words: Vec<&str> = text.split_whitespace().collect();
        let line = words.join(" ");
        match line.char_indices().nth(limit) {
            Some((cut, _)) => format!("{}...", &line[..cut]),
            None => line,
        }
    };
    let between = |open: &str, close: &str| -> Option<String> {
        let start = lower.find(open)?;
        let start = start + lower[start..].find('>')? + 1;
        let end = start + lower[start..].find(close)?;
        Some(folded(&text[start..end], 120)).filter(|title| !title.is_empty())
    };
    if lower.trim_start().starts_with("<!doctype html") || lower.contains("<html") {
        let title = between("<title", "</title>").or_else(|| between("<h1", "</h1>"));
        return match title {
            Some(title) => format!("HTTP {status}, an HTML page: {title}"),
            None => format!("HTTP {status}, an HTML page"),
        };
    }
    match folded(&text, 200) {
        body if body.is_empty() => format!("HTTP {status}, an empty body"),
        body => format!("HTTP {status}: {body}"),
    }
}

/// What to try about a failure, from what it says: `None` when there is nothing to add.
pub fn hint(described: &str, endpoint_url: Option<&str>) -> Option<String> {
    let text = described.to_ascii_lowercase();
    if text.contains("connection refused") || text.contains("tcp connect error") {
        return Some(match endpoint_url {
            Some(url) => format!(
                "nothing answers at {url}: start the emulator (moto_server -p PORT) or correct \
                 --endpoint-url / AWS_ENDPOINT_URL"
            ),
            None => "the endpoint cannot be reached: check the network, a proxy (HTTPS_PROXY), \
                     the region, or the emulator behind --endpoint-url"
                .to_string(),
        });
    }
    if text.contains("credentials") || text.contains("no providers in chain") {
        return Some(
            "no usable AWS credentials: pass --profile, set AWS_PROFILE, or AWS_ACCESS_KEY_ID \
             and AWS_SECRET_ACCESS_KEY (any values for an emulator)"
                .to_string(),
        );
    }
    if text.contains("expired") || text.contains("invalidclienttokenid") {
        return Some("the credentials are expired or unknown: refresh them (aws sso login)".into());
    }
    // S3 answers a call sent to another Region than its bucket's with a redirect (301
    // PermanentRedirect) or, signed for the wrong Region, AuthorizationHeaderMalformed; the SDK
    // follows neither.
    if text.contains("permanentredirect") || text.contains("authorizationheadermalformed") {
        return Some(
            "the bucket is in another Region than the calls went to (--region, else the policy's \
             stack.region, else AWS_REGION): give --region with the bucket's Region"
                .into(),
        );
    }
    if text.contains("accessdenied")
        || text.contains("access denied")
        || text.contains("not authorized")
    {
        return Some(
            "the credentials lack a permission this command needs (the README lists them)".into(),
        );
    }
    None
}

/// `operation` failed: one line saying so and why, then a hint when there is one.
pub fn failure(
    operation: &str,
    error: &(dyn std::error::Error + 'static),
    endpoint_url: Option<&str>,
) -> anyhow::Error {
    let why = described(error);
    match hint(&why, endpoint_url) {
        Some(hint) => anyhow::anyhow!("{operation} failed: {why}\nhint: {hint}"),
        None => anyhow::anyhow!("{operation} failed: {why}"),
    }
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
        if let Some(profile) = &args.aws_profile {
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
            "no AWS region: pass --region, set stack.region in the policy, or set AWS_REGION (or a \
             profile's region in ~/.aws/config)",
        )?;
        Ok(Aws {
            config,
            region,
            endpoint_url: args.endpoint_url.clone(),
        })
    }

    /// How often to look at an operation in progress: emulators answer at once; AWS takes its
    /// time.
    pub fn poll_interval(&self) -> std::time::Duration {
        if self.endpoint_url.is_some() {
            std::time::Duration::from_millis(200)
        } else {
            std::time::Duration::from_secs(3)
        }
    }

    /// The same credentials and endpoint in another Region (`deploy --org` stages a bucket in
    /// each target Region).
    pub fn in_region(&self, region: &str) -> Aws {
        Aws {
            config: self
                .config
                .to_builder()
                .region(Region::new(region.to_string()))
                .build(),
            region: region.to_string(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }

    pub fn athena(&self) -> aws_sdk_athena::Client {
        aws_sdk_athena::Client::new(&self.config)
    }

    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        aws_sdk_organizations::Client::new(&self.config)
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

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.config)
    }

    pub fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.config)
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.config)
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config)
    }

    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.config)
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
            let target = aws
                .endpoint_url
                .as_deref()
                .map_or_else(|| format!("AWS in {}", aws.region), |url| url.to_string());
            let why = described(&error);
            let hint = hint(&why, aws.endpoint_url.as_deref()).unwrap_or_else(|| {
                "check --profile / AWS_PROFILE / AWS_ACCESS_KEY_ID, and --endpoint-url when \
                 using an emulator"
                    .to_string()
            });
            anyhow::anyhow!("cannot verify AWS credentials against {target}: {why}\nhint: {hint}")
        })?;
    Ok(Caller {
        account: identity.account().unwrap_or_default().to_string(),
        arn: identity.arn().unwrap_or_default().to_string(),
    })
}

/// A tokio runtime for one command.
pub fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

#[cfg(test)]
mod readable_tests {
    use super::*;

    #[test]
    fn an_unreadable_answer_is_one_line_and_an_html_page_its_title() {
        let page = b"<!DOCTYPE html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server.  If you entered the URL manually please check your spelling and try again.</p>\n";
        assert_eq!(answered(404, page), "HTTP 404, an HTML page: 404 Not Found");
        assert_eq!(
            answered(500, b"<html><body><h1>Internal\n  Error</h1></body></html>"),
            "HTTP 500, an HTML page: Internal Error"
        );
        assert_eq!(answered(400, b"  plain\n\ntext  "), "HTTP 400: plain text");
        let long = "x ".repeat(500);
        assert_eq!(
            answered(400, long.as_bytes()).chars().count(),
            "HTTP 400: ".len() + 200 + 3
        );
        assert_eq!(answered(502, b""), "HTTP 502, an empty body");
    }

    #[test]
    fn endpoints_need_a_scheme() {
        assert_eq!(
            endpoint_url("127.0.0.1:5099").unwrap_err(),
            "`127.0.0.1:5099` has no scheme: write http://127.0.0.1:5099 (an emulator) or https://127.0.0.1:5099"
        );
        assert!(endpoint_url("ftp://x").unwrap_err().contains("not `ftp`"));
        assert_eq!(
            endpoint_url("http://127.0.0.1:5099").unwrap(),
            "http://127.0.0.1:5099"
        );
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);
    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|layer| layer as _)
        }
    }

    #[test]
    fn a_bucket_in_another_region_is_named_as_such() {
        for why in [
            "service error: unhandled error (PermanentRedirect)",
            "AuthorizationHeaderMalformed: the region 'eu-west-1' is wrong; expecting 'us-east-1'",
        ] {
            let hint = hint(why, None).unwrap_or_default();
            assert!(
                hint.contains("give --region with the bucket's Region"),
                "{why}: {hint}"
            );
        }
    }

    #[test]
    fn failures_are_one_line_with_a_hint() {
        let error = Layer(
            "dispatch failure",
            Some(Box::new(Layer(
                "io error",
                Some(Box::new(Layer(
                    "tcp connect error: Connection refused (os error 111)",
                    None,
                ))),
            ))),
        );
        let message =
            failure("GetCallerIdentity", &error, Some("http://127.0.0.1:5099")).to_string();
        assert_eq!(
            message,
            "GetCallerIdentity failed: dispatch failure: io error: tcp connect error: Connection refused (os error 111)\n\
             hint: nothing answers at http://127.0.0.1:5099: start the emulator (moto_server -p PORT) or correct --endpoint-url / AWS_ENDPOINT_URL"
        );
        let creds = Layer("an error occurred while loading credentials", None);
        assert!(
            failure("X", &creds, None)
                .to_string()
                .contains("no usable AWS credentials")
        );
    }
}
