//! Errors as data: one diagnostic type that points into a source file (a
//! spec or a provider file) and says how to fix the problem. `main`
//! renders them once, with miette, and everything they show (the message,
//! labels, help, the file's name and lines) is escaped as `paint` escapes
//! text from outside.

use std::fmt;
use std::sync::{Arc, OnceLock};

use miette::{
    Diagnostic, LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents,
};

pub use crate::base::code::Code;
use crate::base::paint::{hidden, visible, visible_line};

/// A file that diagnostics point into, or the files of a spec and the
/// bases it extends, one after the other in `text`: an offset then says
/// which file it is in, so a node of a merged spec points into its own.
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub text: Arc<str>,
    /// Byte offsets where lines start, computed on first use, so that
    /// locating many problems in a big file stays linear.
    lines: Arc<OnceLock<Vec<usize>>>,
    /// The source as shown, if it holds a hidden character.
    shown: Arc<OnceLock<Option<Shown>>>,
    /// Where each file starts in `text`, and its name, in order.
    files: Arc<[(usize, String)]>,
}

/// A source with its hidden characters escaped, and where each escape
/// stands: labels point into the text as shown.
#[derive(Debug)]
struct Shown {
    source: Source,
    /// For each escaped character: its offsets in the text, and those of
    /// its escape in the shown text.
    marks: Vec<((usize, usize), (usize, usize))>,
}

impl Shown {
    fn offset(&self, o: usize) -> usize {
        let before = self.marks.partition_point(|((at, _), _)| *at < o);
        match before.checked_sub(1).map(|i| self.marks[i]) {
            None => o,
            Some(((_, end), (_, shown_end))) => shown_end + o.saturating_sub(end),
        }
    }

    fn span(&self, span: SourceSpan) -> SourceSpan {
        let start = self.offset(span.offset());
        let end = self.offset(span.offset() + span.len()).max(start);
        (start, end - start).into()
    }
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        let name = name.into();
        Source {
            files: Arc::new([(0, name.clone())]),
            name,
            text: text.into(),
            lines: Arc::default(),
            shown: Arc::default(),
        }
    }

    /// The source with its name and text escaped, if either holds a hidden
    /// character (a CR that ends a line is a line end).
    fn shown(&self) -> Option<&Shown> {
        self.shown
            .get_or_init(|| {
                let text: &str = &self.text;
                let hidden_at = |i: usize, c: char| {
                    hidden(c) && !(c == '\r' && text[i + 1..].starts_with('\n'))
                };
                let name = visible_line(&self.name);
                let names_shown = self
                    .files
                    .iter()
                    .all(|(_, n)| visible_line(n) == n.as_str());
                if name == self.name.as_str()
                    && names_shown
                    && !text.char_indices().any(|(i, c)| hidden_at(i, c))
                {
                    return None;
                }
                let mut out = String::with_capacity(text.len() + 16);
                let mut marks = Vec::new();
                for (i, c) in text.char_indices() {
                    if hidden_at(i, c) {
                        let start = out.len();
                        out.push_str(&visible(c.encode_utf8(&mut [0; 4])));
                        marks.push(((i, i + c.len_utf8()), (start, out.len())));
                    } else {
                        out.push(c);
                    }
                }
                let mut shown = Shown {
                    source: Source::new(name.into_owned(), out),
                    marks,
                };
                // Each file of the chain where its text now starts, named
                // as shown.
                shown.source.files = self
                    .files
                    .iter()
                    .map(|(start, n)| (shown.offset(*start), visible_line(n).into_owned()))
                    .collect();
                Some(shown)
            })
            .as_ref()
    }

    /// Files placed at the given offsets (each at least past the end of
    /// the one before, on a line of its own), the gaps filled with
    /// newlines: blank lines, which a YAML parser skips, so that a file
    /// parsed in its place gives offsets that are right in the whole.
    pub fn placed(files: &[(usize, &str, &str)]) -> Self {
        let mut text = String::new();
        let mut starts = Vec::new();
        for (start, name, body) in files {
            debug_assert!(*start >= text.len());
            text.extend(std::iter::repeat_n('\n', start.saturating_sub(text.len())));
            starts.push((text.len(), name.to_string()));
            text.push_str(body);
        }
        Source {
            name: starts.first().map(|f| f.1.clone()).unwrap_or_default(),
            text: text.into(),
            lines: Arc::default(),
            shown: Arc::default(),
            files: starts.into(),
        }
    }

    /// Where the file after one of `len` bytes placed at `start` goes.
    pub fn next_start(start: usize, len: usize) -> usize {
        start + len + 1
    }

    /// The file an offset is in: its start, end and name.
    fn file_at(&self, offset: usize) -> (usize, usize, &str) {
        let i = self.files.partition_point(|(s, _)| *s <= offset).max(1) - 1;
        let end = self.files.get(i + 1).map_or(self.text.len(), |f| f.0);
        (self.files[i].0, end, &self.files[i].1)
    }

    /// The name of the file an offset is in.
    pub fn name_at(&self, offset: usize) -> &str {
        self.file_at(offset).2
    }

    fn line_starts(&self) -> &[usize] {
        self.lines.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        })
    }

    /// `file:line:column` of a byte offset, 1-based, as editors expect.
    pub fn position(&self, offset: usize) -> String {
        let (name, line, column) = self.line_column(offset);
        format!("{name}:{line}:{column}")
    }

    /// The file, line and column (1-based) of a byte offset.
    pub fn line_column(&self, offset: usize) -> (&str, usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let (file_start, _, name) = self.file_at(offset);
        let starts = self.line_starts();
        let line = starts.partition_point(|&s| s <= offset);
        let first = starts.partition_point(|&s| s <= file_start);
        let start = starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        (name, line - first + 1, column)
    }
}

