//! Principal patterns: IAM-style ARN globs (`*` any run of bytes, `?` one byte: ARNs are ASCII),
//! checked for shape when the policy is loaded and matched against caller ARNs at run time.

/// A validated principal pattern such as `arn:aws:iam::*:role/DataPlatformAdmin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnPattern(String);

const PARTITIONS: &[&str] = &["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"];

impl ArnPattern {
    /// Checks that `pattern` is shaped like an IAM or STS principal ARN.
    pub fn parse(pattern: &str) -> Result<ArnPattern, String> {
        ArnPattern::check(pattern)?;
        Ok(ArnPattern(pattern.to_string()))
    }

    /// Whether `pattern` is shaped like an IAM or STS principal ARN ([`ArnPattern::parse`]
    /// without keeping it: nothing is allocated unless it is not).
    pub fn check(pattern: &str) -> Result<(), String> {
        let mut parts = [""; 6];
        let mut count = 0;
        for (slot, part) in parts.iter_mut().zip(pattern.splitn(6, ':')) {
            *slot = part;
            count += 1;
        }
        if count != 6 || parts[0] != "arn" {
            return Err(
                "not an ARN pattern: expected `arn:PARTITION:iam::ACCOUNT:role/NAME` \
                        (or `user/NAME`, `assumed-role/ROLE/SESSION` under `sts`)"
                    .to_string(),
            );
        }
        let [_, partition, service, region, account, resource] = parts;
        if !(PARTITIONS.contains(&partition) || partition == "*") {
            return Err(format!(
                "unknown partition `{partition}`; expected one of {} or `*`",
                PARTITIONS.join(", ")
            ));
        }
        if !matches!(service, "iam" | "sts" | "*") {
            return Err(format!(
                "principals are IAM or STS ARNs; service `{service}` is neither"
            ));
        }
        if !region.is_empty() {
            return Err("IAM and STS ARNs have an empty region field (`arn:aws:iam::…`)".into());
        }
        // Without a `*`, an account is exactly 12 characters (digits, or `?` for one): a shorter
        // one such as `12345` can never match and is a typo.
        let glob_chars = !account.is_empty()
            && account
                .chars()
                .all(|c| c.is_ascii_digit() || c == '*' || c == '?');
        let account_ok = glob_chars
            && if account.contains('*') {
                account.chars().filter(|c| *c != '*').count() <= 12
            } else {
                account.len() == 12
            };
        if !account_ok {
            return Err(format!(
                "account `{account}` must be 12 digits (an AWS account id), `*`, or a glob of \
                 digits, `*` and `?` (without `*`, exactly 12 characters)"
            ));
        }
        if resource.is_empty() || resource.chars().all(|c| c == '*') {
            return Err(
                "the resource part must name a role, user or assumed role; a bare `*` would \
                 match every principal"
                    .to_string(),
            );
        }
        // ASCII (every real pattern) byte by byte; anything else character by character.
        let spaced = if pattern.is_ascii() {
            pattern
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        } else {
            pattern.chars().any(|c| c.is_whitespace() || c.is_control())
        };
        if spaced {
            return Err("ARN patterns contain no whitespace".to_string());
        }
        if pattern.len() > 2048 {
            return Err("ARN patterns are at most 2048 characters".to_string());
        }
        Ok(())
    }

    /// True when `pattern` is an ARN pattern ([`ArnPattern::check`]) that one of `arns`
    /// matches; an invalid pattern matches nothing. Allocates nothing: a judgement runs it for
    /// every pattern of the policy.
    pub fn any_matches<'a>(pattern: &str, arns: impl IntoIterator<Item = &'a str>) -> bool {
        // The check second: most patterns match none of a caller's ARNs, and then it is moot.
        arns.into_iter()
            .any(|arn| glob_match(pattern.as_bytes(), arn.as_bytes()))
            && ArnPattern::check(pattern).is_ok()
    }

    /// True when `arn` matches this pattern.
    pub fn matches(&self, arn: &str) -> bool {
        glob_match(self.0.as_bytes(), arn.as_bytes())
    }
}

/// `*` matches any run (also empty), `?` exactly one byte; everything else literally.
///
/// The pattern is read as literal segments between stars, each of a fixed length (`?` is one
/// byte). Without a star the pattern must equal the text. Otherwise the first segment must
/// begin the text and the last end it; each segment between is placed at its leftmost fit
/// after the one before, which finds a match whenever there is one (segments of fixed length
/// never gain from a later place). No recursion, no allocation; a text that differs in its
/// first bytes (another partition, service or account) is refused there.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let Some(first_star) = pattern.iter().position(|&b| b == b'*') else {
        return segment_fits(pattern, text);
    };
    let last_star = pattern
        .iter()
        .rposition(|&b| b == b'*')
        .unwrap_or(first_star);
    let (head, tail) = (&pattern[..first_star], &pattern[last_star + 1..]);
    if text.len() < head.len() + tail.len() {
        return false;
    }
    let (text_head, rest) = text.split_at(head.len());
    let (mut rest, text_tail) = rest.split_at(rest.len() - tail.len());
    if !segment_fits(head, text_head) || !segment_fits(tail, text_tail) {
        return false;
    }
    for segment in pattern[first_star + 1..last_star.max(first_star + 1)]
        .split(|&b| b == b'*')
        .filter(|segment| !segment.is_empty())
    {
        let Some(at) = rest
            .windows(segment.len())
            .position(|window| segment_fits(segment, window))
        else {
            return false;
        };
        rest = &rest[at + segment.len()..];
    }
    true
}

