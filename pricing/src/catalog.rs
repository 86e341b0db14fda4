//! Where the pricing service reads products: a trait (tests inject a map,
//! or a catalog that stalls or fails) and its SQLite implementation over
//! the orders database, opened read-only.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

/// What the catalog knows of one product.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CatalogProduct {
    pub sku: String,
    pub name: String,
    pub unit_price_minor: i64,
    pub currency: String,
    pub active: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The catalog cannot be read right now; a retry may succeed. The
    /// message is for logs.
    #[error("catalog unavailable: {0}")]
    Unavailable(String),
}

/// Looks products up by id. Blocking: callers run it on the blocking pool.
pub trait Catalog: Send + Sync + 'static {
    /// One entry per id, in order; `None` for an unknown product.
    fn lookup(&self, ids: &[&str]) -> Result<Vec<Option<CatalogProduct>>, CatalogError>;
}

impl Catalog for HashMap<String, CatalogProduct> {
    fn lookup(&self, ids: &[&str]) -> Result<Vec<Option<CatalogProduct>>, CatalogError> {
        Ok(ids.iter().map(|id| self.get(*id).cloned()).collect())
    }
}

/// The `products` table of the orders database, read-only, through a
/// small pool of connections (a rusqlite `Connection` is not `Sync`).
pub struct SqliteCatalog {
    pool: Vec<Mutex<rusqlite::Connection>>,
    next: std::sync::atomic::AtomicUsize,
}

impl SqliteCatalog {
    /// Opens `connections` read-only connections to the database at `path`
    /// (which must exist: the orders server creates it).
    pub fn open(path: &Path, connections: usize) -> Result<SqliteCatalog, CatalogError> {
        let mut pool = Vec::new();
        for _ in 0..connections.max(1) {
            let c = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| CatalogError::Unavailable(format!("opening {}: {e}", path.display())))?;
            c.busy_timeout(std::time::Duration::from_secs(2))
                .map_err(|e| CatalogError::Unavailable(e.to_string()))?;
            pool.push(Mutex::new(c));
        }
        Ok(SqliteCatalog {
            pool,
            next: std::sync::atomic::AtomicUsize::new(0),
        })
    }
}

impl Catalog for SqliteCatalog {
    fn lookup(&self, ids: &[&str]) -> Result<Vec<Option<CatalogProduct>>, CatalogError> {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.pool.len();
        let conn = self.pool[i].lock().unwrap_or_else(|p| p.into_inner());
        let unavailable = |e: rusqlite::Error| CatalogError::Unavailable(e.to_string());
        let mut stmt = conn
            .prepare_cached(
                "SELECT sku, name, price_minor, currency, active FROM products WHERE id = ?1",
            )
            .map_err(unavailable)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let row = stmt.query_row([id], |r| {
                Ok(CatalogProduct {
                    sku: r.get(0)?,
                    name: r.get(1)?,
                    unit_price_minor: r.get(2)?,
                    currency: r.get(3)?,
                    active: r.get(4)?,
                })
            });
            match row {
                Ok(p) => out.push(Some(p)),
                Err(rusqlite::Error::QueryReturnedNoRows) => out.push(None),
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(out)
    }
}
