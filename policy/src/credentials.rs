//! Credentials pasted into a policy. The policy travels in the clear: it is committed, reviewed in
//! pull requests, rendered into the stack and handed to the enforcer as its `GSG_POLICY`
//! environment variable. A credential written into any of its strings (an `exception_instructions`
//! with a webhook, a `reason` with a key pair) would be published with it, so validation refuses
//! one, naming the field.
//!
//! This is the stack's check for secrets in the enforcer's environment. checkov's own
//! (CKV_AWS_45) is skipped on the function, because its patterns take ordinary policy text for
//! keys: any run of exactly 40 characters of `[A-Za-z0-9/+=]` is "an AWS secret access key", and
//! `role/` followed by a role name of 35 letters is such a run (docs/stack.md).
//!
//! What is recognised, each by what its issuer documents:
//! - AWS access key ids: `AKIA` (long-term) or `ASIA` (temporary) and 16 more upper-case letters
//!   or digits, alone as a word (IAM User Guide, "IAM identifiers", unique ID prefixes). The key
//!   id is what a pasted key pair always holds; its secret half has no shape of its own.
//! - PEM private keys: `-----BEGIN ... PRIVATE KEY-----` (RFC 7468).
//! - Slack incoming webhooks and workflow triggers: `hooks.slack.com/services/`,
//!   `hooks.slack.com/workflows/`, `hooks.slack.com/triggers/` (Slack API, "Sending messages using
//!   incoming webhooks"): the URL is the secret.
//! - Microsoft Teams incoming webhooks: `webhook.office.com/webhookb2/`, and the Workflows
//!   webhooks that replace them, whose URL carries its signature as `sig=` on `logic.azure.com` or
//!   `powerplatform.com`.

/// The kind of credential `text` holds, in words for an error message, or `None`.
pub fn credential_in(text: &str) -> Option<&'static str> {
    if has_access_key_id(text) {
        return Some("an AWS access key id (AKIA… or ASIA…)");
    }
    if text.contains("-----BEGIN ") && text.contains("PRIVATE KEY-----") {
        return Some("a private key");
    }
    let lower = text.to_ascii_lowercase();
    if ["services/", "workflows/", "triggers/"]
        .iter()
        .any(|kind| lower.contains(&format!("hooks.slack.com/{kind}")))
    {
        return Some("a Slack webhook URL");
    }
    if lower.contains("webhook.office.com/webhookb2/")
        || ((lower.contains("logic.azure.com") || lower.contains("powerplatform.com"))
            && lower.contains("sig="))
    {
        return Some("a Microsoft Teams webhook URL");
    }
    None
}

/// An access key id as a whole word: the 20 characters not joined to more letters or digits.
fn has_access_key_id(text: &str) -> bool {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric();
    (0..bytes.len().saturating_sub(19)).any(|start| {
        let candidate = &bytes[start..start + 20];
        (candidate.starts_with(b"AKIA") || candidate.starts_with(b"ASIA"))
            && candidate[4..]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            && (start == 0 || !word(bytes[start - 1]))
            && bytes.get(start + 20).is_none_or(|&b| !word(b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_recognised_by_their_documented_shapes() {
        // AWS's documentation example key id.
        for text in [
            "AKIAIOSFODNN7EXAMPLE",
            "use AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "key=ASIAIOSFODNN7EXAMPLE.",
        ] {
            assert_eq!(
                credential_in(text),
                Some("an AWS access key id (AKIA… or ASIA…)")
            );
        }
        assert_eq!(
            credential_in("-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n"),
            Some("a private key")
        );
        assert_eq!(
            credential_in("Post to https://hooks.slack.com/services/T000/B000/XXXXXXXX"),
            Some("a Slack webhook URL")
        );
        assert_eq!(
            credential_in(
                "https://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/x/y"
            ),
            Some("a Microsoft Teams webhook URL")
        );
        assert_eq!(
            credential_in(
                "https://prod-00.westus.logic.azure.com:443/workflows/1/triggers/manual/paths/invoke?api-version=2016-06-01&sig=abc"
            ),
            Some("a Microsoft Teams webhook URL")
        );
    }

    #[test]
    fn ordinary_policy_text_holds_no_credential() {
        for text in [
            // The run of 40 that checkov takes for a secret access key.
            "arn:aws:iam::123456789012:role/DataPlatformAnalyticsBackfillRunner",
            // Longer than a key id, or joined to more letters: not one.
            "AKIAIOSFODNN7EXAMPLEX",
            "XAKIAIOSFODNN7EXAMPLE",
            // Lower case is not a key id; a role's unique id (AROA) is no credential.
            "akiaiosfodnn7example",
            "AROAIOSFODNN7EXAMPLE",
            "Ask in #data-platform, or see https://hooks.slack.com/ for the channel",
            "19:3f2a9c0d5b1e4f7a8c6d@thread.tacv2",
            "BEGIN PUBLIC KEY",
            "",
        ] {
            assert_eq!(credential_in(text), None, "{text}");
        }
    }
}
