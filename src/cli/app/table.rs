//! Aligned columns, as `argocd` and `kubectl` print them.

/// The header and rows in columns three spaces apart; `-` for an empty cell, line breaks in a
/// cell as spaces, no trailing spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let clean = |c: &str| {
        if c.is_empty() {
            "-".to_string()
        } else {
            c.replace(['\n', '\r'], " ")
        }
    };
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clean(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}

/// The first 7 characters of a commit SHA (a longer revision name is kept whole).
pub fn short_sha(revision: &str) -> String {
    let is_sha = revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit());
    if is_sha {
        revision[..7].to_string()
    } else {
        revision.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_and_fills_empty_cells() {
        let t = table(
            &["NAME", "SYNC"],
            &[
                vec!["web".into(), "".into()],
                vec!["a-long-name".into(), "Synced\nnow".into()],
            ],
        );
        assert_eq!(
            t,
            "NAME          SYNC\nweb           -\na-long-name   Synced now\n"
        );
    }

    #[test]
    fn short_shas() {
        assert_eq!(short_sha(&"a1".repeat(20)), "a1a1a1a");
        assert_eq!(short_sha("main"), "main");
    }
}
