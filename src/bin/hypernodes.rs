//! The `hypernodes` command; see `hypernodes --help` and [`hypernodes::cli`].

fn main() -> std::process::ExitCode {
    hypernodes::cli::main()
}
