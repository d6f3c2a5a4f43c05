//! Errors in scenario files, each pointing at a file, line, column and field.
//!
//! A researcher with a 300-line scenario needs to know *where* it is wrong and *what* was
//! expected, so every diagnostic carries both. Format errors come from serde (with the
//! field path tracked by `serde_path_to_error` and the position from `toml`'s spans);
//! semantic errors (an unknown zone, a bad CVSS vector) are located by walking the spanned
//! TOML tree to the offending field.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use toml::de::{DeTable, DeValue};

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The field, as a path such as `group[2].zone` (empty for the whole file).
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
    /// The source line (or, for a long line, the part around the column, with `…` where
    /// it was cut), for a caret display.
    pub snippet: String,
    /// The 1-based column of the caret in `snippet`.
    pub caret: usize,
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// An input file could not be read: missing, a directory, too large, not UTF-8.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error (said in the message, so not repeated as a source).
        error: std::io::Error,
    },
    /// The file is not a valid scenario; every problem found is listed.
    #[error("{}", render(origin, diagnostics))]
    Invalid {
        /// Where the text came from (a path, or `<embedded:NAME>`).
        origin: String,
        /// The problems, in file order.
        diagnostics: Vec<Diagnostic>,
    },
    /// No bundled strategy has this name and no file has this path.
    #[error(
        "no strategy file `{name}` and no bundled strategy of that name{} (bundled: {known})",
        did_you_mean(closest.as_deref())
    )]
    StrategyNotFound {
        /// What was asked for.
        name: String,
        /// The bundled name it most likely misspells.
        closest: Option<String>,
        /// The bundled names.
        known: String,
    },
    /// No bundled scenario has this name and no file has this path.
    #[error(
        "no scenario file `{name}` and no bundled scenario of that name{} (bundled: {known})",
        did_you_mean(closest.as_deref())
    )]
    NotFound {
        /// What was asked for.
        name: String,
        /// The bundled name it most likely misspells.
        closest: Option<String>,
        /// The bundled names.
        known: String,
    },
}

/// The known name an unknown one most likely misspells: the nearest by edit distance
/// (letters inserted, deleted, replaced or swapped), if at most a third of its letters
/// (at least one) differ; ties go to the first in `known`.
pub fn closest<'k>(name: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    let limit = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for k in known {
        let d = strsim::damerau_levenshtein(name, k);
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k)
}

/// ` (did you mean `NAME`?)` for a likely misspelling, else nothing: the part of an
/// unknown-name message that names the fix.
pub fn did_you_mean(closest: Option<&str>) -> String {
    closest.map_or_else(String::new, |k| format!(" (did you mean `{k}`?)"))
}

pub(crate) fn render(origin: &str, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in diagnostics.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let field = if d.field.is_empty() {
            String::new()
        } else {
            format!(" field `{}`:", d.field)
        };
        out.push_str(&format!(
            "{origin}:{}:{}:{field} {}",
            d.line, d.column, d.message
        ));
        if !d.snippet.is_empty() {
            let gutter = d.line.to_string().len();
            out.push_str(&format!(
                "\n{:gutter$} |\n{} | {}\n{:gutter$} | {}^",
                "",
                d.line,
                d.snippet,
                "",
                " ".repeat(d.caret.saturating_sub(1)),
            ));
        }
    }
    out
}

/// The part of a source line to show around a 1-based column, and the caret's column in
/// it: at most [`SNIPPET_CHARS`] characters, with `…` where the line was cut, so that an
/// error at column 70,000 of a generated line prints a short, readable excerpt.
fn snippet_window(line: &str, column: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    let column = column.clamp(1, chars.len() + 1);
    if chars.len() <= SNIPPET_CHARS {
        return (line.to_owned(), column);
    }
    let half = SNIPPET_CHARS / 2;
    let start = column
        .saturating_sub(half + 1)
        .min(chars.len() - SNIPPET_CHARS);
    let end = start + SNIPPET_CHARS;
    let mut shown = String::new();
    if start > 0 {
        shown.push('…');
    }
    shown.extend(&chars[start..end]);
    if end < chars.len() {
        shown.push('…');
    }
    (shown, column - start + usize::from(start > 0))
}

/// The widest source excerpt an error shows.
pub const SNIPPET_CHARS: usize = 120;

/// The largest input file (scenario, strategy, experiment, mapping, lab result) read:
/// 64 MiB, far above any real one (the 1M-terminal city is 4 kB), and a bound on what a
/// mistaken path such as `/dev/zero` can make the reader hold.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

