//! Playbook variables: `vars:` with defaults, overridden by `--set NAME=VALUE` and
//! `CHAOS_VAR_NAME`, and `${vars.NAME}` / `${cluster}` substituted into the playbook's strings.
//!
//! It exists so one playbook runs on any cluster and in any CI job without being edited.
//! Substitution happens on the positioned YAML tree, before serde reads it: an unknown variable
//! or an unterminated `${` is reported at the line and column of the `${` that names it, and a
//! value that then fails its field's rules is reported at the scalar it was put into (the
//! scalar keeps its position). Substitution is textual: the result is read as if it had been
//! written there (`times: ${vars.n}` is a number when `n` is `3`).
//!
//! Precedence, highest first: `--set`, then the environment (`CHAOS_VAR_` and the name in upper
//! case with dashes as underscores), then the default in `vars:`. `$$` is a literal `$`; a `$`
//! not followed by `{` or `$` is kept as it is (shell snippets in `exec` keep their `$x`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::suggest::did_you_mean;
use super::yaml::{Node, NodeKind, Span};

pub(crate) mod flow;

/// The prefix of environment variables that set playbook variables.
pub const ENV_PREFIX: &str = "CHAOS_VAR_";

/// The cluster `${cluster}` names when neither `--cluster` nor the playbook's `cluster:` does.
pub const DEFAULT_CLUSTER: &str = "kind";

/// What a load is given besides the file: the `--set` overrides, the `CHAOS_VAR_*` variables
/// of the environment, and the `--cluster` flag (for `${cluster}`).
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `--set NAME=VALUE`, in the order given (a later one wins).
    pub sets: Vec<(String, String)>,
    /// The environment's `CHAOS_VAR_*` variables, by their full name.
    pub env: BTreeMap<String, String>,
    /// `--cluster`, which wins over the playbook's `cluster:` for `${cluster}`.
    pub cluster: Option<String>,
}

impl Inputs {
    /// The overrides given, with the `CHAOS_VAR_*` variables of this process's environment.
    pub fn with_process_env(sets: Vec<(String, String)>, cluster: Option<String>) -> Inputs {
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        Inputs { sets, env, cluster }
    }
}

/// Parses one `--set NAME=VALUE` (clap's value parser).
pub fn parse_set(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((name, value)) if valid_name(name) => Ok((name.to_string(), value.to_string())),
        Some((name, _)) => Err(format!(
            "`{name}` is not a variable name (letters, digits, `_` and `-`, not starting with a digit or `-`)"
        )),
        None => Err(format!(
            "expected NAME=VALUE (like `--set ns=chaos`), found `{arg}`"
        )),
    }
}

/// Where a variable's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Default,
    Set,
    Env,
}

impl Source {
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::Set => "--set",
            Source::Env => "environment",
        }
    }
}

/// A variable as resolved for this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Var {
    pub name: String,
    pub value: String,
    pub from: Source,
}

/// A problem with the variables or a use of one.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub span: Option<Span>,
    pub message: String,
    pub help: Option<String>,
}

impl Problem {
    fn at(span: Option<Span>, message: String, help: Option<String>) -> Problem {
        Problem {
            span,
            message,
            help,
        }
    }
}

/// Letters, digits, `_` and `-`, starting with a letter or `_`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The environment variable that sets `name`: `CHAOS_VAR_` and the name in upper case, dashes
/// as underscores.
pub fn env_name(name: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        name.to_ascii_uppercase().replace('-', "_")
    )
}

/// Resolves the `vars:` of the playbook `root` against `inputs`, then substitutes every `${...}`
/// in the scalars of the tree (not in `vars:` itself, nor in `cluster:`, which `${cluster}`
/// reads). Returns the variables in the order declared, and every problem found.
pub fn apply(root: &mut Node, src: &str, inputs: &Inputs) -> (Vec<Var>, Vec<Problem>) {
    let mut problems = Vec::new();
    let vars = resolve(root.get("vars"), inputs, &mut problems);
    let cluster = inputs
        .cluster
        .clone()
        .or_else(|| {
            root.get("cluster")
                .and_then(|n| n.scalar_text().map(String::from))
        })
        .unwrap_or_else(|| DEFAULT_CLUSTER.to_string());
    let table = Table {
        vars: &vars,
        cluster: &cluster,
    };
    if let NodeKind::Map(entries) = &mut root.kind {
        for (k, v) in entries.iter_mut() {
            if matches!(k.scalar_text(), Some("vars" | "cluster")) {
                continue;
            }
            substitute(v, src, &table, &mut problems);
        }
    }
    (vars, problems)
}

