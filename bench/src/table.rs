//! A markdown table.

/// Renders `header` and `rows` as a GitHub markdown table (`|` in cells escaped).
pub(crate) fn render(header: &[String], rows: &[Vec<String>]) -> String {
    let line = |cells: &[String]| {
        let cells: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut out = line(header);
    out.push_str(&format!("|{}\n", "---|".repeat(header.len())));
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown() {
        let h = vec!["a".to_string(), "b".to_string()];
        let rows = vec![vec!["1".to_string(), "x|y".to_string()]];
        assert_eq!(render(&h, &rows), "| a | b |\n|---|---|\n| 1 | x\\|y |\n");
    }
}
