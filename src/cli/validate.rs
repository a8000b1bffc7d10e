//! `chaos validate`: every problem in every playbook, with code frames; exit 2 on any. Also the
//! one place playbook errors are shown (`run` uses [`show`] too), with the control bytes of the
//! files escaped: a playbook is not ours, and its text is quoted in the code frames.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::Args;

use crate::exit::Exit;
use crate::playbook::{self, Diagnostic, Invalid, Sources};
use crate::report::out::{self, clean, clean_mapped};
use crate::{errln, outln};

/// `chaos validate`'s arguments: what `run` takes that changes what a playbook says (`--set`,
/// and `--cluster` for `${cluster}`), so what validates is what runs.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[arg(required = true)]
    pub playbooks: Vec<PathBuf>,
    /// Set a playbook variable (`vars:`), repeatable; wins over `CHAOS_VAR_NAME` and the
    /// default.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = crate::playbook::vars::parse_set)]
    pub set: Vec<(String, String)>,
    /// The cluster `${cluster}` names, as `chaos run --cluster` would (default: the playbook's
    /// `cluster`, else `kind`). Nothing connects to it.
    #[arg(long, value_parser = super::connect::cluster_arg)]
    pub cluster: Option<String>,
}

pub fn validate(args: &ValidateArgs) -> Exit {
    let mut exit = Exit::Passed;
    let inputs = playbook::vars::Inputs::with_process_env(args.set.clone(), args.cluster.clone());
    for p in &args.playbooks {
        match playbook::load_with(p, &inputs) {
            Ok(plan) => outln!(
                "✔ {}: valid ({} steps)",
                p.display(),
                plan.all_steps().len()
            ),
            Err(invalid) => {
                show(&invalid);
                let n = invalid.count();
                errln!(
                    "✘ {}: {n} problem{}",
                    p.display(),
                    if n == 1 { "" } else { "s" }
                );
                exit = Exit::Usage;
            }
        }
    }
    exit
}

/// Shows a playbook's problems on stderr with their code frames, colored on a live terminal.
pub(super) fn show(invalid: &Invalid) {
    let text = escaped(invalid).render(super::color());
    out::Stream::Stderr.write_bytes(text.as_bytes());
}

/// The same problems over escaped text: every source's control bytes escaped (and the spans
/// moved along with them), and the messages' too. The rendering adds its own colors after.
fn escaped(invalid: &Invalid) -> Invalid {
    // Each file is escaped once, however many problems point into it (a file can hold a
    // thousand): escaping it per problem made a large playbook's errors quadratic.
    let mut escaped_files: HashMap<PathBuf, Option<(String, Vec<usize>)>> = HashMap::new();
    let mut sources = Sources::default();
    let mut diagnostics = Vec::with_capacity(invalid.diagnostics.len());
    for d in &invalid.diagnostics {
        let original = d.file.clone();
        let mut d: Diagnostic = d.clone();
        d.message = clean(&d.message).into_owned();
        d.help = d.help.map(|h| clean(&h).into_owned());
        d.file = PathBuf::from(clean(&d.file.to_string_lossy()).into_owned());
        let escaped = escaped_files.entry(original.clone()).or_insert_with(|| {
            let (text, map) = clean_mapped(&invalid.sources.get(&original)?);
            sources.keep(&d.file, &text);
            Some((text, map))
        });
        if let (Some((text, map)), Some(span)) = (escaped.as_ref(), d.span.as_mut()) {
            let at = |offset: usize| map.get(offset).copied().unwrap_or(text.len());
            let end = at(span.end_offset);
            span.start.offset = at(span.start.offset);
            span.end_offset = end;
        }
        diagnostics.push(d);
    }
    Invalid {
        diagnostics,
        omitted: invalid.omitted,
        sources,
    }
}
