//! The `cart` binary: everything lives in the library; see `cart::cli`.

fn main() -> std::process::ExitCode {
    cart::cli::main()
}