/// Reads an input text file with a bound: a clear error for a missing file, a directory,
/// a file over [`MAX_INPUT_BYTES`] (or endless, like `/dev/zero`) and text that is not
/// UTF-8 (with the byte offset), instead of reading without end.
pub fn read_input(path: &std::path::Path) -> Result<String, ScenarioError> {
    use std::io::Read as _;
    let fail = |error: std::io::Error| ScenarioError::Io {
        path: path.to_owned(),
        error,
    };
    let invalid = |msg: String| fail(std::io::Error::new(std::io::ErrorKind::InvalidData, msg));
    let file = std::fs::File::open(path).map_err(fail)?;
    if file.metadata().map_err(fail)?.is_dir() {
        return Err(invalid("it is a directory; expected a file".to_owned()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(fail)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(invalid(format!(
            "larger than the {} MiB an input file may have",
            MAX_INPUT_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        invalid(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Formats a path as `group[2].zone`.
pub fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Builds field paths tersely: `p!["group", 2, "zone"]`.
#[macro_export]
#[doc(hidden)]
macro_rules! field_path {
    ($($seg:expr),* $(,)?) => {
        vec![$($crate::scenario::error::IntoSeg::into_seg($seg)),*]
    };
}

/// Conversion into a path step, for [`field_path!`].
#[doc(hidden)]
pub trait IntoSeg {
    fn into_seg(self) -> Seg;
}
impl IntoSeg for &str {
    fn into_seg(self) -> Seg {
        Seg::Key(self.to_owned())
    }
}
impl IntoSeg for String {
    fn into_seg(self) -> Seg {
        Seg::Key(self)
    }
}
impl IntoSeg for usize {
    fn into_seg(self) -> Seg {
        Seg::Index(self)
    }
}

/// Maps field paths and byte offsets of one source text to lines and columns.
pub struct Locator<'a> {
    text: &'a str,
    root: Option<toml::Spanned<DeTable<'a>>>,
    /// Byte offset of each line's start, so that locating an error costs a binary search,
    /// not a scan from the top (16,000 errors in a 1 MB file were quadratic).
    line_starts: Vec<usize>,
}

impl<'a> Locator<'a> {
    /// A locator over `text` (which should parse as TOML; if not, only offsets work).
    pub fn new(text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            text,
            root: DeTable::parse(text).ok(),
            line_starts,
        }
    }

    /// A diagnostic at a byte range.
    pub fn at_span(
        &self,
        span: Option<Range<usize>>,
        field: String,
        message: String,
    ) -> Diagnostic {
        let mut offset = span.map(|s| s.start).unwrap_or(0).min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let line_start = self.line_starts[line - 1];
        let column = self.text[line_start..offset].chars().count() + 1;
        let (snippet, caret) =
            snippet_window(self.text[line_start..].lines().next().unwrap_or(""), column);
        Diagnostic {
            line,
            column,
            field,
            message,
            snippet,
            caret,
        }
    }

    /// A diagnostic at a field path: at the field's value if present, else at the nearest
    /// enclosing table that is.
    pub fn at_path(&self, path: &[Seg], message: impl Into<String>) -> Diagnostic {
        self.at_span(self.span_of(path), path_string(path), message.into())
    }

    fn span_of(&self, path: &[Seg]) -> Option<Range<usize>> {
        let root = self.root.as_ref()?;
        let mut best = Some(root.span());
        let mut current: Option<&DeValue<'_>> = None;
        let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
        for seg in path {
            let next = match (seg, table, current) {
                (Seg::Key(k), Some(t), _) => t
                    .iter()
                    .find(|(key, _)| key.get_ref().as_ref() == k.as_str())
                    .map(|(_, v)| v),
                (Seg::Index(i), _, Some(DeValue::Array(a))) => a.get(*i),
                _ => None,
            };
            let Some(next) = next else { break };
            best = Some(next.span());
            current = Some(next.get_ref());
            table = match next.get_ref() {
                DeValue::Table(t) => Some(t),
                _ => None,
            };
        }
        best
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.line, self.column, self.field, self.message
        )
    }
}

/// The most problems [`parse_toml`] reports from one file: past that, the rest are found
/// once these are fixed.
pub const MAX_PARSE_PROBLEMS: usize = 50;

/// Parses TOML `text` into `T` (serde, with the field path of any error), reporting a
/// syntax or type error as an invalid file at its line, column and field. Scenario,
/// strategy, experiment, mapping and import-rules files all go through here.
///
/// serde stops at the first problem, so a file with five misspelt keys would take five
/// rounds to fix. Instead, after the first error the offending key is taken out of the
/// parsed document and the rest deserialised again, until it parses or the next problem
/// cannot be taken out: every unknown key and every value of the wrong type is reported at
/// once (up to [`MAX_PARSE_PROBLEMS`]), each at its line and column. A required field
/// missing from a table where a key was taken out (a misspelt or mistyped required key) is
/// not reported again as missing. A TOML syntax error is reported alone: nothing after it
/// can be trusted.
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &str,
    locator: &Locator<'_>,
) -> Result<T, ScenarioError> {
    let invalid = |diagnostics: Vec<Diagnostic>| ScenarioError::Invalid {
        origin: origin.to_owned(),
        diagnostics,
    };
    let deserializer = toml::de::Deserializer::parse(text).map_err(|e| {
        invalid(vec![locator.at_span(
            e.span(),
            String::new(),
            e.message().to_owned(),
        )])
    })?;
    let first = match serde_path_to_error::deserialize::<_, T>(deserializer) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let mut current = (segments(first.path()), first.inner().message().to_owned());
    let field = first.path().to_string();
    let field = if field == "." { String::new() } else { field };
    let inner = first.into_inner();
    let mut diagnostics = vec![locator.at_span(inner.span(), field, current.1.clone())];
    let Ok(document) = text.parse::<toml::Table>() else {
        return Err(invalid(diagnostics));
    };
    let mut document = toml::Value::Table(document);
    // Tables a key was taken out of, and array elements dropped (array path, original
    // indices), both in the file's own coordinates.
    let mut removed_from: Vec<Vec<Seg>> = Vec::new();
    let mut dropped: Vec<(Vec<Seg>, Vec<usize>)> = Vec::new();
    let mut report = false;
    while diagnostics.len() < MAX_PARSE_PROBLEMS {
        let (Some(segs), message) = &current else {
            break;
        };
        let original = in_file(segs, &dropped);
        // A required field missing where a key was taken out: the key's own follow-on (a
        // required key of the wrong type, or a misspelt one), so not reported again.
        let follow_on = message.starts_with("missing field") && removed_from.contains(&original);
        if follow_on {
            // The element cannot be checked further: drop it (its problems are reported)
            // and check the rest.
            let Some(at) = segs.iter().position(|s| matches!(s, Seg::Index(_))) else {
                break;
            };
            let (array, Seg::Index(index)) = (&segs[..at], &segs[at]) else {
                break;
            };
            let Seg::Index(first_index) = original[at] else {
                break;
            };
            if !remove_element(&mut document, array, *index) {
                break;
            }
            match dropped.iter_mut().find(|(a, _)| a.as_slice() == array) {
                Some((_, indices)) => {
                    indices.push(first_index);
                    indices.sort_unstable();
                }
                None => dropped.push((array.to_vec(), vec![first_index])),
            }
        } else {
            if report {
                diagnostics.push(locator.at_path(&original, message.clone()));
            }
            let (Some((Seg::Key(key), parent)), true) = (segs.split_last(), removable(message))
            else {
                break;
            };
            if !remove_key(&mut document, parent, key) {
                break;
            }
            removed_from.push(original[..original.len() - 1].to_vec());
        }
        report = true;
        current = match serde_path_to_error::deserialize::<_, T>(document.clone()) {
            Ok(_) => break,
            Err(e) => (segments(e.path()), e.into_inner().message().to_owned()),
        };
    }
    // Found section by section (a parsed table's keys come back sorted): shown in file order.
    diagnostics.sort_by_key(|d| (d.line, d.column));
    Err(invalid(diagnostics))
}

/// A path in the document after some array elements were dropped, in the file's own
/// coordinates (only top-level arrays of tables are ever dropped from).
fn in_file(path: &[Seg], dropped: &[(Vec<Seg>, Vec<usize>)]) -> Vec<Seg> {
    let mut out = path.to_vec();
    let Some(at) = path.iter().position(|s| matches!(s, Seg::Index(_))) else {
        return out;
    };
    let Some((_, gone)) = dropped.iter().find(|(a, _)| a.as_slice() == &path[..at]) else {
        return out;
    };
    if let Seg::Index(i) = path[at] {
        // The i-th element still present is the i-th index not dropped.
        let original = (0..).filter(|j| !gone.contains(j)).nth(i).unwrap_or(i);
        out[at] = Seg::Index(original);
    }
    out
}

/// The value at `path` below `value`, if the path leads anywhere.
fn value_at<'v>(value: &'v mut toml::Value, path: &[Seg]) -> Option<&'v mut toml::Value> {
    path.iter().try_fold(value, |v, seg| match (seg, v) {
        (Seg::Key(k), toml::Value::Table(t)) => t.get_mut(k.as_str()),
        (Seg::Index(i), toml::Value::Array(a)) => a.get_mut(*i),
        _ => None,
    })
}

/// Removes element `index` of the array at `array` below `value`; false if there is none.
fn remove_element(value: &mut toml::Value, array: &[Seg], index: usize) -> bool {
    match value_at(value, array) {
        Some(toml::Value::Array(a)) if index < a.len() => {
            a.remove(index);
            true
        }
        _ => false,
    }
}

/// Whether a deserialisation problem is one of a single key (unknown, or of the wrong type
/// or variant), so that taking the key out lets the rest be checked.
fn removable(message: &str) -> bool {
    [
        "unknown field",
        "invalid type",
        "invalid value",
        "unknown variant",
        "invalid length",
    ]
    .iter()
    .any(|p| message.starts_with(p))
}

/// A serde path as field-path steps, or None if a step has no TOML counterpart.
fn segments(path: &serde_path_to_error::Path) -> Option<Vec<Seg>> {
    use serde_path_to_error::Segment;
    path.iter()
        .map(|s| match s {
            Segment::Map { key } => Some(Seg::Key(key.clone())),
            Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
            Segment::Seq { index } => Some(Seg::Index(*index)),
            Segment::Unknown => None,
        })
        .collect()
}

/// Removes `key` from the table at `parent` below `value`; false if there is none.
fn remove_key(value: &mut toml::Value, parent: &[Seg], key: &str) -> bool {
    match value_at(value, parent) {
        Some(toml::Value::Table(t)) => t.remove(key).is_some(),
        _ => false,
    }
}
