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
    /// The source line, for a caret display.
    pub snippet: String,
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid scenario; every problem found is listed.
    #[error("{}", render(origin, diagnostics))]
    Invalid {
        /// Where the text came from (a path, or `<embedded:NAME>`).
        origin: String,
        /// The problems, in file order.
        diagnostics: Vec<Diagnostic>,
    },
    /// No bundled scenario has this name and no file has this path.
    #[error("no scenario file `{name}` and no bundled scenario of that name (bundled: {known})")]
    NotFound {
        /// What was asked for.
        name: String,
        /// The bundled names.
        known: String,
    },
}

fn render(origin: &str, diagnostics: &[Diagnostic]) -> String {
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
                "\n{:gutter$} |\n{} | {}\n{:gutter$} | {:>col$}",
                "",
                d.line,
                d.snippet,
                "",
                "^",
                col = d.column
            ));
        }
    }
    out
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
}

impl<'a> Locator<'a> {
    /// A locator over `text` (which should parse as TOML; if not, only offsets work).
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            root: DeTable::parse(text).ok(),
        }
    }

    /// A diagnostic at a byte range.
    pub fn at_span(
        &self,
        span: Option<Range<usize>>,
        field: String,
        message: String,
    ) -> Diagnostic {
        let offset = span.map(|s| s.start).unwrap_or(0).min(self.text.len());
        let line_start = self.text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
        let line = self.text[..offset].matches('\n').count() + 1;
        let column = self.text[line_start..offset].chars().count() + 1;
        let snippet = self.text[line_start..]
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        Diagnostic {
            line,
            column,
            field,
            message,
            snippet,
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

/// Parses TOML `text` into `T` (serde, with the field path of any error), reporting a
/// syntax or type error as an invalid file at its line, column and field. Scenario,
/// strategy and experiment files all go through here.
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &str,
    locator: &Locator<'_>,
) -> Result<T, ScenarioError> {
    let invalid = |d: Diagnostic| ScenarioError::Invalid {
        origin: origin.to_owned(),
        diagnostics: vec![d],
    };
    let deserializer = toml::de::Deserializer::parse(text)
        .map_err(|e| invalid(locator.at_span(e.span(), String::new(), e.message().to_owned())))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { String::new() } else { field };
        let inner = e.into_inner();
        invalid(locator.at_span(inner.span(), field, inner.message().to_owned()))
    })
}
