//! Glue usage profiles: a session created under one gets the profile's defaults for what its
//! creator left out, so judging it needs the profile (`GetUsageProfile`). Profiles that were
//! read are kept in the warm container for a few minutes ([`Timing::profile_cache`]); a profile
//! that cannot be read is `ProfileLookup::Failed` with the reason, which leaves what it would
//! have supplied unchecked: never a guessed default, never a stop on a guess. Failures are not
//! cached, so a fixed permission takes effect at once.
//!
//! [`Timing::profile_cache`]: ../config/struct.Timing.html#structfield.profile_cache

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_glue::operation::get_usage_profile::GetUsageProfileOutput;
use policy::{ProfileDefaults, ProfileLookup, UsageProfile};
use serde_json::{Map, Value, json};
use tracing::{debug, warn};

use crate::error::GuardError;

/// Usage profiles read recently, by name.
#[derive(Debug, Default)]
pub struct ProfileCache {
    read: Mutex<HashMap<String, (Instant, ProfileDefaults)>>,
}

impl ProfileCache {
    fn get(&self, name: &str, keep_for: Duration) -> Option<ProfileDefaults> {
        let read = self
            .read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        read.get(name)
            .filter(|(at, _)| at.elapsed() < keep_for)
            .map(|(_, defaults)| defaults.clone())
    }

    fn put(&self, name: &str, defaults: &ProfileDefaults) {
        let mut read = self
            .read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        read.insert(name.to_string(), (Instant::now(), defaults.clone()));
    }
}

/// The defaults of usage profile `name`: from the cache when read less than `keep_for` ago,
/// else from `GetUsageProfile`.
pub async fn lookup(
    glue: &aws_sdk_glue::Client,
    cache: &ProfileCache,
    keep_for: Duration,
    name: &str,
) -> ProfileLookup {
    if let Some(defaults) = cache.get(name, keep_for) {
        debug!(profile = name, "usage profile from the cache");
        return ProfileLookup::Found(defaults);
    }
    let result = match glue.get_usage_profile().name(name).send().await {
        Ok(output) => UsageProfile::from_get_usage_profile(&response_json(&output))
            .map_err(|reason| format!("GetUsageProfile answered something unreadable: {reason}")),
        Err(error) => Err(match GuardError::aws("GetUsageProfile", name, error) {
            GuardError::Aws { code, .. } if code == "EntityNotFoundException" => {
                "GetUsageProfile: no such usage profile (EntityNotFoundException)".to_string()
            }
            GuardError::Aws { code, .. } if code == "AccessDeniedException" => {
                "GetUsageProfile was denied (AccessDeniedException): the function's role needs \
                 glue:GetUsageProfile on usageProfile/*"
                    .to_string()
            }
            other => other.to_string(),
        }),
    };
    match result {
        Ok(profile) => {
            cache.put(name, &profile.defaults);
            ProfileLookup::Found(profile.defaults)
        }
        Err(reason) => {
            warn!(profile = name, reason = %reason, "could not read the session's usage profile");
            ProfileLookup::Failed(reason)
        }
    }
}

/// The response as the API's JSON, for the one reader of it in `policy`: an answer without a
/// `Configuration` stays without one, which that reader refuses (never a stop on a guess).
fn response_json(output: &GetUsageProfileOutput) -> Value {
    let Some(configuration) = output.configuration() else {
        return json!({"Name": output.name()});
    };
    let mut sessions = Map::new();
    for (key, object) in configuration.session_configuration().into_iter().flatten() {
        let mut entry = Map::new();
        if let Some(value) = object.default_value() {
            entry.insert("DefaultValue".into(), json!(value));
        }
        sessions.insert(key.clone(), Value::Object(entry));
    }
    json!({
        "Name": output.name(),
        "Configuration": {"SessionConfiguration": sessions},
    })
}
