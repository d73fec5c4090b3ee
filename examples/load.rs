//! The load `scripts/bench` puts on a worker, through the same client the `cart` commands
//! use, with every change accounted for: at the end, each cart must hold exactly what the
//! changes sent to it add up to, or the run fails.
//!
//! ```text
//! load carts CARTS CHANGES CONCURRENCY [events]  CARTS carts, CHANGES changes each (adds and removes)
//! load hot CHANGES CONCURRENCY                     CHANGES changes into one cart
//! load signals CHANGES CONCURRENCY                 the same as the tutorial's signals
//! ```
//!
//! `hot` and `signals` (and `carts … events`) also count the history events of every run of
//! every cart they made.
//!
//! Connection settings come from Temporal's environment configuration (`TEMPORAL_ADDRESS`),
//! the task queue from `CART_TASK_QUEUE`. Prints one JSON line: what was done and how long it
//! took.

use cart::client::CartClient;
use cart::domain::CartId;
use cart::workflow::{AddItem, CartInput, CartSettings, CartWorkflow, RemoveItem, SetEmail};
use futures::StreamExt;
use std::time::{Duration, Instant};
use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::{Client, ClientOptions, Connection, WorkflowListOptions};
use temporalio_client::{
    NamespacedClient, WorkflowExecutionInfo, WorkflowHandle, WorkflowStartOptions,
};
use temporalio_common::data_converters::RawValue;
use temporalio_common::protos::temporal::api::common::v1::Payload;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> anyhow::Result<usize> {
        let text = args
            .get(i)
            .ok_or_else(|| anyhow::anyhow!("usage: see the module doc"))?;
        Ok(text.parse()?)
    };
    let (conn, opts) = ClientOptions::load_from_config(LoadClientConfigProfileOptions::default())
        .map_err(|e| anyhow::anyhow!("the connection settings: {e}"))?;
    let client = Client::new(Connection::connect(conn).await?, opts)?;
    let queue = std::env::var("CART_TASK_QUEUE").unwrap_or_else(|_| "CART_TASK_QUEUE".into());
    let carts = CartClient::new(client.clone(), queue.clone(), Duration::from_secs(120));
    let run = uuid::Uuid::new_v4().simple().to_string();
    let began = Instant::now();
    let mut runs = None;
    let mut events = None;
    let (cart_count, changes) = match args.first().map(String::as_str) {
        Some("carts") => {
            let (n, changes, concurrency) = (number(1)?, number(2)?, number(3)?);
            let ids: Vec<CartId> = (0..n)
                .map(|i| CartId::of_workflow(&format!("CART-load-{}-{i}", &run[..8])))
                .collect();
            futures::stream::iter(ids.iter().cloned().map(|id| {
                let carts = carts.clone();
                async move { changes_into(&carts, &id, changes).await }
            }))
            .buffer_unordered(concurrency)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<anyhow::Result<Vec<()>>>()?;
            if args.get(4).map(String::as_str) == Some("events") {
                let mut total = 0;
                for id in &ids {
                    total += history_of(&client, id).await?.1;
                }
                events = Some(total);
            }
            (n, n * changes)
        }
        Some("hot") => {
            let (changes, concurrency) = (number(1)?, number(2)?);
            let id = CartId::of_workflow(&format!("CART-hot-{}", &run[..8]));
            // Each lane adds one of a product and then removes it again, so the cart's lines
            // never go below zero nor above the lanes' number, and end empty. A change lost
            // or applied twice leaves something behind.
            let sent = futures::stream::iter((0..changes / 2).map(|i| {
                let (carts, id) = (carts.clone(), id.clone());
                let product = (i % 4) as i64;
                async move {
                    carts.add(&id, add(product, 1), input()).await?;
                    let one = RemoveItem {
                        product_id: product,
                        quantity: Some(1),
                    };
                    carts.remove(&id, one).await.map(drop)
                }
            }))
            .buffer_unordered(concurrency)
            .collect::<Vec<_>>()
            .await;
            let failed = sent.iter().filter(|r| r.is_err()).count();
            anyhow::ensure!(
                failed == 0,
                "{failed} change pairs into the hot cart failed"
            );
            let view = carts.get(&id).await?;
            anyhow::ensure!(
                view.items.is_empty(),
                "the hot cart should be empty, and holds {:?}",
                view.items
            );
            let (run_count, event_count) = history_of(&client, &id).await?;
            (runs, events) = (Some(run_count), Some(event_count));
            (1, changes / 2 * 2)
        }
        Some("signals") => {
            let (changes, concurrency) = (number(1)?, number(2)?);
            let id = CartId::of_workflow(&format!("CART-signals-{}", &run[..8]));
            let options = WorkflowStartOptions::new(queue.clone(), id.to_string()).build();
            client
                .start_workflow(CartWorkflow::run, input(), options)
                .await?;
            let cart = client.get_workflow_handle::<CartWorkflow>(id.as_str());
            // As `hot`, in lanes of an add and then a remove of one, but as the tutorial's
            // signals: nothing answers them, and the cart must apply them in order.
            let lanes = futures::stream::iter((0..concurrency).map(|lane| {
                let cart = &cart;
                async move {
                    let product = (lane % 4) as i64;
                    for _ in (lane..changes / 2).step_by(concurrency) {
                        signal(cart, true, product).await?;
                        signal(cart, false, product).await?;
                    }
                    anyhow::Ok(())
                }
            }))
            .buffer_unordered(concurrency)
            .collect::<Vec<_>>()
            .await;
            lanes.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
            // An update waits for every change sent before it to apply.
            let email = SetEmail {
                email: "load@example.com".into(),
            };
            let view = carts.set_email(&id, email).await?;
            anyhow::ensure!(
                view.items.is_empty(),
                "the signalled cart should be empty, and holds {:?}",
                view.items
            );
            let (run_count, event_count) = history_of(&client, &id).await?;
            (runs, events) = (Some(run_count), Some(event_count));
            (1, changes / 2 * 2)
        }
        _ => anyhow::bail!(
            "usage: load carts CARTS CHANGES CONCURRENCY [events] | load hot|signals CHANGES CONCURRENCY"
        ),
    };
    let seconds = began.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "carts": cart_count, "changes": changes, "seconds": seconds, "runs": runs,
            "events": events,
        })
    );
    Ok(())
}

