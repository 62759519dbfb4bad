//! Notifications routed to the teams they concern (`notifications.routes`), and the chat
//! channels that hear them.
//!
//! The enforcer names the routes a session or job run matches in its verdict
//! ([`crate::Verdict::routes`]) and publishes them as the notification's `routes` message
//! attribute (`String.Array`). Each e-mail address of a route subscribes to the stack's topic with
//! the SNS filter policy `{"routes": ["<name>"]}` ([`route_filter_policy`]); the default list
//! subscribes without one, or, with `default_receives: unrouted`, with
//! `{"routes": [{"exists": false}]}` ([`default_filter_policy`]). (Amazon SNS Developer Guide,
//! "Amazon SNS subscription filter policies": attribute key matching, `exists`, and `String.Array`
//! attributes matching when one element matches.)
//!
//! Chat channels cannot filter: Amazon Q Developer in chat applications makes the topic
//! subscription itself. So each audience with chat channels (a route, or the default list) has
//! its own topic, `<stack>-chat-<audience>` ([`chat_topic_name`]), and the enforcer publishes to
//! the topics of the audiences that get the notification ([`chat_audiences`]).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::facts::{Fact, Principal};
use crate::model::{DefaultReceives, Policy, Route};

/// The message attribute that names the routes a notification matches.
pub const ROUTES_ATTRIBUTE: &str = "routes";
/// The audience name of the default list (never a route's name).
pub const DEFAULT_AUDIENCE: &str = "default";

/// The names of the routes of `policy` whose principals match the creator (or its role) or
/// whose tags the session or run carries, in policy order. Tags that are not known match no
/// route by tag.
pub fn routes_of(
    policy: &Policy,
    principal: Option<&Principal>,
    tags: &Fact<BTreeMap<String, String>>,
) -> Vec<String> {
    let Some(notifications) = &policy.notifications else {
        return Vec::new();
    };
    let tags = match tags {
        Fact::Given(tags) => Some(tags),
        Fact::Omitted | Fact::Unknown => None,
    };
    notifications
        .routes
        .iter()
        .filter(|route| {
            crate::facts::principal_matches(principal, &route.principals)
                || (!route.tags.is_empty()
                    && tags.is_some_and(|tags| {
                        route
                            .tags
                            .iter()
                            .all(|(key, value)| tags.get(key) == Some(value))
                    }))
        })
        .map(|route| route.name.clone())
        .collect()
}

/// Whether the default list gets a notification that matched `routes`.
pub fn default_gets(policy: &Policy, routes: &[String]) -> bool {
    let receives = policy
        .notifications
        .as_ref()
        .map_or(DefaultReceives::All, |n| n.default_receives);
    receives == DefaultReceives::All || routes.is_empty()
}

/// The audiences with chat channels that get a notification that matched `routes`: `default`
/// first (when the default list has chat channels and gets it), then each matched route that has
/// chat channels.
pub fn chat_audiences(policy: &Policy, routes: &[String]) -> Vec<String> {
    let Some(notifications) = &policy.notifications else {
        return Vec::new();
    };
    let default_chat = !notifications.slack.is_empty() || !notifications.teams.is_empty();
    let mut audiences = Vec::new();
    if default_chat && default_gets(policy, routes) {
        audiences.push(DEFAULT_AUDIENCE.to_string());
    }
    audiences.extend(
        notifications
            .routes
            .iter()
            .filter(|route| has_chat(route) && routes.contains(&route.name))
            .map(|route| route.name.clone()),
    );
    audiences
}

/// Every audience with chat channels: what gets a chat topic in the stack.
pub fn all_chat_audiences(policy: &Policy) -> Vec<String> {
    let Some(notifications) = &policy.notifications else {
        return Vec::new();
    };
    let mut audiences = Vec::new();
    if !notifications.slack.is_empty() || !notifications.teams.is_empty() {
        audiences.push(DEFAULT_AUDIENCE.to_string());
    }
    audiences.extend(
        notifications
            .routes
            .iter()
            .filter(|route| has_chat(route))
            .map(|route| route.name.clone()),
    );
    audiences
}

fn has_chat(route: &Route) -> bool {
    !route.slack.is_empty() || !route.teams.is_empty()
}

/// The chat topic's name of `audience` in stack `stack_name`: `<stack>-chat-<audience>`
/// (SNS topic names: 1 to 256 letters, digits, `-` and `_`).
pub fn chat_topic_name(stack_name: &str, audience: &str) -> String {
    format!("{stack_name}-chat-{audience}")
}

/// The ARN of `audience`'s chat topic, beside the stack's own topic `own_topic_arn` (same
/// partition, Region and account); `None` when that is not a topic ARN.
pub fn chat_topic_arn(own_topic_arn: &str, stack_name: &str, audience: &str) -> Option<String> {
    let (prefix, _) = own_topic_arn.rsplit_once(':')?;
    prefix
        .starts_with("arn:")
        .then(|| format!("{prefix}:{}", chat_topic_name(stack_name, audience)))
}

/// The filter policy of a route's e-mail subscriptions: the notifications that matched it.
pub fn route_filter_policy(route: &Route) -> Value {
    json!({ ROUTES_ATTRIBUTE: [route.name] })
}

/// The filter policy of the default list's e-mail subscriptions: none when it gets everything;
/// with `default_receives: unrouted`, the notifications without a `routes` attribute.
pub fn default_filter_policy(policy: &Policy) -> Option<Value> {
    let receives = policy
        .notifications
        .as_ref()
        .map_or(DefaultReceives::All, |n| n.default_receives);
    (receives == DefaultReceives::Unrouted)
        .then(|| json!({ ROUTES_ATTRIBUTE: [{ "exists": false }] }))
}

#[cfg(test)]
mod tests;
