//! A small YAML writer for JSON values, in the block style `kubectl get -o yaml` prints.
//!
//! The project only parses YAML (saphyr-parser); showing a decoded object needs the other
//! direction, for JSON values only, which is small enough to own: strings are written plain
//! when YAML would read them back as the same string, double-quoted (JSON escapes are valid
//! YAML escapes) otherwise.

use serde_json::Value;

/// The YAML text of a value (ends with a newline).
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => list(&mut out, a, 0),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn map(out: &mut String, m: &serde_json::Map<String, Value>, depth: usize) {
    for (k, v) in m {
        indent(out, depth);
        out.push_str(&scalar_str(k));
        out.push(':');
        value_after_key(out, v, depth);
    }
}

/// A value after `key:` or `- `: nested blocks go on the next lines.
fn value_after_key(out: &mut String, v: &Value, depth: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            map(out, m, depth + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            // kubectl's style: list items at the key's indentation.
            list(out, a, depth);
        }
        scalar => {
            out.push(' ');
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

fn list(out: &mut String, a: &[Value], depth: usize) {
    for v in a {
        indent(out, depth);
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                // The first key on the dash's line, the rest aligned under it.
                let mut first = true;
                for (k, val) in m {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        indent(out, depth + 2);
                    }
                    out.push_str(&scalar_str(k));
                    out.push(':');
                    value_after_key(out, val, depth + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                list(out, inner, depth + 2);
            }
            scalar => {
                out.push(' ');
                out.push_str(&inline(scalar));
                out.push('\n');
            }
        }
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar_str(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string as a YAML scalar: plain when that reads back as the same string, else quoted.
pub fn scalar_str(s: &str) -> String {
    if plain_ok(s) {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let reserved = [
        "null", "Null", "NULL", "~", "true", "True", "TRUE", "false", "False", "FALSE", "yes",
        "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
    ];
    if reserved.contains(&s) || looks_numeric(s) {
        return false;
    }
    if looks_like_time(s) {
        return false;
    }
    let dash_word = first == '-' && s.len() > 1 && !s[1..].starts_with([' ', '-']);
    let double_dash = s.starts_with("--") && s.len() > 2 && !s.starts_with("---");
    if !(first.is_alphanumeric()
        || matches!(first, '/' | '.' | '_' | '(' | '$')
        || dash_word
        || double_dash)
    {
        return false;
    }
    if s.ends_with(' ') || s.ends_with(':') || s.contains(": ") || s.contains(" #") {
        return false;
    }
    s.chars().all(|c| {
        !c.is_control() && !matches!(c, '\'' | '"' | '{' | '}' | '[' | ']' | ',' | '`' | '\\')
    })
}

/// Whether YAML (1.1 or 1.2) could read `s` as a number.
fn looks_numeric(s: &str) -> bool {
    let t = s.trim_start_matches(['+', '-']).replace('_', "");
    let lower = t.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(oct) = lower.strip_prefix("0o") {
        return !oct.is_empty() && oct.chars().all(|c| c.is_digit(8));
    }
    matches!(lower.as_str(), ".inf" | ".nan") || lower.parse::<f64>().is_ok()
}

/// Whether YAML 1.1 could read `s` as a timestamp (`2024-01-02...`) or a base-60 number
/// (`1:30`).
fn looks_like_time(s: &str) -> bool {
    let b = s.as_bytes();
    let date = b.len() >= 8
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5].is_ascii_digit();
    let sexagesimal = b.first().is_some_and(u8::is_ascii_digit)
        && s.contains(':')
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ':' | '.'));
    date || sexagesimal
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        for s in [
            "",
            "2023-11-14T22:13:20Z",
            "true",
            "no",
            "1",
            "0x1f",
            "1e3",
            "a: b",
            "-",
            "---",
            "- x",
            "a\nb",
            " x",
            "*x",
            "&a",
            "!t",
            "%p",
            "@a",
            "#c",
            "|",
            ">",
        ] {
            assert!(scalar_str(s).starts_with('"'), "{s:?} -> {}", scalar_str(s));
        }
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
            assert_eq!(scalar_str(s), s);
        }
    }
}
