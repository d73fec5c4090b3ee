//! The load `scripts/bench` puts on a worker, through the same client the `cart` commands
//! use, with every change accounted for: at the end, each cart must hold exactly what the
//! changes sent to it add up to, or the run fails.
//!
//! ```text
//! load carts CARTS CHANGES CONCURRENCY   CARTS carts, CHANGES changes each (adds and removes)
//! load hot CHANGES CONCURRENCY           CHANGES changes into one cart
//! ```
//!
//! Connection settings come from Temporal's environment configuration (`TEMPORAL_ADDRESS`),
//! the task queue from `CART_TASK_QUEUE`. Prints one JSON line: what was done and how long it
//! took.

use cart::client::CartClient;
use cart::domain::CartId;
use cart::workflow::{AddItem, CartInput, CartSettings, RemoveItem};
use futures::StreamExt;
use std::time::{Duration, Instant};
use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::{Client, ClientOptions, Connection, WorkflowListOptions};

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
    let carts = CartClient::new(client.clone(), queue, Duration::from_secs(120));
    let run = uuid::Uuid::new_v4().simple().to_string();
    let began = Instant::now();
    let mut runs = None;
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
            // The runs the cart went through (continue-as-new starts a new one).
            let query = format!("WorkflowId = '{id}'");
            let listed = client.list_workflows(query, WorkflowListOptions::default());
            runs = Some(listed.count().await);
            (1, changes / 2 * 2)
        }
        _ => anyhow::bail!(
            "usage: load carts CARTS CHANGES CONCURRENCY | load hot CHANGES CONCURRENCY"
        ),
    };
    let seconds = began.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({ "carts": cart_count, "changes": changes, "seconds": seconds, "runs": runs })
    );
    Ok(())
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
