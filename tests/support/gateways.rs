//! Payment providers for tests: one that loses the answers of a real one, and one that answers
//! from a script.

use std::sync::atomic::{AtomicU32, Ordering};

/// A payment gateway that charges through `inner`, then loses the answer the first `failures`
/// times, as a network would after the provider had already charged. The cart sends the key
/// again; the idempotency key must make that harmless.
pub struct LostAnswers {
    inner: std::sync::Arc<dyn cart::activities::PaymentGateway>,
    failures: std::sync::atomic::AtomicU32,
    calls: std::sync::Arc<AtomicU32>,
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
        }
    }
}

#[async_trait::async_trait]
impl cart::activities::PaymentGateway for LostAnswers {
    async fn charge(&self, request: &cart::activities::ChargeRequest) -> cart::domain::Observation {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self.inner.charge(request).await;
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return cart::domain::Observation::Unknown {
                reason: "connection reset after the charge".into(),
            };
        }
        answer
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
