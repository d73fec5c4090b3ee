//! Rendering: tables for people, JSON for scripts. Commands hand values here and nothing
//! else prints to stdout.

use crate::client::CartSummary;
use crate::domain::{Catalog, Currency, Money};
use crate::workflow::CartView;
use clap::ValueEnum;
use comfy_table::{CellAlignment, Table, presets};
use serde::Serialize;
use std::io::Write;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Tables for people.
    #[default]
    #[value(alias = "table")]
    Text,
    /// Pretty JSON for scripts: snake_case keys, amounts in minor units (cents).
    Json,
    /// One compact JSON value per line; a list prints one line per element.
    Jsonl,
}

impl OutputFormat {
    fn is_json(self) -> bool {
        matches!(self, OutputFormat::Json | OutputFormat::Jsonl)
    }
}

/// Writes to stdout; a closed pipe (`cart list | head`) is not an error.
fn emit(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn json(value: &impl Serialize, format: OutputFormat) -> std::io::Result<()> {
    let mut text = match format {
        OutputFormat::Jsonl => serde_json::to_string(value),
        _ => serde_json::to_string_pretty(value),
    }
    .map_err(std::io::Error::other)?;
    text.push('\n');
    emit(&text)
}

/// A list: one JSON array, or one line per element with `jsonl`.
fn json_list<T: Serialize>(items: &[T], format: OutputFormat) -> std::io::Result<()> {
    if format != OutputFormat::Jsonl {
        return json(&items, format);
    }
    let mut text = String::new();
    for item in items {
        text.push_str(&serde_json::to_string(item).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    emit(&text)
}

fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    t
}

fn money(minor: u64, currency: &str) -> String {
    match Currency::try_from(currency.to_owned()) {
        Ok(c) => Money::new(minor, c).to_string(),
        Err(_) => format!("{minor} {currency}"),
    }
}

fn right(t: &mut Table, columns: &[usize]) {
    for &i in columns {
        if let Some(col) = t.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// A cart: a heading line, the items table and the total.
pub fn cart(view: &CartView, format: OutputFormat) -> std::io::Result<()> {
    if format.is_json() {
        return json(view, format);
    }
    let mut text = format!(
        "Cart {}  status: {}  e-mail: {}\n",
        view.id,
        view.status,
        view.email.as_deref().unwrap_or("(none)")
    );
    if view.items.is_empty() {
        text.push_str("(no items)\n");
    } else {
        let mut t = table();
        t.set_header(["ID", "Product", "Qty", "Unit price", "Line total"]);
        for line in &view.items {
            t.add_row([
                line.product_id.to_string(),
                line.name.clone(),
                line.quantity.to_string(),
                money(line.unit_price, &view.currency),
                money(line.line_total, &view.currency),
            ]);
        }
        right(&mut t, &[0, 2, 3, 4]);
        text.push_str(&format!("{t}\n"));
    }
    text.push_str(&format!("Total: {}\n", money(view.total, &view.currency)));
    if let Some(receipt) = &view.receipt {
        text.push_str(&format!(
            "Paid: {} (charge {}), receipt to {}\n",
            money(receipt.amount, &receipt.currency),
            receipt.charge_id,
            receipt.email
        ));
    }
    if let Some(error) = &view.last_error {
        text.push_str(&format!("Last checkout failed: {error}\n"));
    }
    emit(&text)
}

#[derive(Serialize)]
struct ProductRow<'a> {
    id: u32,
    name: &'a str,
    price: u64,
    currency: &'a str,
}

pub fn products(catalog: &Catalog, format: OutputFormat) -> std::io::Result<()> {
    let rows: Vec<_> = catalog
        .products()
        .iter()
        .map(|p| ProductRow {
            id: p.id,
            name: &p.name,
            price: p.price.minor,
            currency: p.price.currency.code(),
        })
        .collect();
    if format.is_json() {
        return json_list(&rows, format);
    }
    let mut t = table();
    t.set_header(["ID", "Product", "Price"]);
    for p in catalog.products() {
        t.add_row([p.id.to_string(), p.name.clone(), p.price.to_string()]);
    }
    right(&mut t, &[0, 2]);
    emit(&format!("{t}\n"))
}

pub fn carts(carts: &[CartSummary], format: OutputFormat) -> std::io::Result<()> {
    if format.is_json() {
        return json_list(carts, format);
    }
    if carts.is_empty() {
        return emit("(no open carts)\n");
    }
    let mut t = table();
    t.set_header(["Cart", "Status", "Started"]);
    for c in carts {
        let started = c
            .started_at
            .map(|s| s.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        t.add_row([c.id.clone(), c.status.clone(), started]);
    }
    emit(&format!("{t}\n"))
}

/// Bytes as they are (a completion script, a man page).
pub fn raw(bytes: &[u8]) -> std::io::Result<()> {
    emit(&String::from_utf8_lossy(bytes))
}

/// Runs `work`, showing a spinner with `message` on stderr meanwhile, but only on a terminal
/// and only when the work takes longer than a moment (so quick answers do not flicker).
pub async fn waiting<T>(message: &str, work: impl std::future::Future<Output = T>) -> T {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return work.await;
    }
    tokio::pin!(work);
    tokio::select! {
        out = &mut work => return out,
        _ = tokio::time::sleep(std::time::Duration::from_millis(300)) => {}
    }
    let spinner = indicatif::ProgressBar::new_spinner().with_message(message.to_owned());
    spinner.enable_steady_tick(std::time::Duration::from_millis(100));
    let out = work.await;
    spinner.finish_and_clear();
    out
}

/// A bare line on stdout, e.g. a new cart's id.
pub fn line(text: &str) -> std::io::Result<()> {
    emit(&format!("{text}\n"))
}
