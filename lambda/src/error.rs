//! Why an invocation fails, and whether trying again can help.
//!
//! Every failure fails the invocation (so Lambda retries it and then sends it to the DLQ, where
//! the alarm sees it); [`Retry`] tells the log reader and the DLQ reader which ones were
//! transient (throttling, 5xx, time-outs, a session still provisioning) and which need a person
//! (access denied, invalid input).

use aws_sdk_glue::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use lambda_runtime::Diagnostic;
use serde::Serialize;

/// Whether an invocation that failed this way can succeed when tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Retry {
    Retryable,
    NotRetryable,
}

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("{operation} for {subject} failed ({code}): {message}")]
    Aws {
        operation: &'static str,
        subject: String,
        code: String,
        message: String,
        retry: Retry,
    },
    #[error(
        "session {session_id} is still {status} after waiting {waited_seconds}s; \
         not stopped yet (a retry or the sweep will)"
    )]
    StillStarting {
        session_id: String,
        status: String,
        waited_seconds: u64,
    },
    #[error(
        "session {session_id} is still {status} after waiting {waited_seconds}s, so it cannot be deleted yet"
    )]
    StillStopping {
        session_id: String,
        status: String,
        waited_seconds: u64,
    },
    #[error(
        "another invocation is notifying about session {session_id} and had not finished after \
         {waited_seconds}s; a retry will see whether it did"
    )]
    NotificationInFlight {
        session_id: String,
        waited_seconds: u64,
    },
    #[error("Glue did not stop the {subject}: {why}; a retry tries again")]
    NotStopped { subject: String, why: String },
    #[error("could not build a request: {0}")]
    Request(String),
    #[error("the sweep could not finish {failed} of {judged} sessions; first failure: {first}")]
    SweepIncomplete {
        failed: usize,
        judged: usize,
        first: Box<GuardError>,
    },
}

impl GuardError {
    /// Whether the failure came before a stop happened: Glue refused or failed the stop
    /// (`StopSession`, `BatchStopJobRun`), or the session was still starting when the
    /// invocation's time ran out. A failure after an accepted stop (a notification) is not.
    pub fn before_the_stop(&self) -> bool {
        match self {
            GuardError::Aws { operation, .. } => {
                matches!(*operation, "StopSession" | "BatchStopJobRun")
            }
            GuardError::StillStarting { .. } | GuardError::NotStopped { .. } => true,
            _ => false,
        }
    }

    /// An SDK error, classified: throttling, 5xx, time-outs and transport errors are retryable
    /// (the SDK has already retried them); any other error is not.
    pub fn aws<E>(operation: &'static str, subject: &str, error: SdkError<E>) -> GuardError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = error.code().unwrap_or("none").to_string();
        let retry = match &error {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => Retry::Retryable,
            SdkError::ServiceError(service) => {
                let status = service.raw().status().as_u16();
                if status >= 500
                    || status == 429
                    || is_throttling(&code)
                    || code.contains("Timeout")
                {
                    Retry::Retryable
                } else {
                    Retry::NotRetryable
                }
            }
            _ => Retry::NotRetryable,
        };
        GuardError::Aws {
            operation,
            subject: subject.to_string(),
            code,
            message: DisplayErrorContext(&error).to_string(),
            retry,
        }
    }

    pub fn retry(&self) -> Retry {
        match self {
            GuardError::Aws { retry, .. } => *retry,
            GuardError::StillStarting { .. }
            | GuardError::StillStopping { .. }
            | GuardError::NotificationInFlight { .. }
            | GuardError::NotStopped { .. } => Retry::Retryable,
            GuardError::Request(_) => Retry::NotRetryable,
            GuardError::SweepIncomplete { first, .. } => first.retry(),
        }
    }
}

fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "SlowDown"
            | "ProvisionedThroughputExceededException"
    )
}

impl From<GuardError> for Diagnostic {
    fn from(error: GuardError) -> Diagnostic {
        let error_type = match error.retry() {
            Retry::Retryable => "GlueSessionGuard.Retryable",
            Retry::NotRetryable => "GlueSessionGuard.NotRetryable",
        };
        Diagnostic {
            error_type: error_type.to_string(),
            error_message: error.to_string(),
        }
    }
}
