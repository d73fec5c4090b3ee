//! Changes apply in the order Temporal delivered them, whatever their kind: an add that waits
//! for its price holds back the changes sent after it, and continue-as-new loses none.
//!
//! Signals go through the SDK's client, back to back: each is sent once the server has stored
//! the one before, so their order is the server's, and a price lookup always takes longer
//! than the next signal does to arrive. An update sent after them reads the cart only once
//! they have applied, since it waits its turn like any change.

use crate::support::*;
use cart::client::{CartClient, ClientError};
use cart::domain::{CartId, Status};
use cart::workflow::{CartInput, CartView, CartWorkflow};
use futures::StreamExt;
use std::time::Duration;
use temporalio_client::{WorkflowHandle, WorkflowStartOptions};
use temporalio_common::data_converters::RawValue;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

type Handle = WorkflowHandle<temporalio_client::Client, CartWorkflow>;

/// A tutorial signal's payload, as its clients send it.
fn tutorial(json: serde_json::Value) -> RawValue {
    RawValue::new(vec![Payload {
        metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
        data: serde_json::to_vec(&json).unwrap(),
        ..Default::default()
    }])
}

fn item(product: i64, quantity: i64) -> serde_json::Value {
    serde_json::json!({"ProductId": product, "Quantity": quantity})
}

async fn signal_add(cart: &Handle, product: i64, quantity: i64) {
    let raw =
        tutorial(serde_json::json!({"Route": "add_to_cart", "Item": item(product, quantity)}));
    delivered(|| cart.signal(CartWorkflow::tutorial_add, raw.clone(), Default::default())).await;
}

