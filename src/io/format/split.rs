//! Cutting a CSV or NDJSON file into pieces of whole records, as raw bytes, without
//! decoding them.

use std::fs::File;
use std::io::Read;

/// Whole records of a CSV or NDJSON file, as raw bytes.
pub(crate) struct Cut {
    pub(super) bytes: Vec<u8>,
    /// The records.
    pub(super) rows: usize,
    /// The first record's index among the file's records (the CSV header is 0) and the
    /// line it starts on (1-based).
    pub(super) record: usize,
    pub(super) line: usize,
}

/// Cuts a CSV or NDJSON file into pieces of whole records, as raw bytes: a record ends
/// at a line break (outside quotes, for CSV); blank lines hold no record.
pub(super) struct Splitter {
    file: File,
    csv: bool,
    /// Bytes read and not yet cut off; `buf[..scanned]` is scanned.
    buf: Vec<u8>,
    scanned: usize,
    /// Inside quotes at `scanned`.
    quoted: bool,
    /// Records ended, and lines begun, in `buf[..scanned]`.
    records: usize,
    lines: usize,
    /// Whether `buf[..scanned]` holds a record not yet ended (non-blank bytes).
    open: bool,
    eof: bool,
    /// The index among the file's records, and the line, of the next piece's first.
    pub(super) next_record: usize,
    pub(super) next_line: usize,
}

impl Splitter {
    pub(super) fn new(file: File, csv: bool) -> Splitter {
        Splitter {
            file,
            csv,
            buf: Vec::new(),
            scanned: 0,
            quoted: false,
            records: 0,
            lines: 0,
            open: false,
            eof: false,
            next_record: 0,
            next_line: 1,
        }
    }

    /// The next piece of at most `n` records: its bytes, records, first record and first
    /// line; `None` at the end.
    pub(super) fn next(&mut self, n: usize) -> std::io::Result<Option<Cut>> {
        loop {
            // Scan on to the end of the `n`th record, or of the bytes read.
            while self.records < n {
                let rest = &self.buf[self.scanned..];
                let hit = if self.csv {
                    memchr::memchr2(b'"', b'\n', rest)
                } else {
                    memchr::memchr(b'\n', rest)
                };
                let Some(i) = hit else {
                    self.open |= rest.iter().any(|b| !b.is_ascii_whitespace());
                    self.scanned = self.buf.len();
                    break;
                };
                let b = rest[i];
                self.open |= rest[..i].iter().any(|b| !b.is_ascii_whitespace()) || b == b'"';
                self.scanned += i + 1;
                if b == b'"' {
                    self.quoted = !self.quoted;
                } else {
                    self.lines += 1;
                    if !self.quoted && self.open {
                        self.records += 1;
                        self.open = false;
                    }
                }
            }
            if self.records == n || (self.eof && !self.buf.is_empty()) {
                let rows = self.records + usize::from(self.records < n && self.open);
                let piece: Vec<u8> = self.buf.drain(..self.scanned).collect();
                let (record, line) = (self.next_record, self.next_line);
                self.next_record += rows;
                self.next_line += self.lines;
                self.scanned = 0;
                self.records = 0;
                self.lines = 0;
                self.open = false;
                if rows == 0 {
                    continue;
                }
                return Ok(Some(Cut {
                    bytes: piece,
                    rows,
                    record,
                    line,
                }));
            }
            if self.eof {
                return Ok(None);
            }
            // Read on: a MiB at a time.
            let len = self.buf.len();
            self.buf.resize(len + (1 << 20), 0);
            let read = loop {
                match self.file.read(&mut self.buf[len..]) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            let read = read.inspect_err(|_| self.buf.truncate(len))?;
            self.buf.truncate(len + read);
            self.eof = read == 0;
        }
    }
}
