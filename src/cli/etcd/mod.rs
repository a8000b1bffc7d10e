//! `chaos etcd ls|get|watch|del|restore|decode`: raw etcd access for game days and for learning
//! how Kubernetes keeps its state, with the safety the fault needs: `del` writes a backup of
//! every value before it deletes anything and says where it is; `restore` puts exactly those
//! values back and never overwrites a key Kubernetes has written again (unless `--force`).
//! `get` and `ls` read now or at an earlier revision (`--rev`) and print what etcdctl prints
//! with `-w json` ([`json`]); `watch` follows changes ([`watch`]); `decode` shows a value saved
//! to a file without any etcd, as auger does.
//!
//! The connection flags are etcdctl's (`--endpoints --cacert --cert --key`); whatever is not
//! given is discovered from the kind cluster (`--cluster`, default `kind`) through Docker.
//!
//! Exit codes: 0 done; 2 bad usage; 3 etcd (or Docker, or the cluster) unreachable, or the
//! TLS credentials rejected; 4 the key does not exist or the operation failed.

mod json;
mod watch;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};

use crate::backends::docker::DockerNodes;
use crate::backends::etcd::decode::{self, Format};
use crate::backends::etcd::{self, BackupFile, EtcdClient, EtcdFlags, backup};
use crate::backends::{BackendError, ErrorKind, EtcdSelector};
use crate::exit::Exit;
use crate::{errln, outln};

const BACKUP_HELP: &str = "Backups: every delete first writes the keys and values it will delete (read at one revision) \
to a JSON file (0600; keys and values base64, so any bytes round-trip), by default in \
$XDG_STATE_HOME/kind-chaos/backups/ (~/.local/state/kind-chaos/backups/; $CHAOS_STATE_DIR/backups/ when set). \
`chaos etcd restore FILE` puts them back.";

