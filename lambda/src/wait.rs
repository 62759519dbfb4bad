//! Waiting within an invocation: how long it may wait for a session ([`Budget`]: the policy's
//! `wait_for_ready_seconds`, never past the invocation's deadline) and how often it looks again
//! ([`Backoff`]).

use std::time::{Duration, Instant, SystemTime};

use crate::config::{Guard, Timing};
use crate::report::Invocation;

/// How long this invocation may wait for a session: `wait_for_ready_seconds`, and never past
/// the invocation's deadline minus a margin.
#[derive(Debug)]
pub struct Budget {
    started: Instant,
    limit: Duration,
}

impl Budget {
    pub fn new(guard: &Guard, invocation: &Invocation) -> Budget {
        let wait =
            Duration::from_secs(u64::from(guard.policy().enforcement.wait_for_ready_seconds));
        Budget::until(wait, invocation.deadline, guard.timing.deadline_margin)
    }

    pub fn until(wait: Duration, deadline: SystemTime, margin: Duration) -> Budget {
        let left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .saturating_sub(margin);
        Budget {
            started: Instant::now(),
            limit: wait.min(left),
        }
    }

    pub fn remaining(&self) -> Duration {
        self.limit.saturating_sub(self.started.elapsed())
    }

    pub fn waited(&self) -> Duration {
        self.started.elapsed()
    }

    /// Sleeps for the next backoff delay (cut to what is left); false when nothing is left.
    pub async fn pause(&self, backoff: &mut Backoff) -> bool {
        let remaining = self.remaining();
        if remaining.is_zero() {
            return false;
        }
        tokio::time::sleep(backoff.next_delay().min(remaining)).await;
        true
    }
}

/// Exponential backoff: `first_poll`, doubled each time, capped at `max_poll`.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(timing: &Timing) -> Backoff {
        Backoff {
            next: timing.first_poll,
            max: timing.max_poll,
        }
    }

    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next.min(self.max);
        self.next = (self.next * 2).min(self.max);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Timing;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let timing = Timing {
            first_poll: Duration::from_secs(1),
            max_poll: Duration::from_secs(10),
            ..Timing::LAMBDA
        };
        let mut backoff = Backoff::new(&timing);
        let delays: Vec<u64> = (0..6).map(|_| backoff.next_delay().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn the_budget_ends_before_the_deadline() {
        let deadline = SystemTime::now() + Duration::from_secs(30);
        let budget = Budget::until(Duration::from_secs(100), deadline, Duration::from_secs(10));
        assert!(budget.limit <= Duration::from_secs(20) && budget.limit > Duration::from_secs(18));
        let short = Budget::until(Duration::from_secs(5), deadline, Duration::from_secs(10));
        assert_eq!(short.limit, Duration::from_secs(5));
        let past = Budget::until(
            Duration::from_secs(5),
            SystemTime::UNIX_EPOCH,
            Duration::ZERO,
        );
        assert_eq!(past.limit, Duration::ZERO);
    }
}
