//! The `hypernodes` command; see `hypernodes --help` and [`hypernodes::cli`].

/// mimalloc keeps freed memory for reuse: a run makes and drops many batches of a few
/// megabytes, which the system allocator returns to the kernel and faults in again.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    hypernodes::cli::main()
}
