//! Boots: which process took an idempotency claim, and whether it is still
//! alive, so that a claim left by a killed process does not answer 409 for
//! its whole lease.
//!
//! Every [`super::Store::open`] is a boot with a random id, registered with
//! the process's pid and start time. SQLite files are local (the project
//! does not support them over network file systems), so every process that
//! opens one runs on this host and `/proc` tells whether it is alive: a pid
//! that is gone, or reused by a process that started at another time, is a
//! dead boot. A clean close marks the boot closed too.
//!
//! Where liveness cannot be read (no `/proc`), a boot counts as alive and
//! the lease is the fallback, as before boots existed. The PostgreSQL
//! backend, whose replicas run on other hosts, needs heartbeats instead.

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

/// This process's start time, in clock ticks since the host booted
/// (`/proc/self/stat`, field 22), or `None` off Linux.
pub(super) fn own_start() -> Option<String> {
    start_of(std::process::id())
}

fn start_of(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces:
    // count fields from after its closing parenthesis (field 3 onwards).
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19).map(str::to_owned)
}

/// Is the process of a boot still running? `proc_start` is what it
/// registered; `None` (liveness unknown) counts as alive.
pub(super) fn process_alive(pid: i64, proc_start: Option<&str>) -> bool {
    let Some(registered) = proc_start else {
        return true;
    };
    if std::fs::metadata("/proc/self/stat").is_err() {
        return true;
    }
    match u32::try_from(pid).ok().and_then(start_of) {
        Some(now) => now == registered,
        None => false,
    }
}

/// Records this boot.
pub(super) fn register(conn: &Connection, boot_id: &str, now_sql: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO boots (boot_id, pid, proc_start, started_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        boot_id,
        i64::from(std::process::id()),
        own_start(),
        now_sql
    ])?;
    // Forget boots that are over and hold no claim any more.
    let mut over = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT boot_id, pid, proc_start, closed_at FROM boots b WHERE boot_id <> ?1 \
             AND NOT EXISTS (SELECT 1 FROM idempotency_keys k \
                             WHERE k.boot_id = b.boot_id AND k.state = 'in_flight')",
        )?;
        let rows = stmt.query_map([boot_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        for row in rows {
            let (id, pid, start, closed) = row?;
            if closed.is_some() || !process_alive(pid, start.as_deref()) {
                over.push(id);
            }
        }
    }
    for id in over {
        conn.execute("DELETE FROM boots WHERE boot_id = ?1", [id])?;
    }
    Ok(())
}

/// Marks this boot closed (a clean shutdown): its claims are dead.
pub(super) fn close(conn: &Connection, boot_id: &str, now_sql: &str) -> Result<()> {
    conn.execute(
        "UPDATE boots SET closed_at = ?2 WHERE boot_id = ?1",
        params![boot_id, now_sql],
    )?;
    Ok(())
}

/// Is the boot that took a claim gone? Unknown boot ids (a row pruned, or
/// never registered) are gone; claims from before boots existed (`None`)
/// are judged by their lease alone.
pub(super) fn claim_is_orphaned(conn: &Connection, boot_id: Option<&str>) -> Result<bool> {
    let Some(boot_id) = boot_id else {
        return Ok(false);
    };
    let found: Option<(i64, Option<String>, Option<String>)> = conn
        .prepare_cached("SELECT pid, proc_start, closed_at FROM boots WHERE boot_id = ?1")?
        .query_row([boot_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(match found {
        None => true,
        Some((_, _, Some(_closed))) => true,
        Some((pid, start, None)) => !process_alive(pid, start.as_deref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_one_is_not() {
        let start = own_start();
        assert!(start.is_some(), "/proc/self/stat is readable on Linux");
        assert!(process_alive(
            i64::from(std::process::id()),
            start.as_deref()
        ));
        // Same pid, another start time: the pid was reused.
        assert!(!process_alive(i64::from(std::process::id()), Some("1")));
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        let child_start = start_of(pid);
        child.wait().expect("wait");
        assert!(!process_alive(
            i64::from(pid),
            child_start.as_deref().or(Some("0"))
        ));
        // Unknown liveness counts as alive (the lease decides).
        assert!(process_alive(1 << 30, None));
    }
}
