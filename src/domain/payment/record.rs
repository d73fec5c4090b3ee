//! What is known about one checkout's payment, and what to ask the payment provider next.
//!
//! A payment is *not sent* (no request carrying its idempotency key can have left this
//! process), *maybe sent* (one may have reached the provider), or *decided*: paid, with the
//! provider's reference for it, or refused, with the reason. Every answer of the provider is
//! an [`Observation`], sorted by what it says about *this* payment. [`PaymentRecord::observe`]
//! is the one place that turns answers into knowledge, and [`PaymentRecord::next`] the one
//! place that decides what to ask next, and when. The rules:
//!
//! - Only a verdict about this key or this payment refuses a payment that may have been sent:
//!   a decline in the answer to the key, the payment found in a final failed state, or a
//!   lookup that finds nothing once the provider's search has caught up with the last request
//!   that carried the key. Everything else says nothing about the payment and leaves it maybe
//!   sent: a timeout, a dropped connection, 409, 429, 5xx, and also 401, 403, 404 and any other
//!   refusal that is not about the card, an error of configuration or of the lookup.
//! - A payment not sent may be refused by checks made before any request left this process.
//! - Every answer that names the payment records its reference, and a payment with a
//!   reference is followed up by it: it is never asked for with the key again, so a replayed
//!   answer cannot keep it waiting.
//! - A payment the cart gives up on (one that waits for the customer at the bank, say) is
//!   cancelled first. Until the provider confirms the cancel, it is still maybe sent.
//! - The key is sent at most [`SENDS`] times, and never once the provider may have forgotten
//!   it: its age counts from the first request that may have carried it.
//! - A payment goes through one provider. Before the key is first sent, the record learns the
//!   provider of the worker that answers ([`Step::Provider`]); from then on only workers that
//!   pay through it send the key or answer for it, so a worker with other payment settings (the
//!   local ledger, another Stripe flow or account mode) can never refuse a payment it does not
//!   hold. Of the timings its workers report, the most cautious counts.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// How many times the key is sent at most: the first request and two more after answers that
/// told nothing, a second and then two seconds apart. After that the payment is looked up.
pub const SENDS: u32 = 3;

/// What the payment provider's clock is like, as the provider's settings say; every answer
/// carries it, so the record follows the provider it talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentTiming {
    /// How long after the first request with a key the provider surely still remembers it
    /// (Stripe: 24 hours, less a margin). Past it, the key is never sent again.
    pub key_window: SignedDuration,
    /// How long the provider's search may take to show a payment made (Stripe's can lag new
    /// data by a minute, more during an incident). An empty lookup means nothing was charged
    /// only this long after the last request with the key.
    pub search_lag: SignedDuration,
    /// The longest wait between two follow-ups of a payment that is not settled.
    pub follow_up_max: SignedDuration,
    /// How long one request to the provider may take.
    pub request_timeout: SignedDuration,
}

impl PaymentTiming {
    /// The more cautious of two timings: the shorter key window, the longer search lag and
    /// request timeout, the longer wait between questions.
    pub fn cautious(self, other: PaymentTiming) -> PaymentTiming {
        PaymentTiming {
            key_window: self.key_window.min(other.key_window),
            search_lag: self.search_lag.max(other.search_lag),
            follow_up_max: self.follow_up_max.max(other.follow_up_max),
            request_timeout: self.request_timeout.max(other.request_timeout),
        }
    }
}

impl Default for PaymentTiming {
    /// Stripe's, until a provider has answered.
    fn default() -> Self {
        Self {
            key_window: SignedDuration::from_hours(23),
            search_lag: SignedDuration::from_mins(10),
            follow_up_max: SignedDuration::from_mins(5),
            request_timeout: SignedDuration::from_secs(25),
        }
    }
}

/// What one answer of the provider says about the payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Observation {
    /// A worker is ready to pay through its provider (the answer names it); nothing was asked
    /// of the provider.
    Ready,
    /// Nothing was sent: checks made before any request refused it (a live key without a
    /// payment method, an amount the provider cannot take exactly, a token the provider does
    /// not take).
    NotSent { reason: String },
    /// This call sent nothing: it began too late to send within its time, or the provider may
    /// have forgotten the key (`key_expired`).
    Withheld { key_expired: bool, reason: String },
    /// The payment succeeded.
    Paid { reference: String },
    /// The payment exists and is not final yet: processing, or authorized and not captured.
    Unfinished { reference: String, reason: String },
    /// The payment exists and will not complete unless someone acts: it needs the customer to
    /// confirm with the bank, a new payment method after a decline, or a confirmation. The cart
    /// gives it up.
    Stalled { reference: String, reason: String },
    /// A verdict: the card was declined in the answer to the key, or the payment is in a final
    /// failed state (a canceled PaymentIntent, a failed charge). Nothing was charged.
    Refused { reason: String },
    /// A lookup by the key, begun at `searched_at` (the provider's time), found no payment.
    NoneFound { searched_at: Timestamp },
    /// The answer says nothing: a timeout, a dropped connection, 409, 429, 5xx.
    Unknown { reason: String },
    /// The answer is about something else than the payment (401, 403, 404, another refusal
    /// of the request, a configuration error): an operator must look.
    Unrelated { reason: String },
    /// The answering worker pays through another provider than the payment's: it asked
    /// nothing and can tell nothing. An operator must look.
    Foreign { reason: String },
}

