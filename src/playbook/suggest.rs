//! "Did you mean" suggestions for misspelt names (fields, step types, node names...).

/// At most this many candidates are compared per name: a playbook with thousands of step names
/// and thousands of misspelt references must not cost their product.
const MAX_COMPARED: usize = 200;

/// Names longer than this are not typos of anything.
const MAX_LEN: usize = 64;

/// At most this many suggestions are worked out while checking one file: only the first
/// problems are shown (see `diag::MAX_RENDERED`), and a file of 20,000 misspelt steps must not
/// cost 20,000 searches.
pub const MAX_SUGGESTIONS: usize = 1_000;

thread_local! {
    /// Suggestions left in the current [`with_budget`] scope (`None`: outside one, no limit).
    static LEFT: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` (the checking of one file) with a fresh budget of [`MAX_SUGGESTIONS`].
pub(crate) fn with_budget<T>(f: impl FnOnce() -> T) -> T {
    let outer = LEFT.replace(Some(MAX_SUGGESTIONS));
    let r = f();
    LEFT.set(outer);
    r
}

/// Takes one suggestion from the budget; false when it is spent.
fn spend() -> bool {
    match LEFT.get() {
        None => true,
        Some(0) => false,
        Some(n) => {
            LEFT.set(Some(n - 1));
            true
        }
    }
}

/// The closest candidate to `name`, if one is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let len = name.chars().count();
    if len > MAX_LEN || !spend() {
        return None;
    }
    candidates
        .into_iter()
        // A score of 0.6 needs lengths within 40% of the longer one; skip the rest unmeasured.
        .filter(|c| {
            let l = c.chars().count();
            l <= MAX_LEN && len.abs_diff(l) * 5 <= len.max(l) * 2
        })
        .take(MAX_COMPARED)
        .map(|c| (c, similarity(name, c)))
        .filter(|(_, score)| *score >= 0.6)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

/// 1 minus the optimal-string-alignment distance (edits, with adjacent transpositions) over
/// the longer length. Hand-written with three rows on the stack-sized inputs we compare
/// (at most [`MAX_LEN`] characters): it runs once per unknown name and candidate, which is
/// many thousands of times on a file full of typos.
fn similarity(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    let mut two_back: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(two_back[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut two_back, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    1.0 - prev[b.len()] as f64 / longest as f64
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

    #[test]
    fn suggestions_are_budgeted_per_file() {
        let c = ["timeout"];
        let n = super::with_budget(|| {
            (0..super::MAX_SUGGESTIONS + 10)
                .filter(|_| did_you_mean("tiemout", c).is_some())
                .count()
        });
        assert_eq!(n, super::MAX_SUGGESTIONS);
        assert_eq!(did_you_mean("tiemout", c), Some("timeout"));
    }

    #[test]
    fn similarity_agrees_with_strsim() {
        let words = [
            "timeout",
            "tiemout",
            "steps",
            "stpes",
            "",
            "a",
            "kubelet-stop",
            "kubelet-stpo",
            "é",
            "ée",
            "abc",
        ];
        for a in words {
            for b in words {
                let want = strsim::normalized_damerau_levenshtein(a, b);
                let got = super::similarity(a, b);
                // OSA and unrestricted Damerau-Levenshtein agree on these (no edits inside a
                // transposition).
                assert!((want - got).abs() < 1e-9, "{a} {b}: {want} vs {got}");
            }
        }
    }
}
