//! A line diff (Myers' O(ND) algorithm) printed as a unified diff, as `diff -u` prints it.

/// Past this many differences the middle of the texts is shown as replaced whole (bounds the
/// O(D²) memory of the search).
const MAX_EDIT_DISTANCE: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    Delete,
    Insert,
}

/// The unified diff of `old` and `new` with `context` lines around changes; `""` when equal.
pub(super) fn unified(
    old_label: &str,
    new_label: &str,
    old: &str,
    new: &str,
    context: usize,
) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let ops = edit_script(&a, &b);
    if ops.iter().all(|op| *op == Op::Equal) {
        return String::new();
    }
    // (op, index in a, index in b) of every line of the script.
    let mut lines = Vec::with_capacity(ops.len());
    let (mut i, mut j) = (0, 0);
    for op in ops {
        lines.push((op, i, j));
        match op {
            Op::Equal => {
                i += 1;
                j += 1;
            }
            Op::Delete => i += 1,
            Op::Insert => j += 1,
        }
    }
    let mut out = format!("--- {old_label}\n+++ {new_label}\n");
    let changes: Vec<usize> = (0..lines.len())
        .filter(|&k| lines[k].0 != Op::Equal)
        .collect();
    let mut k = 0;
    while k < changes.len() {
        let start = changes[k].saturating_sub(context);
        let mut last = changes[k];
        while k + 1 < changes.len() && changes[k + 1] - last - 1 <= 2 * context {
            k += 1;
            last = changes[k];
        }
        let end = (last + context + 1).min(lines.len());
        let hunk = &lines[start..end];
        let old_len = hunk.iter().filter(|l| l.0 != Op::Insert).count();
        let new_len = hunk.iter().filter(|l| l.0 != Op::Delete).count();
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(hunk[0].1, old_len),
            range(hunk[0].2, new_len)
        ));
        for &(op, i, j) in hunk {
            let (sign, text) = match op {
                Op::Equal => (' ', a[i]),
                Op::Delete => ('-', a[i]),
                Op::Insert => ('+', b[j]),
            };
            out.push(sign);
            out.push_str(text);
            out.push('\n');
        }
        k += 1;
    }
    out
}

/// A hunk range: `start,len` (1-based), `start` alone for one line; an empty range names the
/// line before it.
fn range(first: usize, len: usize) -> String {
    match len {
        0 => format!("{first},0"),
        1 => format!("{}", first + 1),
        n => format!("{},{n}", first + 1),
    }
}

/// The shortest edit script from `a` to `b`, deletions before insertions in each change.
fn edit_script(a: &[&str], b: &[&str]) -> Vec<Op> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut ops = vec![Op::Equal; prefix];
    let middle = myers(ma, mb).unwrap_or_else(|| {
        let mut ops = vec![Op::Delete; ma.len()];
        ops.extend(vec![Op::Insert; mb.len()]);
        ops
    });
    ops.extend(group_changes(middle));
    ops.extend(vec![Op::Equal; suffix]);
    ops
}

/// Puts the deletions of every run of changes before its insertions.
fn group_changes(ops: Vec<Op>) -> Vec<Op> {
    let mut out = Vec::with_capacity(ops.len());
    let mut inserts = 0;
    for op in ops {
        match op {
            Op::Insert => inserts += 1,
            Op::Delete => out.push(Op::Delete),
            Op::Equal => {
                out.extend(std::iter::repeat_n(Op::Insert, inserts));
                inserts = 0;
                out.push(Op::Equal);
            }
        }
    }
    out.extend(std::iter::repeat_n(Op::Insert, inserts));
    out
}

/// Myers' greedy search; `None` past [`MAX_EDIT_DISTANCE`].
fn myers(a: &[&str], b: &[&str]) -> Option<Vec<Op>> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let max = (n + m) as usize;
    let offset = max as isize + 1;
    let mut v = vec![0isize; 2 * max + 3];
    // trace[d]: v[-(d+1) ..= d+1] at the start of round d.
    let mut trace: Vec<Vec<isize>> = Vec::new();
    let idx = |k: isize| (k + offset) as usize;
    for d in 0..=max as isize {
        if d as usize > MAX_EDIT_DISTANCE {
            return None;
        }
        trace.push(v[idx(-d - 1)..=idx(d + 1)].to_vec());
        let mut k = -d;
        while k <= d {
            let mut x = if k == -d || (k != d && v[idx(k - 1)] < v[idx(k + 1)]) {
                v[idx(k + 1)]
            } else {
                v[idx(k - 1)] + 1
            };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[idx(k)] = x;
            if x >= n && y >= m {
                return Some(backtrack(&trace, n, m));
            }
            k += 2;
        }
    }
    Some(backtrack(&trace, n, m))
}

