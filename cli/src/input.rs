//! Input files: NDJSON or CSV, plain or gzip (by magic bytes), `-` for stdin; each record turned
//! into the engine's `EventInput` (see README.md, "Backfill CLI", for the accepted shape).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

use batchwire::core::EventInput;
use batchwire_ingest::build;
pub use batchwire_ingest::parse_ndjson;
use serde_json::{Map, Value};

use crate::mapping::{CellKind, Mapping, Target};

/// One input record: where it is, and its event or why it is not one.
pub struct Record {
    pub file: usize,
    pub line: u64,
    pub event: Result<Option<EventInput>, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

/// Opens `path` (`-`: stdin), decompressing gzip by its magic bytes.
pub fn open(path: &str) -> io::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if path == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path)?)
    };
    let mut buf = BufReader::with_capacity(1 << 16, raw);
    let head = buf.fill_buf()?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(buf),
        )))
    } else {
        Ok(Box::new(buf))
    }
}

/// The format of `path`: `.csv` / `.csv.gz` is CSV, anything else NDJSON, unless forced.
pub fn format_of(path: &str, forced: Option<Format>) -> Format {
    if let Some(f) = forced {
        return f;
    }
    let p = path
        .strip_suffix(".gz")
        .unwrap_or(path)
        .to_ascii_lowercase();
    if p.ends_with(".csv") {
        Format::Csv
    } else {
        Format::Ndjson
    }
}

/// Records of every input in order, read lazily.
pub struct Records<'a> {
    paths: &'a [String],
    forced: Option<Format>,
    mapping: &'a Mapping,
    index: usize,
    current: Option<Reader>,
}

enum Reader {
    Ndjson {
        lines: Box<dyn BufRead>,
        line: u64,
        buf: Vec<u8>,
    },
    Csv {
        rdr: csv::Reader<Box<dyn BufRead>>,
        targets: Vec<Result<Target, String>>,
        record: csv::ByteRecord,
    },
}

impl<'a> Records<'a> {
    pub fn new(paths: &'a [String], forced: Option<Format>, mapping: &'a Mapping) -> Self {
        Records {
            paths,
            forced,
            mapping,
            index: 0,
            current: None,
        }
    }

    fn open_current(&mut self) -> Result<Reader, String> {
        let path = &self.paths[self.index];
        let input = open(path).map_err(|e| format!("{path}: {e}"))?;
        Ok(match format_of(path, self.forced) {
            Format::Ndjson => Reader::Ndjson {
                lines: input,
                line: 0,
                buf: Vec::new(),
            },
            Format::Csv => {
                let mut rdr = csv::ReaderBuilder::new().flexible(false).from_reader(input);
                let headers = rdr
                    .headers()
                    .map_err(|e| format!("{path}: CSV header: {e}"))?
                    .clone();
                let targets = headers
                    .iter()
                    .map(|h| match &self.mapping.columns {
                        Some(cols) => cols
                            .get(h)
                            .cloned()
                            .ok_or_else(|| format!("column {h:?} is not in the mapping's columns")),
                        None => Mapping::default_target(h),
                    })
                    .collect::<Vec<_>>();
                if let Some(Err(e)) = targets.iter().find(|t| t.is_err()) {
                    return Err(format!("{path}: {e}"));
                }
                Reader::Csv {
                    rdr,
                    targets,
                    record: csv::ByteRecord::new(),
                }
            }
        })
    }
}

impl Iterator for Records<'_> {
    /// A record, or an error that stops reading (a file that cannot be opened or read).
    type Item = Result<Record, String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.index >= self.paths.len() {
                return None;
            }
            if self.current.is_none() {
                match self.open_current() {
                    Ok(r) => self.current = Some(r),
                    Err(e) => {
                        self.index = self.paths.len();
                        return Some(Err(e));
                    }
                }
            }
            let file = self.index;
            let path = &self.paths[file];
            let mapping = self.mapping;
            match self.current.as_mut() {
                Some(Reader::Ndjson { lines, line, buf }) => {
                    buf.clear();
                    match lines.read_until(b'\n', buf) {
                        Ok(0) => {}
                        Ok(_) => {
                            *line += 1;
                            let text = trim_line(buf);
                            if text.iter().all(u8::is_ascii_whitespace) {
                                continue;
                            }
                            let event = parse_ndjson(text, mapping);
                            return Some(Ok(Record {
                                file,
                                line: *line,
                                event,
                            }));
                        }
                        Err(e) => {
                            self.index = self.paths.len();
                            return Some(Err(format!("{path}: {e}")));
                        }
                    }
                }
                Some(Reader::Csv {
                    rdr,
                    targets,
                    record,
                }) => match rdr.read_byte_record(record) {
                    Ok(true) => {
                        let line = record.position().map_or(0, |p| p.line());
                        let event = parse_csv(record, targets, mapping);
                        return Some(Ok(Record { file, line, event }));
                    }
                    Ok(false) => {}
                    Err(e) => {
                        // A malformed row is that row's error; reading goes on.
                        let line = e.position().map_or(0, |p| p.line());
                        if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                            self.index = self.paths.len();
                            return Some(Err(format!("{path}: {e}")));
                        }
                        return Some(Ok(Record {
                            file,
                            line,
                            event: Err(format!("CSV: {e}")),
                        }));
                    }
                },
                None => {}
            }
            self.current = None;
            self.index += 1;
        }
    }
}

fn trim_line(buf: &[u8]) -> &[u8] {
    let mut t = buf;
    while let [rest @ .., b'\n' | b'\r'] = t {
        t = rest;
    }
    t
}

fn parse_csv(
    record: &csv::ByteRecord,
    targets: &[Result<Target, String>],
    mapping: &Mapping,
) -> Result<Option<EventInput>, String> {
    let mut obj = Map::new();
    let mut content = Vec::new();
    for (cell, target) in record.iter().zip(targets) {
        content.extend_from_slice(cell);
        content.push(0x1f);
        let Ok(target) = target else { continue };
        if cell.is_empty() {
            continue;
        }
        let text = std::str::from_utf8(cell).map_err(|_| "a cell is not UTF-8".to_string())?;
        match target {
            Target::Field(f) => {
                let value = if *f == "timestamp" && text.bytes().all(|b| b.is_ascii_digit()) {
                    Value::from(text.parse::<u64>().map_err(|e| format!("timestamp: {e}"))?)
                } else {
                    Value::from(text)
                };
                obj.insert(f.to_string(), value);
            }
            Target::Member { object, name, kind } => {
                let value = match kind {
                    CellKind::String => Value::from(text),
                    CellKind::Number => serde_json::from_str::<serde_json::Number>(text.trim())
                        .map(Value::Number)
                        .map_err(|_| format!("{object}.{name}: {text:?} is not a number"))?,
                    CellKind::Bool => match text.trim() {
                        "true" | "TRUE" | "True" | "1" => Value::Bool(true),
                        "false" | "FALSE" | "False" | "0" => Value::Bool(false),
                        _ => return Err(format!("{object}.{name}: {text:?} is not a boolean")),
                    },
                    CellKind::Json => serde_json::from_str(text)
                        .map_err(|e| format!("{object}.{name}: not JSON: {e}"))?,
                };
                let slot = obj
                    .entry(object.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = slot {
                    m.insert(name.clone(), value);
                }
            }
        }
    }
    build(obj, &content, mapping)
}
