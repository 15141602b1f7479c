//! The keyword index of a namespace with text fields: an inverted index over the rows' text
//! bags (`vector_backend::text`), kept exact on every insert, replacement and delete, and BM25
//! computed in f64 with the core's constants. Our own rather than a crate's: the crates
//! measured hash tokens (collisions), freeze the average length at build time, prefix-expand
//! every query term, or quantise document lengths (see the project's issue notes).

use std::collections::HashMap;

use vector_backend::text::{bm25, idf};

/// Term id → (row → occurrences), and per row its terms and length.
#[derive(Debug, Default)]
pub(crate) struct TextIndex {
    term_ids: HashMap<String, u32>,
    /// By term id: rows holding the term, with how often.
    postings: Vec<HashMap<u32, u32>>,
    /// By row: its distinct terms with counts (to undo them), and its token count.
    rows: Vec<(Vec<(u32, u32)>, u32)>,
    total_len: u64,
}

impl TextIndex {
    /// Appends row `rows.len()` with the given text bag.
    pub(crate) fn push(&mut self, bag: &str) {
        let row = self.rows.len() as u32;
        let (terms, len) = self.count(bag);
        for &(t, f) in &terms {
            self.postings[t as usize].insert(row, f);
        }
        self.total_len += u64::from(len);
        self.rows.push((terms, len));
    }

    /// Replaces row `row`'s text bag.
    pub(crate) fn replace(&mut self, row: usize, bag: &str) {
        self.unlink(row);
        let (terms, len) = self.count(bag);
        for &(t, f) in &terms {
            self.postings[t as usize].insert(row as u32, f);
        }
        self.total_len += u64::from(len);
        self.rows[row] = (terms, len);
    }

    /// Removes row `row` by moving the last row into its place (as the vectors do).
    pub(crate) fn swap_remove(&mut self, row: usize) {
        self.unlink(row);
        let last = self.rows.len() - 1;
        if row != last {
            for &(t, f) in &self.rows[last].0 {
                let p = &mut self.postings[t as usize];
                p.remove(&(last as u32));
                p.insert(row as u32, f);
            }
        }
        self.rows.swap_remove(row);
    }

    /// BM25 of every row holding at least one of `tokens` and accepted by `keep`, over the
    /// whole namespace's statistics: `(row, score)`, unordered.
    pub(crate) fn scores(
        &self,
        tokens: &[String],
        keep: impl Fn(usize) -> bool,
    ) -> Vec<(usize, f64)> {
        let n = self.rows.len() as f64;
        if n == 0.0 {
            return Vec::new();
        }
        let avgdl = self.total_len as f64 / n;
        let mut per_row: HashMap<u32, Vec<(f64, f64)>> = HashMap::new();
        for t in tokens {
            let Some(&id) = self.term_ids.get(t) else {
                continue;
            };
            let p = &self.postings[id as usize];
            let w = idf(n, p.len() as f64);
            for (&row, &f) in p {
                per_row.entry(row).or_default().push((w, f64::from(f)));
            }
        }
        per_row
            .into_iter()
            .filter(|(row, _)| keep(*row as usize))
            .map(|(row, tf)| {
                let dl = f64::from(self.rows[row as usize].1);
                (row as usize, bm25(&tf, dl, avgdl))
            })
            .collect()
    }

    fn unlink(&mut self, row: usize) {
        let (terms, len) = std::mem::take(&mut self.rows[row]);
        for (t, _) in terms {
            self.postings[t as usize].remove(&(row as u32));
        }
        self.total_len -= u64::from(len);
    }

    /// The distinct terms of `bag` with their counts (new terms get ids), and its length.
    fn count(&mut self, bag: &str) -> (Vec<(u32, u32)>, u32) {
        let mut counts: HashMap<u32, u32> = HashMap::new();
        let mut len = 0u32;
        for token in bag.split(' ').filter(|t| !t.is_empty()) {
            len += 1;
            let id = match self.term_ids.get(token) {
                Some(&id) => id,
                None => {
                    let id = self.postings.len() as u32;
                    self.term_ids.insert(token.to_owned(), id);
                    self.postings.push(HashMap::new());
                    id
                }
            };
            *counts.entry(id).or_default() += 1;
        }
        let mut terms: Vec<(u32, u32)> = counts.into_iter().collect();
        terms.sort_unstable();
        (terms, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_stays_exact_through_replacements_and_removals() {
        let mut ix = TextIndex::default();
        ix.push("apple banana");
        ix.push("banana banana cherry");
        ix.push("cherry");
        ix.replace(0, "apple apple");
        ix.swap_remove(1);
        // Rows now: 0 = "apple apple", 1 = "cherry" (moved from 2).
        let t = |s: &str| vec![s.to_owned()];
        let rows: Vec<usize> = ix
            .scores(&t("cherry"), |_| true)
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(rows, [1]);
        assert!(ix.scores(&t("banana"), |_| true).is_empty());
        assert_eq!(ix.total_len, 3);
        let apple = ix.scores(&t("apple"), |_| true);
        assert_eq!(apple.len(), 1);
        assert!(ix.scores(&t("apple"), |r| r != 0).is_empty());
    }
}