/// One tutorial signal, an add (`add`) or a remove of one of `product`, as the tutorial's
/// clients send it.
async fn signal(
    cart: &WorkflowHandle<Client, CartWorkflow>,
    add: bool,
    product: i64,
) -> anyhow::Result<()> {
    let route = if add {
        "add_to_cart"
    } else {
        "remove_from_cart"
    };
    let body = serde_json::json!({"Route": route, "Item": {"ProductId": product, "Quantity": 1}});
    let payload = Payload {
        metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
        data: serde_json::to_vec(&body)?,
        ..Default::default()
    };
    let raw = RawValue::new(vec![payload]);
    if add {
        cart.signal(CartWorkflow::tutorial_add, raw, Default::default())
            .await?;
    } else {
        cart.signal(CartWorkflow::tutorial_remove, raw, Default::default())
            .await?;
    }
    Ok(())
}

/// The runs a cart went through (continue-as-new starts a new one) and the events of all
/// their histories.
async fn history_of(client: &Client, id: &CartId) -> anyhow::Result<(usize, usize)> {
    let query = format!("WorkflowId = '{id}'");
    let listed: Vec<_> = client
        .list_workflows(query, WorkflowListOptions::default())
        .collect()
        .await;
    let mut events = 0;
    for execution in &listed {
        let execution = execution.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
        let info = WorkflowExecutionInfo::builder()
            .namespace(client.namespace())
            .workflow_id(id.to_string())
            .run_id(execution.run_id().to_owned())
            .build();
        let history = WorkflowHandle::<_, CartWorkflow>::new(client.clone(), info)
            .fetch_history(Default::default())
            .into_events()
            .await?;
        events += history.len();
    }
    Ok((listed.len(), events))
}

fn add(product_id: i64, quantity: i64) -> AddItem {
    AddItem {
        product_id,
        quantity,
    }
}

fn input() -> CartInput {
    let day = Duration::from_secs(24 * 3600);
    CartInput::new(CartSettings::new(day, day), None)
}

/// `changes` changes into one cart, one after the other: adds of products 0-3 in turn, and
/// every third change removes one of the product just added. Then checks the cart holds
/// exactly what they add up to.
async fn changes_into(carts: &CartClient, id: &CartId, changes: usize) -> anyhow::Result<()> {
    let mut expected = [0u32; 4];
    for i in 0..changes {
        let product = (i % 4) as i64;
        if i % 3 == 2 && expected[product as usize] > 0 {
            carts
                .remove(
                    id,
                    RemoveItem {
                        product_id: product,
                        quantity: Some(1),
                    },
                )
                .await?;
            expected[product as usize] -= 1;
        } else {
            carts.add(id, add(product, 1), input()).await?;
            expected[product as usize] += 1;
        }
    }
    let view = carts.get(id).await?;
    for (product, want) in expected.iter().enumerate() {
        let held = view
            .items
            .iter()
            .find(|l| l.product_id as usize == product)
            .map_or(0, |l| l.quantity);
        anyhow::ensure!(
            held == *want,
            "cart {id} holds {held} of product {product}, and its changes add up to {want}"
        );
    }
    Ok(())
}
