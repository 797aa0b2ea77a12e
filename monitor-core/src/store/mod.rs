//! Stats that outlive the process: an embedded SQLite file that every
//! process of a machine writes its monitor's numbers into, and reads merged.
//!
//! `config` names the file, `schema` its tables, `counts` and `rows` turn
//! counters into rows and back, `writer` takes what changed since the
//! last flush and commits it, `read` answers with the monitor's own types.
//! None of it imports the monitor: `flush.rs`, above it, hands the writer
//! a snapshot.

use std::fmt;
use std::path::{Path, PathBuf};

mod config;
mod counts;
mod read;
mod rows;
mod schema;
mod writer;

pub use config::{STORE_PATH_ENV, StoreConfig, default_store_path};
pub(crate) use counts::Counts;
pub use read::{Coverage, HourRow, Pruned, Store, StoreInfo};
pub use schema::SCHEMA_VERSION;
pub(crate) use writer::{Persist, Snapshot, ToolSnapshot};

/// Why the store could not be opened, read or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The file or its directory could not be created or read.
    Io {
        /// The store's file.
        path: PathBuf,
        /// What the operating system said.
        message: String,
    },
    /// SQLite refused: the file is locked for longer than the busy
    /// timeout, full, read-only, corrupt or not a database.
    Sqlite {
        /// The store's file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file is not a store of this library (a directory, missing, or
    /// another program's database).
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file was written by a newer version of this library.
    FutureSchema {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest version this build reads.
        supported: i64,
    },
}

impl StoreError {
    pub(crate) fn io(path: &Path, error: &std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            message: error.to_string(),
        }
    }

    pub(crate) fn sqlite(path: &Path, source: rusqlite::Error) -> Self {
        Self::Sqlite {
            path: path.to_owned(),
            source,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, message } => write!(f, "{}: {message}", path.display()),
            Self::Sqlite { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Invalid { path, reason } => write!(f, "{}: {reason}", path.display()),
            Self::FutureSchema {
                path,
                found,
                supported,
            } => write!(
                f,
                "{}: written by a newer version (schema {found}; this build reads up to {supported})",
                path.display()
            ),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Sqlite { source, .. } => Some(source),
            _ => None,
        }
    }
}
