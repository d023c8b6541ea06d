//! The words of every task: [`PARAPHRASES`] question templates per task (with `<region>`
//! placeholders in region order) and the option texts of each option kind.

use std::sync::OnceLock;

use crossview_schemas::Task;

use super::candidate::OptionKind;

/// Paraphrases per task.
pub const PARAPHRASES: usize = 3;

/// Q10's answers, by label.
const SCALE_WORDS: [&str; 3] = ["larger", "smaller", "about the same"];

/// Second-view labels of Q4's pairings.
const PAIR_LABELS: [char; 3] = ['x', 'y', 'z'];

/// The question of a task in paraphrase `template` (taken modulo [`PARAPHRASES`]). The k-th
/// `<region>` is the candidate's k-th region; "view 1" and "view 2" are its two views.
pub fn question_text(task: Task, template: usize) -> &'static str {
    use Task::*;
    let t: [&'static str; PARAPHRASES] = match task {
        Q1 => [
            "<region> is an object in view 1. Which of these regions in view 2 shows the same physical object: (1) <region>, (2) <region>, (3) <region> or (4) <region>?",
            "Find the object marked <region> in view 1 among the regions of view 2: (1) <region> (2) <region> (3) <region> (4) <region>. Which one is it?",
            "Look at <region> in view 1. In view 2, which candidate is that same object? Candidates: (1) <region>, (2) <region>, (3) <region>, (4) <region>.",
        ],
        Q2 => [
            "<region> is an object in view 1. Which of these two regions in view 2 shows the same object: (1) <region> or (2) <region>?",
            "Which region of view 2 is the object <region> from view 1: (1) <region> or (2) <region>?",
            "Look at <region> in view 1. Is it candidate (1) <region> or candidate (2) <region> in view 2?",
        ],
        Q3 => [
            "<region> is an object in view 2. Which of these regions in view 1 shows the same object, if any: (1) <region>, (2) <region>, (3) <region>?",
            "Is the object marked <region> in view 2 one of the regions (1) <region>, (2) <region>, (3) <region> in view 1? If so, which?",
            "Find <region> from view 2 in view 1. Candidates: (1) <region>, (2) <region>, (3) <region>. Which one is it, or is it none of them?",
        ],
        Q4 => [
            "View 1 marks objects 1, 2 and 3: <region>, <region>, <region>. View 2 marks objects x, y and z: <region>, <region>, <region>. Which pairing matches every object in view 1 to the same object in view 2?",
            "Objects 1 <region>, 2 <region> and 3 <region> are in view 1; objects x <region>, y <region> and z <region> are in view 2. Which pairing puts each object with itself?",
            "Match the objects across the views. View 1: 1 = <region>, 2 = <region>, 3 = <region>. View 2: x = <region>, y = <region>, z = <region>. Which pairing is right?",
        ],
        Q5 => [
            "Are <region> in view 1 and <region> in view 2 the same physical object?",
            "Do the region <region> in view 1 and the region <region> in view 2 show one and the same object?",
            "Is <region> (view 1) the same object as <region> (view 2)?",
        ],
        Q6 => [
            "<region> is visible in view 1. Can it be seen in view 2?",
            "Is the object marked <region> in view 1 visible anywhere in view 2?",
            "Does view 2 show any part of the object <region> from view 1?",
        ],
        Q7 => [
            "View 1 shows four objects: (1) <region>, (2) <region>, (3) <region>, (4) <region>. Which of them cannot be seen in view 2?",
            "Of the objects (1) <region>, (2) <region>, (3) <region> and (4) <region> in view 1, which one is missing from view 2?",
            "Which of these objects of view 1 is not visible in view 2: (1) <region>, (2) <region>, (3) <region> or (4) <region>?",
        ],
        Q8 => [
            "<region> in view 1 is partly hidden in view 2. Which of these objects in view 2 hides it: (1) <region>, (2) <region>, (3) <region> or (4) <region>?",
            "In view 2, part of the object <region> from view 1 is covered. Which object covers it: (1) <region>, (2) <region>, (3) <region>, (4) <region>?",
            "The object <region> (view 1) is partly occluded in view 2. Which is the occluder: (1) <region>, (2) <region>, (3) <region> or (4) <region>?",
        ],
        Q9 => [
            "Which of the objects marked in view 2 is nearest in 3D to <region> from view 1: (1) <region>, (2) <region>, (3) <region> or (4) <region>?",
            "In the real scene, which of (1) <region>, (2) <region>, (3) <region>, (4) <region> in view 2 is closest to the object <region> of view 1?",
            "Consider <region> in view 1. Which object in view 2 is physically nearest to it: (1) <region>, (2) <region>, (3) <region> or (4) <region>?",
        ],
        Q10 => [
            "<region> in view 1 appears as <region> in view 2. Does it look larger, smaller or about the same size in view 2?",
            "Compared with view 1 (<region>), how big does the object look in view 2 (<region>): larger, smaller or about the same?",
            "The same object is <region> in view 1 and <region> in view 2. Is it larger, smaller or about the same in view 2?",
        ],
        Q11 => [
            "In view 1, which object is more completely visible (less hidden or cut off): <region> or <region>?",
            "Which of the two objects in view 1, <region> or <region>, shows more of itself?",
            "Of <region> and <region> in view 1, which is less occluded or truncated?",
        ],
        Q12 => [
            "The same object appears as <region> in view 1 and as <region> in view 2. In which view is more of it visible?",
            "Is the object more completely visible in view 1 (<region>) or in view 2 (<region>)?",
            "<region> in view 1 and <region> in view 2 are one object. Which view shows it more completely?",
        ],
        Q13 => [
            "In view 1, <region> is to the left of <region>. In view 2, these objects are <region> and <region>. Is their left-right order flipped in view 2?",
            "<region> is left of <region> in view 1. Does the order reverse in view 2, where they appear as <region> and <region>?",
            "View 1 shows <region> on the left of <region>. In view 2 (<region>, <region>), is the first object now on the right?",
        ],
        Q14 => [
            "View 1 shows <region> and <region> at one moment; view 2 shows the same objects (<region>, <region>) later. Which of them moved farther in between?",
            "Between view 1 (<region>, <region>) and the later view 2 (<region>, <region>), which object travelled farther?",
            "The objects <region> and <region> in view 1 appear as <region> and <region> in view 2, taken later. Which moved more?",
        ],
        Q15 => [
            "In view 1, <region> is nearer the camera than <region>. In view 2, is <region> still nearer the camera than <region>?",
            "<region> is closer to the camera than <region> in view 1. Does that hold in view 2 for <region> and <region>?",
            "View 1 shows <region> in front of <region> in depth. In view 2, is <region> also nearer the camera than <region>?",
        ],
        Q16 => [
            "From view 1 to view 2, which object grows more in apparent size: the first (<region> in view 1, <region> in view 2) or the second (<region> in view 1, <region> in view 2)?",
            "Which object gets relatively bigger from view 1 to view 2: the first, <region> then <region>, or the second, <region> then <region>?",
            "The first object is <region> in view 1 and <region> in view 2; the second is <region> and <region>. Whose apparent size grows more?",
        ],
        Q17 => [
            "<region> and <region> overlap in view 1 (view 2 shows them as <region> and <region>). Are they in physical contact?",
            "In view 1, <region> and <region> overlap in the image. Do they actually touch in 3D? In view 2 they are <region> and <region>.",
            "The regions <region> and <region> overlap in view 1; view 2 shows <region> and <region>. Are the two objects touching?",
        ],
    };
    t[template % PARAPHRASES]
}

