//! "Did you mean" suggestions for misspelt names (fields, step types, node names...).

/// The closest candidate to `name`, if one is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (c, strsim::normalized_damerau_levenshtein(name, c)))
        .filter(|(_, score)| *score >= 0.6)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names_only() {
        let c = ["timeout", "teardown", "steps"];
        assert_eq!(did_you_mean("tiemout", c), Some("timeout"));
        assert_eq!(did_you_mean("stpes", c), Some("steps"));
        assert_eq!(did_you_mean("banana", c), None);
    }
}
