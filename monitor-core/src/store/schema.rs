//! The file's tables, its version and how a connection is opened.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// The schema version this build writes (`PRAGMA user_version`). A file of an older
/// version is migrated forward when opened for writing; a newer one is
/// refused, so an old binary never misreads a file a newer one wrote.
pub const SCHEMA_VERSION: i64 = 1;

/// `PRAGMA application_id`: "TMon", so another program's SQLite file is
/// recognised and refused rather than written into.
const APPLICATION_ID: i64 = 0x544d_6f6e;

/// Version 1 (`{counts}` stands for [`COUNT_COLUMNS_V1`]). Times are both unix numbers (for arithmetic) and ISO-8601 UTC
/// text (for people at the `sqlite3` prompt).
const SCHEMA_V1: &str = "
CREATE TABLE processes (
    process_id    INTEGER PRIMARY KEY,
    pid           INTEGER NOT NULL,
    program       TEXT    NOT NULL,
    started_at    TEXT    NOT NULL,
    last_flush_at TEXT
);
CREATE TABLE tool_hours (
    tool              TEXT    NOT NULL,
    hour_start        INTEGER NOT NULL,
    hour              TEXT    NOT NULL,
    process_id        INTEGER NOT NULL,
    {counts},
    PRIMARY KEY (tool, hour_start, process_id)
) WITHOUT ROWID;
CREATE INDEX tool_hours_by_hour ON tool_hours (hour_start);
CREATE TABLE tool_totals (
    tool              TEXT    PRIMARY KEY,
    {counts}
) WITHOUT ROWID;
";

/// The count columns of `tool_hours` and `tool_totals` (version 1).
const COUNT_COLUMNS_V1: &str = "executions INTEGER NOT NULL,
    successes         INTEGER NOT NULL,
    failures          INTEGER NOT NULL,
    statuses          TEXT    NOT NULL,
    categories        TEXT    NOT NULL,
    total_duration_ns INTEGER NOT NULL,
    min_duration_ns   INTEGER,
    max_duration_ns   INTEGER,
    input_bytes       INTEGER NOT NULL,
    output_bytes      INTEGER NOT NULL,
    last_execution_ns INTEGER,
    duration_buckets  TEXT    NOT NULL,
    latency_histogram TEXT    NOT NULL";

/// `errors` and `executions` (version 1): one row per recorded failure or
/// execution, with the same columns.
const RECORD_TABLE_V1: &str = "
CREATE TABLE {table} (
    process_id        INTEGER NOT NULL,
    execution_id      TEXT    NOT NULL,
    tool              TEXT    NOT NULL,
    started_ns        INTEGER NOT NULL,
    started_at        TEXT    NOT NULL,
    ended_at          TEXT,
    duration_ms       REAL,
    status            TEXT    NOT NULL,
    category          TEXT,
    message           TEXT,
    input_bytes       INTEGER NOT NULL,
    output_bytes      INTEGER NOT NULL,
    memory_mb         REAL,
    user_id           TEXT,
    session_id        TEXT,
    metadata          TEXT    NOT NULL,
    PRIMARY KEY (process_id, execution_id)
);
CREATE INDEX {table}_by_time ON {table} (started_ns);
";

