//! `chaos cluster up|down` through the binary against real Docker, with a stand-in `kind` on
//! PATH that records how it was called (no real kind can run on this machine): creating from
//! kind-config.yaml, reusing an existing cluster without calling kind, deleting, and the clear
//! exit 3 when kind or Docker is missing. Fails (never skips) without Docker.

use crate::support;
use crate::support::testcluster;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use support::{chaos_bin, text};

/// A folder with a `kind` that appends its arguments to `calls` and exits with `code`.
fn fake_kind(dir: &Path, code: i32) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> {}\nexit {code}\n",
        dir.join("calls").display()
    );
    std::fs::write(bin.join("kind"), script).unwrap();
    std::fs::set_permissions(bin.join("kind"), std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn chaos(path: &Path, args: &[&str]) -> Output {
    let sys_path = std::env::var("PATH").unwrap_or_default();
    chaos_bin()
        .env("PATH", format!("{}:{sys_path}", path.display()))
        .args(args)
        .output()
        .unwrap()
}

fn calls(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("calls")).unwrap_or_default()
}

#[test]
fn up_creates_a_missing_cluster_from_kind_config_with_kind() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_kind(dir.path(), 0);
    let out = chaos(
        &bin,
        &["cluster", "up", "--name", "kc-made-by-kind", "--no-images"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        calls(dir.path()),
        "create cluster --name kc-made-by-kind --config kind-config.yaml\n"
    );
}

#[test]
fn up_from_another_directory_finds_the_checkouts_kind_config() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_kind(dir.path(), 0);
    let sys_path = std::env::var("PATH").unwrap_or_default();
    let out = chaos_bin()
        .current_dir(dir.path())
        .env("PATH", format!("{}:{sys_path}", bin.display()))
        .args(["cluster", "up", "--name", "kc-anywhere", "--no-images"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let config = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("kind-config.yaml")
        .canonicalize()
        .unwrap();
    assert_eq!(
        calls(dir.path()),
        format!(
            "create cluster --name kc-anywhere --config {}\n",
            config.display()
        )
    );
}

#[test]
fn a_named_config_or_images_dir_that_is_missing_is_exit_2_before_kind_runs() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_kind(dir.path(), 0);
    let out = chaos(
        &bin,
        &[
            "cluster",
            "up",
            "--name",
            "kc-no-config",
            "--config",
            "/nonexistent/kind.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--config /nonexistent/kind.yaml: no such file"),
        "{}",
        text(&out)
    );
    let out = chaos(
        &bin,
        &[
            "cluster",
            "up",
            "--name",
            "kc-no-images",
            "--images-dir",
            "/nonexistent/images",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(
            "--images-dir /nonexistent/images: expected the images/ folder of a kind-chaos checkout, with /nonexistent/images/../scripts/build-images.sh beside it"
        ),
        "{}",
        text(&out)
    );
    assert_eq!(calls(dir.path()), "", "kind must not be called");
}

#[test]
fn a_failing_kind_is_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_kind(dir.path(), 1);
    let out = chaos(
        &bin,
        &["cluster", "up", "--name", "kc-kind-fails", "--no-images"],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        text(&out).contains("`kind create cluster` failed"),
        "{}",
        text(&out)
    );
}

#[test]
fn without_kind_up_and_down_exit_3_and_say_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    // PATH holds nothing but an empty folder: no kind anywhere.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let run = |args: &[&str]| chaos_bin().env("PATH", &empty).args(args).output().unwrap();
    let out = run(&["cluster", "up", "--name", "kc-no-kind", "--no-images"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("the kind CLI is not on PATH"),
        "{}",
        text(&out)
    );
    let out = run(&["cluster", "down", "--name", "kc-no-kind"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}

#[test]
fn without_docker_up_exits_3_naming_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_kind(dir.path(), 0);
    let out = chaos_bin()
        .env("PATH", &bin)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["cluster", "up", "--name", "kc-no-docker", "--no-images"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("/nonexistent/docker.sock"),
        "{}",
        text(&out)
    );
    assert_eq!(
        calls(dir.path()),
        "",
        "kind must not be called when Docker is down"
    );
}

struct TestCluster(&'static str);

impl Drop for TestCluster {
    fn drop(&mut self) {
        testcluster::down(self.0);
    }
}

#[test]
fn up_reuses_an_existing_cluster_without_calling_kind_and_down_calls_kind_delete() {
    let cluster = TestCluster("kc-reused");
    testcluster::up(cluster.0, &["--workers", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_kind(dir.path(), 1);
    let out = chaos(&bin, &["cluster", "up", "--name", cluster.0, "--no-images"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("kind cluster `kc-reused` exists (2 node containers): reusing it"),
        "{}",
        text(&out)
    );
    assert_eq!(calls(dir.path()), "");
    let bin = fake_kind(dir.path(), 0);
    let out = chaos(&bin, &["cluster", "down", "--name", cluster.0]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(calls(dir.path()), "delete cluster --name kc-reused\n");
}