/// An answer to a question about a payment: what it says, and the provider and timing of the
/// worker that answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentAnswer {
    pub observation: Observation,
    /// The provider the answering worker pays through, as it names itself (its kind, API and
    /// address, never a secret).
    pub provider: String,
    pub timing: PaymentTiming,
}

impl Observation {
    /// This observation with every text cut to at most `max` characters: what a provider
    /// answers goes into the cart's history.
    pub fn bounded(self, max: usize) -> Self {
        let cut = |text: String| crate::domain::bounded(&text, max);
        match self {
            Observation::Ready => Observation::Ready,
            Observation::NotSent { reason } => Observation::NotSent {
                reason: cut(reason),
            },
            Observation::Withheld {
                key_expired,
                reason,
            } => Observation::Withheld {
                key_expired,
                reason: cut(reason),
            },
            Observation::Paid { reference } => Observation::Paid {
                reference: cut(reference),
            },
            Observation::Unfinished { reference, reason } => Observation::Unfinished {
                reference: cut(reference),
                reason: cut(reason),
            },
            Observation::Stalled { reference, reason } => Observation::Stalled {
                reference: cut(reference),
                reason: cut(reason),
            },
            Observation::Refused { reason } => Observation::Refused {
                reason: cut(reason),
            },
            Observation::NoneFound { searched_at } => Observation::NoneFound { searched_at },
            Observation::Unknown { reason } => Observation::Unknown {
                reason: cut(reason),
            },
            Observation::Unrelated { reason } => Observation::Unrelated {
                reason: cut(reason),
            },
            Observation::Foreign { reason } => Observation::Foreign {
                reason: cut(reason),
            },
        }
    }
}

/// What to ask the provider next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum Step {
    /// Learn which provider the payment goes through: the answering worker's.
    Provider,
    /// Send the charge with its idempotency key.
    Send,
    /// Retrieve the payment by its reference.
    Retrieve { reference: String },
    /// Cancel the payment the cart gives up on.
    Cancel { reference: String },
    /// Look the payment up by the key it carries.
    Search,
}

/// The three states of a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known<'a> {
    NotSent,
    MaybeSent,
    Paid { reference: &'a str },
    Refused { reason: &'a str },
}

/// What an answer changed, for the worker's log and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard {
    /// The payment is decided.
    Verdict,
    /// Something new is known (the payment's reference, that it is given up), not a verdict.
    News,
    /// Nothing new; `unrelated` when the answer was about something else than the payment
    /// (an operator must look).
    Nothing { unrelated: bool },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
enum Verdict {
    Paid { reference: String },
    Refused { reason: String },
}

/// Everything known about one checkout's payment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    /// When the first request that may have carried the key was let go (a bound from below of
    /// when it was sent, so its age is never underestimated); `None` while none can have been
    /// sent.
    first_sent: Option<Timestamp>,
    /// When the last request that may have carried the key had surely ended (a bound from
    /// above).
    last_sent: Option<Timestamp>,
    /// The provider the payment goes through, once a worker named it.
    provider: Option<String>,
    /// Questions of the first round asked so far: to learn the provider, and sends of the key
    /// (whether they went or not). At most [`SENDS`] of each.
    introductions: u32,
    sends: u32,
    /// The provider may have forgotten the key: it is never sent again.
    key_expired: bool,
    /// The provider's id for the payment, once an answer named it.
    reference: Option<String>,
    /// Why the cart gives the payment up, once it does: the payment is cancelled, then
    /// refused for this reason.
    give_up: Option<String>,
    verdict: Option<Verdict>,
    /// Why the payment is not known yet: the latest answer that told nothing.
    reason: Option<String>,
    /// Answers in a row that told nothing new: the next question waits longer.
    quiet: u32,
    /// When the latest answer came.
    answered_at: Option<Timestamp>,
    /// The payment's provider's timing, the most cautious its workers reported; Stripe's until
    /// one answers.
    timing: Option<PaymentTiming>,
    /// Whether the payment is a refund (only the wording of verdicts differs).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    refund: bool,
}

/// `from` plus `d`, saturating at the end of time.
fn after(from: Timestamp, d: SignedDuration) -> Timestamp {
    from.checked_add(d).unwrap_or(Timestamp::MAX)
}

