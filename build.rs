//! Stamps the commit `chaos` was built from into `chaos --version`, so a report or a bug can be
//! traced to its source. Outside a git checkout (a crate tarball) the version stands alone.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    let full = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some();
            let date = git(&["show", "-s", "--format=%cs", "HEAD"]).unwrap_or_default();
            let mark = if dirty { "-dirty" } else { "" };
            format!("{version} ({commit}{mark} {date})")
        }
        None => version.to_string(),
    };
    println!("cargo:rustc-env=CHAOS_VERSION={full}");
    // A new commit or checkout moves HEAD's reflog; rerun then, not on every build.
    for path in ["HEAD", "logs/HEAD", "index"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
