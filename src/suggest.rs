//! "Did you mean …?": the closest candidate by edit distance.

/// The candidate closest to `written`, if one is close enough to be a likely typo:
/// within a third of the length (at least 1, at most 3 edits), or differing only in case.
pub fn closest<'a>(
    written: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (written.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .filter(|candidate| *candidate != written)
        .map(|candidate| {
            let distance = if candidate.eq_ignore_ascii_case(written) {
                0
            } else {
                strsim::damerau_levenshtein(written, candidate)
            };
            (distance, candidate)
        })
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, candidate)| (*distance, *candidate))
        .map(|(_, candidate)| candidate)
}

/// "did you mean `x`?" when there is a close candidate, else `fallback`.
pub fn did_you_mean<'a>(
    written: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    fallback: &str,
) -> String {
    match closest(written, candidates) {
        Some(candidate) => format!("did you mean `{candidate}`?"),
        None => fallback.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_ignores_strangers() {
        let activations = ["sigmoid", "tanh", "relu", "softmax"];
        assert_eq!(closest("sigmod", activations), Some("sigmoid"));
        assert_eq!(closest("Relu", activations), Some("relu"));
        assert_eq!(closest("rleu", activations), Some("relu"));
        assert_eq!(closest("convolution", activations), None);
        assert_eq!(did_you_mean("x", [], "not found"), "not found");
    }
}
