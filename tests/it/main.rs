//! The root package's integration tests, as one test binary: each former `tests/X.rs` is a
//! module here, and they share `support` (plans, reporters, the `chaos` command, the test
//! cluster of `scripts/testcluster.sh`, a real etcd, the fake API server). One binary links
//! once and runs every module's tests on one pool of test threads, where one binary per file
//! linked each again and ran them one after the other.
//!
//! Run one module with a filter: `cargo test --test it engine::` (or `-- --exact`).

mod support;

mod cli;
mod cluster_cli;
mod docker_cli;
mod docker_fill;
mod docker_hog;
mod docker_loss;
mod docker_network;
mod docker_nodes;
mod docker_reality_host;
mod e2e_kind;
mod engine;
mod etcd_cli;
mod etcd_decode;
mod etcd_discovery;
mod etcd_errors;
mod etcd_ops;
mod etcd_playbook;
mod etcd_recover;
mod etcd_revisions;
mod etcd_scale;
mod floors;
mod flow;
mod hostile_inputs;
mod junit;
mod kube_cli;
mod kube_connect;
mod kube_faults;
mod kube_labs;
mod kube_observe;
mod kube_watch;
mod lab_assertions;
mod local_cluster;
mod local_cluster_kubectl;
mod local_cluster_kubelet;
mod local_labs;
mod local_network_lab;
mod network_engine;
mod output;
mod output_docker;
mod output_etcd;
mod parser_fuzz;
mod playbook_errors;
mod probe;
mod reality_cli;
mod recover;
mod reports;
mod resource_engine;
mod resource_writable;
mod schema;
mod targets;
mod timeline;
mod vars;