/// Reads the declarations and picks each variable's value.
fn resolve(decl: Option<&Node>, inputs: &Inputs, problems: &mut Vec<Problem>) -> Vec<Var> {
    let entries: &[(Node, Node)] = match decl.map(|n| &n.kind) {
        None => &[],
        Some(NodeKind::Map(entries)) => entries,
        Some(NodeKind::Scalar(s)) if !s.quoted && is_null(&s.text) => &[],
        Some(_) => {
            problems.push(Problem::at(
                decl.map(|n| n.span),
                "`vars` must be a mapping of variable names to default values".into(),
                Some("like `vars: {ns: chaos, replicas: 3}`".into()),
            ));
            &[]
        }
    };
    let mut vars = Vec::new();
    let mut env_names: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in entries {
        let Some(name) = k.scalar_text() else {
            problems.push(Problem::at(
                Some(k.span),
                "a variable's name must be a plain word".into(),
                None,
            ));
            continue;
        };
        if !valid_name(name) {
            problems.push(Problem::at(
                Some(k.span),
                format!("`{name}` is not a variable name"),
                Some("use letters, digits, `_` and `-`, starting with a letter or `_`".into()),
            ));
            continue;
        }
        let env = env_name(name);
        if let Some(other) = env_names.insert(env.clone(), name.to_string()) {
            problems.push(Problem::at(
                Some(k.span),
                format!("variables `{other}` and `{name}` would both be set by `{env}`"),
                Some("rename one of them".into()),
            ));
            continue;
        }
        let default = match &v.kind {
            NodeKind::Scalar(s) if s.quoted => Some(s.text.clone()),
            NodeKind::Scalar(s) if is_null(&s.text) => None,
            NodeKind::Scalar(s) if is_bool(&s.text) => {
                problems.push(Problem::at(
                    Some(v.span),
                    format!("the default of `{name}` is a boolean; a variable's value is a string or a number"),
                    Some(format!("quote it to make it a string: `\"{}\"`", s.text)),
                ));
                continue;
            }
            NodeKind::Scalar(s) => Some(s.text.clone()),
            _ => {
                problems.push(Problem::at(
                    Some(v.span),
                    format!(
                        "the default of `{name}` is {}; a variable's value is a string or a number",
                        v.describe()
                    ),
                    None,
                ));
                continue;
            }
        };
        let set = inputs.sets.iter().rev().find(|(n, _)| n == name);
        let (value, from) = match (set, inputs.env.get(&env), default) {
            (Some((_, value)), _, _) => (value.clone(), Source::Set),
            (None, Some(value), _) => (value.clone(), Source::Env),
            (None, None, Some(value)) => (value, Source::Default),
            (None, None, None) => {
                problems.push(Problem::at(
                    Some(v.span),
                    format!("variable `{name}` has no default and is not set"),
                    Some(format!("set it with `--set {name}=VALUE` or `{env}=VALUE`")),
                ));
                continue;
            }
        };
        vars.push(Var {
            name: name.to_string(),
            value,
            from,
        });
    }
    let declared: Vec<&str> = entries
        .iter()
        .filter_map(|(k, _)| k.scalar_text())
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for (name, _) in &inputs.sets {
        if declared.contains(&name.as_str()) || !seen.insert(name.as_str()) {
            continue;
        }
        let help = match did_you_mean(name, declared.iter().copied()) {
            Some(s) => format!("did you mean `--set {s}=...`?"),
            None if declared.is_empty() => "declare it under `vars:` with a default".into(),
            None => format!("its variables: {}", quoted_list(&declared)),
        };
        problems.push(Problem::at(
            None,
            format!("`--set {name}=...`: the playbook declares no variable `{name}`"),
            Some(help),
        ));
    }
    vars
}

/// The values `${...}` can name.
struct Table<'a> {
    vars: &'a [Var],
    cluster: &'a str,
}

impl Table<'_> {
    fn lookup(&self, expr: &str) -> Option<&str> {
        if expr == "cluster" {
            return Some(self.cluster);
        }
        let name = expr.strip_prefix("vars.")?;
        self.vars
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.value.as_str())
    }

    /// Why `${expr}` names nothing, with the closest thing it could have meant.
    fn unknown(&self, expr: &str) -> (String, String) {
        let mut known: Vec<String> = vec!["cluster".into()];
        known.extend(self.vars.iter().map(|v| format!("vars.{}", v.name)));
        let bare = format!("vars.{expr}");
        let guess = if known.contains(&bare) {
            Some(bare.as_str())
        } else {
            did_you_mean(expr, known.iter().map(String::as_str))
        };
        let all: Vec<String> = known.iter().map(|k| format!("`${{{k}}}`")).collect();
        let help = match guess {
            Some(g) => format!("did you mean `${{{g}}}`?"),
            None => format!(
                "known: {}; declare a variable under `vars:` and write `${{vars.NAME}}`",
                all.join(", ")
            ),
        };
        (format!("unknown variable `${{{expr}}}`"), help)
    }
}

