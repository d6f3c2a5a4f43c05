//! Typed result tables, written as CSV and as Apache Parquet.
//!
//! A run's time series, its per-zone table and its events, and an experiment's runs,
//! points and decisions are each built once as a [`Table`] of typed, nullable columns
//! (integers, floats, text, booleans) and then written in every format asked for. So the
//! CSV a spreadsheet opens and the Parquet file pyarrow, pandas or polars load always have
//! the same columns, the same types and the same missing values: an empty CSV field is a
//! Parquet null, never a zero.
//!
//! Parquet is written with the `parquet` crate's column writers (no Arrow in between:
//! it would add a large dependency for nothing we need), snappy-compressed, one row group
//! per table, with the table's metadata (units, provenance) as key-value metadata of the
//! file.

use std::fmt::Write as _;
use std::sync::Arc;

use parquet::basic::{LogicalType, Repetition, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

/// Why a table could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The Parquet encoder refused the table.
    #[error("cannot encode table as Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}

/// The values of one column; `None` is a missing value (empty in CSV, null in Parquet).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// 64-bit signed integers (counts, ticks, seeds that fit).
    Int(Vec<Option<i64>>),
    /// 64-bit floats (rates, shares, seconds).
    Float(Vec<Option<f64>>),
    /// UTF-8 text (names, categories).
    Text(Vec<Option<String>>),
    /// Booleans.
    Bool(Vec<Option<bool>>),
}

impl Values {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::Int(v) => v.len(),
            Values::Float(v) => v.len(),
            Values::Text(v) => v.len(),
            Values::Bool(v) => v.len(),
        }
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn csv_cell(&self, row: usize, out: &mut String) {
        match self {
            Values::Int(v) => {
                if let Some(x) = v[row] {
                    let _ = write!(out, "{x}");
                }
            }
            Values::Float(v) => {
                if let Some(x) = v[row].filter(|x| x.is_finite()) {
                    let _ = write!(out, "{x}");
                }
            }
            Values::Text(v) => {
                if let Some(s) = &v[row] {
                    out.push_str(&csv_quote(s));
                }
            }
            Values::Bool(v) => {
                if let Some(b) = v[row] {
                    out.push_str(if b { "true" } else { "false" });
                }
            }
        }
    }
}

/// Quotes a CSV field where RFC 4180 needs it (comma, quote, line break).
pub fn csv_quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// A named column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Header name, e.g. `zero_trust.reverify_interval [s]`.
    pub name: String,
    /// Its values, one per row.
    pub values: Values,
}

