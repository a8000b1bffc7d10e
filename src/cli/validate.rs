//! `chaos validate`: every problem in every playbook, with code frames; exit 2 on any.

use std::path::PathBuf;

use crate::exit::Exit;
use crate::playbook;

pub fn validate(paths: &[PathBuf]) -> Exit {
    let mut exit = Exit::Passed;
    for p in paths {
        match playbook::load(p) {
            Ok(plan) => println!(
                "✔ {}: valid ({} steps)",
                p.display(),
                plan.all_steps().len()
            ),
            Err(invalid) => {
                eprint!("{}", invalid.render(super::color()));
                let n = invalid.count();
                eprintln!(
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