/// One piece of a scalar's text.
enum Piece<'t> {
    Text(&'t str),
    /// `$$`.
    Dollar,
    /// `${expr}`: the expression.
    Use(&'t str),
    /// `${` with no `}` after it.
    Unterminated,
}

/// Splits text into pieces; the `k`-th `Use` or `Unterminated` is the `k`-th `${`.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        if i > 0 {
            out.push(Piece::Text(&rest[..i]));
        }
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push(Piece::Dollar);
            rest = r;
        } else if let Some(r) = after.strip_prefix('{') {
            match r.find('}') {
                Some(j) => {
                    out.push(Piece::Use(&r[..j]));
                    rest = &r[j + 1..];
                }
                None => {
                    out.push(Piece::Unterminated);
                    rest = "";
                }
            }
        } else {
            out.push(Piece::Text("$"));
            rest = after;
        }
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// Substitutes in every scalar under `node` (mapping keys are left alone).
fn substitute(node: &mut Node, src: &str, table: &Table<'_>, problems: &mut Vec<Problem>) {
    match &mut node.kind {
        NodeKind::Scalar(s) => {
            if !s.text.contains('$') {
                return;
            }
            let mut out = String::with_capacity(s.text.len());
            let mut nth = 0;
            for piece in pieces(&s.text) {
                match piece {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Dollar => out.push('$'),
                    Piece::Use(expr) => {
                        match table.lookup(expr) {
                            Some(v) => out.push_str(v),
                            None => {
                                let (message, help) = table.unknown(expr);
                                let span = locate(src, node.span, nth, expr.len() + 3);
                                problems.push(Problem::at(Some(span), message, Some(help)));
                            }
                        }
                        nth += 1;
                    }
                    Piece::Unterminated => {
                        problems.push(Problem::at(
                            Some(locate(src, node.span, nth, 2)),
                            "unterminated `${`: no `}` closes it".into(),
                            Some(
                                "write a variable as `${vars.NAME}` or `${cluster}`, and `$$` for a literal `$`"
                                    .into(),
                            ),
                        ));
                        nth += 1;
                    }
                }
            }
            s.text = out;
        }
        NodeKind::Seq(items) => {
            for i in items {
                substitute(i, src, table, problems);
            }
        }
        NodeKind::Map(entries) => {
            for (_, v) in entries {
                substitute(v, src, table, problems);
            }
        }
    }
}

/// Where the `nth` `${` of a scalar is in the source: the same split applied to the scalar's
/// source text finds it (quotes and folding move text, not `${`). Falls back to the scalar's
/// start when the source does not show it (an escape sequence that spells `$`).
fn locate(src: &str, scalar: Span, nth: usize, len: usize) -> Span {
    let whole = Span {
        start: scalar.start,
        end_offset: scalar.end_offset,
    };
    let Some(text) = src.get(scalar.start.offset..scalar.end_offset.max(scalar.start.offset))
    else {
        return whole;
    };
    let mut offset = 0;
    let mut found = None;
    let mut count = 0;
    for piece in pieces(text) {
        match piece {
            Piece::Text(t) => offset += t.len(),
            Piece::Dollar => offset += 2,
            Piece::Use(e) => {
                if count == nth {
                    found = Some(offset);
                    break;
                }
                count += 1;
                offset += e.len() + 3;
            }
            Piece::Unterminated => {
                if count == nth {
                    found = Some(offset);
                }
                break;
            }
        }
    }
    let Some(at) = found else {
        return whole;
    };
    let mut pos = scalar.start;
    for c in text[..at].chars() {
        if c == '\n' {
            pos.line += 1;
            pos.col = 1;
        } else {
            pos.col += 1;
        }
        pos.offset += c.len_utf8();
    }
    Span {
        start: pos,
        end_offset: (pos.offset + len).min(scalar.end_offset.max(pos.offset)),
    }
}

fn is_null(t: &str) -> bool {
    matches!(t, "" | "~" | "null" | "Null" | "NULL")
}

fn is_bool(t: &str) -> bool {
    matches!(t, "true" | "True" | "TRUE" | "false" | "False" | "FALSE")
}

fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;

/// The `vars:` of a playbook as the model and the JSON Schema see it. [`apply`] reads and
/// checks the declarations from the positioned tree (it needs them before serde runs, to
/// substitute), so deserializing accepts what is there without a second round of errors.
#[derive(Debug, Clone, Default)]
pub struct Declared;

impl<'de> serde::Deserialize<'de> for Declared {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <serde::de::IgnoredAny as serde::Deserialize>::deserialize(d).map(|_| Declared)
    }
}

impl schemars::JsonSchema for Declared {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Vars".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "Variables: name -> default value (a string or a number; `~` for none, which `--set NAME=VALUE` or `CHAOS_VAR_NAME` must then give). Used in strings as `${vars.NAME}`; `${cluster}` is the cluster in effect, `$$` a literal `$`. Precedence: `--set`, then the environment, then the default.",
            "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_-]*$"},
            "additionalProperties": {"type": ["string", "number", "null"]}
        })
    }
}