fn backtrack(trace: &[Vec<isize>], n: isize, m: isize) -> Vec<Op> {
    let mut ops = Vec::new();
    let (mut x, mut y) = (n, m);
    for (d, v) in trace.iter().enumerate().rev() {
        let d = d as isize;
        // v holds k from -(d+1) at index 0.
        let at = |k: isize| v[(k + d + 1) as usize];
        let k = x - y;
        let prev_k = if k == -d || (k != d && at(k - 1) < at(k + 1)) {
            k + 1
        } else {
            k - 1
        };
        let prev_x = at(prev_k);
        let prev_y = prev_x - prev_k;
        while x > prev_x && y > prev_y {
            ops.push(Op::Equal);
            x -= 1;
            y -= 1;
        }
        if d > 0 {
            ops.push(if x == prev_x { Op::Insert } else { Op::Delete });
        }
        x = prev_x;
        y = prev_y;
    }
    ops.reverse();
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(a: &str, b: &str) -> String {
        unified("a", "b", a, b, 3)
    }

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(diff("x\ny\n", "x\ny\n"), "");
        assert_eq!(diff("", ""), "");
    }

    #[test]
    fn one_change_with_context() {
        let a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let b = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(
            diff(a, b),
            "--- a\n+++ b\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn from_and_to_nothing() {
        assert_eq!(
            diff("", "x\ny\n"),
            "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n"
        );
        assert_eq!(diff("x\n", ""), "--- a\n+++ b\n@@ -1 +0,0 @@\n-x\n");
    }

    #[test]
    fn separate_and_merged_hunks() {
        let text = |subst: &[(usize, &str)]| -> String {
            (1..=20)
                .map(|i| match subst.iter().find(|(n, _)| *n == i) {
                    Some((_, s)) => format!("{s}\n"),
                    None => format!("{i}\n"),
                })
                .collect()
        };
        let a = text(&[]);
        let far = text(&[(2, "two"), (19, "nineteen")]);
        let out = diff(&a, &far);
        assert_eq!(out.matches("@@ -").count(), 2, "{out}");
        assert!(out.contains("@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n"));
        assert!(out.contains("@@ -16,5 +16,5 @@\n 16\n 17\n 18\n-19\n+nineteen\n 20\n"));
        // changes six lines apart share a hunk
        let near = text(&[(2, "two"), (9, "nine")]);
        assert_eq!(diff(&a, &near).matches("@@ -").count(), 1);
    }

    #[test]
    fn insertion_and_deletion_in_the_middle() {
        let out = diff("a\nb\nc\nd\n", "a\nc\nx\nd\n");
        assert_eq!(out, "--- a\n+++ b\n@@ -1,4 +1,4 @@\n a\n-b\n c\n+x\n d\n");
        let out = diff("a\nb\n", "x\ny\n");
        assert_eq!(out, "--- a\n+++ b\n@@ -1,2 +1,2 @@\n-a\n-b\n+x\n+y\n");
    }

    #[test]
    fn scripts_are_minimal() {
        let a = ["a", "b", "c", "a", "b", "b", "a"];
        let b = ["c", "b", "a", "b", "a", "c"];
        let ops = edit_script(&a, &b);
        let edits = ops.iter().filter(|o| **o != Op::Equal).count();
        assert_eq!(edits, 5);
        assert_eq!(ops.iter().filter(|o| **o != Op::Insert).count(), a.len());
        assert_eq!(ops.iter().filter(|o| **o != Op::Delete).count(), b.len());
    }

    #[test]
    fn large_distance_falls_back_to_replacement() {
        let a: Vec<String> = (0..3000).map(|i| format!("a{i}")).collect();
        let b: Vec<String> = (0..3000).map(|i| format!("b{i}")).collect();
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let b: Vec<&str> = b.iter().map(String::as_str).collect();
        let ops = edit_script(&a, &b);
        assert_eq!(ops.len(), 6000);
        assert!(ops[..3000].iter().all(|o| *o == Op::Delete));
    }
}
