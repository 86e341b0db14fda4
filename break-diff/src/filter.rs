//! Path filters: limit a report to operations whose path matches an
//! include pattern and no exclude pattern. Patterns are globs where `*`
//! matches within one path segment and `**` across segments, so
//! `/v1/orders/*` is one level below `/v1/orders` and `/internal/**` is
//! everything under `/internal`.
//!
//! Findings that belong to no operation (servers, security schemes) are
//! always kept: no path filter can speak for them.

use crate::Finding;

/// Include and exclude globs over operation paths.
#[derive(Debug, Clone, Default)]
pub struct PathFilter {
    /// When non-empty, a path must match one of these.
    pub include: Vec<String>,
    /// A path matching one of these is dropped.
    pub exclude: Vec<String>,
}

impl PathFilter {
    /// Whether the finding survives the filter.
    pub fn keeps(&self, f: &Finding) -> bool {
        let Some(op) = &f.operation else { return true };
        let path = op.split_once(' ').map_or(op.as_str(), |(_, p)| p);
        let included = self.include.is_empty() || self.include.iter().any(|g| glob(g, path));
        included && !self.exclude.iter().any(|g| glob(g, path))
    }
}

/// Matches `text` against `pattern` (`*` within a segment, `**` across).
/// Iterative over the pattern with backtracking on the text, so the cost
/// stays polynomial whatever the pattern.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    // memo[i][j]: whether p[i..] matches t[j..]; filled from the end.
    let mut memo = vec![vec![false; t.len() + 1]; p.len() + 1];
    memo[p.len()][t.len()] = true;
    for i in (0..p.len()).rev() {
        let double = p[i] == b'*' && p.get(i + 1) == Some(&b'*');
        for j in (0..=t.len()).rev() {
            memo[i][j] = if double {
                // `**` consumes any run of bytes, slashes included.
                memo[i + 2][j] || (j < t.len() && memo[i][j + 1])
            } else if p[i] == b'*' {
                // A single `*` never crosses a `/`. The second byte of a
                // `**` pair is reached only through the first.
                memo[i + 1][j] || (j < t.len() && t[j] != b'/' && memo[i][j + 1])
            } else {
                j < t.len() && p[i] == t[j] && memo[i + 1][j + 1]
            };
        }
    }
    memo[0][0]
}
