//! The `bootstrap` binary: one-time setup (JSON logs, settings, SDK clients), then the Lambda
//! runtime loop, passing the guard by reference into every invocation.

use std::str::FromStr;

use aws_config::BehaviorVersion;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use glue_session_guard_lambda::{Guard, Settings, Timing, handle};
use lambda_runtime::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_logs();
    let settings = Settings::from_env().inspect_err(|problem| {
        tracing::error!(error = %problem, "cannot start: the function's environment is wrong");
    })?;
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https)
        .load()
        .await;
    let guard = Guard::new(&sdk, settings, Timing::LAMBDA);
    let guard = &guard;
    lambda_runtime::run(service_fn(move |event| handle(guard, event))).await
}

/// JSON lines on stdout; the level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default INFO).
/// Span fields (`session_id`, `decision`) appear on every line logged inside the span.
fn init_logs() {
    let level = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .and_then(|value| tracing::Level::from_str(value.trim()).ok())
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .init();
}
