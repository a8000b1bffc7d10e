//! What kind-chaos trusts before a name or a file decides what `chaos recover` does.
//!
//! A journal tells recover what to run in the cluster (an `exec` undo runs a command inside a
//! node), so a journal someone else could have written is never read: the state folder, its
//! `runs/` folder and each journal must belong to the current user and be writable by no one
//! else, and none may be a symbolic link. A cluster name read from a journal (or given by a
//! playbook or a flag) becomes part of a file name only after [`cluster_file_name`] checked it
//! against kind's rule for cluster names.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The effective user id of this process (the owner of `/proc/self`).
pub fn current_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Whether `path` (a folder or a file) is this user's own and writable by no one else; the
/// error says why not, in words for the person running recover.
pub fn check_own(path: &Path) -> Result<(), String> {
    let m = std::fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if m.file_type().is_symlink() {
        return Err(format!(
            "{} is a symbolic link; chaos reads only journals in its own folders",
            path.display()
        ));
    }
    let me =
        current_uid().ok_or_else(|| "cannot tell the current user (no /proc/self)".to_string())?;
    if m.uid() != me {
        return Err(format!(
            "{} belongs to uid {}, not to you (uid {me}); a journal someone else wrote could make \
             recover change the cluster as they like",
            path.display(),
            m.uid()
        ));
    }
    if m.mode() & 0o022 != 0 {
        return Err(format!(
            "{} can be written by {} (mode {:o}); anyone who can write there could plant a \
             journal that makes recover change the cluster (`chmod go-w {}` if that is intended)",
            path.display(),
            if m.mode() & 0o002 != 0 {
                "everyone"
            } else {
                "its group"
            },
            m.mode() & 0o7777,
            path.display()
        ));
    }
    Ok(())
}

/// The longest cluster name used in a file name.
const MAX_NAME: usize = 100;

/// `cluster` as a file-name part, if it follows kind's rule for cluster names (lower-case
/// letters, digits, `.` and `-`), starts with a letter or digit (so never `.` or `..`) and is
/// at most 100 characters; otherwise why not.
pub fn cluster_file_name(cluster: &str) -> Result<&str, String> {
    let ok = !cluster.is_empty()
        && cluster.len() <= MAX_NAME
        && cluster
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && cluster
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(cluster)
    } else {
        Err(format!(
            "`{}` is not a kind cluster name (lower-case letters, digits, `.` and `-`, starting \
             with a letter or digit, at most {MAX_NAME} characters)",
            cluster.escape_debug()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn names_that_could_leave_a_folder_are_refused() {
        for bad in [
            "",
            "..",
            ".",
            "../../tmp/x",
            "a/b",
            "Kind",
            "-x",
            "a\0b",
            "kind\n",
        ] {
            assert!(cluster_file_name(bad).is_err(), "{bad:?}");
        }
        assert!(cluster_file_name(&"a".repeat(101)).is_err());
        for good in ["kind", "k8splayground", "my-cluster.2", "0"] {
            assert_eq!(cluster_file_name(good), Ok(good));
        }
    }

    #[test]
    fn a_folder_others_can_write_is_not_trusted_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("runs");
        std::fs::create_dir(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(check_own(&p), Ok(()));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = check_own(&p).unwrap_err();
        assert!(e.contains("can be written by everyone (mode 777)"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o770)).unwrap();
        let e = check_own(&p).unwrap_err();
        assert!(e.contains("its group"), "{e}");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert!(check_own(&link).unwrap_err().contains("symbolic link"));
    }
}
