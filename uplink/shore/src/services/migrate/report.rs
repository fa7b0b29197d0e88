//! What a `migrate` run did and found: per table (and for the blobs) how
//! many were copied, how many were already on the target, and the counts
//! on both sides at the end. Printing it and naming what differs is all
//! this file does.

use std::fmt;

/// One table's (or the blobs') tally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub name: &'static str,
    /// Written by this run.
    pub copied: u64,
    /// Found on the target already (an earlier run, or a shore on it).
    pub already: u64,
    /// Rows (for the blobs: thumbnails) on the source at the end.
    pub source: u64,
    /// Rows (for the blobs: thumbnails whose blob the target holds) on the
    /// target at the end.
    pub target: u64,
}

/// The whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub blobs: Tally,
    /// Source thumbnails whose blob could not be found on the source (their
    /// rows are not copied: never a row without its blob).
    pub blobs_missing_on_source: u64,
    pub tables: Vec<Tally>,
}

impl Report {
    /// What differs between source and target, one line each (empty: the
    /// copy is whole).
    pub fn mismatches(&self) -> Vec<String> {
        let mut out: Vec<String> = std::iter::once(&self.blobs)
            .chain(&self.tables)
            .filter(|t| t.source != t.target)
            .map(|t| {
                format!(
                    "{}: {} on the source, {} on the target",
                    t.name, t.source, t.target
                )
            })
            .collect();
        if self.blobs_missing_on_source > 0 {
            out.push(format!(
                "blobs: {} thumbnail(s) of the source have no blob there (rows not copied)",
                self.blobs_missing_on_source
            ));
        }
        out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<16} {:>10} {:>14} {:>10} {:>10}",
            "what", "copied", "already there", "source", "target"
        )?;
        for t in std::iter::once(&self.blobs).chain(&self.tables) {
            writeln!(
                f,
                "{:<16} {:>10} {:>14} {:>10} {:>10}",
                t.name, t.copied, t.already, t.source, t.target
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_differs() {
        let mut r = Report {
            blobs: Tally {
                name: "blobs",
                source: 3,
                target: 3,
                ..Tally::default()
            },
            tables: vec![Tally {
                name: "thumbs",
                source: 3,
                target: 3,
                ..Tally::default()
            }],
            ..Report::default()
        };
        assert!(r.mismatches().is_empty());
        r.tables[0].target = 2;
        assert_eq!(r.mismatches(), ["thumbs: 3 on the source, 2 on the target"]);
        r.blobs_missing_on_source = 1;
        assert_eq!(r.mismatches().len(), 2);
    }
}
