fn main() -> std::process::ExitCode {
    cart::cli::main()
}
