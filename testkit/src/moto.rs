//! The moto server a test talks to: `GSG_MOTO_ENDPOINT` when set (`cargo xtask test` starts one
//! for all the test binaries), else one `.venv/bin/moto_server` of this test process's own on a
//! free port, started on first use and killed when the process ends.
//!
//! A test process's moto is fresh: nothing made in it survives the process, so fixed names
//! (`gsg-ledger`) never meet "Table already exists" from an earlier run.

use std::process::Child;
use std::sync::{Mutex, OnceLock};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_glue::config::Credentials;

/// This process's own moto, once started.
static OWN: OnceLock<String> = OnceLock::new();
/// The watchdog shell of this process's moto, kept for the life of the process.
static WATCHDOG: OnceLock<Mutex<Child>> = OnceLock::new();

/// Which moto server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MotoServer {
    /// `GSG_MOTO_ENDPOINT` when set, else this process's own: for tests that keep to their own
    /// region or to names of their own run, so that they can share one server.
    Shared,
    /// This process's own, whatever `GSG_MOTO_ENDPOINT` says: for a test that needs a server
    /// nothing else has used.
    Own,
}

impl MotoServer {
    /// The endpoint (`http://127.0.0.1:<port>`), starting this process's moto if needed.
    pub fn endpoint(self) -> String {
        match (self, std::env::var("GSG_MOTO_ENDPOINT")) {
            (MotoServer::Shared, Ok(endpoint)) if !endpoint.is_empty() => endpoint,
            _ => OWN.get_or_init(start).clone(),
        }
    }

    /// SDK configuration for this moto in `region`, with test credentials.
    pub(crate) async fn sdk_config(self, region: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .endpoint_url(self.endpoint())
            .region(Region::new(region.to_string()))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .load()
            .await
    }
}

impl MotoServer {
    /// Sets how moto moves the state of its `model` (`glue::job_run`: STARTING, RUNNING,
    /// SUCCEEDED), with moto's own API (`POST /moto-api/state-manager/set-transition`):
    /// `{"progression": "manual", "times": 1000}` keeps a job run `STARTING` for 1000 reads,
    /// where moto's default (`immediate`) has it `SUCCEEDED` on the first.
    pub fn set_transition(self, model: &str, transition: serde_json::Value) {
        set_transition(&self.endpoint(), model, transition);
    }
}

/// [`MotoServer::set_transition`] on the moto server at `endpoint` (`http://127.0.0.1:<port>`).
pub fn set_transition(endpoint: &str, model: &str, transition: serde_json::Value) {
    xtask::tools::set_moto_transition(endpoint, model, transition)
        .unwrap_or_else(|error| panic!("set-transition: {error:#}"));
}

/// Starts `.venv/bin/moto_server` with xtask's own starter ([`xtask::tools::spawn_moto`]),
/// under a watchdog that kills it once this test process is gone, however the tests end (even
/// a panic or a kill); its endpoint once it answers.
fn start() -> String {
    let (watchdog, endpoint) = xtask::tools::spawn_moto(Some(std::process::id()))
        .unwrap_or_else(|error| panic!("starting moto_server: {error:#}"));
    let _ = WATCHDOG.set(Mutex::new(watchdog));
    endpoint
}
