//! `cart shell`, and plain `cart` on a terminal: the interactive prompt.
//!
//! The prompt keeps a current cart. Each line is split the way a shell splits it, the current
//! cart goes in where a command needs a cart and none was typed, and the words go through the
//! same clap parser and the same [`crate::cli::run`] as a one-shot command, so the two cannot
//! disagree. The guided menu (Enter on an empty line) only builds such command lines, and
//! prints each one so people learn the one-shot form as they go.
//!
//! The line itself is read with rustyline, the lists and validated inputs are dialoguer's:
//! dialoguer's text input ignores Ctrl-D and keeps no history, while rustyline gives line
//! editing, history and Ctrl-C/Ctrl-D the way every other prompt does.

use crate::cli::output::{money, symbol_money};
use crate::cli::{Cli, CliError, ColorChoice, Command, Context, GlobalArgs};
use crate::domain::{CartId, Email, MAX_QUANTITY_PER_LINE};
use crate::workflow::CartView;
use clap::CommandFactory;
use console::{Style, Term};
use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};
use dialoguer::{Confirm, Input, Select};
use rustyline::error::ReadlineError;
use std::io::IsTerminal;
use tokio::runtime::Runtime;

/// Open an interactive prompt that keeps a current cart.
///
/// Type any command without `cart` in front (`add --product 1 --qty 2` acts on the current
/// cart), press Enter on an empty line for a menu, `help` for the list, Ctrl-D or `exit` to
/// leave. Plain `cart` on a terminal opens it too.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Whether the prompt can run here: it reads keys from a terminal and draws on one.
pub fn has_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

pub fn run(runtime: &Runtime, global: GlobalArgs) -> Result<(), CliError> {
    if !has_terminal() {
        return Err(CliError::usage(
            "the prompt needs a terminal, and input or output here is not one",
        )
        .hint("in scripts run one command per call, e.g. `cart add CART-1 --product 0`; `cart --help` lists them"));
    }
    let _interrupts =
        catch_ctrl_c(runtime).map_err(|e| CliError::chain("cannot handle Ctrl-C", &e))?;
    let mut editor = rustyline::DefaultEditor::new()
        .map_err(|e| CliError::chain("cannot open the prompt", &e))?;
    let mut shell = Shell::new(runtime, global);
    eprintln!(
        "cart {}: type a command (`help` lists them), Enter on an empty line for a menu, Ctrl-D or `exit` to leave.",
        env!("CARGO_PKG_VERSION")
    );
    // The prompt opens at the command line, so that what a person types at once is read as a
    // command; the cart picker waits for an empty Enter, as the banner says.
    loop {
        let line = match editor.readline(&shell.prompt()) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(CliError::chain("cannot read from the terminal", &e)),
        };
        if !line.trim().is_empty() {
            // Only the in-memory history; nothing is written to disk.
            let _ = editor.add_history_entry(line.as_str());
        }
        if let Flow::Leave = shell.handle(&line) {
            break;
        }
    }
    Ok(())
}

/// From here on Ctrl-C interrupts the step at hand, not the whole prompt: a handler stays
/// installed for the life of the process once tokio has registered one.
fn catch_ctrl_c(runtime: &Runtime) -> std::io::Result<impl Sized> {
    #[cfg(unix)]
    let handler = runtime.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
    });
    #[cfg(windows)]
    let handler = runtime.block_on(async { tokio::signal::windows::ctrl_c() });
    handler
}

enum Flow {
    Stay,
    Leave,
}

struct Shell<'a> {
    runtime: &'a Runtime,
    /// The options the prompt was opened with; every line is parsed on top of them.
    ctx: Context,
    current: Option<CartId>,
    theme: Box<dyn Theme>,
    color: bool,
}

