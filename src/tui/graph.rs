//! The commit graph's lane column: one string per commit, like `git log
//! --graph` but one row per commit. Pure, so it is tested on its own.

use super::model::Commit;

/// Lanes for `commits` (newest first, each parent after its children).
pub fn lanes(commits: &[Commit]) -> Vec<String> {
    let mut lanes: Vec<Option<String>> = vec![];
    let mut out = Vec::with_capacity(commits.len());
    for c in commits {
        let col = match lanes
            .iter()
            .position(|l| l.as_deref() == Some(c.id.as_str()))
        {
            Some(i) => i,
            None => match lanes.iter().position(|l| l.is_none()) {
                Some(i) => i,
                None => {
                    lanes.push(None);
                    lanes.len() - 1
                }
            },
        };
        // Other lanes waiting for this commit join it here (a merge base).
        let joined: Vec<usize> = lanes
            .iter()
            .enumerate()
            .filter(|(i, l)| *i != col && l.as_deref() == Some(c.id.as_str()))
            .map(|(i, _)| i)
            .collect();
        let mut row = String::new();
        for (i, l) in lanes.iter().enumerate() {
            let ch = if i == col {
                if c.parents.len() > 1 {
                    '◆'
                } else {
                    '●'
                }
            } else if joined.contains(&i) {
                '┘'
            } else if l.is_some() {
                '│'
            } else {
                ' '
            };
            row.push(ch);
            row.push(' ');
        }
        for i in joined {
            lanes[i] = None;
        }
        lanes[col] = c.parents.first().cloned();
        for p in c.parents.iter().skip(1) {
            if lanes.iter().any(|l| l.as_deref() == Some(p.as_str())) {
                continue;
            }
            match lanes.iter().position(|l| l.is_none()) {
                Some(i) => lanes[i] = Some(p.clone()),
                None => lanes.push(Some(p.clone())),
            }
        }
        while lanes.last().is_some_and(|l| l.is_none()) {
            lanes.pop();
        }
        out.push(row.trim_end().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, parents: &[&str]) -> Commit {
        Commit {
            id: id.into(),
            parents: parents.iter().map(|s| s.to_string()).collect(),
            summary: String::new(),
            author: String::new(),
            time: 0,
        }
    }

    #[test]
    fn linear_history_is_one_lane() {
        let g = lanes(&[c("c", &["b"]), c("b", &["a"]), c("a", &[])]);
        assert_eq!(g, vec!["●", "●", "●"]);
    }

    #[test]
    fn a_merge_opens_a_lane_that_joins_at_the_base() {
        // m merges x (feature) into b; both come from a.
        let g = lanes(&[
            c("m", &["b", "x"]),
            c("x", &["a"]),
            c("b", &["a"]),
            c("a", &[]),
        ]);
        assert_eq!(g, vec!["◆", "│ ●", "● │", "● ┘"]);
    }
}