/// Sends a signal until the server takes it. While a cart hands itself on to a new run, the
/// server turns signals away for a moment (`ResourceExhausted`, "workflow is closing"), as
/// real clients that retry such answers see too.
async fn delivered<F, Fut, T>(send: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, temporalio_client::errors::WorkflowInteractionError>>,
{
    for _ in 0..50 {
        match send().await {
            Ok(_) => return,
            Err(temporalio_client::errors::WorkflowInteractionError::Rpc(status))
                if status.code() == tonic::Code::ResourceExhausted =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the signal is not delivered: {e}"),
        }
    }
    panic!("the signal was turned away for ten seconds");
}

async fn signal_remove(cart: &Handle, product: i64, quantity: i64) {
    let raw =
        tutorial(serde_json::json!({"Route": "remove_from_cart", "Item": item(product, quantity)}));
    delivered(|| {
        cart.signal(
            CartWorkflow::tutorial_remove,
            raw.clone(),
            Default::default(),
        )
    })
    .await;
}

/// Starts a cart as the tutorial's clients do, with an empty start input.
async fn start_tutorial_cart(s: &Setup, id: &CartId) -> Handle {
    let options = WorkflowStartOptions::new(s.queue.clone(), id.to_string()).build();
    s.env
        .client()
        .start_workflow(CartWorkflow::run, CartInput::default(), options)
        .await
        .expect("the cart starts");
    s.env
        .client()
        .get_workflow_handle::<CartWorkflow>(id.as_str())
}

/// The cart once every change sent before has applied: an update waits its turn.
async fn after_earlier_changes(carts: &cart::client::CartClient, id: &CartId) -> CartView {
    carts
        .set_email(id, email("ann@example.com"))
        .await
        .expect("the e-mail is set")
}

fn quantities(view: &CartView) -> Vec<(u32, u32)> {
    view.items
        .iter()
        .map(|l| (l.product_id, l.quantity))
        .collect()
}

/// Fifty fresh carts, each sent ADD(product 1, 2) and REMOVE(product 1, `removed`).
async fn fifty_carts_add_then_remove(removed: i64) -> Vec<CartView> {
    let h = Harness::start().await;
    futures::stream::iter(0..50)
        .map(|_| async {
            let id = unique_cart();
            let cart = start_tutorial_cart(&h, &id).await;
            signal_add(&cart, 1, 2).await;
            signal_remove(&cart, 1, removed).await;
            let view = after_earlier_changes(&h.carts, &id).await;
            // And the cart stays so once nothing is left for it to do.
            eventually(Duration::from_secs(20), "no activity pending", || async {
                let pending = describe(&h.env, &id).await?.pending_activities;
                pending.is_empty().then_some(())
            })
            .await;
            assert_eq!(h.carts.get(&id).await.unwrap(), view);
            view
        })
        .buffer_unordered(10)
        .collect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remove_signalled_behind_an_add_waiting_for_its_price_sees_the_add() {
    for view in fifty_carts_add_then_remove(1).await {
        assert_eq!(quantities(&view), [(1, 1)], "{}", view.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_all_that_an_add_waiting_for_its_price_adds_empties_the_cart() {
    for view in fifty_carts_add_then_remove(2).await {
        assert_eq!(quantities(&view), [], "{}", view.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_and_signals_to_one_cart_apply_in_the_order_they_were_sent() {
    let h = Harness::start().await;
    let id = unique_cart();
    let cart = start_tutorial_cart(&h, &id).await;
    let carts = &h.carts;

    // An update right behind a signalled add that waits for its price: its validator takes
    // it although the cart does not hold the product yet, and it applies after the add.
    signal_add(&cart, 1, 2).await;
    let view = carts.remove(&id, remove(1, Some(1))).await.unwrap();
    assert_eq!(quantities(&view), [(1, 1)]);

    // The tutorial's remove of more than the line holds takes the line; the add behind it
    // makes a new line, priced again.
    signal_remove(&cart, 1, 5).await;
    signal_add(&cart, 2, 1).await;
    let view = carts.add(&id, add(1, 3), input(LONG, LONG)).await.unwrap();
    assert_eq!(quantities(&view), [(2, 1), (1, 3)]);

    // A refusal still comes from the cart as the earlier changes left it.
    signal_remove(&cart, 2, 1).await;
    let refused = carts.remove(&id, remove(2, None)).await.unwrap_err();
    assert!(
        refused.to_string().contains("product 2 is not in cart"),
        "{refused}"
    );

    // Concurrent lanes, one product each, every lane a signalled add and then an update
    // that removes it: each update answers only once its lane's add has applied.
    futures::stream::iter([0_i64, 2, 3])
        .map(|product| {
            let (cart, id) = (&cart, &id);
            async move {
                for _ in 0..10 {
                    signal_add(cart, product, 1).await;
                    let view = carts.remove(id, remove(product, Some(1))).await;
                    let view = view
                        .unwrap_or_else(|e| panic!("lane {product}: {}", cart::report::line(&e)));
                    assert!(
                        !view
                            .items
                            .iter()
                            .any(|l| i64::from(l.product_id) == product)
                    );
                }
            }
        })
        .buffer_unordered(3)
        .collect::<Vec<()>>()
        .await;

    let view = after_earlier_changes(carts, &id).await;
    assert_eq!(quantities(&view), [(1, 3)]);
    let paid = carts.checkout(&id, checkout(None, None)).await.unwrap();
    assert_eq!(paid.status, Status::CheckedOut);
    let ledger = ledger(h.data());
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].amount, paid.total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_queued_while_the_cart_hands_over_go_on_to_the_next_run() {
    // The server suggests continue-as-new early; the cart's activities are held back, so a
    // signalled add of a new product waits for its price while signals queue behind it and
    // the history passes the suggestion.
    let (s, _workflows, activities) = early_hand_over().await;
    let carts = s.client();
    let id = unique_cart();
    carts.add(&id, add(0, 1), input(LONG, LONG)).await.unwrap();
    let cart = s
        .env
        .client()
        .get_workflow_handle::<CartWorkflow>(id.as_str());
    let first_run = run_id(&cart).await;
    activities.stop();

    signal_add(&cart, 1, 2).await;
    for _ in 0..6 {
        signal_remove(&cart, 1, 1).await;
        signal_add(&cart, 1, 1).await;
    }
    signal_add(&cart, 0, 1).await;
    eventually(Duration::from_secs(20), "a long history", || async {
        (history(&s.env, &id).await.len() > 30).then_some(())
    })
    .await;

    // Once the add has its price, the run hands over: what is still queued goes with it.
    let _activities = start_local_activities(&s);
    let next_run = eventually(Duration::from_secs(30), "a new run", || async {
        Some(run_id(&cart).await).filter(|run| *run != first_run)
    })
    .await;
    assert_ne!(next_run, first_run);
    let handed_over = latest_run_input(&s, &id).await;
    let queued = handed_over["resume"]["changes"]["pending"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(
        queued > 0,
        "the run handed over no queued change: {handed_over}"
    );

    // Every change applied once, in order: 2, then six times -1 +1, then one more of 0.
    let view = after_earlier_changes(&carts, &id).await;
    assert_eq!(quantities(&view), [(0, 2), (1, 2)]);
}

async fn run_id(cart: &Handle) -> String {
    cart.describe(Default::default())
        .await
        .unwrap()
        .run_id()
        .to_owned()
}

/// The input the latest run of cart `id` began with, as JSON: what the run before handed on.
async fn latest_run_input(s: &Setup, id: &CartId) -> serde_json::Value {
    let events = history(&s.env, id).await;
    let first = events.first().expect("a history");
    let Some(Attributes::WorkflowExecutionStartedEventAttributes(attrs)) = &first.attributes else {
        panic!("not a start: {first:?}");
    };
    let payload = &attrs.input.as_ref().expect("an input").payloads[0];
    serde_json::from_slice(&payload.data).expect("the input is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_cart_applies_thousands_of_signals_in_order_across_runs() {
    // The real `cart worker`, with its metrics, on a server that suggests continue-as-new
    // every few hundred events: 3,000 signals make several runs.
    let s = Setup::with_server_args(&[
        "--dynamic-config-value",
        "limit.historyCount.suggestContinueAsNew=500",
    ])
    .await;
    let metrics = crate::metrics::metrics_address();
    let _worker = s.spawn_worker_with(&[("CART_METRICS", &metrics)]).await;
    let id = unique_cart();
    let cart = start_tutorial_cart(&s, &id).await;
    let first_run = run_id(&cart).await;
    // One signal the cart must refuse, so that the count below is seen to count.
    signal_remove(&cart, 3, 1).await;

    // Eight lanes, two on each product, each an add of one and then a remove of one, sent
    // as fast as the server takes them. In order, no remove ever finds its line empty.
    const PAIRS: usize = 1_500;
    const LANES: usize = 8;
    futures::stream::iter(0..LANES)
        .map(|lane| {
            let cart = &cart;
            async move {
                let product = (lane % 4) as i64;
                for _ in (lane..PAIRS).step_by(LANES) {
                    signal_add(cart, product, 1).await;
                    signal_remove(cart, product, 1).await;
                }
            }
        })
        .buffer_unordered(LANES)
        .collect::<Vec<()>>()
        .await;

    let carts = s.client();
    eventually(Duration::from_secs(300), "every signal applied", || async {
        let scrape = crate::metrics::scrape(&metrics).await;
        let added = crate::metrics::value(&scrape, "cart_items_added_total", &[]);
        (added >= Some(PAIRS as f64)).then_some(())
    })
    .await;
    let view = after_earlier_changes(&carts, &id).await;
    assert_eq!(quantities(&view), []);
    let scrape = crate::metrics::scrape(&metrics).await;
    let count = |name| crate::metrics::value(&scrape, name, &[]);
    // The lanes' adds and removes come out even (the cart is empty), so a lost add shows as
    // a remove that found its line empty and was refused. (A counter may count twice a change
    // applied in a workflow task the server turned down, never less: hence the `>=`.)
    assert!(count("cart_items_added_total") >= Some(PAIRS as f64));
    assert_eq!(
        count("cart_signals_ignored_total"),
        Some(1.0),
        "only the remove of a product the cart never held is refused"
    );
    assert_ne!(run_id(&cart).await, first_run, "the cart continued as new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_changes_survive_a_worker_killed_while_they_stream_in() {
    // The real `cart worker` is killed (SIGKILL) while four lanes stream signals into one cart
    // and a new worker takes over from the history, across continue-as-new runs. Each lane
    // adds two of its product and removes one, thirty times: in order, nothing is refused and
    // every line ends at 30; a change lost, doubled or reordered leaves another number.
    let s = Setup::with_server_args(&[
        "--dynamic-config-value",
        "limit.historyCount.suggestContinueAsNew=200",
    ])
    .await;
    let worker = s.spawn_worker().await;
    let id = unique_cart();
    let cart = start_tutorial_cart(&s, &id).await;
    const ROUNDS: u32 = 30;
    const SIGNALS: usize = 4 * 3 * ROUNDS as usize;
    let sent = std::sync::atomic::AtomicUsize::new(0);
    let count = || sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let lanes = futures::stream::iter(0..4_i64)
        .map(|product| {
            let (cart, count) = (&cart, &count);
            async move {
                for _ in 0..ROUNDS {
                    signal_add(cart, product, 1).await;
                    signal_add(cart, product, 1).await;
                    signal_remove(cart, product, 1).await;
                    count();
                    count();
                    count();
                }
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<()>>();
    let takeover = async {
        while sent.load(std::sync::atomic::Ordering::SeqCst) < SIGNALS / 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        worker.kill();
        let at_kill = sent.load(std::sync::atomic::Ordering::SeqCst);
        (at_kill, s.spawn_worker().await)
    };
    let (_, (at_kill, _replacement)) = tokio::join!(lanes, takeover);
    assert!(
        at_kill < SIGNALS,
        "the worker died with signals still to come"
    );

    let view = after_earlier_changes(&s.client(), &id).await;
    let mut held = quantities(&view);
    held.sort();
    assert_eq!(held, [(0, ROUNDS), (1, ROUNDS), (2, ROUNDS), (3, ROUNDS)]);
}

/// A server that lets a cart have as many updates in flight as one client sends it turns away
/// any more, and the Temporal client retries those seconds apart and gives up after about ten:
/// without a limit of its own, 127 of 200 changes sent at once failed. One client keeps
/// at most [`cart::client::MAX_IN_FLIGHT_PER_CART`] in flight to a cart, so the server turns
/// none away and every change is kept, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_changes_from_one_client_stays_within_the_servers_updates_in_flight() {
    let limit = format!(
        "history.maxInFlightUpdates={}",
        cart::client::MAX_IN_FLIGHT_PER_CART
    );
    let args = ["--dynamic-config-value", limit.as_str()];
    let h = Harness::start_with(&args, cart::worker::local_activities).await;
    let (carts, id) = (&h.carts, unique_cart());
    carts.add(&id, add(0, 1), input(LONG, LONG)).await.unwrap();
    let changes = (0..200).map(|i| carts.add(&id, add(i % 4, 1), input(LONG, LONG)));
    let failed: Vec<String> = futures::future::join_all(changes)
        .await
        .into_iter()
        .filter_map(|outcome| outcome.err().map(|e| cart::report::line(&e)))
        .collect();
    assert!(
        failed.is_empty(),
        "{} changes failed: {failed:?}",
        failed.len()
    );
    let view = carts.get(&id).await.unwrap();
    let mut lines: Vec<_> = view
        .items
        .iter()
        .map(|l| (l.product_id, l.quantity))
        .collect();
    // Sent at once, they arrive in any order, and each new product opens a line.
    lines.sort();
    assert_eq!(lines, [(0, 51), (1, 50), (2, 50), (3, 50)]);
}

/// The worker goes away with a burst of changes on their way. The first
/// [`cart::client::MAX_IN_FLIGHT_PER_CART`] are sent and get no answer within the wait; the one
/// after them never gets room, and says it was not sent. When a worker is back, none of them is
/// applied (the sent ones reach the cart past their deadline), and the cart holds what it held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_gets_no_room_while_the_worker_is_away_is_not_sent_and_never_applied() {
    let s = Setup::new().await;
    let worker = start_worker(&s.env, &s.queue, cart::worker::local_activities(s.data()));
    let id = unique_cart();
    s.client()
        .add(&id, add(0, 1), input(LONG, LONG))
        .await
        .unwrap();
    worker.stop();

    let short = CartClient::new(s.env.client().clone(), &s.queue, Duration::from_secs(3));
    let burst = cart::client::MAX_IN_FLIGHT_PER_CART + 1;
    let changes = (0..burst).map(|_| short.add(&id, add(1, 1), input(LONG, LONG)));
    let outcomes = futures::future::join_all(changes).await;
    let busy = outcomes
        .iter()
        .filter(|o| matches!(o, Err(ClientError::Busy { .. })));
    let unanswered = (outcomes.iter()).filter(|o| {
        matches!(
            o,
            Err(ClientError::Timeout { .. } | ClientError::NoWorker(_))
        )
    });
    let outcomes: Vec<_> = outcomes
        .iter()
        .map(|o| o.as_ref().err().map(|e| e.to_string()))
        .collect();
    assert_eq!(busy.count(), 1, "{outcomes:?}");
    assert_eq!(unanswered.count(), burst - 1, "{outcomes:?}");

    let _back = start_worker(&s.env, &s.queue, cart::worker::local_activities(s.data()));
    // A change sent now applies after everything that reached the cart before it.
    let view = s
        .client()
        .add(&id, add(3, 1), input(LONG, LONG))
        .await
        .unwrap();
    let lines: Vec<_> = view
        .items
        .iter()
        .map(|l| (l.product_id, l.quantity))
        .collect();
    assert_eq!(lines, [(0, 1), (3, 1)]);
}
