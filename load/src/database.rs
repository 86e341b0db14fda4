//! A second count of the orders, straight from the server's SQLite file.
//!
//! The storm engine counts orders through the API; this reads the file
//! the server wrote, read-only, so the evidence does not rest on the list
//! endpoint alone. It knows just enough of the schema to group orders by
//! customer and first-line quantity, which is how the storm tells its
//! logical orders apart. It never writes, and it is used only against a
//! storm's own fresh database.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

/// What the database file holds after a storm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabaseCount {
    /// Rows in `orders`.
    pub orders: u64,
    /// Logical orders (customer, first-line quantity) with more than one
    /// order.
    pub duplicated_keys: u64,
}

/// Counts orders in the SQLite file at `path`, opened read-only.
pub fn count(path: &Path) -> rusqlite::Result<DatabaseCount> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let orders: i64 = conn.query_row("SELECT COUNT(*) FROM orders", [], |r| r.get(0))?;
    let duplicated_keys: i64 = conn.query_row(
        "SELECT COUNT(*) FROM (
             SELECT o.customer_id, i.quantity
             FROM orders o JOIN order_items i ON i.order_seq = o.seq AND i.line = 1
             GROUP BY o.customer_id, i.quantity
             HAVING COUNT(*) > 1
         )",
        [],
        |r| r.get(0),
    )?;
    Ok(DatabaseCount {
        orders: u64::try_from(orders).unwrap_or(0),
        duplicated_keys: u64::try_from(duplicated_keys).unwrap_or(0),
    })
}
