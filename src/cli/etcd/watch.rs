//! `chaos etcd watch PREFIX`: the changes to etcd under a prefix, printed as they happen, to
//! see what Kubernetes writes while a fault runs (a pod's status going Unknown, a lease
//! renewing, an object deleted behind the API server's back). It runs until Ctrl-C (exit 0:
//! stopping it is how a watch ends) or until `--count` events were printed; `--rev` starts
//! from an earlier revision, so the events since a moment can be replayed.
//!
//! One line per event: `PUT KEY (revision R, version V)` or `DELETE KEY (revision R)`, keys
//! escaped where they are not printable; `-w json` prints each event as one JSON object
//! (`header`, `type`, `kv` in etcdctl's encoding, see [`super::json`]).

use clap::Args;

use super::{ConnArgs, WriteOut, client, json, printable};
use crate::backends::BackendError;
use crate::backends::etcd::{Header, WatchEvent};
use crate::exit::Exit;
use crate::{errln, outln};

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// The key prefix, like `/registry/pods/` (empty: every key).
    prefix: String,
    /// Watch exactly this key, not every key under it.
    #[arg(long)]
    exact: bool,
    /// Start at this revision (inclusive): the events since then are printed first.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..))]
    rev: Option<i64>,
    /// Stop after this many events.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// `simple`: one line an event; `json`: one JSON object an event.
    #[arg(long = "write-out", short = 'w', value_enum, default_value_t = WriteOut::Simple)]
    write_out: WriteOut,
    #[command(flatten)]
    conn: ConnArgs,
}

/// A watch event for people.
fn line(e: &WatchEvent) -> String {
    let key = printable(&e.kv.key);
    if e.deleted {
        format!("DELETE {key} (revision {})", e.kv.mod_revision)
    } else {
        format!(
            "PUT {key} (revision {}, version {})",
            e.kv.mod_revision, e.kv.version
        )
    }
}

pub(super) async fn watch(args: WatchArgs) -> Result<Exit, BackendError> {
    let c = client(&args.conn).await?;
    let mut w = c
        .watch(args.prefix.as_bytes(), args.exact, args.rev)
        .await?;
    // Listened for from here on, so a Ctrl-C between two batches is not missed.
    let Some(mut stop) = super::super::interrupt::StopSignals::listen() else {
        return Ok(Exit::Environment);
    };
    let mut printed = 0u64;
    loop {
        let next = tokio::select! {
            n = w.next() => n?,
            _ = stop.recv() => return Ok(Exit::Passed),
        };
        let Some((header, events)) = next else {
            errln!("error: etcd at {} closed the watch", c.endpoint());
            return Ok(Exit::StepFailed);
        };
        for e in &events {
            print(&header, e, args.write_out);
            printed += 1;
            if args.count.is_some_and(|n| printed >= n) {
                return Ok(Exit::Passed);
            }
        }
        if crate::report::out::Stream::Stdout.is_gone() {
            return Ok(Exit::Passed);
        }
    }
}

fn print(header: &Header, e: &WatchEvent, write_out: WriteOut) {
    match write_out {
        WriteOut::Simple => outln!("{}", line(e)),
        WriteOut::Json => outln!("{}", json::event(header, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::etcd::Kv;

    #[test]
    fn events_read_as_one_line_each_with_unprintable_keys_escaped() {
        let put = WatchEvent {
            deleted: false,
            kv: Kv {
                key: b"/registry/pods/default/web".to_vec(),
                mod_revision: 12,
                version: 3,
                ..Kv::default()
            },
        };
        assert_eq!(
            line(&put),
            "PUT /registry/pods/default/web (revision 12, version 3)"
        );
        let del = WatchEvent {
            deleted: true,
            kv: Kv {
                key: b"/a\x1b[2J".to_vec(),
                mod_revision: 13,
                ..Kv::default()
            },
        };
        assert_eq!(line(&del), "DELETE /a\\x1b[2J (revision 13)");
    }
}
