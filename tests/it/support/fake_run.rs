//! The engine run against the in-memory fake cluster, as the engine's tests run it: a playbook
//! from text (after [`HEADER`]) or from a file with its manifests beside it, no journal, the
//! events recorded by [`Recorder`], on whatever clock the test runs (paused, mostly). One copy,
//! so each test says only its playbook, the fake's knobs and what it asserts.

use std::path::Path;
use std::sync::Arc;

use kind_chaos::backends::fake::FakeCluster;
use kind_chaos::engine::{self, PlaybookReport, RunOptions};
use kind_chaos::playbook::Plan;
use tokio_util::sync::CancellationToken;

use super::{HEADER, Recorder, plan};

/// `plan` run against `fake`, stopped by `cancel`, set up by `opts`: the report and the
/// events as [`Recorder`] writes them.
pub async fn run_plan_with(
    plan: &Plan,
    fake: &FakeCluster,
    cancel: &CancellationToken,
    opts: &RunOptions,
) -> (PlaybookReport, Vec<String>) {
    let mut rec = Recorder::default();
    let report = engine::run(plan, Arc::new(fake.clone()), &mut rec, cancel, opts).await;
    (report, rec.lines)
}

/// `plan` run against `fake`, never cancelled, with the default options.
pub async fn run_plan(plan: &Plan, fake: &FakeCluster) -> (PlaybookReport, Vec<String>) {
    run_plan_with(
        plan,
        fake,
        &CancellationToken::new(),
        &RunOptions::default(),
    )
    .await
}

/// The playbook `HEADER` + `yaml` run against `fake`.
pub async fn run_fake(fake: &FakeCluster, yaml: &str) -> (PlaybookReport, Vec<String>) {
    run_plan(&plan(&format!("{HEADER}{yaml}")), fake).await
}

/// [`run_fake`] with `opts` and `cancel`.
pub async fn run_fake_with(
    fake: &FakeCluster,
    yaml: &str,
    cancel: &CancellationToken,
    opts: &RunOptions,
) -> (PlaybookReport, Vec<String>) {
    run_plan_with(&plan(&format!("{HEADER}{yaml}")), fake, cancel, opts).await
}

/// The playbook `HEADER` + `yaml` loaded from `dir/p.yaml`, with `files` (name, text) written
/// beside it first: for steps that read files, like `apply`.
pub fn plan_in(dir: &Path, yaml: &str, files: &[(&str, &str)]) -> Plan {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let path = dir.join("p.yaml");
    std::fs::write(&path, format!("{HEADER}{yaml}")).unwrap();
    match kind_chaos::playbook::load(&path) {
        Ok(p) => p,
        Err(e) => panic!("invalid test playbook:\n{}", e.render(false)),
    }
}
