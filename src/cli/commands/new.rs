//! `cart new`: start a cart.

use super::prelude::*;

/// Start a new cart and print its id.
///
/// Without --id the cart gets a fresh random id such as CART-3f9c2a7b41d0.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The id for the new cart
    #[arg(long)]
    pub id: Option<CartId>,
    /// E-mail address for the receipt and the reminder
    #[arg(long)]
    pub email: Option<String>,
    #[command(flatten)]
    pub defaults: CartDefaults,
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    if let Some(email) = &args.email {
        crate::domain::Email::parse(email)
            .map_err(|e| CliError::usage(e).hint("write the address like ann@example.com"))?;
    }
    let input = ctx.cart_input(&args.defaults, args.email)?;
    let id = args.id.unwrap_or_else(CartId::generate);
    let carts = ctx.carts().await?;
    let view = starting(&carts, &id, "starting the cart", carts.create(&id, input)).await?;
    match ctx.output() {
        OutputFormat::Json | OutputFormat::Jsonl => printed(ctx.printer().cart(&view)),
        OutputFormat::Text => {
            let reminders = match args.defaults.reminders_per_day {
                0 => "it sends no reminders".to_owned(),
                n => format!(
                    "a reminder goes out after {} idle (at most {n} a day)",
                    output::duration(args.defaults.remind_after)
                ),
            };
            eprintln!(
                "Created cart {id}; {reminders}, it expires after {}.",
                output::duration(args.defaults.expire_after)
            );
            printed(ctx.printer().line(id.as_str()))
        }
    }
}