impl<'a> Shell<'a> {
    fn new(runtime: &'a Runtime, global: GlobalArgs) -> Self {
        let color = global.color.enabled(std::io::stderr().is_terminal());
        let theme: Box<dyn Theme> = if color {
            Box::new(ColorfulTheme::default())
        } else {
            Box::new(SimpleTheme)
        };
        Self {
            runtime,
            ctx: Context::new(global),
            current: None,
            theme,
            color,
        }
    }

    fn prompt(&self) -> String {
        match &self.current {
            Some(cart) => format!("cart {cart}> "),
            None => "cart> ".to_owned(),
        }
    }

    fn handle(&mut self, line: &str) -> Flow {
        let Some(words) = shlex::split(line) else {
            self.error(CliError::usage("a quote is not closed"));
            return Flow::Stay;
        };
        match words.first().map(String::as_str) {
            None => return self.menu(),
            Some("exit" | "quit") => return Flow::Leave,
            Some("help" | "?") if words.len() == 1 => print_help(),
            Some("use") => match words.get(1).map(|w| CartId::parse(w)) {
                Some(Ok(cart)) if words.len() == 2 => {
                    self.execute(vec!["show".into(), cart.to_string()])
                }
                Some(Err(e)) => self.error(CliError::usage(e.to_string())),
                _ => self.error(CliError::usage("write `use CART-…` to switch carts")),
            },
            Some(_) => self.execute(words),
        }
        Flow::Stay
    }

    /// Parses and runs one command line exactly as `cart <words>` would.
    fn execute(&mut self, mut words: Vec<String>) {
        if let Some(current) = &self.current
            && crate::cli::takes_cart(&words[0])
            && !words.iter().any(|w| CartId::looks_like(w))
        {
            words.insert(1, current.to_string());
        }
        let mut cli = match Cli::parse_line(&self.ctx.global, words) {
            Ok(cli) => cli,
            Err(e) => {
                // --help and --version land here too; clap prints them.
                let _ = e.print();
                return;
            }
        };
        if let Some(Command::Worker(_)) = cli.command {
            self.error(
                CliError::usage("the worker does not run inside the prompt")
                    .hint("start one in another terminal: cart worker"),
            );
            return;
        }
        // A new cart gets its id here, so the prompt knows which cart it just made.
        if let Some(Command::New(args)) = &mut cli.command {
            args.id.get_or_insert_with(CartId::generate);
        }
        let cart = cli.command.as_ref().and_then(Command::cart).cloned();
        let color = cli.global.color;
        let outcome = self.runtime.block_on(async {
            tokio::select! {
                result = crate::cli::run(cli) => Some(result),
                _ = tokio::signal::ctrl_c() => None,
            }
        });
        match outcome {
            Some(Ok(())) => {
                if cart.is_some() {
                    self.current = cart;
                }
            }
            Some(Err(e)) => e.print(color),
            None => {
                eprintln!("cancelled; a change already sent may still be applied (`show` tells)")
            }
        }
    }

    /// Runs a command line the menu built, showing it first.
    fn guided(&mut self, words: Vec<String>) {
        let shown = shlex::try_join(words.iter().map(String::as_str)).unwrap_or_default();
        let dim = Style::new().dim().force_styling(self.color);
        eprintln!("{}", dim.apply_to(format!("> cart {shown}")));
        self.execute(words);
    }

