use super::*;
use crate::playbook::yaml;

fn root(src: &str) -> Node {
    yaml::parse(src).unwrap().docs.remove(0)
}

fn inputs(sets: &[(&str, &str)], env: &[(&str, &str)], cluster: Option<&str>) -> Inputs {
    Inputs {
        sets: sets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        cluster: cluster.map(String::from),
    }
}

/// The problems of `src` with no inputs given, which must be `count`.
fn problems_of(src: &str, count: usize) -> Vec<Problem> {
    let (_, problems) = apply(&mut root(src), src, &Inputs::default());
    assert_eq!(problems.len(), count, "{problems:?}");
    problems
}

fn help(p: &Problem) -> &str {
    p.help.as_deref().expect("a problem with help")
}

const SRC: &str = "cluster: lab\nvars:\n  ns: chaos\n  my-node: w1\nname: \"${vars.ns} on ${cluster} costs $$5 and $x\"\n";

#[test]
fn set_wins_over_the_environment_which_wins_over_the_default() {
    let mut r = root(SRC);
    let (vars, problems) = apply(&mut r, SRC, &inputs(&[], &[], None));
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(vars[0].value, "chaos");
    assert_eq!(vars[0].from, Source::Default);
    assert_eq!(
        r.get("name").unwrap().scalar_text(),
        Some("chaos on lab costs $5 and $x")
    );

    let env = [("CHAOS_VAR_NS", "from-env"), ("CHAOS_VAR_MY_NODE", "w2")];
    let mut r = root(SRC);
    let (vars, _) = apply(&mut r, SRC, &inputs(&[], &env, Some("other")));
    assert_eq!(
        (vars[0].value.as_str(), vars[0].from),
        ("from-env", Source::Env)
    );
    assert_eq!((vars[1].value.as_str(), vars[1].from), ("w2", Source::Env));
    assert_eq!(
        r.get("name").unwrap().scalar_text(),
        Some("from-env on other costs $5 and $x")
    );

    let mut r = root(SRC);
    let sets = [("ns", "first"), ("ns", "last")];
    let (vars, _) = apply(&mut r, SRC, &inputs(&sets, &env, None));
    assert_eq!(
        (vars[0].value.as_str(), vars[0].from),
        ("last", Source::Set)
    );
}

#[test]
fn the_cluster_defaults_to_kind() {
    let src = "name: ${cluster}\n";
    let mut r = root(src);
    let (_, problems) = apply(&mut r, src, &Inputs::default());
    assert!(problems.is_empty());
    assert_eq!(r.get("name").unwrap().scalar_text(), Some("kind"));
}

#[test]
fn an_unknown_variable_is_reported_at_its_dollar() {
    let src = "vars: {ns: a}\nsteps:\n  - x: \"ab ${vars.ns} ${vars.nss}\"\n";
    let problems = problems_of(src, 1);
    let p = &problems[0];
    let span = p.span.unwrap();
    assert_eq!((span.start.line, span.start.col), (3, 23));
    assert_eq!(&src[span.start.offset..span.end_offset], "${vars.nss}");
    assert_eq!(p.message, "unknown variable `${vars.nss}`");
    assert!(help(p).starts_with("did you mean `${vars.ns}`?"));
}

#[test]
fn a_bare_name_suggests_its_vars_form_and_unterminated_is_an_error() {
    let src = "vars: {ns: a}\nname: ${ns}\ndescription: |\n  line one\n  costs ${vars.ns\n";
    let problems = problems_of(src, 2);
    assert!(help(&problems[0]).starts_with("did you mean `${vars.ns}`?"));
    let span = problems[1].span.unwrap();
    assert_eq!((span.start.line, span.start.col), (5, 9));
    assert!(problems[1].message.starts_with("unterminated `${`"));
}

#[test]
fn declarations_are_checked() {
    let src = "vars:\n  a-b: 1\n  A_B: 2\n  flag: true\n  list: [1]\n  need: ~\n  9x: 1\n";
    let mut r = root(src);
    let (vars, problems) = apply(&mut r, src, &inputs(&[("nede", "x")], &[], None));
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(vars.len(), 1, "{messages:?}");
    assert_eq!(messages.len(), 6, "{messages:?}");
    assert!(messages[0].contains("`a-b` and `A_B`"), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("is a boolean")));
    assert!(messages.iter().any(|m| m.contains("has no default")));
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`9x` is not a variable name"))
    );
    let set = problems.iter().find(|p| p.span.is_none()).unwrap();
    assert_eq!(set.help.as_deref(), Some("did you mean `--set need=...`?"));
}

#[test]
fn set_arguments_parse() {
    assert_eq!(parse_set("ns=a=b"), Ok(("ns".into(), "a=b".into())));
    assert_eq!(parse_set("ns="), Ok(("ns".into(), "".into())));
    assert!(parse_set("ns").unwrap_err().contains("expected NAME=VALUE"));
    assert!(parse_set("=x").is_err());
    assert_eq!(env_name("my-ns"), "CHAOS_VAR_MY_NS");
}