/// The option texts of an option kind, in option order. Every text is one of a fixed few,
/// made once: a build words millions of options.
pub fn option_texts(options: &OptionKind) -> Vec<&'static str> {
    match options {
        OptionKind::Candidates { count, .. } => (1..=*count).map(candidate_text).collect(),
        OptionKind::CandidatesOrNone { count, .. } => (1..=*count)
            .map(candidate_text)
            .chain(["none of them"])
            .collect(),
        OptionKind::Pairings(rows) => rows.iter().map(pairing_text).collect(),
        OptionKind::YesNo => vec!["yes", "no"],
        OptionKind::Scale(labels) => labels
            .iter()
            .map(|&l| SCALE_WORDS[usize::from(l) % 3])
            .collect(),
        OptionKind::Views => vec!["view 1", "view 2"],
        OptionKind::FirstSecond => vec!["the first", "the second"],
    }
}

/// `candidate k`.
fn candidate_text(k: u8) -> &'static str {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    &TEXTS.get_or_init(|| (0..=u8::MAX).map(|k| format!("candidate {k}")).collect())[usize::from(k)]
}

/// `1-x, 2-y, 3-z` for a row of labels (each taken modulo 3).
fn pairing_text(row: &[u8; 3]) -> &'static str {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        (0..27)
            .map(|code| {
                [code / 9, code / 3 % 3, code % 3]
                    .iter()
                    .enumerate()
                    .map(|(k, &l)| format!("{}-{}", k + 1, PAIR_LABELS[l]))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect()
    });
    let code = row.iter().fold(0, |code, &l| code * 3 + usize::from(l) % 3);
    &texts[code]
}

/// Regions each task's questions refer to.
pub fn region_count(task: Task) -> usize {
    use Task::*;
    match task {
        Q6 => 1,
        Q5 | Q10 | Q11 | Q12 => 2,
        Q2 => 3,
        Q3 | Q7 | Q13 | Q14 | Q15 | Q16 | Q17 => 4,
        Q1 | Q8 | Q9 => 5,
        Q4 => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossview_schemas::REGION_PLACEHOLDER;

    #[test]
    fn every_paraphrase_has_one_placeholder_per_region() {
        for &task in Task::ALL {
            for t in 0..PARAPHRASES {
                let q = question_text(task, t);
                assert_eq!(
                    q.matches(REGION_PLACEHOLDER).count(),
                    region_count(task),
                    "{task} t{t}"
                );
                assert!(q.ends_with('?') || q.ends_with('.'), "{task} t{t}");
            }
            let distinct: std::collections::BTreeSet<_> =
                (0..PARAPHRASES).map(|t| question_text(task, t)).collect();
            assert_eq!(distinct.len(), PARAPHRASES);
        }
    }

    #[test]
    fn option_words() {
        assert_eq!(
            option_texts(&OptionKind::Pairings([
                [0, 1, 2],
                [2, 0, 1],
                [1, 0, 2],
                [0, 2, 1]
            ]))[1],
            "1-z, 2-x, 3-y"
        );
        assert_eq!(
            option_texts(&OptionKind::CandidatesOrNone { first: 1, count: 3 }),
            vec!["candidate 1", "candidate 2", "candidate 3", "none of them"]
        );
        // Labels are taken modulo 3; every count a u8 holds has its words.
        assert_eq!(
            option_texts(&OptionKind::Pairings([
                [3, 4, 5],
                [5, 5, 0],
                [0; 3],
                [1; 3]
            ])),
            vec![
                "1-x, 2-y, 3-z",
                "1-z, 2-z, 3-x",
                "1-x, 2-x, 3-x",
                "1-y, 2-y, 3-y"
            ]
        );
        let many = option_texts(&OptionKind::Candidates {
            first: 0,
            count: u8::MAX,
        });
        assert_eq!((many.len(), many[254]), (255, "candidate 255"));
    }
}