#[derive(Subcommand, Debug)]
#[command(after_long_help = BACKUP_HELP)]
pub enum EtcdCommand {
    /// List the keys under a prefix (keys only, streamed page by page).
    Ls {
        /// The key prefix, like `/registry/pods/` (empty: every key).
        prefix: String,
        /// Print only the number of keys.
        #[arg(long)]
        count: bool,
        /// At most this many keys.
        #[arg(long)]
        limit: Option<u64>,
        /// Read at this revision instead of the current one (etcd keeps history until compaction).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..))]
        rev: Option<i64>,
        /// `simple`: one key a line; `json`: etcdctl's `get --prefix --keys-only -w json`
        /// (header, kvs[] with base64 keys, revisions, version, lease).
        #[arg(long = "write-out", short = 'w', value_enum, default_value_t = WriteOut::Simple, conflicts_with = "count")]
        write_out: WriteOut,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Show a value: Kubernetes objects decoded from protobuf, JSON as stored, other bytes escaped.
    Get {
        /// The key, like `/registry/pods/default/web`.
        #[arg(id = "etcd_key", value_name = "KEY")]
        key: String,
        /// Write the value's bytes as they are.
        #[arg(long, conflicts_with = "output")]
        raw: bool,
        /// How to show a decoded Kubernetes object.
        #[arg(long, short = 'o', value_enum, default_value_t = Output::Yaml)]
        output: Output,
        /// Read at this revision instead of the current one (etcd keeps history until compaction).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..))]
        rev: Option<i64>,
        /// `simple`: the value, decoded; `json`: etcdctl's `get -w json` (header, kvs[] with
        /// base64 key and value, create_revision, mod_revision, version, lease).
        #[arg(long = "write-out", short = 'w', value_enum, default_value_t = WriteOut::Simple, conflicts_with = "raw")]
        write_out: WriteOut,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Print the changes to the keys under a prefix as they happen, until Ctrl-C or --count.
    Watch(watch::WatchArgs),
    /// Show a value saved to a file (or `-` for stdin), decoded as `get` shows it; needs no
    /// etcd (like auger), so it works on values copied out of a stopped cluster's data.
    Decode {
        /// The file holding one value's bytes, as `chaos etcd get --raw` or etcdctl
        /// `--print-value-only` wrote them; `-` reads stdin.
        file: PathBuf,
        /// How to show a decoded Kubernetes object.
        #[arg(long, short = 'o', value_enum, default_value_t = Output::Yaml)]
        output: Output,
    },
    /// Delete a key (or every key under a prefix), after backing the values up.
    #[command(after_long_help = BACKUP_HELP)]
    Del {
        /// The key (or with --prefix, the prefix), like `/registry/pods/default/web`.
        #[arg(id = "etcd_key", value_name = "KEY")]
        key: String,
        /// Delete every key that starts with KEY.
        #[arg(long)]
        prefix: bool,
        /// Write the backup to this file (it must not exist) instead of the state directory.
        #[arg(long, value_name = "FILE")]
        backup: Option<PathBuf>,
        /// Allow a prefix that covers every key (`/`) or all of `/registry/`.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Put back the values of a backup; keys that exist again are skipped unless --force.
    Restore {
        /// A backup file written by `chaos etcd del` or an `etcd-delete` fault.
        backup: PathBuf,
        /// Overwrite keys that exist again.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Yaml,
    Json,
}

impl Output {
    fn format(self) -> Format {
        match self {
            Output::Yaml => Format::Yaml,
            Output::Json => Format::Json,
        }
    }
}

/// etcdctl's `-w`: `simple` for people, `json` for scripts written against etcdctl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WriteOut {
    Simple,
    Json,
}

/// The largest value file `decode` reads (etcd's own limit for a request is 1.5 MiB).
const MAX_VALUE_FILE: u64 = 64 * 1024 * 1024;

/// How to reach etcd (etcdctl's flag names, and `run`'s `--etcd-*` names as aliases, so either
/// spelling works on both); what is left out is discovered from the cluster.
#[derive(Args, Debug, Clone, Default)]
pub struct ConnArgs {
    /// etcd endpoints, comma-separated, like `https://127.0.0.1:2379` [default: discovered
    /// from the kind cluster's control-plane container].
    #[arg(
        long,
        visible_alias = "etcd-endpoints",
        value_delimiter = ',',
        value_name = "URLS"
    )]
    pub endpoints: Vec<String>,
    /// The CA certificate of etcd's server certificate [default: the cluster's
    /// /etc/kubernetes/pki/etcd/ca.crt].
    #[arg(long, visible_alias = "etcd-cacert", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    #[command(flatten)]
    pub client: ClientCert,
    /// The kind cluster whose etcd to use, for what the flags above leave out (default `kind`).
    #[arg(long, value_parser = super::connect::cluster_arg)]
    pub cluster: Option<String>,
}

/// The client certificate and its key, which go together: either one requires the other (the
/// group's `requires_all` names both).
#[derive(Args, Debug, Clone, Default)]
#[group(multiple = true, requires_all = ["cert", "key"])]
pub struct ClientCert {
    /// Client certificate [default: the cluster's etcd healthcheck-client.crt].
    #[arg(long, visible_alias = "etcd-cert", value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client certificate key [default: the cluster's etcd healthcheck-client.key].
    #[arg(long, visible_alias = "etcd-key", value_name = "FILE")]
    pub key: Option<PathBuf>,
}

impl ConnArgs {
    fn flags(&self) -> EtcdFlags {
        EtcdFlags {
            endpoints: self.endpoints.clone(),
            cacert: self.cacert.clone(),
            cert: self.client.cert.clone(),
            key: self.client.key.clone(),
        }
    }
}

/// Connects as the flags say, discovering the rest from the kind cluster.
pub async fn client(conn: &ConnArgs) -> Result<EtcdClient, BackendError> {
    let flags = conn.flags();
    if flags.complete() {
        return etcd::connect(&flags).await;
    }
    let cluster = super::connect::cluster_name(conn.cluster.as_deref(), None);
    let docker = DockerNodes::connect(&cluster)
        .await
        .map_err(|e| etcd::discovery_failed(&flags, "--", &cluster, e))?;
    etcd::connect_for_cluster(&docker, &flags).await
}

pub async fn run(cmd: EtcdCommand) -> Exit {
    let result = match cmd {
        EtcdCommand::Ls {
            prefix,
            count,
            limit,
            rev,
            write_out,
            conn,
        } => ls(&conn, &prefix, count, limit, rev, write_out).await,
        EtcdCommand::Get {
            key,
            raw,
            output,
            rev,
            write_out,
            conn,
        } => get(&conn, &key, raw, output, rev, write_out).await,
        EtcdCommand::Watch(args) => watch::watch(args).await,
        EtcdCommand::Decode { file, output } => return decode_file(&file, output),
        EtcdCommand::Del {
            key,
            prefix,
            backup,
            force,
            conn,
        } => {
            // The same rule playbooks follow (where it cannot be overridden).
            if let Some(why) = crate::playbook::names::whole_etcd_prefix(&key).filter(|_| prefix)
                && !force
            {
                errln!(
                    "error: refusing to delete every key under {key:?}: {why}; name a narrower prefix, like /registry/pods/default/, or pass --force"
                );
                return Exit::Usage;
            }
            let selector = if prefix {
                EtcdSelector::Prefix(key)
            } else {
                EtcdSelector::Key(key)
            };
            del(&conn, &selector, backup).await
        }
        EtcdCommand::Restore {
            backup,
            force,
            conn,
        } => restore(&conn, &backup, force).await,
    };
    match result {
        Ok(exit) => exit,
        Err(e) => fail(&e),
    }
}

/// Prints the error; unreachable etcd is exit 3, anything else exit 4.
fn fail(e: &BackendError) -> Exit {
    errln!("error: {e}");
    match e.kind {
        ErrorKind::Unavailable => Exit::Environment,
        ErrorKind::NotFound | ErrorKind::Failed => Exit::StepFailed,
    }
}

async fn ls(
    conn: &ConnArgs,
    prefix: &str,
    count: bool,
    limit: Option<u64>,
    rev: Option<i64>,
    write_out: WriteOut,
) -> Result<Exit, BackendError> {
    let c = client(conn).await?;
    if count {
        let n = match rev {
            None => c.count_prefix(prefix.as_bytes()).await?,
            // The first page's answer counts the whole range at that revision.
            Some(_) => {
                let s = c
                    .for_each_kv(prefix.as_bytes(), Some(1), rev, false, |_, _| Ok(()))
                    .await?;
                u64::try_from(s.count).unwrap_or(0)
            }
        };
        outln!("{}", limit.map_or(n, |l| n.min(l)));
        return Ok(Exit::Passed);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let json = write_out == WriteOut::Json;
    let mut opened = false;
    let summary = c
        .for_each_kv(prefix.as_bytes(), limit, rev, false, |header, kv| {
            if json {
                if opened {
                    out.write_all(b",")?;
                } else {
                    out.write_all(json::range_open(header).as_bytes())?;
                    opened = true;
                }
                out.write_all(json::kv(kv).as_bytes())
            } else {
                out.write_all(printable(&kv.key).as_bytes())?;
                out.write_all(b"\n")
            }
        })
        .await?;
    if json {
        let close = json::range_close(&summary.header, opened, summary.more, summary.count);
        let _ = writeln!(out, "{close}");
    }
    let _ = out.flush();
    Ok(Exit::Passed)
}

/// A key as printed by `ls`: as it is when it is printable UTF-8, else escaped.
fn printable(key: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(key) {
        Ok(s) if !s.chars().any(char::is_control) => std::borrow::Cow::Borrowed(s),
        _ => std::borrow::Cow::Owned(decode::escape(key)),
    }
}

async fn get(
    conn: &ConnArgs,
    key: &str,
    raw: bool,
    output: Output,
    rev: Option<i64>,
    write_out: WriteOut,
) -> Result<Exit, BackendError> {
    let c = client(conn).await?;
    let (header, kv) = c.get_kv(key.as_bytes(), rev).await?;
    if write_out == WriteOut::Json {
        // As etcdctl: the answer is printed even when it holds no key (the exit code says so).
        outln!("{}", json::get(&header, kv.as_ref()));
    }
    let Some(kv) = kv else {
        let at = rev.map_or_else(String::new, |r| format!(" at revision {r}"));
        return Err(BackendError::not_found(format!(
            "etcd key {key} does not exist{at} (at {})",
            c.endpoint()
        )));
    };
    match write_out {
        WriteOut::Json => {}
        // Asked for as they are: the bytes go out unescaped.
        WriteOut::Simple if raw => {
            crate::report::out::Stream::Stdout.write_bytes(&kv.value);
        }
        WriteOut::Simple => crate::out!("{}", decode::render(&kv.value, output.format())),
    }
    Ok(Exit::Passed)
}

/// `chaos etcd decode FILE`: one value's bytes from a file (or stdin), shown as `get` shows
/// them; exit 2 when the file cannot be read.
fn decode_file(file: &Path, output: Output) -> Exit {
    let read = |r: &mut dyn Read| -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        r.take(MAX_VALUE_FILE + 1).read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    let bytes = if file == Path::new("-") {
        read(&mut std::io::stdin().lock())
    } else {
        std::fs::File::open(file).and_then(|mut f| read(&mut f))
    };
    match bytes {
        Ok(b) if b.len() as u64 > MAX_VALUE_FILE => {
            errln!(
                "error: {} is larger than {} MiB: not one etcd value",
                file.display(),
                MAX_VALUE_FILE >> 20
            );
            Exit::Usage
        }
        Ok(b) => {
            crate::out!("{}", decode::render(&b, output.format()));
            Exit::Passed
        }
        Err(e) => {
            errln!("error: cannot read {}: {e}", file.display());
            Exit::Usage
        }
    }
}

async fn del(
    conn: &ConnArgs,
    selector: &EtcdSelector,
    path: Option<PathBuf>,
) -> Result<Exit, BackendError> {
    let c = client(conn).await?;
    let path = path.unwrap_or_else(|| backup::default_path(&backup::default_dir(), selector));
    let report = c.delete_with_backup(selector, &path).await?;
    if report.backup.entries.is_empty() {
        return Err(BackendError::not_found(match selector {
            EtcdSelector::Key(k) => format!("etcd key {k} does not exist (at {})", c.endpoint()),
            EtcdSelector::Prefix(p) => {
                format!("no etcd keys start with {p} (at {})", c.endpoint())
            }
        }));
    }
    outln!(
        "deleted {} key(s) of {selector} (read at revision {})",
        report.backup.entries.len(),
        report.backup.revision
    );
    if let Some(p) = &report.path {
        outln!("backup: {}", p.display());
        outln!("restore with: chaos etcd restore {}", p.display());
    }
    if report.appeared > 0 {
        outln!(
            "left alone: {} key(s) under the prefix written after the read",
            report.appeared
        );
    }
    if !report.unguarded.is_empty() {
        outln!(
            "note: {} key(s) changed on every guarded try and were deleted unguarded (their deleted values are in the backup): {}",
            report.unguarded.len(),
            report.unguarded.join(", ")
        );
    }
    Ok(Exit::Passed)
}

async fn restore(
    conn: &ConnArgs,
    path: &std::path::Path,
    force: bool,
) -> Result<Exit, BackendError> {
    let file = BackupFile::read(path)?;
    let c = client(conn).await?;
    if file.endpoint != c.endpoint() {
        errln!(
            "note: the backup was read from {}, restoring to {}",
            file.endpoint,
            c.endpoint()
        );
    }
    if !file.complete {
        errln!(
            "note: the delete that wrote this backup did not finish; keys it did not delete still exist and are skipped{}",
            if force {
                " (--force: overwritten with the backed-up values)"
            } else {
                ""
            }
        );
    }
    let backup = file.to_backup();
    let report = c.restore_entries(&backup.entries, force).await?;
    outln!("restored {} key(s)", report.restored.len());
    if !report.skipped.is_empty() {
        outln!(
            "skipped {} key(s) that exist again (--force overwrites them):",
            report.skipped.len()
        );
        for k in &report.skipped {
            outln!("  {k}");
        }
    }
    Ok(Exit::Passed)
}
