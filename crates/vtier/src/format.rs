//! The portable namespace file: JSON Lines, streamed in both directions.
//!
//! ```text
//! {"format":"vtier-namespace","version":1,"namespace":"docs","dimension":3,"metric":"cosine","index":"auto","filterable":{"lang":"keyword"},"count":2,"embedding_encoding":"f32le-base64"}
//! {"key":"a","embedding":"zczMPc3MTD6amZk+","metadata":{"lang":"en"}}
//! {"key":"b","embedding":"AACAPwAAAAAAAAAA","metadata":{}}
//! {"end":{"count":2,"sha256":"9f2c…"}}
//! ```
//!
//! - Line 1 is the header: format name and version, the namespace's name and configuration,
//!   and how many records it held when the export started.
//! - Then one line per record, in the order the backend's scan returned them (ascending key).
//!   The embedding is its little-endian `f32` bytes in standard base64, so it round-trips
//!   bit-exactly; metadata is the JSON object as stored.
//! - The last line is the trailer: the number of record lines and the SHA-256 (hex) of every
//!   byte before the trailer (header and record lines with their `\n`). A file without a
//!   trailer is truncated; one whose hash or count disagrees is corrupt.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use vector_tier::{FieldType, IndexKind, Metadata, Metric, NamespaceConfig, Record};

use crate::error::{Error, Result};

/// The `format` field of the header.
pub const FORMAT_NAME: &str = "vtier-namespace";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The only embedding encoding of version 1.
pub const EMBEDDING_ENCODING: &str = "f32le-base64";

/// The first line of a namespace file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Header {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// The namespace the records came from.
    pub namespace: String,
    /// Embedding length.
    pub dimension: usize,
    /// Similarity metric.
    pub metric: Metric,
    /// Index kind.
    pub index: IndexKind,
    /// Filterable metadata fields and their types.
    #[serde(default)]
    pub filterable: BTreeMap<String, FieldType>,
    /// How many records the namespace held when the export started (the trailer has the
    /// number actually written).
    pub count: u64,
    /// [`EMBEDDING_ENCODING`].
    pub embedding_encoding: String,
    /// The backend the export came from (`"redis"`, ...), for information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_backend: Option<String>,
}

impl Header {
    /// The header of a file holding `namespace` with `config`.
    pub fn new(
        namespace: &str,
        config: &NamespaceConfig,
        count: u64,
        source_backend: Option<&str>,
    ) -> Self {
        Self {
            format: FORMAT_NAME.to_owned(),
            version: FORMAT_VERSION,
            namespace: namespace.to_owned(),
            dimension: config.dimension,
            metric: config.metric,
            index: config.index,
            filterable: config.filterable.clone(),
            count,
            embedding_encoding: EMBEDDING_ENCODING.to_owned(),
            source_backend: source_backend.map(str::to_owned),
        }
    }

    /// The namespace configuration the header describes.
    pub fn config(&self) -> NamespaceConfig {
        let mut config = NamespaceConfig::new(self.dimension)
            .with_metric(self.metric)
            .with_index(self.index);
        for (name, ty) in &self.filterable {
            config = config.with_field(name.clone(), *ty);
        }
        config
    }
}

/// The last line of a namespace file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Trailer {
    /// Number of record lines.
    pub count: u64,
    /// Lower-case hex SHA-256 of every byte before the trailer line.
    pub sha256: String,
}

#[derive(Serialize, Deserialize)]
struct TrailerLine {
    end: Trailer,
}

/// A record line as written: `embedding` is base64.
#[derive(Serialize)]
struct RecordOut<'a> {
    key: &'a str,
    embedding: &'a str,
    metadata: &'a Metadata,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordIn {
    key: String,
    embedding: String,
    #[serde(default)]
    metadata: Metadata,
}

/// The base64 text of an embedding's little-endian `f32` bytes.
pub fn encode_embedding(embedding: &[f32]) -> String {
    let bytes: Vec<u8> = embedding.iter().flat_map(|x| x.to_le_bytes()).collect();
    BASE64.encode(bytes)
}

