//! The e-mails a cart sends, each written once and rendered as plain text and as HTML.

use super::{ConfirmationRequest, OrderEvent, OrderNotice, ReminderRequest};
use crate::domain::{LineItem, Money};

/// One piece of a letter.
enum Block {
    Para(String),
    /// The items and the total, as a list in text and a table in HTML.
    Items(Vec<LineItem>, Money),
    /// A command the reader can copy.
    Command(String),
}

/// A letter: its subject and blocks. Rendering is the only place text and HTML differ.
pub(super) struct Letter {
    pub subject: String,
    blocks: Vec<Block>,
}

impl Letter {
    pub fn reminder(r: &ReminderRequest) -> Self {
        Self {
            subject: format!("You left items in your cart {}", r.cart_id),
            blocks: vec![
                Block::Para("Hello,".into()),
                Block::Para(format!("you left these items in your cart {}:", r.cart_id)),
                Block::Items(r.items.clone(), r.total),
                Block::Para("To finish your order, run:".into()),
                Block::Command(format!("cart checkout {}", r.cart_id)),
            ],
        }
    }

    pub fn confirmation(c: &ConfirmationRequest) -> Self {
        Self {
            subject: format!("Your order {} is confirmed", c.cart_id),
            blocks: vec![
                Block::Para("Hello,".into()),
                Block::Para(format!(
                    "thank you for your order. We charged {} (charge {}) for:",
                    c.total, c.charge_id
                )),
                Block::Items(c.items.clone(), c.total),
                Block::Para("To see it again, run:".into()),
                Block::Command(format!("cart show {}", c.cart_id)),
            ],
        }
    }

    pub fn order_notice(n: &OrderNotice) -> Self {
        let id = &n.cart_id;
        let (subject, what) = match &n.event {
            OrderEvent::Refunded {
                amount,
                refunded,
                paid,
                reason,
            } => (
                format!("A refund of {amount} for your order {id}"),
                format!(
                    "we refunded {amount} of your order{}. In all, {refunded} of the {paid} you paid has gone back to your payment method.",
                    because(reason)
                ),
            ),
            OrderEvent::Cancelled { refunded, reason } => (
                format!("Your order {id} is cancelled"),
                format!(
                    "your order is cancelled{}, and {refunded} has gone back to your payment method.",
                    because(reason)
                ),
            ),
            OrderEvent::Shipped { tracking, carrier } => {
                let by = carrier
                    .as_ref()
                    .map(|c| format!(" with {c}"))
                    .unwrap_or_default();
                let track = tracking
                    .as_ref()
                    .map(|t| format!(" Its tracking number is {t}."))
                    .unwrap_or_default();
                (
                    format!("Your order {id} has shipped"),
                    format!("your order is on its way{by}.{track}"),
                )
            }
        };
        Self {
            subject,
            blocks: vec![
                Block::Para("Hello,".into()),
                Block::Para(what),
                Block::Para("To see your order, run:".into()),
                Block::Command(format!("cart show {id}")),
            ],
        }
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        for block in &self.blocks {
            match block {
                Block::Para(p) => out.push_str(p),
                Block::Items(items, total) => {
                    for l in items {
                        out.push_str(&format!(
                            "  {} x {} at {} = {}\n",
                            l.quantity,
                            l.name,
                            l.unit_price,
                            l.total()
                        ));
                    }
                    out.push_str(&format!("\n  Total: {total}"));
                }
                Block::Command(c) => out.push_str(&format!("  {c}")),
            }
            out.push_str("\n\n");
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    }

    pub fn html(&self) -> String {
        let mut out = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n",
            escape(&self.subject)
        );
        for block in &self.blocks {
            match block {
                Block::Para(p) => out.push_str(&format!("<p>{}</p>\n", escape(p))),
                Block::Items(items, total) => {
                    out.push_str("<table>\n<tr><th>Qty</th><th>Product</th><th>Unit price</th><th>Line total</th></tr>\n");
                    for l in items {
                        out.push_str(&format!(
                            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                            l.quantity,
                            escape(&l.name),
                            escape(&l.unit_price.to_string()),
                            escape(&l.total().to_string())
                        ));
                    }
                    out.push_str(&format!(
                        "<tr><td colspan=\"3\">Total</td><td>{}</td></tr>\n</table>\n",
                        escape(&total.to_string())
                    ));
                }
                Block::Command(c) => out.push_str(&format!("<pre>{}</pre>\n", escape(c))),
            }
        }
        out.push_str("</body></html>\n");
        out
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// ` (reason)`, when there is one.
fn because(reason: &Option<String>) -> String {
    reason
        .as_ref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Cart, Catalog, Email};

    fn items() -> (Vec<LineItem>, Money) {
        let mut cart = Cart::new(crate::domain::CartId::of_workflow("CART-1"));
        cart.add(&Catalog::builtin(), 0, 2).unwrap();
        cart.add(&Catalog::builtin(), 2, 1).unwrap();
        (cart.items().to_vec(), cart.total().unwrap())
    }

    fn reminder() -> ReminderRequest {
        let (items, total) = items();
        ReminderRequest {
            cart_id: crate::domain::CartId::of_workflow("CART-1"),
            message_key: "k".into(),
            email: Email::parse("a@example.com").unwrap(),
            items,
            total,
        }
    }

    #[test]
    fn the_reminder_lists_the_cart_and_how_to_finish() {
        let letter = Letter::reminder(&reminder());
        assert_eq!(letter.subject, "You left items in your cart CART-1");
        assert_eq!(
            letter.text(),
            "Hello,\n\nyou left these items in your cart CART-1:\n\n  2 x iPhone 12 Pro at 999.00 USD = 1,998.00 USD\n  1 x iPhone SE at 399.00 USD = 399.00 USD\n\n  Total: 2,397.00 USD\n\nTo finish your order, run:\n\n  cart checkout CART-1\n"
        );
        let html = letter.html();
        assert!(html.contains(
            "<tr><td>2</td><td>iPhone 12 Pro</td><td>999.00 USD</td><td>1,998.00 USD</td></tr>"
        ));
        assert!(html.contains("<pre>cart checkout CART-1</pre>"));
    }

    #[test]
    fn the_confirmation_names_the_charge() {
        let (items, total) = items();
        let letter = Letter::confirmation(&ConfirmationRequest {
            cart_id: crate::domain::CartId::of_workflow("CART-1"),
            message_key: "k".into(),
            email: Email::parse("a@example.com").unwrap(),
            items,
            total,
            charge_id: "ch_1".into(),
        });
        assert_eq!(letter.subject, "Your order CART-1 is confirmed");
        assert!(
            letter
                .text()
                .contains("We charged 2,397.00 USD (charge ch_1) for:")
        );
        assert!(
            letter
                .html()
                .contains("<td colspan=\"3\">Total</td><td>2,397.00 USD</td>")
        );
    }

    #[test]
    fn html_is_escaped() {
        let mut r = reminder();
        r.items[0].name = "<b>Tom & Jerry's</b>".into();
        let html = Letter::reminder(&r).html();
        assert!(
            html.contains("&lt;b&gt;Tom &amp; Jerry&#39;s&lt;/b&gt;"),
            "{html}"
        );
    }
}