/// miette reads the lines around a label by scanning the text from its
/// start: with many diagnostics in a big file that is quadratic. Here it
/// scans only the few lines around the label, found by the line index,
/// and the result is shifted back into place. A span across two files is
/// refused, so that miette shows each file's labels under its own name.
impl SourceCode for Source {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let text: &str = &self.text;
        let starts = self.line_starts();
        let start = span.offset().min(text.len());
        let end = (span.offset() + span.len()).min(text.len()).max(start);
        let (file_start, file_end, name) = self.file_at(start);
        if end > file_end {
            return Err(MietteError::OutOfBounds);
        }
        let line_of = |offset: usize| starts.partition_point(|&s| s <= offset) - 1;
        let first_line = line_of(file_start);
        let from_line = line_of(start).saturating_sub(before + 1).max(first_line);
        let to_line = (line_of(end.saturating_sub(1).max(start)) + after + 2).min(starts.len());
        let base = starts[from_line];
        let stop = starts
            .get(to_line)
            .copied()
            .unwrap_or(text.len())
            .min(file_end);
        let window = &text[base..stop];
        let inner = window.read_span(&(start - base, end - start).into(), before, after)?;
        let shifted = (inner.span().offset() + base, inner.span().len()).into();
        Ok(Box::new(
            MietteSpanContents::new_named(
                name.to_string(),
                inner.data(),
                shifted,
                inner.line() + from_line - first_line,
                inner.column(),
                inner.line_count() + from_line - first_line,
            )
            .with_language("yaml"),
        ))
    }
}

#[derive(Debug)]
pub struct Diag {
    pub code: Code,
    pub message: String,
    source: Option<Source>,
    pub labels: Vec<(SourceSpan, String)>,
    pub help: Option<String>,
}

impl Diag {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Diag {
            code,
            message: message.into(),
            source: None,
            labels: Vec::new(),
            help: None,
        }
    }

    /// Points at `span` of `source` with a label.
    pub fn at(
        mut self,
        source: &Source,
        span: impl Into<SourceSpan>,
        label: impl Into<String>,
    ) -> Self {
        self.source = Some(source.clone());
        self.labels.push((span.into(), label.into()));
        self
    }

    /// A further label in the same source.
    pub fn and(mut self, span: impl Into<SourceSpan>, label: impl Into<String>) -> Self {
        self.labels.push((span.into(), label.into()));
        self
    }

    /// Whether the diagnostic points into a file.
    pub fn has_source(&self) -> bool {
        self.source.is_some()
    }

    /// The file, line and column (1-based) of its first label.
    pub fn location(&self) -> Option<(&str, usize, usize)> {
        let source = self.source.as_ref()?;
        let (span, _) = self.labels.first()?;
        Some(source.line_column(span.offset()))
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

/// `value` when nothing went wrong, else every diagnostic at once.
pub fn finish<T>(value: T, diags: Vec<Diag>) -> Result<T, Vec<Diag>> {
    if diags.is_empty() {
        Ok(value)
    } else {
        Err(diags)
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&visible(&self.message))
    }
}

