//! `cart completions`: the shell completion script, generated from the argument definitions.

use crate::cli::{Cli, CliError};
use clap::CommandFactory;
use clap_complete::Shell;

/// Print the shell completion script for SHELL.
///
/// bash: `cart completions bash > ~/.local/share/bash-completion/completions/cart`;
/// zsh: `cart completions zsh > "${fpath[1]}/_cart"`;
/// fish: `cart completions fish > ~/.config/fish/completions/cart.fish`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The script for `shell`, as `cart completions` prints it.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "cart", &mut out);
    out
}

pub fn run(args: Args) -> Result<(), CliError> {
    super::printed(crate::cli::output::raw(&script(args.shell)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;
    use std::path::PathBuf;

    fn committed(shell: Shell) -> PathBuf {
        let name = match shell {
            Shell::Bash => "cart.bash",
            Shell::Zsh => "_cart",
            Shell::Fish => "cart.fish",
            Shell::PowerShell => "_cart.ps1",
            Shell::Elvish => "cart.elv",
            _ => unreachable!("clap_complete added a shell: commit its script too"),
        };
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("completions")
            .join(name)
    }

    /// The committed scripts are what the binary generates. After changing the arguments,
    /// refresh them with `CART_UPDATE_COMPLETIONS=1 cargo test completions`.
    #[test]
    fn committed_completions_match_the_binary() {
        for shell in Shell::value_variants() {
            let path = committed(*shell);
            let generated = script(*shell);
            if std::env::var_os("CART_UPDATE_COMPLETIONS").is_some() {
                std::fs::write(&path, &generated).unwrap();
            }
            let on_disk = std::fs::read(&path).unwrap_or_default();
            assert!(
                on_disk == generated,
                "{} is out of date: run CART_UPDATE_COMPLETIONS=1 cargo test completions",
                path.display()
            );
        }
    }

    #[test]
    fn the_man_page_names_every_command() {
        let page = String::from_utf8(super::super::man::page().unwrap()).unwrap();
        for command in [
            "worker", "new", "add", "remove", "email", "checkout", "show", "products", "list",
        ] {
            assert!(page.contains(&format!("cart\\-{command}(1)")), "{command}");
        }
        assert!(page.starts_with(".ie"), "{}", &page[..40]);
    }
}
