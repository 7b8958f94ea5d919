//! The vendored regex engine's patches (vendor/README.md) searched directly: what the
//! highlighter relies on without seeing it.

use proptest::prelude::*;
use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};

/// Literal sets the engine searches with a Teddy prefilter (several needles, the shortest of
/// at least three bytes), which builds its anchored automaton on the first anchored search.
const SETS: &[&str] = &[r"foobar|quux|bazzy|zzyzx|abc", r"fn|let|match|impl|while", r"abc|abcdef|xyz|xy"];

fn without_prefilter(pattern: &str) -> Regex {
    Regex::builder().configure(Regex::config().auto_prefilter(false)).build(pattern).expect("a valid pattern")
}

fn found(re: &Regex, input: Input<'_>) -> Option<(usize, usize)> {
    re.find(input).map(|m| (m.start(), m.end()))
}

#[test]
fn an_anchored_search_of_a_literal_set_matches_at_the_start_only() {
    let re = Regex::new(SETS[0]).unwrap();
    let anchored = |hay: &'static str, from: usize| found(&re, Input::new(hay).range(from..).anchored(Anchored::Yes));
    assert_eq!(anchored("quuxfoobar", 0), Some((0, 4)));
    assert_eq!(anchored("quuxfoobar", 4), Some((4, 10)));
    assert_eq!(anchored("xquux", 0), None);
    assert_eq!(anchored("zzyz", 0), None);
    assert_eq!(found(&re, Input::new("xx zzyzx")), Some((3, 8)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Anchored and unanchored, at every start, the engine finds what it finds without any
    /// prefilter.
    #[test]
    fn literal_sets_find_what_they_find_without_a_prefilter(
        set in 0..SETS.len(),
        hay in "[abcdefxyzqu fnletmachiwob]{0,24}",
        from in 0usize..25,
    ) {
        let from = from.min(hay.len());
        let (re, plain) = (Regex::new(SETS[set]).unwrap(), without_prefilter(SETS[set]));
        for anchored in [Anchored::Yes, Anchored::No] {
            let input = Input::new(&hay).range(from..).anchored(anchored);
            prop_assert_eq!(found(&re, input.clone()), found(&plain, input));
        }
    }
}
