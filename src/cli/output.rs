//! Rendering: tables for people, JSON for scripts. Commands hand values to a [`Printer`] and
//! nothing else prints to stdout.

use crate::client::CartSummary;
use crate::domain::{Catalog, Currency, Money, Status};
use crate::workflow::{CartView, OrderView};
use clap::ValueEnum;
use comfy_table::{Cell, CellAlignment, Color, ContentArrangement, Table, presets};
use console::Style;
use serde::Serialize;
use std::io::{IsTerminal, Write};
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

/// When to colour: `auto` colours only a terminal, and never when `NO_COLOR` is set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream that is (or is not) a terminal.
    pub fn enabled(self, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// Prints what commands hand it in the chosen format, coloured or not.
#[derive(Clone, Copy, Debug)]
pub struct Printer {
    format: OutputFormat,
    color: bool,
}

impl Printer {
    pub fn new(format: OutputFormat, color: ColorChoice) -> Self {
        Self {
            format,
            color: color.enabled(std::io::stdout().is_terminal()),
        }
    }

    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// A table that fits the terminal (when stdout is one) and is plain when piped.
    fn table(&self) -> Table {
        let mut t = Table::new();
        t.load_preset(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
        if self.color {
            t.enforce_styling();
        }
        // Some terminals (a fresh pseudo-terminal) report zero columns: then do not squeeze.
        if t.width() == Some(0) {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
        t
    }

    fn header(&self, t: &mut Table, names: &[&str]) {
        let cells = names.iter().map(|name| {
            let cell = Cell::new(name);
            if self.color {
                cell.add_attribute(comfy_table::Attribute::Bold)
            } else {
                cell
            }
        });
        t.set_header(cells);
    }

    fn style(&self, style: Style) -> Style {
        style.force_styling(self.color)
    }

    fn status_text(&self, status: Status) -> String {
        self.style(status_style(status))
            .apply_to(status.as_str())
            .to_string()
    }

    fn status_cell(&self, status: Status) -> Cell {
        let cell = Cell::new(status.as_str());
        if self.color {
            cell.fg(status_color(status))
        } else {
            cell
        }
    }

    /// A cart: a heading line, the items table and the total.
    pub fn cart(&self, view: &CartView) -> std::io::Result<()> {
        if self.format.is_json() {
            return json(view, self.format);
        }
        let bold = self.style(Style::new().bold());
        let mut text = format!(
            "Cart {}  status: {}  e-mail: {}\n",
            bold.apply_to(&view.id),
            self.status_text(view.status),
            view.email.as_deref().unwrap_or("(none)")
        );
        if view.items.is_empty() {
            text.push_str("(no items)\n");
        } else {
            let mut t = self.table();
            self.header(
                &mut t,
                &["ID", "Product", "Qty", "Unit price", "Line total"],
            );
            for line in &view.items {
                t.add_row([
                    line.product_id.to_string(),
                    line.name.clone(),
                    line.quantity.to_string(),
                    money(line.unit_price, view.currency.as_deref()),
                    money(line.line_total, view.currency.as_deref()),
                ]);
            }
            right(&mut t, &[0, 2, 3, 4]);
            text.push_str(&format!("{t}\n"));
        }
        let total = money(view.total, view.currency.as_deref());
        text.push_str(&format!("Total: {}\n", bold.apply_to(total)));
        if let Some(receipt) = &view.receipt {
            text.push_str(&format!(
                "Paid: {} (charge {}), receipt to {}\n",
                money(receipt.amount, Some(&receipt.currency)),
                receipt.charge_id,
                receipt.email
            ));
        }
        if let Some(error) = &view.last_error {
            let red = self.style(Style::new().red());
            let label = if view.status.is_paying() {
                "Payment not known yet:"
            } else {
                "Last checkout refused, nothing was charged:"
            };
            text.push_str(&format!("{} {error}\n", red.apply_to(label)));
        }
        if view.status == Status::PaymentPending {
            text.push_str(
                "The cart will be paid, or reopen if the payment was refused, by itself.\n",
            );
        }
        if let Some(order) = &view.order {
            text.push_str(&self.order(order));
        }
        emit(&text)
    }

    /// The order a paid cart became: its status, money, shipment and refunds.
    fn order(&self, order: &OrderView) -> String {
        let bold = self.style(Style::new().bold());
        let cur = Some(order.currency.as_str());
        let mut text = format!(
            "Order: {}  refunded: {}  refundable: {} until {}\n",
            bold.apply_to(&order.status),
            money(order.refunded, cur),
            money(order.refundable, cur),
            order.refundable_until.strftime("%Y-%m-%d %H:%M:%S UTC"),
        );
        if order.cancelled {
            let why = order.cancel_reason.as_deref().map(|r| format!(" ({r})"));
            text.push_str(&format!("Cancelled{}\n", why.unwrap_or_default()));
        }
        if order.shipped {
            let by = order.carrier.as_deref().map(|c| format!(" with {c}"));
            let track = order.tracking.as_deref().map(|t| format!(", tracking {t}"));
            text.push_str(&format!(
                "Shipped{}{}\n",
                by.unwrap_or_default(),
                track.unwrap_or_default()
            ));
        }
        if let Some(dispute) = &order.dispute {
            text.push_str(&format!("Dispute: {dispute}\n"));
        }
        if !order.refunds.is_empty() {
            let mut t = self.table();
            self.header(
                &mut t,
                &["Refund", "Amount", "Status", "Reason", "Provider id"],
            );
            for r in &order.refunds {
                let status = match &r.detail {
                    Some(detail) => format!("{}: {detail}", r.status),
                    None => r.status.clone(),
                };
                t.add_row([
                    r.id.clone(),
                    money(r.amount, cur),
                    status,
                    r.reason.clone().unwrap_or_default(),
                    r.provider_id.clone().unwrap_or_default(),
                ]);
            }
            right(&mut t, &[1]);
            text.push_str(&format!("{t}\n"));
        }
        text
    }

    pub fn products(&self, catalog: &Catalog) -> std::io::Result<()> {
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
        if self.format.is_json() {
            return json_list(&rows, self.format);
        }
        let mut t = self.table();
        self.header(&mut t, &["ID", "Product", "Price"]);
        for p in catalog.products() {
            t.add_row([p.id.to_string(), p.name.clone(), symbol_money(&p.price)]);
        }
        right(&mut t, &[0, 2]);
        emit(&format!("{t}\n"))
    }

    pub fn carts(&self, carts: &[CartSummary]) -> std::io::Result<()> {
        if self.format.is_json() {
            return json_list(carts, self.format);
        }
        if carts.is_empty() {
            return emit("(no open carts)\n");
        }
        let mut t = self.table();
        self.header(&mut t, &["Cart", "Status", "Started"]);
        for c in carts {
            let started = c
                .started_at
                .map(|s| s.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default();
            t.add_row([
                Cell::new(&c.id),
                self.status_cell(c.status),
                Cell::new(started),
            ]);
        }
        emit(&format!("{t}\n"))
    }

    /// A bare line on stdout, e.g. a new cart's id.
    pub fn line(&self, text: &str) -> std::io::Result<()> {
        emit(&format!("{text}\n"))
    }
}

/// Green for a paid cart, cyan while shopping, yellow while paying, dim once expired.
/// A status's colour in tables.
fn status_color(status: Status) -> Color {
    match status {
        Status::Open => Color::Cyan,
        Status::CheckingOut => Color::Yellow,
        Status::PaymentPending => Color::Magenta,
        Status::CheckedOut => Color::Green,
        Status::Expired => Color::DarkGrey,
    }
}

/// A status's style in running text, where only the basic colours and dim are used.
fn status_style(status: Status) -> Style {
    match status {
        Status::Open => Style::new().cyan(),
        Status::CheckingOut => Style::new().yellow(),
        Status::CheckedOut => Style::new().green(),
        Status::PaymentPending | Status::Expired => Style::new().dim(),
    }
}

/// Symbols for the currencies where a symbol is unambiguous to an English reader (the CLDR
/// "en" symbols); every other currency keeps its code after the amount.
fn symbol(currency: &Currency) -> Option<&'static str> {
    Some(match currency.code() {
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "JPY" => "¥",
        "INR" => "₹",
        "KRW" => "₩",
        "CAD" => "CA$",
        "AUD" => "A$",
        "NZD" => "NZ$",
        "BRL" => "R$",
        "MXN" => "MX$",
        _ => return None,
    })
}

pub(crate) fn symbol_money(amount: &Money) -> String {
    match symbol(&amount.currency) {
        Some(sym) => format!("{sym}{}", amount.grouped()),
        None => amount.to_string(),
    }
}

/// An amount in minor units of `currency` as a person reads it, e.g. `$1,998.00`; a plain
/// number when there is no currency yet (a cart that never held an item).
pub(crate) fn money(minor: u64, currency: Option<&str>) -> String {
    let Some(currency) = currency else {
        return minor.to_string();
    };
    match Currency::try_from(currency.to_owned()) {
        Ok(c) => symbol_money(&Money::new(minor, c)),
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

#[derive(Serialize)]
struct ProductRow<'a> {
    id: u32,
    name: &'a str,
    price: u64,
    currency: &'a str,
}

/// A duration as a person reads it: `1h 30m`, `30 days`, `1 month 2 days`. humantime writes
/// the word units without a space (`30days`), which reads as a typo in a sentence.
pub fn duration(d: std::time::Duration) -> String {
    humantime::format_duration(d)
        .to_string()
        .split(' ')
        .map(|part| {
            let unit = part.trim_start_matches(|c: char| c.is_ascii_digit());
            if unit.len() > 2 {
                format!("{} {unit}", &part[..part.len() - unit.len()])
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Bytes as they are (a completion script, a man page).
pub fn raw(bytes: &[u8]) -> std::io::Result<()> {
    emit(&String::from_utf8_lossy(bytes))
}

/// Runs `work`, showing a spinner with `message` on stderr meanwhile, but only on a terminal
/// and only when the work takes longer than a moment (so quick answers do not flicker).
pub async fn waiting<T>(message: &str, work: impl std::future::Future<Output = T>) -> T {
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

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_as_words() {
        use std::time::Duration;
        let day = 24 * 60 * 60;
        assert_eq!(super::duration(Duration::from_secs(30 * day)), "30 days");
        assert_eq!(super::duration(Duration::from_secs(90 * 60)), "1h 30m");
        assert_eq!(super::duration(Duration::from_secs(3)), "3s");
        assert_eq!(super::duration(Duration::from_secs(day)), "1 day");
        assert_eq!(super::duration(Duration::from_secs(day + 3600)), "1 day 1h");
    }

    use super::*;

    #[test]
    fn money_has_a_symbol_where_it_is_clear() {
        assert_eq!(money(199_800, Some("USD")), "$1,998.00");
        assert_eq!(money(1_200, Some("JPY")), "¥1,200");
        assert_eq!(money(1_050, Some("EUR")), "€10.50");
        assert_eq!(money(1_050, Some("SEK")), "10.50 SEK");
        assert_eq!(money(7, Some("??")), "7 ??");
    }

    #[test]
    fn colour_follows_the_choice() {
        assert!(ColorChoice::Always.enabled(false));
        assert!(!ColorChoice::Never.enabled(true));
        assert!(!ColorChoice::Auto.enabled(false));
    }
}
