//! Replacing secret values in output with `***`.

/// Shorter values would mask ordinary text (a secret `1` would hide every
/// digit) while hiding next to nothing.
pub const MIN_MASKED_LEN: usize = 3;

#[derive(Clone, Debug, Default)]
pub struct Masker {
    /// Longest first, so a secret that contains another is masked whole.
    values: Vec<String>,
}

impl Masker {
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut all: Vec<String> = Vec::new();
        for v in values {
            // A multi-line secret (a kubeconfig) is masked line by line too,
            // since output is masked a line at a time.
            let lines: Vec<String> = v
                .lines()
                .map(str::trim)
                .filter(|l| l.len() >= 8)
                .map(str::to_string)
                .collect();
            if lines.len() > 1 {
                all.extend(lines);
            }
            if v.len() >= MIN_MASKED_LEN {
                all.push(v);
            }
        }
        all.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        all.dedup();
        Masker { values: all }
    }

    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), "***");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_longest_first() {
        let m = Masker::new([
            "hunter2".to_string(),
            "hunter2-extended".to_string(),
            "ab".to_string(),
        ]);
        assert_eq!(m.mask("x hunter2-extended y hunter2 ab"), "x *** y *** ab");
    }

    #[test]
    fn masks_lines_of_multi_line_secrets() {
        let m = Masker::new(["line-one-secret\nline-two-secret\n".to_string()]);
        assert_eq!(m.mask("got line-two-secret here"), "got *** here");
    }
}
