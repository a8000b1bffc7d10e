//! Rules for names and keys that come from outside (a playbook, a flag, a journal) and end up
//! in a file name or an irreversible operation. They live in one place so that `validate`, the
//! command-line flags and the journal reader refuse exactly the same things.

/// The longest cluster name kind accepts (`clusterNameMax` in kind's
/// `pkg/cluster/internal/create/create.go`: a host name is at most 64 characters and kind
/// appends `-control-plane`, 14 of them).
pub const CLUSTER_NAME_MAX: usize = 50;

/// The rule, as printed in errors.
pub const CLUSTER_NAME_RULE: &str = "a kind cluster name is 1 to 50 characters of lowercase letters, digits, `.` and `-`, \
starting with a letter or digit";

/// Checks a kind cluster name before it is used anywhere, in particular before it becomes part
/// of a file name (the run lock `<state>/locks/<cluster>.lock`, the journal
/// `<state>/runs/<stamp>-<cluster>-...`) or a kubeconfig context (`kind-<cluster>`).
///
/// kind itself requires `^[a-z0-9.-]+$` (`validNameRE` in kind's
/// `pkg/internal/apis/config/validate.go`) and at most 50 characters (see
/// [`CLUSTER_NAME_MAX`]). We also require the first character to be a letter or digit: kind
/// names its node containers `<cluster>-control-plane`, and Docker container names must start
/// with one, so no kind cluster can be called `.`, `..` or `-x` anyway. With that, a valid
/// name can never be a path component of its own (`..`) nor contain a separator.
pub fn check_cluster_name(name: &str) -> Result<(), String> {
    let problem = if name.is_empty() {
        Some("it is empty".to_string())
    } else if name.len() > CLUSTER_NAME_MAX {
        Some(format!("it is {} characters long", name.len()))
    } else if let Some(c) = name
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '-'))
    {
        Some(format!("it contains {}", describe_char(c)))
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        Some("it does not start with a letter or digit".to_string())
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(why) => Err(format!(
            "invalid cluster name `{}`: {why}; {CLUSTER_NAME_RULE}",
            name.escape_debug()
        )),
    }
}

fn describe_char(c: char) -> String {
    match c {
        '/' => "`/`".to_string(),
        c if c.is_control() || c.is_whitespace() => format!("{:?}", c),
        c => format!("`{c}`"),
    }
}

/// Why deleting everything under `prefix` in etcd is refused: the empty prefix, `/`, and any
/// prefix that covers the whole of `/registry/` (where the API server keeps every object, so
/// deleting it destroys the cluster). `None` when the prefix is narrow enough.
///
/// Playbooks always refuse these; `chaos etcd del --prefix` refuses them unless `--force`.
pub fn whole_etcd_prefix(prefix: &str) -> Option<&'static str> {
    const REGISTRY: &str = "/registry/";
    if prefix.is_empty() {
        Some("the empty prefix matches every key in etcd")
    } else if prefix == "/" {
        Some("`/` matches every key in etcd")
    } else if REGISTRY.starts_with(prefix) {
        Some("it covers all of `/registry/`, where the API server keeps every object")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_accepted() {
        for ok in ["kind", "k8splayground", "a", "my-cluster.2", "0x"] {
            assert_eq!(check_cluster_name(ok), Ok(()), "{ok}");
        }
        assert!(check_cluster_name(&"a".repeat(50)).is_ok());
    }

    #[test]
    fn names_that_could_reach_a_path_are_refused() {
        for bad in [
            "",
            "a/b",
            "../../../../tmp/x",
            "..",
            ".",
            "-x",
            "Kind",
            "a b",
            "a\u{1b}[31m",
            "a\0",
            "ß",
        ] {
            let e = check_cluster_name(bad).unwrap_err();
            assert!(e.contains(CLUSTER_NAME_RULE), "{e}");
        }
        let long = "a".repeat(51);
        assert!(
            check_cluster_name(&long)
                .unwrap_err()
                .contains("51 characters")
        );
        assert!(
            check_cluster_name("a/b")
                .unwrap_err()
                .contains("it contains `/`")
        );
        // Control bytes are never echoed raw.
        assert!(
            !check_cluster_name("a\u{1b}")
                .unwrap_err()
                .contains('\u{1b}')
        );
    }

    #[test]
    fn prefixes_covering_the_registry_are_whole() {
        for whole in ["", "/", "/r", "/registry", "/registry/"] {
            assert!(whole_etcd_prefix(whole).is_some(), "{whole}");
        }
        for narrow in [
            "/registry/pods/",
            "/registry/pods/default/web",
            "/other/",
            "x",
        ] {
            assert_eq!(whole_etcd_prefix(narrow), None, "{narrow}");
        }
    }
}
