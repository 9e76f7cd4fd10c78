//! "Did you mean ...?": the known name nearest to a misspelt one, for
//! errors about scripts (functions, services, operations, span fields)
//! and the command line (commands).

/// The name of `known` nearest to `name`, if it is near enough to be the
/// one meant: at most two edits away (a swap of two neighbours counts as
/// one), and not mostly edits (`ab` is not a typo of `cd`).
pub fn nearest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (strsim::osa_distance(name, k), k))
        .min()
        .filter(|(distance, _)| *distance <= 2 && distance * 3 <= name.chars().count())
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn a_typo_finds_the_name_meant_and_a_stranger_finds_none() {
        let known = ["run", "check", "service2", "duration_us"];
        assert_eq!(nearest("rnu", known), Some("run"), "a swap is one edit");
        assert_eq!(nearest("servcie2", known), Some("service2"));
        assert_eq!(nearest("duraton_us", known), Some("duration_us"));
        assert_eq!(nearest("chekc", known), Some("check"));
        assert_eq!(nearest("db", known), None);
        assert_eq!(nearest("payments", known), None);
    }
}
