//! Payment providers for tests: one that loses the answers of a real one, and one that answers
//! from a script.

use std::sync::atomic::{AtomicU32, Ordering};

/// A payment gateway that charges (or, made with [`LostAnswers::refunds`], refunds) through
/// `inner`, then loses the answer the first `failures` times, as a network would after the
/// provider had already done the work. The cart sends the key
/// again; the idempotency key must make that harmless.
pub struct LostAnswers {
    inner: std::sync::Arc<dyn cart::activities::PaymentGateway>,
    failures: std::sync::atomic::AtomicU32,
    calls: std::sync::Arc<AtomicU32>,
    /// Whether it loses the answers to refunds rather than to charges.
    refunds: bool,
}

impl LostAnswers {
    pub fn new(
        inner: std::sync::Arc<dyn cart::activities::PaymentGateway>,
        failures: u32,
        calls: std::sync::Arc<AtomicU32>,
    ) -> Self {
        Self {
            inner,
            failures: AtomicU32::new(failures),
            calls,
            refunds: false,
        }
    }

    /// As [`LostAnswers::new`], losing and counting the answers to refunds only.
    pub fn refunds(
        inner: std::sync::Arc<dyn cart::activities::PaymentGateway>,
        failures: u32,
        calls: std::sync::Arc<AtomicU32>,
    ) -> Self {
        Self {
            refunds: true,
            ..Self::new(inner, failures, calls)
        }
    }
}

impl LostAnswers {
    /// `answer` to a charge or (`refund`) a refund, or, when this gateway loses those and
    /// failures are left, a reset connection in its place.
    fn lose(&self, answer: cart::domain::Observation, refund: bool) -> cart::domain::Observation {
        if refund != self.refunds {
            return answer;
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        let lost = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if lost {
            return cart::domain::Observation::Unknown {
                reason: "connection reset after the work was done".into(),
            };
        }
        answer
    }
}

#[async_trait::async_trait]
impl cart::activities::PaymentGateway for LostAnswers {
    async fn charge(&self, request: &cart::activities::ChargeRequest) -> cart::domain::Observation {
        let answer = self.inner.charge(request).await;
        self.lose(answer, false)
    }

    async fn retrieve(
        &self,
        request: &cart::activities::ChargeRequest,
        reference: &str,
    ) -> cart::domain::Observation {
        self.inner.retrieve(request, reference).await
    }

    async fn find(
        &self,
        request: &cart::activities::ChargeRequest,
    ) -> Option<cart::domain::Observation> {
        self.inner.find(request).await
    }

    async fn cancel(
        &self,
        request: &cart::activities::ChargeRequest,
        reference: &str,
    ) -> cart::domain::Observation {
        self.inner.cancel(request, reference).await
    }

    async fn refund(&self, request: &cart::activities::RefundRequest) -> cart::domain::Observation {
        let answer = self.inner.refund(request).await;
        self.lose(answer, true)
    }

    async fn retrieve_refund(
        &self,
        request: &cart::activities::RefundRequest,
        reference: &str,
    ) -> cart::domain::Observation {
        self.inner.retrieve_refund(request, reference).await
    }

    async fn find_refund(
        &self,
        request: &cart::activities::RefundRequest,
    ) -> Option<cart::domain::Observation> {
        self.inner.find_refund(request).await
    }

    fn timing(&self) -> cart::domain::PaymentTiming {
        self.inner.timing()
    }

    fn provider(&self) -> String {
        self.inner.provider()
    }
}

/// A payment provider that answers from a script: each question takes the next answer, in
/// order (`NoneFound` answers a lookup with nothing). It records the questions it was asked.
pub struct Scripted {
    answers: std::sync::Mutex<std::collections::VecDeque<cart::domain::Observation>>,
    pub asked: std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>,
}

impl Scripted {
    pub fn new(answers: Vec<cart::domain::Observation>) -> Self {
        Self {
            answers: std::sync::Mutex::new(answers.into()),
            asked: Default::default(),
        }
    }

    fn next(&self, question: &'static str) -> cart::domain::Observation {
        self.asked.lock().unwrap().push(question);
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| panic!("no answer left in the script for {question}"))
    }
}

#[async_trait::async_trait]
impl cart::activities::PaymentGateway for Scripted {
    async fn charge(&self, _: &cart::activities::ChargeRequest) -> cart::domain::Observation {
        self.next("charge")
    }

    async fn retrieve(
        &self,
        _: &cart::activities::ChargeRequest,
        _: &str,
    ) -> cart::domain::Observation {
        self.next("retrieve")
    }

    async fn find(&self, _: &cart::activities::ChargeRequest) -> Option<cart::domain::Observation> {
        match self.next("find") {
            cart::domain::Observation::NoneFound { .. } => None,
            found => Some(found),
        }
    }

    async fn cancel(
        &self,
        _: &cart::activities::ChargeRequest,
        _: &str,
    ) -> cart::domain::Observation {
        self.next("cancel")
    }

    async fn refund(&self, _: &cart::activities::RefundRequest) -> cart::domain::Observation {
        self.next("refund")
    }

    async fn retrieve_refund(
        &self,
        _: &cart::activities::RefundRequest,
        _: &str,
    ) -> cart::domain::Observation {
        self.next("retrieve_refund")
    }

    async fn find_refund(
        &self,
        _: &cart::activities::RefundRequest,
    ) -> Option<cart::domain::Observation> {
        match self.next("find_refund") {
            cart::domain::Observation::NoneFound { .. } => None,
            found => Some(found),
        }
    }

    /// A provider whose search is never behind, asked again within a second.
    fn timing(&self) -> cart::domain::PaymentTiming {
        cart::domain::PaymentTiming {
            key_window: jiff::SignedDuration::from_hours(1),
            search_lag: jiff::SignedDuration::ZERO,
            follow_up_max: jiff::SignedDuration::from_secs(1),
            request_timeout: jiff::SignedDuration::from_secs(1),
        }
    }

    fn provider(&self) -> String {
        "a scripted provider".into()
    }
}