impl PaymentRecord {
    /// The record of a refund: a payment in reverse, under the same rules, through the
    /// provider of the payment it gives back (with its timing), so no worker is asked to name
    /// one.
    pub fn refund(provider: String, timing: PaymentTiming) -> Self {
        Self {
            provider: Some(provider),
            timing: Some(timing),
            refund: true,
            ..Self::default()
        }
    }

    /// What a verdict that nothing happened says: nothing was charged, or refunded.
    fn nothing_moved(&self) -> &'static str {
        if self.refund {
            "nothing was refunded"
        } else {
            "nothing was charged"
        }
    }

    pub fn known(&self) -> Known<'_> {
        match (&self.verdict, self.first_sent) {
            (Some(Verdict::Paid { reference }), _) => Known::Paid { reference },
            (Some(Verdict::Refused { reason }), _) => Known::Refused { reason },
            (None, None) => Known::NotSent,
            (None, Some(_)) => Known::MaybeSent,
        }
    }

    /// Why the payment is not known yet, as the latest answer said.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The provider's id for the payment, once known.
    pub fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }

    /// When the first request that may have carried the key was let go.
    pub fn first_sent(&self) -> Option<Timestamp> {
        self.first_sent
    }

    /// When the last request that may have carried the key had surely ended.
    pub fn last_sent(&self) -> Option<Timestamp> {
        self.last_sent
    }

    pub fn timing(&self) -> PaymentTiming {
        self.timing.unwrap_or_default()
    }

    /// The provider the payment goes through, once known.
    pub fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }

    /// What to ask next and not before when; `None` once the payment is decided.
    pub fn next(&self) -> Option<(Step, Timestamp)> {
        if self.verdict.is_some() {
            return None;
        }
        let step = match (&self.reference, &self.give_up) {
            (Some(reference), Some(_)) => Step::Cancel {
                reference: reference.clone(),
            },
            (Some(reference), None) => Step::Retrieve {
                reference: reference.clone(),
            },
            (None, _) if self.provider.is_none() => Step::Provider,
            (None, _) if self.sends < SENDS && !self.key_expired => Step::Send,
            (None, _) => Step::Search,
        };
        let waited = match self.answered_at {
            Some(at) => after(at, self.backoff()),
            None => Timestamp::MIN,
        };
        let at = match (&step, self.last_sent) {
            // Asking the search earlier could only find nothing that counts.
            (Step::Search, Some(last)) => waited.max(after(last, self.timing().search_lag)),
            _ => waited,
        };
        Some((step, at))
    }

    /// Whether the first round of questions is over without a verdict: the key was sent as
    /// often as it may be, or the payment waits to be followed up or cancelled again. The cart
    /// then shows its payment pending.
    pub fn settling(&self) -> bool {
        match self.next() {
            None | Some((Step::Provider | Step::Send, _)) => false,
            Some((Step::Cancel { .. }, _)) => self.quiet > 0,
            Some((Step::Retrieve { .. } | Step::Search, _)) => true,
        }
    }

    /// 0 before the first question, then 1 s, 2 s, 4 s … at most `follow_up_max`, after
    /// answers that told nothing.
    fn backoff(&self) -> SignedDuration {
        let Some(doublings) = self.quiet.checked_sub(1) else {
            return SignedDuration::ZERO;
        };
        let secs = 1i64.checked_shl(doublings.min(40)).unwrap_or(i64::MAX);
        SignedDuration::from_secs(secs).min(self.timing().follow_up_max)
    }

    /// Records the answer to `step`, asked at `asked` (workflow time, when it was scheduled)
    /// and answered at `now`: a worker's answer, or, when none came (the attempt timed out,
    /// say), what that means.
    pub fn observe(
        &mut self,
        step: &Step,
        asked: Timestamp,
        answer: Result<PaymentAnswer, Observation>,
        now: Timestamp,
    ) -> Heard {
        if self.verdict.is_some() {
            return Heard::Nothing { unrelated: false };
        }
        self.answered_at = Some(now);
        let answer = match answer {
            Ok(answer) => self.as_the_provider_gives_it(answer),
            Err(unanswered) => unanswered,
        };
        match step {
            Step::Provider => self.introductions += 1,
            Step::Send => self.sends += 1,
            _ => {}
        }
        let may_have_sent = *step == Step::Send
            && !matches!(
                answer,
                Observation::NotSent { .. }
                    | Observation::Withheld { .. }
                    | Observation::Foreign { .. }
            );
        if may_have_sent {
            self.first_sent = Some(self.first_sent.map_or(asked, |t| t.min(asked)));
            self.last_sent = Some(self.last_sent.map_or(now, |t| t.max(now)));
        }
        let heard = match answer {
            Observation::Ready => self.news(None),
            Observation::NotSent { reason } if self.first_sent.is_none() => {
                self.decide(Verdict::Refused { reason })
            }
            // A check before sending that fails after an earlier request may have gone (a
            // worker with other settings) says nothing about that request.
            Observation::NotSent { reason } => self.nothing(reason, true),
            Observation::Withheld {
                key_expired,
                reason,
            } => {
                self.key_expired |= key_expired;
                self.nothing(reason, false)
            }
            Observation::Paid { reference } => self.decide(Verdict::Paid { reference }),
            Observation::Unfinished { reference, reason } => {
                if self.reference.as_ref() == Some(&reference) {
                    self.nothing(reason, false)
                } else {
                    self.reference = Some(reference);
                    self.news(Some(reason))
                }
            }
            Observation::Stalled { reference, reason } => {
                let new = self.reference.as_ref() != Some(&reference) || self.give_up.is_none();
                self.reference = Some(reference);
                if self.give_up.is_none() {
                    self.give_up = Some(reason.clone());
                }
                if new {
                    self.news(Some(reason))
                } else {
                    self.nothing(reason, false)
                }
            }
            Observation::Refused { reason } => {
                let reason = self.give_up.take().unwrap_or(reason);
                self.decide(Verdict::Refused { reason })
            }
            Observation::NoneFound { searched_at } => {
                let caught_up = self
                    .last_sent
                    .is_some_and(|last| searched_at >= after(last, self.timing().search_lag));
                if caught_up && self.reference.is_none() && self.give_up.is_none() {
                    let reason = if self.refund {
                        "the payment provider has no refund under its key: nothing was refunded"
                    } else {
                        "the payment provider has no payment for this checkout: nothing was charged"
                    };
                    let reason = reason.to_owned();
                    self.decide(Verdict::Refused { reason })
                } else {
                    self.nothing(
                        "the payment does not show in the payment provider's search yet".into(),
                        false,
                    )
                }
            }
            Observation::Unknown { reason } => self.nothing(reason, false),
            Observation::Unrelated { reason } | Observation::Foreign { reason } => {
                self.nothing(reason, true)
            }
        };
        self.unsent_after_first_round().unwrap_or(heard)
    }

    /// The answer as the payment's provider gives it. The first worker to answer names the
    /// provider; an answer from a worker paying through another is foreign, and its timing
    /// does not count. Of the provider's workers' timings, the most cautious counts.
    fn as_the_provider_gives_it(&mut self, answer: PaymentAnswer) -> Observation {
        let ours = self.provider.get_or_insert_with(|| answer.provider.clone());
        if *ours != answer.provider {
            return Observation::Foreign {
                reason: format!(
                    "a worker that pays through {} answered for a payment through {ours}: give every worker of the task queue the same payment settings",
                    answer.provider
                ),
            };
        }
        self.timing = Some(match self.timing {
            None => answer.timing,
            Some(known) => known.cautious(answer.timing),
        });
        answer.observation
    }

    /// Refused, when the first round is over and no request with the key can have left: no
    /// worker named its provider, or every send was withheld or refused before it went. No
    /// request means nothing was charged; the last answer says why.
    fn unsent_after_first_round(&mut self) -> Option<Heard> {
        let over = self.introductions >= SENDS && self.provider.is_none()
            || self.sends >= SENDS && self.first_sent.is_none();
        if !over || self.verdict.is_some() {
            return None;
        }
        let why = self.reason.as_deref().unwrap_or("no worker answered");
        let what = if self.refund { "refund" } else { "payment" };
        let reason = format!(
            "the {what} could not be sent ({why}): {}",
            self.nothing_moved()
        );
        Some(self.decide(Verdict::Refused { reason }))
    }

    fn decide(&mut self, verdict: Verdict) -> Heard {
        self.verdict = Some(verdict);
        self.give_up = None;
        Heard::Verdict
    }

    fn news(&mut self, reason: Option<String>) -> Heard {
        if reason.is_some() {
            self.reason = reason;
        }
        self.quiet = 0;
        Heard::News
    }

    fn nothing(&mut self, reason: String, unrelated: bool) -> Heard {
        self.reason = Some(reason);
        self.quiet = self.quiet.saturating_add(1);
        Heard::Nothing { unrelated }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn timing() -> PaymentTiming {
        PaymentTiming {
            key_window: SignedDuration::from_secs(600),
            search_lag: SignedDuration::from_secs(60),
            follow_up_max: SignedDuration::from_secs(30),
            request_timeout: SignedDuration::from_secs(5),
        }
    }

    fn unknown() -> Observation {
        Observation::Unknown {
            reason: "no answer in time".into(),
        }
    }

    fn unrelated() -> Observation {
        Observation::Unrelated {
            reason: "the provider answered 401: Invalid API Key".into(),
        }
    }

    const PROVIDER: &str = "a provider's API at https://payments.example (test)";

    /// `observation` as a worker of the payment's provider answers it.
    fn ours(observation: Observation) -> Result<PaymentAnswer, Observation> {
        Ok(PaymentAnswer {
            observation,
            provider: PROVIDER.into(),
            timing: timing(),
        })
    }

    /// Asks what `next` says to ask, at the earliest it allows, and records `answer` (from
    /// the payment's provider) `took` seconds later; returns the step asked and what was heard.
    fn ask(r: &mut PaymentRecord, answer: Observation, took: i64) -> (Step, Timestamp, Heard) {
        let (step, at) = r.next().expect("something to ask");
        let asked = at.max(t(0));
        let heard = r.observe(
            &step,
            asked,
            ours(answer),
            asked + SignedDuration::from_secs(took),
        );
        (step, asked, heard)
    }

    /// A payment whose provider is known: the first question of every payment answered.
    fn record() -> PaymentRecord {
        let mut r = PaymentRecord::default();
        assert_eq!(r.next().map(|(step, _)| step), Some(Step::Provider));
        r.observe(&Step::Provider, t(0), ours(Observation::Ready), t(0));
        r
    }

    #[test]
    fn a_new_payment_first_learns_its_provider_then_sends_the_key() {
        let mut r = PaymentRecord::default();
        assert_eq!(r.known(), Known::NotSent);
        assert_eq!(r.next(), Some((Step::Provider, Timestamp::MIN)));
        assert!(!r.settling());
        let heard = r.observe(&Step::Provider, t(0), ours(Observation::Ready), t(0));
        assert_eq!(heard, Heard::News);
        assert_eq!(r.provider(), Some(PROVIDER));
        assert_eq!(
            r.timing(),
            timing(),
            "the provider's timing, not Stripe's default"
        );
        assert_eq!(r.known(), Known::NotSent);
        assert_eq!(r.next(), Some((Step::Send, t(0))));
        assert!(!r.settling());
    }

    #[test]
    fn a_worker_of_another_provider_can_never_decide_and_its_timing_does_not_count() {
        let mut r = record();
        ask(&mut r, unknown(), 5);
        let foreign = |observation| {
            Ok(PaymentAnswer {
                observation,
                provider: "the local ledger".into(),
                timing: PaymentTiming {
                    search_lag: SignedDuration::ZERO,
                    ..timing()
                },
            })
        };
        let declined = Observation::Refused {
            reason: "payment rejected: unknown payment token".into(),
        };
        let heard = r.observe(&Step::Send, t(10), foreign(declined), t(11));
        assert_eq!(heard, Heard::Nothing { unrelated: true });
        assert_eq!(r.known(), Known::MaybeSent);
        assert!(
            r.reason().unwrap().contains("the local ledger"),
            "{:?}",
            r.reason()
        );
        let nothing = Observation::NoneFound { searched_at: t(12) };
        assert_eq!(
            r.observe(&Step::Search, t(12), foreign(nothing), t(12)),
            Heard::Nothing { unrelated: true }
        );
        assert_eq!(r.known(), Known::MaybeSent);
        assert_eq!(r.timing().search_lag, timing().search_lag);
        assert_eq!(r.provider(), Some(PROVIDER));
    }

    #[test]
    fn of_its_workers_timings_the_most_cautious_counts() {
        let mut r = record();
        let hasty = PaymentTiming {
            key_window: SignedDuration::from_secs(900),
            search_lag: SignedDuration::from_secs(1),
            ..timing()
        };
        let answer = PaymentAnswer {
            observation: unknown(),
            provider: PROVIDER.into(),
            timing: hasty,
        };
        r.observe(&Step::Send, t(0), Ok(answer), t(5));
        assert_eq!(r.timing().search_lag, timing().search_lag, "the longer lag");
        assert_eq!(
            r.timing().key_window,
            timing().key_window,
            "the shorter window"
        );
    }

    #[test]
    fn without_a_worker_to_name_the_provider_nothing_was_sent_and_it_is_refused() {
        let mut r = PaymentRecord::default();
        let no_worker = || {
            Err(Observation::Withheld {
                key_expired: false,
                reason: "no worker took the payment request in time".into(),
            })
        };
        for i in 0..SENDS {
            assert_eq!(r.next().unwrap().0, Step::Provider);
            let heard = r.observe(&Step::Provider, t(i64::from(i) * 70), no_worker(), t(70));
            if i + 1 < SENDS {
                assert_eq!(heard, Heard::Nothing { unrelated: false });
            } else {
                assert_eq!(heard, Heard::Verdict);
            }
        }
        let Known::Refused { reason } = r.known() else {
            panic!("{:?}", r.known())
        };
        assert!(
            reason.contains("no worker took the payment request in time"),
            "{reason}"
        );
        assert!(reason.ends_with("nothing was charged"), "{reason}");
    }

    #[test]
    fn sends_that_were_all_withheld_sent_nothing_and_it_is_refused() {
        // A worker whose every attempt begins too late (a clock far off, say): three sends,
        // none of which went. Nothing left the worker, so nothing was charged.
        let mut r = record();
        let late = || Observation::Withheld {
            key_expired: false,
            reason: "the attempt to charge began too late to send within its time".into(),
        };
        for _ in 1..SENDS {
            assert_eq!(
                ask(&mut r, late(), 0).2,
                Heard::Nothing { unrelated: false }
            );
            assert_eq!(r.known(), Known::NotSent);
        }
        assert_eq!(ask(&mut r, late(), 0).2, Heard::Verdict);
        assert!(
            matches!(r.known(), Known::Refused { reason } if reason.ends_with("nothing was charged"))
        );
        // Once one may have gone, withheld sends only end the first round.
        let mut r = record();
        ask(&mut r, unknown(), 5);
        ask(&mut r, late(), 0);
        ask(&mut r, late(), 0);
        assert_eq!(r.known(), Known::MaybeSent);
        assert!(matches!(r.next(), Some((Step::Search, _))));
    }

    #[test]
    fn paid_in_the_answer_to_the_key() {
        let mut r = record();
        let (_, _, heard) = ask(
            &mut r,
            Observation::Paid {
                reference: "pi_1".into(),
            },
            1,
        );
        assert_eq!(heard, Heard::Verdict);
        assert_eq!(r.known(), Known::Paid { reference: "pi_1" });
        assert_eq!(r.next(), None);
    }

    #[test]
    fn declined_in_the_answer_to_the_key_is_refused() {
        let mut r = record();
        let declined = Observation::Refused {
            reason: "card declined: insufficient funds".into(),
        };
        assert_eq!(ask(&mut r, declined, 1).2, Heard::Verdict);
        assert_eq!(
            r.known(),
            Known::Refused {
                reason: "card declined: insufficient funds"
            }
        );
    }

    #[test]
    fn refused_before_sending_is_refused_only_while_nothing_was_sent() {
        let mut r = record();
        let not_sent = || Observation::NotSent {
            reason: "a payment method is required".into(),
        };
        assert_eq!(ask(&mut r, not_sent(), 0).2, Heard::Verdict);
        assert!(matches!(r.known(), Known::Refused { .. }));

        // After a request that may have gone, the same check says nothing of that request.
        let mut r = record();
        ask(&mut r, unknown(), 5);
        assert_eq!(
            ask(&mut r, not_sent(), 0).2,
            Heard::Nothing { unrelated: true }
        );
        assert_eq!(r.known(), Known::MaybeSent);
    }

    #[test]
    fn a_send_that_was_withheld_leaves_it_not_sent_and_sends_again() {
        let mut r = record();
        let late = Observation::Withheld {
            key_expired: false,
            reason: "the attempt began too late to send".into(),
        };
        assert_eq!(ask(&mut r, late, 0).2, Heard::Nothing { unrelated: false });
        assert_eq!(r.known(), Known::NotSent);
        assert_eq!(r.first_sent(), None);
        let (step, at) = r.next().unwrap();
        assert_eq!(step, Step::Send);
        assert_eq!(at, t(1), "after a second");
    }

    #[test]
    fn a_send_no_worker_answered_may_have_gone() {
        let mut r = record();
        let timed_out = Err(Observation::Unknown {
            reason: "activity StartToClose timeout".into(),
        });
        assert_eq!(
            r.observe(&Step::Send, t(0), timed_out, t(30)),
            Heard::Nothing { unrelated: false }
        );
        assert_eq!(r.known(), Known::MaybeSent);
        assert_eq!((r.first_sent(), r.last_sent()), (Some(t(0)), Some(t(30))));
    }

    #[test]
    fn an_answer_that_tells_nothing_leaves_it_maybe_sent_and_sends_the_key_again() {
        let mut r = record();
        let (_, asked, heard) = ask(&mut r, unknown(), 5);
        assert_eq!(heard, Heard::Nothing { unrelated: false });
        assert_eq!(r.known(), Known::MaybeSent);
        assert_eq!(r.first_sent(), Some(asked));
        assert_eq!(r.last_sent(), Some(asked + SignedDuration::from_secs(5)));
        assert_eq!(r.reason(), Some("no answer in time"));
        assert_eq!(r.next(), Some((Step::Send, t(6))));
        assert!(!r.settling(), "still the first round");
    }

    #[test]
    fn not_about_the_payment_is_never_a_refusal() {
        // A lost answer, then 401s (the key was rolled): maybe sent, and the operator is told.
        let mut r = record();
        ask(&mut r, unknown(), 5);
        for _ in 1..SENDS {
            assert_eq!(
                ask(&mut r, unrelated(), 0).2,
                Heard::Nothing { unrelated: true }
            );
            assert_eq!(r.known(), Known::MaybeSent);
        }
        assert!(matches!(r.next(), Some((Step::Search, _))));
        assert!(r.settling());
        assert_eq!(
            ask(&mut r, unrelated(), 0).2,
            Heard::Nothing { unrelated: true }
        );
        assert_eq!(r.known(), Known::MaybeSent);
        assert!(r.reason().unwrap().contains("401"));
    }

    #[test]
    fn the_key_is_sent_three_times_at_most_then_looked_up_after_the_search_lag() {
        let mut r = record();
        let mut sends = Vec::new();
        for _ in 0..SENDS {
            let (step, asked, _) = ask(&mut r, unknown(), 5);
            assert_eq!(step, Step::Send);
            sends.push(asked);
        }
        assert_eq!(
            sends,
            vec![t(0), t(6), t(13)],
            "a second, then two seconds after"
        );
        let last = r.last_sent().unwrap();
        assert_eq!(last, t(18));
        let (step, at) = r.next().unwrap();
        assert_eq!(step, Step::Search);
        assert_eq!(at, last + timing().search_lag);
        assert!(r.settling());
    }

    #[test]
    fn an_empty_lookup_refuses_only_once_the_search_has_caught_up() {
        let mut r = record();
        for _ in 0..SENDS {
            ask(&mut r, unknown(), 5);
        }
        let last = r.last_sent().unwrap();
        let early = Observation::NoneFound {
            searched_at: last + SignedDuration::from_secs(59),
        };
        let heard = r.observe(
            &Step::Search,
            last,
            ours(early),
            last + SignedDuration::from_secs(59),
        );
        assert_eq!(heard, Heard::Nothing { unrelated: false });
        assert_eq!(r.known(), Known::MaybeSent);
        let caught_up = Observation::NoneFound {
            searched_at: last + SignedDuration::from_secs(60),
        };
        let heard = r.observe(
            &Step::Search,
            last,
            ours(caught_up),
            last + SignedDuration::from_secs(61),
        );
        assert_eq!(heard, Heard::Verdict);
        let Known::Refused { reason } = r.known() else {
            panic!("{:?}", r.known())
        };
        assert!(reason.ends_with("nothing was charged"), "{reason}");
    }

    #[test]
    fn a_lookup_that_cannot_be_made_says_nothing() {
        let mut r = record();
        for _ in 0..SENDS {
            ask(&mut r, unknown(), 5);
        }
        let search_failed = Observation::Unrelated {
            reason: "looking the payment up: the provider answered 404".into(),
        };
        assert_eq!(
            ask(&mut r, search_failed, 1).2,
            Heard::Nothing { unrelated: true }
        );
        assert_eq!(r.known(), Known::MaybeSent);
        assert!(matches!(r.next(), Some((Step::Search, _))));
    }

    #[test]
    fn a_payment_found_by_the_lookup_is_followed_up_by_its_reference() {
        let mut r = record();
        for _ in 0..SENDS {
            ask(&mut r, unknown(), 5);
        }
        let found = Observation::Unfinished {
            reference: "pi_7".into(),
            reason: "the payment provider is still processing the payment".into(),
        };
        assert_eq!(ask(&mut r, found, 1).2, Heard::News);
        assert_eq!(r.reference(), Some("pi_7"));
        let (step, _) = r.next().unwrap();
        assert_eq!(
            step,
            Step::Retrieve {
                reference: "pi_7".into()
            }
        );
        let paid = Observation::Paid {
            reference: "pi_7".into(),
        };
        assert_eq!(ask(&mut r, paid, 1).2, Heard::Verdict);
        assert_eq!(r.known(), Known::Paid { reference: "pi_7" });
    }

    #[test]
    fn a_replayed_processing_answer_records_the_reference_and_is_never_asked_again() {
        // The first send is late, the next two lose their connection; the lookup finds the
        // payment processing, and from then on only its reference is asked.
        let mut r = record();
        for _ in 0..SENDS {
            ask(&mut r, unknown(), 5);
        }
        let processing = || Observation::Unfinished {
            reference: "pi_9".into(),
            reason: "the payment provider is still processing the payment".into(),
        };
        ask(&mut r, processing(), 1);
        for _ in 0..10 {
            let (step, _, heard) = ask(&mut r, processing(), 1);
            assert_eq!(
                step,
                Step::Retrieve {
                    reference: "pi_9".into()
                }
            );
            assert_eq!(heard, Heard::Nothing { unrelated: false });
        }
        let (_, at) = r.next().unwrap();
        let answered = r.answered_at.unwrap();
        assert_eq!(at, answered + timing().follow_up_max, "the wait is capped");
    }

    #[test]
    fn processing_in_the_first_answer_is_pending_at_once() {
        let mut r = record();
        let processing = Observation::Unfinished {
            reference: "pi_1".into(),
            reason: "processing".into(),
        };
        assert_eq!(ask(&mut r, processing, 1).2, Heard::News);
        assert!(r.settling());
        assert_eq!(r.known(), Known::MaybeSent);
    }

    #[test]
    fn a_stalled_payment_is_cancelled_before_it_is_refused_with_the_first_reason() {
        let mut r = record();
        let stalled = Observation::Stalled {
            reference: "pi_3ds".into(),
            reason: "the card needs the customer to confirm the payment with the bank".into(),
        };
        assert_eq!(ask(&mut r, stalled, 1).2, Heard::News);
        assert_eq!(r.known(), Known::MaybeSent);
        assert!(!r.settling(), "the first cancel is part of the first round");
        let (step, _) = r.next().unwrap();
        assert_eq!(
            step,
            Step::Cancel {
                reference: "pi_3ds".into()
            }
        );
        let canceled = Observation::Refused {
            reason: "the payment was canceled".into(),
        };
        assert_eq!(ask(&mut r, canceled, 1).2, Heard::Verdict);
        assert_eq!(
            r.known(),
            Known::Refused {
                reason: "the card needs the customer to confirm the payment with the bank"
            }
        );
    }

    #[test]
    fn a_cancel_that_fails_leaves_it_maybe_sent_and_is_tried_again() {
        let mut r = record();
        let declined = Observation::Stalled {
            reference: "pi_d".into(),
            reason: "card declined: insufficient funds".into(),
        };
        ask(&mut r, declined, 1);
        assert_eq!(
            ask(&mut r, unknown(), 1).2,
            Heard::Nothing { unrelated: false }
        );
        assert_eq!(r.known(), Known::MaybeSent);
        assert!(r.settling());
        assert_eq!(
            r.next().unwrap().0,
            Step::Cancel {
                reference: "pi_d".into()
            }
        );
        // The bank completed it meanwhile: the cancel finds it paid.
        let paid = Observation::Paid {
            reference: "pi_d".into(),
        };
        assert_eq!(ask(&mut r, paid, 1).2, Heard::Verdict);
        assert_eq!(r.known(), Known::Paid { reference: "pi_d" });
    }

    #[test]
    fn a_payment_found_canceled_is_refused() {
        let mut r = record();
        ask(&mut r, unknown(), 5);
        let canceled = Observation::Refused {
            reason: "the payment was canceled".into(),
        };
        ask(&mut r, canceled, 1);
        assert_eq!(
            r.known(),
            Known::Refused {
                reason: "the payment was canceled"
            }
        );
    }

    #[test]
    fn past_the_key_window_the_key_is_never_sent_again() {
        let mut r = record();
        ask(&mut r, unknown(), 5);
        let expired = Observation::Withheld {
            key_expired: true,
            reason: "the payment provider may have forgotten the key".into(),
        };
        let first = r.first_sent();
        assert_eq!(
            ask(&mut r, expired, 0).2,
            Heard::Nothing { unrelated: false }
        );
        assert_eq!(r.first_sent(), first, "a withheld send sent nothing");
        assert_eq!(r.known(), Known::MaybeSent);
        assert!(matches!(r.next(), Some((Step::Search, _))));
    }

    #[test]
    fn the_key_s_age_counts_from_the_first_send_that_may_have_gone() {
        let mut r = record();
        let late = Observation::Withheld {
            key_expired: false,
            reason: "too late".into(),
        };
        r.observe(&Step::Send, t(0), ours(late), t(70));
        r.observe(&Step::Send, t(3600), ours(unknown()), t(3605));
        assert_eq!(r.first_sent(), Some(t(3600)));
        r.observe(&Step::Send, t(3606), ours(unknown()), t(3611));
        assert_eq!(r.first_sent(), Some(t(3600)));
        assert_eq!(r.last_sent(), Some(t(3611)));
    }

    #[test]
    fn a_decided_payment_hears_nothing_more() {
        let mut r = record();
        ask(
            &mut r,
            Observation::Paid {
                reference: "pi_1".into(),
            },
            1,
        );
        let late = Observation::Refused {
            reason: "declined".into(),
        };
        let heard = r.observe(&Step::Send, t(9), ours(late), t(10));
        assert_eq!(heard, Heard::Nothing { unrelated: false });
        assert_eq!(r.known(), Known::Paid { reference: "pi_1" });
    }

    #[test]
    fn the_record_survives_a_json_round_trip() {
        let mut r = record();
        ask(&mut r, unknown(), 5);
        let stalled = Observation::Stalled {
            reference: "pi_1".into(),
            reason: "3-D Secure".into(),
        };
        ask(&mut r, stalled, 1);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<PaymentRecord>(&json).unwrap(), r);
    }
}