impl std::error::Error for Diag {}

impl Diagnostic for Diag {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(visible(h)) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| match s.shown() {
            Some(shown) => &shown.source as &dyn SourceCode,
            None => s as &dyn SourceCode,
        })
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            return None;
        }
        let shown = self.source.as_ref().and_then(Source::shown);
        Some(Box::new(self.labels.iter().map(move |(span, label)| {
            let span = shown.map_or(*span, |s| s.span(*span));
            LabeledSpan::new_with_span(Some(visible_line(label).into_owned()), span)
        })))
    }
}

/// The closest of `candidates` to `word`, if any is close enough to be a
/// likely typo: a transposition or two (`gek` for `gke`), or a similar
/// spelling of a longer word (`provder` for `provider`).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(word, c),
                strsim::jaro_winkler(word, c),
                c,
            )
        })
        .filter(|(edits, similar, _)| (*edits <= 2 && *edits < word.len()) || *similar > 0.85)
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let s = Source::new("a.yaml", "ab\ncdé\nx");
        assert_eq!(s.position(0), "a.yaml:1:1");
        assert_eq!(s.position(4), "a.yaml:2:2");
        assert_eq!(s.position(8), "a.yaml:3:1");
        assert_eq!(s.position(2), "a.yaml:1:3");
        assert_eq!(s.position(99), "a.yaml:3:2");
    }

    /// Offsets in a spec made of several files say which file, with
    /// lines counted in that file.
    #[test]
    fn positions_in_placed_files() {
        let base = "version: 1\nsteps: []\n";
        let start = Source::next_start(0, 6);
        let s = Source::placed(&[(0, "child.yaml", "a: 1\nb"), (start, "base.yaml", base)]);
        assert_eq!(&s.text[start..start + 7], "version");
        assert_eq!(s.position(5), "child.yaml:2:1");
        assert_eq!(s.position(start), "base.yaml:1:1");
        assert_eq!(s.position(start + 11), "base.yaml:2:1");
        let contents = s.read_span(&(start + 11, 5).into(), 1, 1).unwrap();
        assert_eq!(contents.name(), Some("base.yaml"));
        assert_eq!(contents.line(), 0);
        assert!(s.read_span(&(5, start).into(), 0, 0).is_err());
        let alone = Source::placed(&[(start, "base.yaml", base)]);
        assert_eq!(alone.position(start + 11), "base.yaml:2:1");
    }

    #[test]
    fn what_a_diagnostic_shows_is_escaped() {
        let text = "a: 1\r\nname: x\u{202E}y\u{1b}[2K\nz: 2\n";
        let source = Source::new("s\u{1b}.yaml", text);
        let at = text.find("y\u{1b}").unwrap();
        let diag = Diag::new(Code::SpecStepName, "bad `x\u{202E}y`")
            .at(&source, (at, 1), "here\u{2028}")
            .help("fix\u{1b}[2K");
        let mut out = String::new();
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .render_report(&mut out, &diag)
            .unwrap();
        for c in ['\u{1b}', '\u{202E}', '\u{2028}', '\r'] {
            assert!(!out.contains(c), "{c:?} in {out}");
        }
        for shown in [
            "bad `x\\u{202e}y`",
            "s\\x1b.yaml:2:",
            "name: x\\u{202e}y\\x1b[2K",
            "here\\u{2028}",
            "fix\\x1b[2K",
        ] {
            assert!(out.contains(shown), "{shown} in {out}");
        }
        // The label points at `y` where it is shown.
        let line = out.lines().find(|l| l.contains("name: x")).unwrap();
        let mark = out.lines().skip_while(|l| *l != line).nth(1).unwrap();
        let col = line[..line.find("y\\x1b").unwrap()].chars().count();
        assert_eq!(mark.chars().position(|c| c == '┬'), Some(col), "{out}");
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        let keys = ["provider", "name", "with", "env", "timeout", "retries"];
        assert_eq!(did_you_mean("wiht", keys), Some("with"));
        assert_eq!(did_you_mean("provder", keys), Some("provider"));
        assert_eq!(did_you_mean("zzz", keys), None);
        assert_eq!(did_you_mean("gek", ["aws-eks", "gke", "run"]), Some("gke"));
        assert_eq!(did_you_mean("spm", ["spn", "msi"]), Some("spn"));
    }
}
