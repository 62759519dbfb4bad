//! The built function (`bootstrap`) run as Lambda runs it: a process of its own whose
//! environment holds its settings and the address of a Runtime API stand-in
//! ([`crate::runtime_api`]) that hands it events and takes its answers. What it prints (its JSON
//! log lines and EMF metrics) is kept for the test to show. The process is killed when the
//! [`Function`] is dropped.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::runtime_api::{Answer, RuntimeApi};

/// A running function.
pub struct Function {
    api: RuntimeApi,
    process: Child,
    output: Arc<Mutex<Vec<String>>>,
}

impl Function {
    /// Starts `bootstrap` as the function `name` (`function_arn`) with only `env` (its settings,
    /// region, credentials, endpoint) and the Runtime API's variables in its environment, so
    /// nothing of the caller's (an AWS profile, a log level) reaches it.
    pub fn start(
        bootstrap: &Path,
        name: &str,
        function_arn: &str,
        env: &[(&str, String)],
    ) -> std::io::Result<Function> {
        let api = RuntimeApi::start(function_arn)?;
        let mut process = Command::new(bootstrap)
            .env_clear()
            .envs(api.function_env(name))
            .envs(env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let output = Arc::new(Mutex::new(Vec::new()));
        let stdout = process
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        let stderr = process
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        for stream in [stdout, stderr].into_iter().flatten() {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    output.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
            });
        }
        Ok(Function {
            api,
            process,
            output,
        })
    }

    /// Hands `event` to the function and waits (at most `timeout`, which is also the deadline
    /// the function is told) for its answer.
    pub fn invoke(&self, event: &Value, timeout: Duration) -> anyhow::Result<Answer> {
        self.api.invoke(event, timeout)
    }

    /// Every line the function has printed so far (stdout and stderr, each in order).
    pub fn output(&self) -> Vec<String> {
        self.output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
