//! The fake API server driven by the real kube client (one test binary, so kube is
//! linked once).

mod admission;
mod common;
mod crud;
mod discovery;
mod knobs;
mod lifecycle;
mod node_lifecycle;
mod table;
mod validation;
mod watch;
mod workloads;