    /// Enter on an empty line: the cart picker while there is no current cart, else the
    /// menu of what to do with it.
    fn menu(&mut self) -> Flow {
        if self.current.is_none() {
            self.pick_cart();
            return Flow::Stay;
        }
        #[derive(Clone, Copy)]
        enum Action {
            Add,
            Remove,
            Email,
            Checkout,
            Show,
            New,
            Switch,
            Leave,
        }
        let actions = [
            ("Add a product", Action::Add),
            ("Remove a product", Action::Remove),
            ("Set the e-mail address", Action::Email),
            ("Check out", Action::Checkout),
            ("Show the cart", Action::Show),
            ("Start a new cart", Action::New),
            ("Switch to another cart", Action::Switch),
            ("Leave", Action::Leave),
        ];
        let labels: Vec<String> = actions.iter().map(|(label, _)| label.to_string()).collect();
        let Some(choice) = self.select("What next?", &labels) else {
            return Flow::Stay;
        };
        let words = match actions[choice].1 {
            Action::Add => self.add_words(),
            Action::Remove => self.remove_words(),
            Action::Email => self.email_words(),
            Action::Checkout => self.checkout_words(),
            Action::Show => self
                .current
                .as_ref()
                .map(|c| vec!["show".into(), c.to_string()]),
            Action::New => Some(vec!["new".into()]),
            Action::Switch => {
                self.pick_cart();
                None
            }
            Action::Leave => return Flow::Leave,
        };
        if let Some(words) = words {
            self.guided(words);
        }
        Flow::Stay
    }

    /// Start a new cart or pick an open one; Esc keeps things as they are.
    fn pick_cart(&mut self) {
        let ctx = &self.ctx;
        let open = self
            .runtime
            .block_on(async { Ok::<_, CliError>(ctx.carts().await?.list_open().await?) });
        let open = match open {
            Ok(open) => open,
            Err(e) => {
                self.error(e);
                return;
            }
        };
        let mut labels = vec!["Start a new cart".to_owned()];
        labels.extend(open.iter().map(|c| format!("{} ({})", c.id, c.status)));
        match self.select("Which cart?", &labels) {
            Some(0) => self.guided(vec!["new".into()]),
            Some(i) => self.guided(vec!["show".into(), open[i - 1].id.to_string()]),
            None => {}
        }
    }

    fn add_words(&mut self) -> Option<Vec<String>> {
        let cart = self.current.clone()?;
        let ctx = &self.ctx;
        let catalog = self
            .runtime
            .block_on(async { Ok::<_, CliError>(ctx.carts().await?.catalog().await?) })
            .map_err(|e| self.error(e))
            .ok()?;
        let labels: Vec<String> = catalog
            .products()
            .iter()
            .map(|p| format!("{}  {}", p.name, symbol_money(&p.price)))
            .collect();
        let product = &catalog.products()[self.select("Which product?", &labels)?];
        let qty = self.quantity("How many?", 1, MAX_QUANTITY_PER_LINE)?;
        Some(change("add", cart.as_str(), product.id, qty))
    }

    fn remove_words(&mut self) -> Option<Vec<String>> {
        let cart = self.current.clone()?;
        let view = self.view(&cart)?;
        if view.items.is_empty() {
            eprintln!("The cart has no items to remove.");
            return None;
        }
        let labels: Vec<String> = view
            .items
            .iter()
            .map(|l| format!("{} × {}", l.name, l.quantity))
            .collect();
        let line = &view.items[self.select("Remove which product?", &labels)?];
        let qty = self.quantity("How many?", line.quantity, line.quantity)?;
        Some(change("remove", cart.as_str(), line.product_id, qty))
    }

    fn email_words(&mut self) -> Option<Vec<String>> {
        let cart = self.current.clone()?;
        let input = Input::<String>::with_theme(&*self.theme)
            .with_prompt("E-mail address")
            .validate_with(|text: &String| {
                Email::parse(text).map(|_| ()).map_err(|e| e.to_string())
            })
            .interact_text();
        let email = self.answered(input)?;
        Some(words(&["email", cart.as_str(), &email]))
    }

    fn checkout_words(&mut self) -> Option<Vec<String>> {
        let cart = self.current.clone()?;
        let view = self.view(&cart)?;
        let total = money(view.total, view.currency.as_deref());
        let confirm = Confirm::with_theme(&*self.theme)
            .with_prompt(format!("Pay {total} for cart {cart}?"))
            .default(true)
            .interact_opt();
        match self.answered(confirm)? {
            Some(true) => Some(words(&["checkout", cart.as_str()])),
            _ => None,
        }
    }

