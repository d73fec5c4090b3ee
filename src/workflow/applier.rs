//! The applier: the cart's changes applied one at a time, in the order they arrived (see
//! [`super::changes`]), each priced first where it adds a product new to the cart.

use super::changes::Pending;
use super::metrics::CartEvent;
use super::options::{self, failure_message};
use super::{Applied, CartView, CartWorkflow, Change, FirstRun, Sender, UpdateError, clock};
use crate::activities::CartActivities;
use crate::domain::{CartError, Product};
use temporalio_sdk::WorkflowContext;

impl CartWorkflow {
    /// Whether every change received has been applied.
    pub(super) fn settled(&self) -> bool {
        self.state.changes.is_empty() && !self.applying
    }

    /// Applies the cart's changes in the order they arrived, one at a time, for as long as the
    /// run lasts.
    ///
    /// It never ends the run: when the workflow is cancelled it stops, and the life decides
    /// how the run ends (a payment under way still records its answer).
    pub(super) async fn apply_changes(ctx: &WorkflowContext<Self>) -> std::convert::Infallible {
        let mut ctx = ctx.clone();
        loop {
            let next = ctx.wait_condition(|w| w.state.changes.next(w.draining).is_some());
            if next.await.is_err() {
                return std::future::pending().await;
            }
            let Some(next) = ctx.state_mut(|w| {
                let next = w.state.changes.next(w.draining).cloned();
                w.applying = next.is_some();
                next
            }) else {
                continue;
            };
            Self::apply_one(&mut ctx, next).await;
        }
    }

    /// Applies one change, pricing the product it adds first where it needs a price, and
    /// hands its outcome to whoever waits for it: the update's handler, or the log.
    async fn apply_one(ctx: &mut WorkflowContext<Self>, next: Pending) {
        let product = ctx.state(|w| next.change.needs_price(&w.state.cart));
        let price = match product {
            Some(product) => Some(Self::priced(ctx, product).await),
            None => None,
        };
        let now = clock(ctx.workflow_time());
        let (added, refusal) = ctx.state_mut(|w| {
            w.applying = false;
            let taken = w.state.changes.applied(next.seq);
            debug_assert!(taken.is_some(), "the change applied was the oldest");
            let applied = price.transpose().and_then(|found| {
                let state = &mut w.state;
                let applied = state.apply(&next.change, &next.sender, found.as_ref(), now);
                applied.map_err(UpdateError::from)
            });
            let added = matches!(
                (&applied, &next.change),
                (Ok(Applied::Changed), Change::Add { .. })
            );
            let refusal = match next.sender {
                Sender::Update => {
                    let answer = applied.map(|a| (a, w.state.view()));
                    w.answers.insert(next.seq, answer);
                    None
                }
                _ => applied.err(),
            };
            (added, refusal)
        });
        if added {
            ctx.count(CartEvent::ItemAdded);
        }
        if let Some(e) = refusal {
            ignored(ctx, &next.sender, e);
        }
    }

    /// Queues an update's change and waits for its outcome.
    pub(super) async fn change(
        ctx: &WorkflowContext<Self>,
        change: Change,
    ) -> Result<(Applied, CartView), UpdateError> {
        let seq = ctx.state_mut(|w| w.state.changes.push(change, Sender::Update));
        let interrupted = |e: &dyn std::fmt::Display| UpdateError::Interrupted(e.to_string());
        ctx.wait_condition(|w| w.answers.contains_key(&seq))
            .await
            .map_err(|e| interrupted(&e))?;
        ctx.state_mut(|w| w.answers.remove(&seq))
            .unwrap_or_else(|| Err(interrupted(&"its outcome was lost")))
    }

    /// Queues a tutorial signal's change; one that cannot even be read is logged.
    pub(super) fn signalled(
        ctx: &WorkflowContext<Self>,
        signal: &str,
        change: Result<Change, String>,
    ) {
        match change {
            Ok(change) => {
                let sender = Sender::Signal(signal.to_owned());
                ctx.state_mut(|w| w.state.changes.push(change, sender));
            }
            Err(e) => ignored(ctx, &Sender::Signal(signal.to_owned()), e),
        }
    }

    /// A product at the price this cart charges for it. A product already in the cart has its
    /// line's price. A new one is priced from the worker's catalog through an activity, so the
    /// price is recorded in the history and a replay (on any worker, whatever its catalog by
    /// then) sees the price that was charged.
    async fn priced(ctx: &mut WorkflowContext<Self>, product: i64) -> Result<Product, UpdateError> {
        // More of a product already in the cart joins its line at the line's price.
        if let Some(line) = ctx.state(|w| w.state.cart.product(product)) {
            return Ok(line);
        }
        let found = ctx
            .execute_activity(CartActivities::price, product, options::price())
            .await;
        match found {
            Ok(Some(found)) => Ok(found),
            Ok(None) => Err(CartError::NotSold(product).into()),
            Err(e) => Err(UpdateError::Unpriced {
                product,
                reason: failure_message(&e),
            }),
        }
    }
}

/// Logs and counts a change that nobody waits for (a tutorial signal, a start item) and
/// that was not applied: it cannot answer.
fn ignored(ctx: &impl FirstRun, sender: &Sender, e: impl std::fmt::Display) {
    match sender {
        Sender::Signal(signal) => {
            ctx.warn_once(format_args!("ignoring the tutorial signal {signal}: {e}"));
        }
        Sender::StartItem | Sender::Update => {
            ctx.warn_once(format_args!("ignoring a start item: {e}"));
        }
    }
    ctx.count(CartEvent::SignalIgnored);
}
