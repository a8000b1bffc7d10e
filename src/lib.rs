//! kind-chaos: chaos experiments against local kind clusters, driven by YAML playbooks.
//!
//! Layers (ARCHITECTURE.md, "The floors"): [`playbook`] reads and checks playbooks; [`engine`] runs a plan
//! against the backend traits of [`backends`], undoing every fault; [`observe`] judges what the
//! backends report; [`report`] renders runs for people and for CI; [`journal`] keeps the undo
//! journal on disk so `chaos recover` can finish what a dead run left; [`cli`] is the only place
//! that builds real backends. [`state_dir`], under them all, says where kind-chaos keeps its files
//! and which of them it trusts.

pub mod backends;
pub mod cli;
pub mod engine;
pub mod exit;
pub mod journal;
pub mod observe;
pub mod playbook;
pub mod report;
pub mod state_dir;