/// A star-free segment against text of the same length (`?` is any one byte).
fn segment_fits(segment: &[u8], text: &[u8]) -> bool {
    segment.len() == text.len() && segment.iter().zip(text).all(|(&p, &t)| p == t || p == b'?')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ASCII reading refuses exactly the characters the general one does.
    #[test]
    fn every_ascii_space_or_control_is_refused_as_the_general_reading_refuses_it() {
        for byte in 0u8..128 {
            let c = byte as char;
            let pattern = format!("arn:aws:iam::*:role/a{c}b");
            let refused = ArnPattern::check(&pattern).is_err_and(|why| why.contains("whitespace"));
            assert_eq!(refused, c.is_whitespace() || c.is_control(), "{byte:#x}");
        }
        assert!(ArnPattern::check("arn:aws:iam::*:role/a\u{a0}b").is_err());
    }

    /// The matcher as it was: one backtrack point, byte by byte. The oracle for the segments.
    fn reference(pattern: &[u8], text: &[u8]) -> bool {
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
                p += 1;
                t += 1;
            } else if p < pattern.len() && pattern[p] == b'*' {
                star = Some((p, t));
                p += 1;
            } else if let Some((star_p, star_t)) = star {
                p = star_p + 1;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            } else {
                return false;
            }
        }
        pattern[p..].iter().all(|&c| c == b'*')
    }

    /// Every pattern of up to 5 of `a b ? *` against every text of up to 6 of `a b`, and
    /// pseudo-random longer ones: the same answer as the reference.
    #[test]
    fn segments_answer_as_the_backtracking_matcher() {
        fn all(alphabet: &[u8], max: usize) -> Vec<Vec<u8>> {
            let mut out = vec![Vec::new()];
            let mut last = vec![Vec::new()];
            for _ in 0..max {
                last = last
                    .iter()
                    .flat_map(|s: &Vec<u8>| {
                        alphabet.iter().map(move |&c| {
                            let mut s = s.clone();
                            s.push(c);
                            s
                        })
                    })
                    .collect();
                out.extend(last.iter().cloned());
            }
            out
        }
        let (patterns, texts) = (all(b"ab?*", 5), all(b"ab", 6));
        for pattern in &patterns {
            for text in &texts {
                assert_eq!(
                    glob_match(pattern, text),
                    reference(pattern, text),
                    "{:?} vs {:?}",
                    String::from_utf8_lossy(pattern),
                    String::from_utf8_lossy(text)
                );
            }
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n) as usize
        };
        for _ in 0..20_000 {
            let pattern: Vec<u8> = (0..next(14)).map(|_| b"abc?*:/"[next(7)]).collect();
            let text: Vec<u8> = (0..next(24)).map(|_| b"abc:/"[next(5)]).collect();
            assert_eq!(glob_match(&pattern, &text), reference(&pattern, &text));
        }
    }

    #[test]
    fn star_and_question_mark() {
        let pattern = ArnPattern::parse("arn:aws:iam::*:role/Data*").unwrap();
        assert!(pattern.matches("arn:aws:iam::123456789012:role/DataPlatformAdmin"));
        assert!(pattern.matches("arn:aws:iam::123456789012:role/Data"));
        assert!(!pattern.matches("arn:aws:iam::123456789012:role/Analyst"));
        assert!(!pattern.matches("arn:aws:iam::123456789012:user/DataPlatformAdmin"));
        let one = ArnPattern::parse("arn:aws:iam::12345678901?:user/bob").unwrap();
        assert!(one.matches("arn:aws:iam::123456789019:user/bob"));
        assert!(!one.matches("arn:aws:iam::1234567890199:user/bob"));
    }

    #[test]
    fn exact_pattern_matches_only_itself() {
        let pattern = ArnPattern::parse("arn:aws:iam::123456789012:role/BreakGlass").unwrap();
        assert!(pattern.matches("arn:aws:iam::123456789012:role/BreakGlass"));
        assert!(!pattern.matches("arn:aws:iam::123456789012:role/BreakGlass2"));
        assert!(!pattern.matches("arn:aws:iam::210987654321:role/BreakGlass"));
    }

    #[test]
    fn rejects_malformed_patterns() {
        for (pattern, reason) in [
            ("*", "not an ARN pattern"),
            ("arn:aws:iam::*", "not an ARN pattern"),
            ("arn:azure:iam::*:role/X", "unknown partition"),
            ("arn:aws:s3::*:role/X", "service `s3`"),
            ("arn:aws:iam:eu-west-1:*:role/X", "empty region"),
            ("arn:aws:iam::12ab:role/X", "account `12ab`"),
            (
                "arn:aws:iam::12345:role/X",
                "account `12345` must be 12 digits",
            ),
            (
                "arn:aws:iam::1234567890123:role/X",
                "account `1234567890123`",
            ),
            ("arn:aws:iam::*:*", "bare `*`"),
            ("arn:aws:iam::*:role/with space", "whitespace"),
        ] {
            let error = ArnPattern::parse(pattern).unwrap_err();
            assert!(error.contains(reason), "{pattern}: {error}");
        }
    }

    #[test]
    fn pathological_patterns_finish() {
        let pattern = format!("{}b", "*a".repeat(50));
        let text = "a".repeat(5000);
        assert!(!glob_match(pattern.as_bytes(), text.as_bytes()));
    }
}
