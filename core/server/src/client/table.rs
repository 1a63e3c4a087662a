//! Plain-text tables: columns padded to their widest cell, two spaces apart, no trailing
//! blanks, and columns that are empty in every row left out (a `DETAIL` column with
//! nothing under it only makes the lines longer).

use crate::out::Out;

/// A table under construction.
#[derive(Debug)]
pub(crate) struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    /// Columns shown even when every cell is empty.
    always: usize,
}

impl Table {
    /// A table with these column titles; the first `always` columns are shown even when
    /// empty.
    pub(crate) fn new(header: &[&'static str], always: usize) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
            always,
        }
    }

    /// Adds a row (missing cells are empty, extra cells are dropped).
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.header.len(), String::new());
        self.rows.push(cells);
    }

    /// Writes the table; nothing when it has no rows.
    pub(crate) fn write(&self, out: &mut Out) {
        if self.rows.is_empty() {
            return;
        }
        let shown: Vec<usize> = (0..self.header.len())
            .filter(|&c| c < self.always || self.rows.iter().any(|r| !r[c].is_empty()))
            .collect();
        let width = |c: usize| {
            self.rows
                .iter()
                .map(|r| r[c].chars().count())
                .chain(std::iter::once(self.header[c].chars().count()))
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = shown.iter().map(|&c| width(c)).collect();
        let header: Vec<String> = shown.iter().map(|&c| self.header[c].to_owned()).collect();
        out.line(line(&header, &widths));
        for r in &self.rows {
            let cells: Vec<String> = shown.iter().map(|&c| r[c].clone()).collect();
            out.line(line(&cells, &widths));
        }
    }
}

fn line(cells: &[String], widths: &[usize]) -> String {
    let mut text = String::new();
    for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
        if i > 0 {
            text.push_str("  ");
        }
        text.push_str(cell);
        if i + 1 < cells.len() {
            let pad = width.saturating_sub(cell.chars().count());
            text.extend(std::iter::repeat_n(' ', pad));
        }
    }
    text.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_and_empty_ones_left_out() {
        let mut t = Table::new(&["NAME", "STATE", "DETAIL"], 2);
        t.row(vec!["mqtt-eu".into(), "done".into()]);
        t.row(vec!["a".into(), "failed".into()]);
        let mut out = Out::new();
        t.write(&mut out);
        assert_eq!(
            out.as_str(),
            "NAME     STATE\nmqtt-eu  done\na        failed\n"
        );
    }
}