/// Opens the file for writing (creating it and its directory), in WAL mode
/// with a busy timeout, and brings its schema to [`SCHEMA_VERSION`].
pub(crate) fn open_for_writing(
    path: &Path,
    busy: Duration,
    max_size_bytes: Option<u64>,
) -> Result<Connection, StoreError> {
    refuse_directory(path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(path, &e))?;
    }
    let conn = Connection::open(path).map_err(|e| StoreError::sqlite(path, e))?;
    configure(&conn, path, busy)?;
    // WAL lets readers and other processes' writers proceed while one
    // writes; NORMAL syncs at checkpoints, which WAL keeps consistent
    // across a crash (a power cut may lose the last commits, not the file).
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(|e| StoreError::sqlite(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Invalid {
            path: path.to_owned(),
            reason: format!("cannot use write-ahead logging (journal mode {mode})"),
        });
    }
    // After a checkpoint the log is cut back to 1 MiB, so an idle file is
    // not followed by a log of its busiest moment.
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 1048576")
        .map_err(|e| StoreError::sqlite(path, e))?;
    migrate(&conn, path)?;
    if let Some(bytes) = max_size_bytes {
        let page: i64 = conn
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .map_err(|e| StoreError::sqlite(path, e))?;
        let pages = i64::try_from(bytes).unwrap_or(i64::MAX) / page.max(512);
        conn.execute_batch(&format!("PRAGMA max_page_count = {}", pages.max(1)))
            .map_err(|e| StoreError::sqlite(path, e))?;
    }
    Ok(conn)
}

/// Opens an existing store to read it; `read_only` opens it without write
/// access (SQLite still needs the `-shm` file of a WAL database).
pub(crate) fn open_for_reading(
    path: &Path,
    read_only: bool,
    busy: Duration,
) -> Result<Connection, StoreError> {
    refuse_directory(path)?;
    if !path.exists() {
        return Err(StoreError::Invalid {
            path: path.to_owned(),
            reason: "no such file".to_owned(),
        });
    }
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|e| StoreError::sqlite(path, e))?;
    configure(&conn, path, busy)?;
    match version(&conn, path)? {
        0 => Err(StoreError::Invalid {
            path: path.to_owned(),
            reason: "not a tool-monitor store (no schema)".to_owned(),
        }),
        v if v > SCHEMA_VERSION => Err(StoreError::FutureSchema {
            path: path.to_owned(),
            found: v,
            supported: SCHEMA_VERSION,
        }),
        _ => Ok(conn),
    }
}

fn refuse_directory(path: &Path) -> Result<(), StoreError> {
    if path.is_dir() {
        return Err(StoreError::Invalid {
            path: path.to_owned(),
            reason: "is a directory".to_owned(),
        });
    }
    Ok(())
}

/// The busy timeout, and a first read that fails on a file that is not
/// SQLite at all (SQLite opens lazily) or belongs to another program.
fn configure(conn: &Connection, path: &Path, busy: Duration) -> Result<(), StoreError> {
    conn.busy_timeout(busy)
        .map_err(|e| StoreError::sqlite(path, e))?;
    let id: i64 = conn
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(|e| StoreError::sqlite(path, e))?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
        .map_err(|e| StoreError::sqlite(path, e))?;
    if id != APPLICATION_ID && (id != 0 || tables > 0) {
        return Err(StoreError::Invalid {
            path: path.to_owned(),
            reason: "an SQLite file of another program, not a tool-monitor store".to_owned(),
        });
    }
    Ok(())
}

fn version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| StoreError::sqlite(path, e))
}

/// Creates the schema, or migrates it one version at a time. Each step
/// only adds (tables, columns with defaults), so a file written by this
/// version opens in the next.
fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let found = version(conn, path)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::FutureSchema {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    // IMMEDIATE: two processes creating one new file do it one at a time;
    // the second sees the version the first wrote.
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| StoreError::sqlite(path, e))?;
    let step = || -> rusqlite::Result<()> {
        let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if found < 1 {
            conn.execute_batch(&SCHEMA_V1.replace("{counts}", COUNT_COLUMNS_V1))?;
            for table in ["errors", "executions"] {
                conn.execute_batch(&RECORD_TABLE_V1.replace("{table}", table))?;
            }
        }
        // Later versions: `if found < 2 { ALTER TABLE … ADD COLUMN … }`.
        conn.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
        ))
    };
    match step() {
        Ok(()) => conn
            .execute_batch("COMMIT")
            .map_err(|e| StoreError::sqlite(path, e)),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(StoreError::sqlite(path, e))
        }
    }
}
