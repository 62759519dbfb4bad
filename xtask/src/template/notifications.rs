//! What the stack makes of `notifications` beyond the default e-mails on the topic: e-mail
//! subscriptions with SNS filter policies (the routes', and the default list's with
//! `default_receives: unrouted`), and for every audience with chat channels its chat topic and
//! the Slack and Microsoft Teams channel configurations of Amazon Q Developer in chat
//! applications (`policy::routes`).

use serde::Serialize;

/// The notification resources, shaped for the template.
#[derive(Serialize, Debug, Default)]
pub(super) struct NotificationsView {
    /// The default list's e-mails, subscribed inline on the topic (no filter).
    pub inline_emails: Vec<String>,
    /// E-mail subscriptions that filter (`AWS::SNS::Subscription` with `FilterPolicy`).
    pub filtered: Vec<FilteredEmail>,
    /// One topic per audience with chat channels.
    pub chat_topics: Vec<ChatTopic>,
    pub slack: Vec<SlackView>,
    pub teams: Vec<TeamsView>,
}

#[derive(Serialize, Debug)]
pub(super) struct FilteredEmail {
    pub logical_id: String,
    pub email: String,
    /// The filter policy.
    pub filter_policy: serde_json::Value,
    /// Whose subscription it is: `default` or the route's name (a comment in the template).
    pub audience: String,
}

#[derive(Serialize, Debug)]
pub(super) struct ChatTopic {
    pub logical_id: String,
    /// `<stack>-chat-<audience>`: the name the enforcer finds it by.
    pub name: String,
    pub audience: String,
}

#[derive(Serialize, Debug)]
pub(super) struct SlackView {
    pub logical_id: String,
    pub configuration_name: String,
    pub workspace_id: String,
    pub channel_id: String,
    pub topic_logical_id: String,
}

#[derive(Serialize, Debug)]
pub(super) struct TeamsView {
    pub logical_id: String,
    pub configuration_name: String,
    pub tenant_id: String,
    pub team_id: String,
    /// URL-encoded as the resource takes it (`19%3a...%40thread.tacv2`).
    pub channel_id: String,
    pub topic_logical_id: String,
}

/// A Teams channel id as `TeamsChannelId` takes it: `:` and `@` URL-encoded (the resource's
/// pattern is `^([a-zA-Z0-9-_=+/.,])*%3[aA]([a-zA-Z0-9-_=+/.,])*%40([a-zA-Z0-9-_=+/.,])*$`).
pub(super) fn encoded_teams_channel_id(id: &str) -> String {
    policy::validate::decoded_teams_channel_id(id)
        .replace(':', "%3a")
        .replace('@', "%40")
}

impl NotificationsView {
    pub(super) fn of(policy: &policy::Policy) -> NotificationsView {
        let Some(notifications) = &policy.notifications else {
            return NotificationsView::default();
        };
        let stack = &policy.stack.name;
        let mut view = NotificationsView::default();
        match policy::routes::default_filter_policy(policy) {
            None => view.inline_emails = notifications.emails.clone(),
            Some(filter) => {
                for (i, email) in notifications.emails.iter().enumerate() {
                    view.filtered.push(FilteredEmail {
                        logical_id: format!("DefaultEmail{}", i + 1),
                        email: email.clone(),
                        filter_policy: filter.clone(),
                        audience: policy::routes::DEFAULT_AUDIENCE.to_string(),
                    });
                }
            }
        }
        for (r, route) in notifications.routes.iter().enumerate() {
            let filter = policy::routes::route_filter_policy(route);
            for (i, email) in route.emails.iter().enumerate() {
                view.filtered.push(FilteredEmail {
                    logical_id: format!("Route{}Email{}", r + 1, i + 1),
                    email: email.clone(),
                    filter_policy: filter.clone(),
                    audience: route.name.clone(),
                });
            }
        }
        let audiences = std::iter::once((
            policy::routes::DEFAULT_AUDIENCE,
            "ChatTopicDefault".to_string(),
            &notifications.slack,
            &notifications.teams,
        ))
        .chain(notifications.routes.iter().enumerate().map(|(r, route)| {
            (
                route.name.as_str(),
                format!("ChatTopicRoute{}", r + 1),
                &route.slack,
                &route.teams,
            )
        }));
        for (audience, topic_id, slack, teams) in audiences {
            if slack.is_empty() && teams.is_empty() {
                continue;
            }
            for (i, channel) in slack.iter().enumerate() {
                view.slack.push(SlackView {
                    logical_id: format!("{topic_id}Slack{}", i + 1),
                    configuration_name: format!("{stack}-{audience}-slack-{}", i + 1),
                    workspace_id: channel.workspace_id.clone(),
                    channel_id: channel.channel_id.clone(),
                    topic_logical_id: topic_id.clone(),
                });
            }
            for (i, channel) in teams.iter().enumerate() {
                view.teams.push(TeamsView {
                    logical_id: format!("{topic_id}Teams{}", i + 1),
                    configuration_name: format!("{stack}-{audience}-teams-{}", i + 1),
                    tenant_id: channel.tenant_id.clone(),
                    team_id: channel.team_id.clone(),
                    channel_id: encoded_teams_channel_id(&channel.channel_id),
                    topic_logical_id: topic_id.clone(),
                });
            }
            view.chat_topics.push(ChatTopic {
                logical_id: topic_id,
                name: policy::routes::chat_topic_name(stack, audience),
                audience: audience.to_string(),
            });
        }
        view
    }
}
