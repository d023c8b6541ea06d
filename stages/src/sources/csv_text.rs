//! One CSV parser reused across many small files: building csv's parser (its state machine)
//! cost more than reading a whole MMPTrack top-down file, so a scene keeps one and re-aims it.

use std::io::{Cursor, SeekFrom};

/// A headerless, flexible CSV reader that is pointed at one file's text after another.
pub struct CsvText {
    rdr: csv::Reader<Cursor<Vec<u8>>>,
}

impl Default for CsvText {
    fn default() -> Self {
        Self::new()
    }
}

impl CsvText {
    /// A reader with no text yet. Every row is a record (a header line is the caller's to
    /// read as row 1) and rows may differ in length.
    pub fn new() -> Self {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(Cursor::new(Vec::new()));
        // csv reads its header row on the first seek; doing that now, on empty text, means
        // later seeks only rewind and never swallow a file's first row.
        let _ = rdr.seek_raw(SeekFrom::Start(0), csv::Position::new());
        CsvText { rdr }
    }

    /// The records of `text`, from its first row.
    pub fn records(&mut self, text: Vec<u8>) -> csv::StringRecordsIter<'_, Cursor<Vec<u8>>> {
        *self.rdr.get_mut() = Cursor::new(text);
        // `seek_raw`, not `seek`: `seek` skips the rewind when already at byte 0, keeping the
        // end-of-input state of the previous text. Rewinding a Cursor cannot fail.
        let _ = self.rdr.seek_raw(SeekFrom::Start(0), csv::Position::new());
        self.rdr.records()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(r: &mut CsvText, text: &str) -> Vec<Vec<String>> {
        r.records(text.as_bytes().to_vec())
            .map(|rec| rec.map(|r| r.iter().map(str::to_string).collect()))
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn each_text_is_read_whole_from_its_first_row() {
        let mut r = CsvText::new();
        let one = rows(&mut r, "1, 2.5, 3\n4,5,6\n");
        assert_eq!(one, vec![vec!["1", " 2.5", " 3"], vec!["4", "5", "6"]]);
        // A shorter second text: nothing of the first is left over, and rows may differ in length.
        assert_eq!(rows(&mut r, "a,b\nc\n"), vec![vec!["a", "b"], vec!["c"]]);
        assert_eq!(rows(&mut r, ""), Vec::<Vec<String>>::new());
        assert_eq!(
            rows(&mut r, "\"x,y\",z"),
            vec![vec!["x,y".to_string(), "z".to_string()]]
        );
    }

    #[test]
    fn a_bad_row_is_an_error_of_its_own_line_and_the_next_text_reads_clean() {
        let mut r = CsvText::new();
        let got: Vec<_> = r.records(b"1,2\n\xff\xfe,3\n4,5\n".to_vec()).collect();
        assert!(got[0].is_ok() && got[1].is_err() && got[2].is_ok());
        let e = got[1].as_ref().unwrap_err();
        assert_eq!(e.position().map(|p| p.line()), Some(2));
        assert_eq!(rows(&mut r, "7,8\n"), vec![vec!["7", "8"]]);
    }
}
