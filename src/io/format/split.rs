//! Cutting a CSV or NDJSON file into pieces of whole records, as raw bytes, without
//! decoding them.

use std::fs::File;
use std::io::Read;

/// Whole records of a CSV or NDJSON file, as raw bytes.
pub(crate) struct Cut {
    pub(super) bytes: Vec<u8>,
    /// The records.
    pub(super) rows: usize,
    /// The line its first record starts on (1-based).
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
    /// Where the scan of `buf[..scanned]` is.
    scan: Scan,
    eof: bool,
    /// The line of the next piece's first record.
    next_line: usize,
}

/// Where a scan for the ends of records is.
#[derive(Default)]
struct Scan {
    /// Inside quotes.
    quoted: bool,
    /// Records ended, and lines begun, since the scan began.
    records: usize,
    lines: usize,
    /// Whether the bytes scanned hold a record not yet ended (non-blank bytes).
    open: bool,
}

impl Scan {
    /// Scans `bytes` on until the `n`th record ends or the bytes do; the bytes scanned.
    fn run(&mut self, bytes: &[u8], csv: bool, n: usize) -> usize {
        let mut scanned = 0;
        while self.records < n {
            let rest = &bytes[scanned..];
            let hit = if csv {
                memchr::memchr2(b'"', b'\n', rest)
            } else {
                memchr::memchr(b'\n', rest)
            };
            let Some(i) = hit else {
                self.open |= rest.iter().any(|b| !b.is_ascii_whitespace());
                return bytes.len();
            };
            let b = rest[i];
            self.open |= rest[..i].iter().any(|b| !b.is_ascii_whitespace()) || b == b'"';
            scanned += i + 1;
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
        scanned
    }
}

/// One record of a piece: its bytes in the piece (with the blank lines before it) and
/// the line it starts on, counted from the piece's first (0).
pub(super) struct Record {
    pub(super) bytes: std::ops::Range<usize>,
    pub(super) line: usize,
}

/// The records of `bytes`, whole records of a CSV (`csv`) or NDJSON file, in order.
pub(super) fn records(bytes: &[u8], csv: bool) -> Vec<Record> {
    let (mut records, mut at, mut line) = (Vec::new(), 0, 0);
    while at < bytes.len() {
        let mut scan = Scan::default();
        let end = at + scan.run(&bytes[at..], csv, 1);
        let blank = bytes[at..end].iter().take_while(|b| b.is_ascii_whitespace());
        let before = blank.filter(|&&b| b == b'\n').count();
        if scan.records == 1 || scan.open {
            records.push(Record {
                bytes: at..end,
                line: line + before,
            });
        }
        line += scan.lines;
        at = end;
    }
    records
}

impl Splitter {
    pub(super) fn new(file: File, csv: bool) -> Splitter {
        Splitter {
            file,
            csv,
            buf: Vec::new(),
            scanned: 0,
            scan: Scan::default(),
            eof: false,
            next_line: 1,
        }
    }

    /// The next piece of at most `n` records: its bytes, records, first record and first
    /// line; `None` at the end.
    pub(super) fn next(&mut self, n: usize) -> std::io::Result<Option<Cut>> {
        loop {
            // Scan on to the end of the `n`th record, or of the bytes read.
            self.scanned += self.scan.run(&self.buf[self.scanned..], self.csv, n);
            if self.scan.records == n || (self.eof && !self.buf.is_empty()) {
                let rows = self.scan.records + usize::from(self.scan.records < n && self.scan.open);
                let piece: Vec<u8> = self.buf.drain(..self.scanned).collect();
                let line = self.next_line;
                self.next_line += self.scan.lines;
                self.scanned = 0;
                self.scan = Scan {
                    quoted: self.scan.quoted,
                    ..Scan::default()
                };
                if rows == 0 {
                    continue;
                }
                return Ok(Some(Cut {
                    bytes: piece,
                    rows,
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