    fn view(&self, cart: &CartId) -> Option<CartView> {
        let ctx = &self.ctx;
        let view = self
            .runtime
            .block_on(async { Ok::<_, CliError>(ctx.carts().await?.get(cart).await?) });
        view.map_err(|e| self.error(e)).ok()
    }

    fn select(&self, prompt: &str, labels: &[String]) -> Option<usize> {
        let choice = Select::with_theme(&*self.theme)
            .with_prompt(prompt)
            .items(labels)
            .default(0)
            .interact_opt();
        self.answered(choice).flatten()
    }

    fn quantity(&self, prompt: &str, default: u32, max: u32) -> Option<u32> {
        let qty = Input::<u32>::with_theme(&*self.theme)
            .with_prompt(format!("{prompt} (1-{max})"))
            .default(default)
            .validate_with(move |q: &u32| {
                if (1..=max).contains(q) {
                    Ok(())
                } else {
                    Err(format!("enter a number from 1 to {max}"))
                }
            })
            .interact_text();
        self.answered(qty)
    }

    /// A prompt's answer, or `None` when it was cancelled with Ctrl-C (or failed, said why).
    fn answered<T>(&self, result: Result<T, dialoguer::Error>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(dialoguer::Error::IO(e)) if e.kind() == std::io::ErrorKind::Interrupted => {
                // dialoguer hides the cursor in lists and leaves it hidden when interrupted.
                let _ = Term::stderr().show_cursor();
                eprintln!();
                None
            }
            Err(e) => {
                self.error(CliError::new(format!("the prompt failed: {e}")));
                None
            }
        }
    }

    fn error(&self, e: CliError) {
        e.print(if self.color {
            ColorChoice::Always
        } else {
            ColorChoice::Never
        });
    }
}

fn words(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| p.to_string()).collect()
}

/// `add` or `remove` of `qty` of a product.
fn change(command: &str, cart: &str, product: u32, qty: u32) -> Vec<String> {
    let (product, qty) = (product.to_string(), qty.to_string());
    words(&[command, cart, "--product", &product, "--qty", &qty])
}

fn print_help() {
    let mut text = String::from(
        "Commands, as on the command line without `cart` in front (`<command> --help` for one):\n",
    );
    for sub in Cli::command().get_subcommands() {
        if matches!(sub.get_name(), "worker" | "shell") {
            continue;
        }
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        text.push_str(&format!("  {:<12} {about}\n", sub.get_name()));
    }
    text.push_str(
        "\
add, remove, email, checkout and show act on the current cart when no cart is given.
At the prompt only:
  use CART-…   make another cart the current one
  (Enter)      a menu of what you can do next
  help         this list
  exit         leave (Ctrl-D does too); Ctrl-C cancels the step at hand
",
    );
    print!("{text}");
}

#[cfg(test)]
mod tests {
    use crate::cli::Cli;
    use clap::Parser;

    #[test]
    fn the_prompt_passes_its_options_on_unchanged() {
        let cli = Cli::try_parse_from([
            "cart",
            "--address",
            "temporal.example:7233",
            "--namespace",
            "shop",
            "--output",
            "json",
            "--color",
            "never",
            "--wait",
            "90s",
            "list",
        ])
        .unwrap();
        let again = Cli::parse_line(&cli.global, ["list".to_owned()]).unwrap();
        assert_eq!(again.global, cli.global);
    }

    #[test]
    fn an_option_on_the_line_wins_over_the_prompts() {
        let cli =
            Cli::try_parse_from(["cart", "--output", "json", "--wait", "5s", "list"]).unwrap();
        let line =
            Cli::parse_line(&cli.global, ["list", "--output", "text"].map(String::from)).unwrap();
        assert_eq!(line.global.output, crate::cli::OutputFormat::Text);
        assert_eq!(line.global.wait, std::time::Duration::from_secs(5));
    }
}