/// A table of typed columns of equal length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    columns: Vec<Column>,
    metadata: Vec<(String, String)>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a column.
    ///
    /// # Panics
    /// If its length differs from the columns already there: tables are built by code,
    /// not from user input, so a mismatch is a bug.
    pub fn push(&mut self, name: impl Into<String>, values: Values) -> &mut Self {
        let name = name.into();
        if let Some(first) = self.columns.first() {
            assert_eq!(
                first.values.len(),
                values.len(),
                "column {name} has {} rows, the table {}",
                values.len(),
                first.values.len()
            );
        }
        self.columns.push(Column { name, values });
        self
    }

    /// Adds a key-value pair to the file metadata (Parquet only; CSV has none).
    pub fn meta(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// The columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&Values> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.values)
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.values.len())
    }

    /// The table as CSV: a header row, then a row per record; missing values are empty
    /// fields, floats are written in their shortest form that reads back to the same bits.
    pub fn csv(&self) -> String {
        let mut out = String::new();
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&csv_quote(&c.name));
        }
        out.push('\n');
        for row in 0..self.rows() {
            for (i, c) in self.columns.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                c.values.csv_cell(row, &mut out);
            }
            out.push('\n');
        }
        out
    }

    /// The table as a Parquet file's bytes: every column optional (nullable), integers
    /// `INT64`, floats `DOUBLE`, text `BYTE_ARRAY` annotated `STRING`, booleans `BOOLEAN`.
    pub fn parquet(&self) -> Result<Vec<u8>, TableError> {
        let fields = self
            .columns
            .iter()
            .map(|c| {
                let (physical, logical) = match c.values {
                    Values::Int(_) => (Physical::INT64, None),
                    Values::Float(_) => (Physical::DOUBLE, None),
                    Values::Text(_) => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
                    Values::Bool(_) => (Physical::BOOLEAN, None),
                };
                Type::primitive_type_builder(&c.name, physical)
                    .with_repetition(Repetition::OPTIONAL)
                    .with_logical_type(logical)
                    .build()
                    .map(Arc::new)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let schema = Arc::new(
            Type::group_type_builder("paraverse")
                .with_fields(fields)
                .build()?,
        );
        let metadata = (!self.metadata.is_empty()).then(|| {
            self.metadata
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                .collect()
        });
        let props = WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .set_created_by(format!("paraverse {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(metadata)
            .build();
        let mut bytes = Vec::new();
        let mut writer = SerializedFileWriter::new(&mut bytes, schema, Arc::new(props))?;
        let mut group = writer.next_row_group()?;
        let mut columns = self.columns.iter();
        while let Some(mut out) = group.next_column()? {
            let column = columns.next().expect("one writer per schema column");
            match &column.values {
                Values::Int(v) => {
                    let (vals, defs) = split(v, |x| *x);
                    out.typed::<Int64Type>()
                        .write_batch(&vals, Some(&defs), None)?;
                }
                Values::Float(v) => {
                    let (vals, defs) = split(v, |x| *x);
                    out.typed::<DoubleType>()
                        .write_batch(&vals, Some(&defs), None)?;
                }
                Values::Text(v) => {
                    let (vals, defs) = split(v, |s: &String| ByteArray::from(s.as_str()));
                    out.typed::<ByteArrayType>()
                        .write_batch(&vals, Some(&defs), None)?;
                }
                Values::Bool(v) => {
                    let (vals, defs) = split(v, |x| *x);
                    out.typed::<BoolType>()
                        .write_batch(&vals, Some(&defs), None)?;
                }
            }
            out.close()?;
        }
        group.close()?;
        writer.close()?;
        Ok(bytes)
    }
}

/// The present values and the definition levels (1 present, 0 null) of a column.
fn split<T, U>(values: &[Option<T>], f: impl Fn(&T) -> U) -> (Vec<U>, Vec<i16>) {
    let mut vals = Vec::with_capacity(values.len());
    let mut defs = Vec::with_capacity(values.len());
    for v in values {
        match v {
            Some(x) => {
                vals.push(f(x));
                defs.push(1);
            }
            None => defs.push(0),
        }
    }
    (vals, defs)
}

/// Integers from unsigned counts (saturating at `i64::MAX`, which no count reaches).
pub fn ints(values: impl IntoIterator<Item = u64>) -> Values {
    Values::Int(
        values
            .into_iter()
            .map(|v| Some(i64::try_from(v).unwrap_or(i64::MAX)))
            .collect(),
    )
}

/// Floats, all present.
pub fn floats(values: impl IntoIterator<Item = f64>) -> Values {
    Values::Float(values.into_iter().map(Some).collect())
}

/// Text, all present.
pub fn texts<S: Into<String>>(values: impl IntoIterator<Item = S>) -> Values {
    Values::Text(values.into_iter().map(|s| Some(s.into())).collect())
}

/// The output formats a command can write beside its canonical CSV/JSON files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Formats {
    /// Also write `.parquet` files.
    pub parquet: bool,
}

impl Formats {
    /// Parses a comma-separated list such as `csv,parquet`. `csv` (with JSON) is always
    /// written because paraverse's own commands read it back; naming it is allowed.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut formats = Formats::default();
        for f in list.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            match f.to_ascii_lowercase().as_str() {
                "csv" | "json" => {}
                "parquet" => formats.parquet = true,
                other => {
                    return Err(format!(
                        "unknown output format `{other}`: expected csv or parquet (comma-separated)"
                    ));
                }
            }
        }
        Ok(formats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    fn sample() -> Table {
        let mut t = Table::new();
        t.push("tick", ints([0, 1, 2]))
            .push(
                "xr_quality_ppm",
                Values::Int(vec![None, Some(999_000), Some(1_000_000)]),
            )
            .push("share", Values::Float(vec![Some(0.25), None, Some(1.0)]))
            .push(
                "zone",
                Values::Text(vec![Some("a,b".into()), Some("q\"x".into()), None]),
            )
            .push("ok", Values::Bool(vec![Some(true), None, Some(false)]))
            .meta("unit:share", "1");
        t
    }

    #[test]
    fn csv_has_empty_fields_for_nulls_and_quotes_text() {
        assert_eq!(
            sample().csv(),
            "tick,xr_quality_ppm,share,zone,ok\n\
             0,,0.25,\"a,b\",true\n\
             1,999000,,\"q\"\"x\",\n\
             2,1000000,1,,false\n"
        );
    }

    #[test]
    fn parquet_reads_back_with_types_nulls_and_metadata() {
        let bytes = sample().parquet().unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
        let file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut &file, &bytes).unwrap();
        let reader = SerializedFileReader::new(file).unwrap();
        let meta = reader.metadata().file_metadata();
        assert_eq!(meta.num_rows(), 3);
        let kv = meta.key_value_metadata().unwrap();
        assert!(kv.iter().any(|k| k.key == "unit:share"));
        let rows: Vec<Vec<Field>> = reader
            .get_row_iter(None)
            .unwrap()
            .map(|r| {
                r.unwrap()
                    .get_column_iter()
                    .map(|(_, f)| f.clone())
                    .collect()
            })
            .collect();
        assert_eq!(rows[0][1], Field::Null);
        assert_eq!(rows[1][1], Field::Long(999_000));
        assert_eq!(rows[1][2], Field::Null);
        assert_eq!(rows[0][3], Field::Str("a,b".into()));
        assert_eq!(rows[2][4], Field::Bool(false));
        assert_eq!(rows[2][2], Field::Double(1.0));
    }

    #[test]
    fn formats_parse() {
        assert!(Formats::parse("csv,parquet").unwrap().parquet);
        assert!(!Formats::parse("csv").unwrap().parquet);
        assert!(Formats::parse("CSV, Parquet").unwrap().parquet);
        assert!(Formats::parse("xlsx").unwrap_err().contains("xlsx"));
    }

    #[test]
    #[should_panic(expected = "column b has 1 rows")]
    fn mismatched_columns_are_a_bug() {
        Table::new().push("a", ints([1, 2])).push("b", ints([1]));
    }
}
