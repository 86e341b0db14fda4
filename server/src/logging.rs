//! Log output. Text for a terminal is dropshot's `ConfigLogging`; JSON is
//! one object per line (`slog-json`) with `msg`, `level`, `ts` and the
//! record's fields, the same field names as the text lines
//! (`request_id` everywhere).

use std::io::Write;
use std::sync::Mutex;

use slog::{Drain, Logger};

/// A logger writing one JSON object per line to `out`, at `level` and
/// above.
pub fn json<W: Write + Send + 'static>(out: W, level: slog::Level) -> Logger {
    let drain = slog_json::Json::new(out)
        .add_default_keys()
        .set_newlines(true)
        .build()
        .fuse();
    // One line at a time: the mutex keeps concurrent records whole.
    let drain = Mutex::new(drain).fuse();
    let drain = slog::LevelFilter::new(drain, level).fuse();
    Logger::root(drain, slog::o!("name" => "orderflow"))
}
