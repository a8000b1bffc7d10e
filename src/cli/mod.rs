//! The command line: parsing (clap), and the only place that builds real backends. Each
//! subcommand lives in its own module and returns an [`Exit`].

mod cluster;
mod connect;
pub mod etcd;
mod interrupt;
mod load;
mod logs;
mod reality;
mod recover;
mod report;
mod run;
mod sweep;
mod validate;

use clap::{ArgAction, CommandFactory, Parser, Subcommand};

use crate::errln;
use crate::exit::Exit;
use crate::report::out;

#[derive(Parser, Debug)]
#[command(
    name = "chaos",
    version = env!("CHAOS_VERSION"),
    about = "Chaos experiments against local kind clusters, driven by YAML playbooks"
)]
#[command(
    after_help = "Exit codes: 0 passed, 1 an assertion failed, 2 usage or invalid playbook, 3 environment not ready, 4 a fault or step could not be carried out, 5 rollback failed (the cluster may be left faulted), 130 interrupted."
)]
pub struct Cli {
    /// Show more of what happens: -v info, -vv debug, -vvv trace (RUST_LOG overrides; warnings
    /// are always shown on stderr).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run playbooks: setup, steps, teardown; every fault is undone at the end.
    Run(run::RunArgs),
    /// Check playbooks without touching any cluster; every error at once (exit 2 on any).
    Validate(validate::ValidateArgs),
    /// Render the HTML and Markdown reports again from a JSON report (`chaos run --json`).
    Report(report::ReportArgs),
    /// Print the JSON Schema of the playbook format (for yaml-language-server).
    Schema {
        /// Print the JSON Schema of the JSON report's `timeline` instead.
        #[arg(long)]
        timeline: bool,
    },
    /// Undo what runs that died (or ran with --retain) left in the cluster, from their journals.
    Recover(recover::RecoverArgs),
    /// What really runs on each node: shims, pod sandboxes, containers, the kubelet.
    Reality(reality::RealityArgs),
    /// Load local Docker images into every node's containerd (like `kind load docker-image`).
    LoadImage(load::LoadArgs),
    /// The labs' kind cluster: create it from kind-config.yaml (or reuse it) and load the lab images; delete it.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Raw etcd access: list, show (decoded, or as etcdctl's JSON), watch, decode a saved
    /// value, delete (backed up first), restore.
    #[command(subcommand)]
    Etcd(etcd::EtcdCommand),
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
}

/// Parses the arguments and runs the command.
pub fn main() -> Exit {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // A usage error quotes the arguments back: written as plain text (clap strips
            // escape sequences from it; anything left is escaped), never styled raw bytes.
            if e.use_stderr() {
                crate::err!("{}", e.render());
            } else {
                let _ = e.print();
            }
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Passed
            };
        }
    };
    logs::init(cli.verbose);
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Validate(args) => validate::validate(&args),
        Command::Recover(args) => recover::recover(args),
        Command::Reality(args) => block_on(reality::run(args)),
        Command::LoadImage(args) => block_on(load::run(args)),
        Command::Cluster(cmd) => block_on(cluster::run(cmd)),
        Command::Etcd(cmd) => block_on(etcd::run(cmd)),
        Command::Report(args) => report::report(&args),
        Command::Schema { timeline } => {
            let schema = if timeline {
                crate::engine::timeline::schema_json()
            } else {
                schema_json()
            };
            // JSON: its strings are escaped by the encoder, so it is written as it is.
            out::Stream::Stdout.write_bytes(format!("{schema}\n").as_bytes());
            Exit::Passed
        }
        Command::Completions { shell } => {
            // The generators panic on a failed write; this writer never fails.
            let mut to = out::Quiet(out::Stream::Stdout);
            clap_complete::generate(shell, &mut Cli::command(), "chaos", &mut to);
            Exit::Passed
        }
    }
}

/// Runs a command's future on a fresh async runtime; exit 3 (said on stderr) when the runtime
/// cannot start.
pub(crate) fn block_on(command: impl std::future::Future<Output = Exit>) -> Exit {
    match runtime() {
        Some(rt) => rt.block_on(command),
        None => Exit::Environment,
    }
}

/// The async runtime for commands that talk to a cluster (says why when it cannot start).
pub(crate) fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => Some(r),
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}

/// The playbook JSON Schema, as committed in `schema/playbook.schema.json`.
pub fn schema_json() -> String {
    crate::playbook::schema::json()
}

/// Whether stderr is a terminal a person watches (not CI), for spinners.
pub(crate) fn live_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none_or(|v| v.is_empty() || v == "false")
}

/// Whether diagnostics on stderr get colour (`report::style`: NO_COLOR, CLICOLOR_FORCE, TERM).
pub(crate) fn color() -> bool {
    crate::report::style::Style::of_stream(false).color
}
