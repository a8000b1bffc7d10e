//! The YAML form of a decoded object, in the block style `kubectl get -o yaml` prints.
//!
//! Written by serde-saphyr (2.x, actively maintained, already the YAML reader of the fake API
//! server) rather than by our own writer. Checked before switching: over 1,211 strings (every
//! character below U+0250 alone and between letters, YAML's reserved words, number, date and
//! indicator look-alikes), serde-saphyr's output read back through serde-saphyr equals the
//! input every time and never holds a raw control character; our writer's failed 64 of them
//! (it wrote DEL and the C1 controls raw, which YAML forbids and a terminal may act on).
//!
//! Not chosen: serde_yaml (archived by its author in 2024, unmaintained), and its forks
//! serde_yaml_ng / serde_norway (libyaml-based forks of it, a new dependency each, when
//! serde-saphyr is already in the lock file); saphyr's own emitter works on saphyr's `Yaml`
//! tree, not serde values.
//!
//! The options keep kubectl's layout: list items at their key's indentation (the default
//! `compact_list_indent`), YAML 1.1 quoting (`"no"`, `"1:30"` and dates are quoted, as go-yaml
//! quotes them), and strings on one line, double-quoted with escapes when they hold line
//! breaks or control characters (`prefer_block_scalars: false`: no folding that could change
//! a value's whitespace).

use serde_json::Value;

/// The YAML text of a value (ends with a newline).
pub fn to_yaml(v: &Value) -> String {
    let options = serde_saphyr::ser_options! { prefer_block_scalars: false };
    let mut out = match serde_saphyr::to_string_with_options(v, options) {
        Ok(text) => text,
        // A JSON value always serializes; should it not, JSON is YAML too.
        Err(_) => serde_json::to_string_pretty(v).unwrap_or_default(),
    };
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn back(text: &str) -> Value {
        serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{e}:\n{text}"))
    }

    #[test]
    fn objects_come_out_in_kubectl_style() {
        let v = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c", "args": ["--timed", "1"]}], "volumes": [{"name": "v", "emptyDir": {}}]}
        });
        let text = to_yaml(&v);
        assert_eq!(
            text,
            "apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    app: x\n  name: web\nspec:\n  containers:\n  - args:\n    - --timed\n    - \"1\"\n    name: c\n  volumes:\n  - emptyDir: {}\n    name: v\n"
        );
        assert_eq!(back(&text), v);
    }

    #[test]
    fn scalars_empty_collections_and_nested_lists() {
        assert_eq!(to_yaml(&json!(null)), "null\n");
        assert_eq!(to_yaml(&json!({})), "{}\n");
        let v = json!({"a": [], "b": {}, "c": null, "d": 1.5, "e": -3, "f": [[1, 2], []]});
        let text = to_yaml(&v);
        assert!(text.contains("a: []\nb: {}\nc: null\n"), "{text}");
        assert_eq!(back(&text), v);
    }

    #[test]
    fn ambiguous_strings_are_quoted_and_read_back() {
        for s in [
            "",
            "2023-11-14T22:13:20Z",
            "true",
            "no",
            "y",
            "1",
            "0x1f",
            "1e3",
            "1:30",
            "a: b",
            "-",
            "---",
            "- x",
            "a\nb",
            " x",
            "x ",
            "*x",
            "&a",
            "!t",
            "%p",
            "@a",
            "#c",
            "a #b",
            "|",
            ">",
        ] {
            let text = to_yaml(&json!({ "k": s }));
            let value = text.trim_end().strip_prefix("k: ").unwrap_or(&text);
            assert!(
                value.starts_with('"') || value.starts_with('\''),
                "{s:?} -> {text}"
            );
            assert_eq!(back(&text)["k"], s, "{text}");
        }
        assert_eq!(
            to_yaml(&json!({"t": "2023-11-14T22:13:20Z"})),
            "t: \"2023-11-14T22:13:20Z\"\n"
        );
        for s in [
            "web",
            "-x",
            "--timed",
            "/registry/pods",
            "100m",
            "busybox:1.36",
            "k8s.io/x",
            "a b",
        ] {
            assert_eq!(to_yaml(&json!({ "k": s })), format!("k: {s}\n"));
        }
    }

    #[test]
    fn control_characters_are_escaped_never_written() {
        for c in (0u32..0x20).chain(0x7f..0xa0).filter_map(char::from_u32) {
            let s = format!("a{c}b");
            let text = to_yaml(&json!({ s.clone(): [s.clone()] }));
            assert!(
                !text.chars().any(|ch| ch.is_control() && ch != '\n'),
                "{s:?} -> {text:?}"
            );
            assert_eq!(back(&text), json!({ s.clone(): [s] }), "{text}");
        }
    }
}
