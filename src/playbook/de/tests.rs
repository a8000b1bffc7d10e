//! Unit tests of the parent module.

use super::*;
use crate::playbook::yaml;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inner {
    count: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Outer {
    name: String,
    items: Vec<Recover<Inner>>,
}

fn load<T: for<'de> Deserialize<'de>>(src: &str) -> (Result<T, DeError>, Vec<DeError>) {
    let doc = yaml::parse(src).unwrap().docs.remove(0);
    let sink = Sink::default();
    let r = from_node::<T>(&doc, &sink);
    (r, sink.into_inner())
}

#[test]
fn recovers_every_broken_item() {
    let (r, errs) = load::<Outer>("name: 5\nitems:\n  - count: 1\n  - cuont: 2\n  - count: -3\n");
    let outer = r.unwrap();
    assert_eq!(outer.name, "5");
    assert_eq!(outer.items.len(), 3);
    assert_eq!(outer.items[0].0.as_ref().map(|i| i.count), Some(1));
    assert!(outer.items[1].0.is_none());
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[0].message, "unknown field `cuont`");
    assert_eq!(errs[0].span.unwrap().start.line, 4);
    assert_eq!(errs[0].span.unwrap().start.col, 5);
    assert!(
        errs[0]
            .help
            .as_deref()
            .unwrap()
            .contains("did you mean `count`")
    );
    assert_eq!(errs[1].span.unwrap().start.line, 5);
    assert!(errs[1].message.contains("-3"), "{}", errs[1].message);
}

#[test]
fn missing_fields_point_at_the_mapping() {
    let (r, _) = load::<Outer>("items: []\n");
    let e = r.unwrap_err();
    assert_eq!(e.message, "missing required field `name`");
    assert_eq!(e.span.unwrap().start.line, 1);
}
