//! Logs: the `tracing` events of the library (a warning that etcd keys were deleted by someone
//! else, where a backup was written, retries) on stderr. Warnings are always shown, and so is
//! what the etcd backend did to etcd (where the backup of a delete went); `-v` adds what chaos
//! does, `-vv` debugging detail, `-vvv` everything; `RUST_LOG` (tracing's `EnvFilter` syntax,
//! e.g. `kind_chaos=debug,kube=info`) replaces the level when set.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::errln;
use crate::report::out;

/// The filter for `-v` counted `verbose` times.
pub(super) fn default_filter(verbose: u8) -> &'static str {
    match verbose {
        0 => "warn,kind_chaos::backends::etcd=info",
        1 => "warn,kind_chaos=info",
        2 => "info,kind_chaos=debug",
        _ => "debug,kind_chaos=trace",
    }
}

/// Installs the subscriber for this process (once; later calls do nothing).
pub(super) fn init(verbose: u8) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => match EnvFilter::try_new(&spec) {
            Ok(f) => f,
            Err(e) => {
                errln!("warning: ignoring RUST_LOG={spec:?}: {e}");
                EnvFilter::new(default_filter(verbose))
            }
        },
        _ => EnvFilter::new(default_filter(verbose)),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .event_format(Plain {
            target: verbose >= 2,
        })
        .with_writer(|| out::Escaping(out::Stream::Stderr))
        .try_init();
}

/// `warning: message key=value`, like the other messages of chaos (the module at `-vv`).
struct Plain {
    target: bool,
}

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        write!(writer, "{level}: ")?;
        if self.target {
            write!(writer, "[{}] ", event.metadata().target())?;
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