/// The embedding of [`encode_embedding`]'s text, checking its length against `dimension`.
pub fn decode_embedding(text: &str, dimension: usize) -> std::result::Result<Vec<f32>, String> {
    let bytes = BASE64
        .decode(text)
        .map_err(|e| format!("embedding is not valid base64: {e}"))?;
    if bytes.len() != dimension * 4 {
        return Err(format!(
            "embedding has {} bytes, expected {} ({} float32 values)",
            bytes.len(),
            dimension * 4,
            dimension
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Writes a namespace file line by line; memory use is one record.
#[derive(Debug)]
pub struct Writer<W: Write> {
    out: W,
    hasher: Sha256,
    count: u64,
    line: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// Writes the header line.
    ///
    /// # Errors
    /// Write errors.
    pub fn new(out: W, header: &Header) -> std::io::Result<Self> {
        let mut w = Self {
            out,
            hasher: Sha256::new(),
            count: 0,
            line: Vec::with_capacity(4096),
        };
        serde_json::to_writer(&mut w.line, header)?;
        w.emit()?;
        Ok(w)
    }

    fn emit(&mut self) -> std::io::Result<()> {
        self.line.push(b'\n');
        self.hasher.update(&self.line);
        self.out.write_all(&self.line)?;
        self.line.clear();
        Ok(())
    }

    /// Writes one record line.
    ///
    /// # Errors
    /// Write errors.
    pub fn write_record(&mut self, record: &Record) -> std::io::Result<()> {
        let embedding = encode_embedding(&record.embedding);
        let line = RecordOut {
            key: &record.key,
            embedding: &embedding,
            metadata: &record.metadata,
        };
        serde_json::to_writer(&mut self.line, &line)?;
        self.emit()?;
        self.count += 1;
        Ok(())
    }

    /// Writes the trailer, flushes, and returns the output and the trailer.
    ///
    /// # Errors
    /// Write errors.
    pub fn finish(mut self) -> std::io::Result<(W, Trailer)> {
        let trailer = Trailer {
            count: self.count,
            sha256: hex(&self.hasher.finalize_reset()),
        };
        serde_json::to_writer(
            &mut self.line,
            &TrailerLine {
                end: trailer.clone(),
            },
        )?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.out.flush()?;
        Ok((self.out, trailer))
    }
}

/// Reads a namespace file line by line, checking each record against the header's
/// configuration and, at the end, the trailer's count and checksum.
#[derive(Debug)]
pub struct Reader<R: BufRead> {
    input: R,
    path: String,
    header: Header,
    config: NamespaceConfig,
    hasher: Sha256,
    line: Vec<u8>,
    line_no: u64,
    count: u64,
    bytes: u64,
    last_key: Option<String>,
    keys_ascending: bool,
    trailer: Option<Trailer>,
}

impl<R: BufRead> Reader<R> {
    /// Reads and checks the header. `path` is used in error messages.
    ///
    /// # Errors
    /// [`Error::Format`] when the first line is not a supported header; [`Error::Io`].
    pub fn new(mut input: R, path: &str) -> Result<Self> {
        let mut line = Vec::new();
        let fail = |message: String| Error::Format {
            path: path.to_owned(),
            message,
        };
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|error| Error::Io {
                path: path.to_owned(),
                error,
            })?;
        if n == 0 {
            return Err(fail("empty file, not a vtier namespace file".into()));
        }
        let text = line
            .strip_suffix(b"\n")
            .ok_or_else(|| fail("truncated file: the header line is incomplete".into()))?;
        let value: serde_json::Value = serde_json::from_slice(text).map_err(|e| {
            fail(format!(
                "line 1: not a vtier namespace file (header is not JSON: {e})"
            ))
        })?;
        if value.get("format").and_then(|v| v.as_str()) != Some(FORMAT_NAME) {
            return Err(fail(format!(
                "line 1: not a vtier namespace file (no \"format\":\"{FORMAT_NAME}\" header)"
            )));
        }
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(FORMAT_VERSION)) {
            return Err(fail(format!(
                "line 1: format version {} is not supported by this vtier (it reads version {FORMAT_VERSION})",
                version.map_or_else(|| "(missing)".to_owned(), |v| v.to_string())
            )));
        }
        let header: Header = serde_json::from_value(value)
            .map_err(|e| fail(format!("line 1: invalid header: {e}")))?;
        if header.embedding_encoding != EMBEDDING_ENCODING {
            return Err(fail(format!(
                "line 1: unknown embedding encoding {:?}",
                header.embedding_encoding
            )));
        }
        let config = header.config();
        vector_tier::validate::config(&config, &vector_tier::Capabilities::full())
            .map_err(|e| fail(format!("line 1: invalid namespace configuration: {e}")))?;
        let mut hasher = Sha256::new();
        hasher.update(&line);
        Ok(Self {
            input,
            path: path.to_owned(),
            header,
            config,
            hasher,
            bytes: line.len() as u64,
            line,
            line_no: 1,
            count: 0,
            last_key: None,
            keys_ascending: true,
            trailer: None,
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// True while every key so far was greater than the one before (byte order): then no key
    /// repeats and batches may be written concurrently.
    pub fn keys_ascending(&self) -> bool {
        self.keys_ascending
    }

    /// The trailer, once [`Reader::next_record`] has returned `None`.
    pub fn trailer(&self) -> Option<&Trailer> {
        self.trailer.as_ref()
    }

    fn fail(&self, message: String) -> Error {
        Error::Format {
            path: self.path.clone(),
            message,
        }
    }

    /// The next record, or `None` after the trailer was read and verified.
    ///
    /// # Errors
    /// [`Error::Format`] for a malformed or invalid record, a missing trailer (truncated
    /// file), a count or checksum that disagrees, or data after the trailer.
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        if self.trailer.is_some() {
            return Ok(None);
        }
        self.line.clear();
        let n = self
            .input
            .read_until(b'\n', &mut self.line)
            .map_err(|error| Error::Io {
                path: self.path.clone(),
                error,
            })?;
        self.bytes += n as u64;
        self.line_no += 1;
        let line_no = self.line_no;
        if n == 0 {
            return Err(self.fail(format!(
                "truncated file: it ends after {} records without the trailer line",
                self.count
            )));
        }
        let Some(text) = self.line.strip_suffix(b"\n") else {
            return Err(self.fail(format!("truncated file: line {line_no} is incomplete")));
        };
        if text.starts_with(b"{\"end\"") {
            let parsed: TrailerLine = serde_json::from_slice(text)
                .map_err(|e| self.fail(format!("line {line_no}: invalid trailer: {e}")))?;
            let actual = hex(&self.hasher.finalize_reset());
            if parsed.end.count != self.count {
                return Err(self.fail(format!(
                    "corrupt file: the trailer says {} records but the file holds {}",
                    parsed.end.count, self.count
                )));
            }
            if !parsed.end.sha256.eq_ignore_ascii_case(&actual) {
                return Err(self.fail(format!(
                    "corrupt file: checksum mismatch (trailer sha256 {}, content hashes to {actual})",
                    parsed.end.sha256
                )));
            }
            let mut rest = Vec::new();
            self.input
                .read_to_end(&mut rest)
                .map_err(|error| Error::Io {
                    path: self.path.clone(),
                    error,
                })?;
            if rest.iter().any(|b| !b.is_ascii_whitespace()) {
                return Err(self.fail(format!(
                    "corrupt file: data after the trailer (line {})",
                    line_no + 1
                )));
            }
            self.trailer = Some(parsed.end);
            return Ok(None);
        }
        self.hasher.update(&self.line);
        let text = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
        let raw: RecordIn = serde_json::from_slice(text)
            .map_err(|e| self.fail(format!("corrupt file: line {line_no}: invalid record: {e}")))?;
        let embedding = decode_embedding(&raw.embedding, self.header.dimension).map_err(|e| {
            self.fail(format!(
                "corrupt file: line {line_no} (key {:?}): {e}",
                raw.key
            ))
        })?;
        let record = Record::new(raw.key, embedding, raw.metadata);
        vector_tier::validate::record(&record, &self.config).map_err(|e| {
            self.fail(format!(
                "line {line_no} (key {:?}): invalid record: {e}",
                record.key
            ))
        })?;
        if self
            .last_key
            .as_ref()
            .is_some_and(|last| record.key.as_bytes() <= last.as_bytes())
        {
            self.keys_ascending = false;
        }
        self.last_key = Some(record.key.clone());
        self.count += 1;
        Ok(Some(record))
    }
}
