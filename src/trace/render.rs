//! The trace file's JSON (the Chrome Trace Event Format), from every lane's records.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::record::{Kind, Lane, Phase, Record};

/// A record's place: (lane, index in the lane).
type At = (usize, usize);

/// How a span is drawn.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// On its thread's lane, `"B"`/`"E"`.
    Slice,
    /// `"b"`/`"e"` with this id.
    Async(u64),
}

/// The trace's JSON: every lane's records, each span drawn as a slice where it nests on
/// its thread, as an async slice where not.
pub(super) fn render(lanes: &[&Lane]) -> String {
    // 1. Pair begins and ends: on the same thread first (innermost open begin that the
    //    end closes), then across threads.
    let mut pair_of: HashMap<At, At> = HashMap::new();
    let mut loose_begins: Vec<At> = Vec::new();
    let mut loose_ends: Vec<At> = Vec::new();
    for (l, lane) in lanes.iter().enumerate() {
        let mut open: Vec<usize> = Vec::new();
        for (i, r) in lane.records.iter().enumerate() {
            match r.phase {
                Phase::Begin => open.push(i),
                Phase::End => match open.iter().rposition(|&b| lane.records[b].closed_by(r)) {
                    Some(k) => {
                        let b = open.remove(k);
                        pair_of.insert((l, b), (l, i));
                    }
                    None => loose_ends.push((l, i)),
                },
                Phase::Instant => {}
            }
        }
        loose_begins.extend(open.into_iter().map(|b| (l, b)));
    }
    let rec = |(l, i): At| &lanes[l].records[i];
    let mut crossing: Vec<(At, At)> = Vec::new();
    let mut unmatched_ends: Vec<At> = Vec::new();
    // The begins left open, by kind and context, earliest first.
    let mut open: HashMap<(Kind, u64), Vec<At>> = HashMap::new();
    loose_begins.sort_by_key(|&at| rec(at).ts);
    for &b in &loose_begins {
        open.entry((rec(b).kind, rec(b).ctx)).or_default().push(b);
    }
    loose_ends.sort_by_key(|&at| rec(at).ts);
    for end in loose_ends {
        let e = rec(end);
        let candidates = open.entry((e.kind, e.ctx)).or_default();
        match candidates
            .iter()
            .position(|&b| rec(b).ts <= e.ts && rec(b).closed_by(e))
        {
            Some(k) => crossing.push((candidates.remove(k), end)),
            None => unmatched_ends.push(end),
        }
    }
    let loose_begins: Vec<At> = open.into_values().flatten().collect();

    // 2. Same-thread pairs that do not nest on their lane become async; when two spans
    //    of one kind and context overlap (the columnar engine's batches of items), all
    //    of that kind and context do, so they look alike.
    let mut shape: HashMap<At, Shape> = HashMap::new();
    let mut next_id = 1u64;
    let mut demoted_groups: HashSet<(Kind, u64)> = HashSet::new();
    for pass in 0..2 {
        shape.clear();
        for (l, lane) in lanes.iter().enumerate() {
            let mut stack: Vec<(usize, usize)> = Vec::new(); // the open slices' (begin, end)
            for (b, r) in lane.records.iter().enumerate() {
                if r.phase != Phase::Begin {
                    continue;
                }
                let Some(&(_, e)) = pair_of.get(&(l, b)) else { continue };
                if demoted_groups.contains(&(r.kind, r.ctx)) {
                    continue;
                }
                while stack.last().is_some_and(|&(_, top)| top < b) {
                    stack.pop();
                }
                match stack.last() {
                    Some(&(tb, top)) if e > top => {
                        let t = &lane.records[tb];
                        if pass == 0 && t.kind == r.kind {
                            demoted_groups.insert((r.kind, r.ctx));
                            demoted_groups.insert((t.kind, t.ctx));
                        }
                    }
                    _ => {
                        stack.push((b, e));
                        shape.insert((l, b), Shape::Slice);
                    }
                }
            }
        }
    }
    let mut ends: HashMap<At, (At, Shape)> = HashMap::new();
    for (&b, &e) in &pair_of {
        let s = match shape.get(&b) {
            Some(&s) => s,
            None => {
                next_id += 1;
                Shape::Async(next_id)
            }
        };
        shape.insert(b, s);
        ends.insert(e, (b, s));
    }
    for &(b, e) in &crossing {
        next_id += 1;
        shape.insert(b, Shape::Async(next_id));
        ends.insert(e, (b, Shape::Async(next_id)));
    }
    let unfinished: HashSet<At> = loose_begins.into_iter().collect();
    let stray: HashSet<At> = unmatched_ends.into_iter().collect();

    // 3. The events, lane by lane in time order.
    let mut out = String::with_capacity(lanes.iter().map(|l| l.records.len() * 120).sum::<usize>() + 256);
    out.push_str(r#"{"traceEvents":["#);
    out.push_str(r#"{"name":"process_name","ph":"M","pid":1,"tid":0,"args":{"name":"hypernodes"}}"#);
    for lane in lanes {
        let _ = write!(
            out,
            r#",{{"name":"thread_name","ph":"M","pid":1,"tid":{},"args":{{"name":{}}}}}"#,
            lane.tid,
            json_string(&lane.name)
        );
    }
    for (l, lane) in lanes.iter().enumerate() {
        for (i, r) in lane.records.iter().enumerate() {
            let at = (l, i);
            let (ph, id, begin): (&str, Option<u64>, &Record) = match r.phase {
                Phase::Instant => ("i", None, r),
                Phase::Begin if unfinished.contains(&at) => ("i", None, r),
                Phase::Begin => match shape.get(&at) {
                    Some(Shape::Slice) => ("B", None, r),
                    Some(Shape::Async(id)) => ("b", Some(*id), r),
                    None => continue,
                },
                Phase::End if stray.contains(&at) => ("i", None, r),
                Phase::End => match ends.get(&at) {
                    Some((b, Shape::Slice)) => ("E", None, rec(*b)),
                    Some((b, Shape::Async(id))) => ("e", Some(*id), rec(*b)),
                    None => continue,
                },
            };
            let _ = write!(
                out,
                r#",{{"name":{},"ph":"{ph}","cat":"{}","pid":1,"tid":{},"ts":{}.{:03}"#,
                json_string(&begin.name()),
                r.kind.category(),
                lane.tid,
                r.ts / 1000,
                r.ts % 1000
            );
            if let Some(id) = id {
                let _ = write!(out, r#","id":"0x{id:x}""#);
            }
            if ph == "i" {
                out.push_str(r#","s":"t""#);
            }
            out.push_str(r#","args":{"#);
            let mut first = true;
            let mut arg = |out: &mut String, key: &str, value: String| {
                let _ = write!(out, "{}\"{key}\":{value}", if first { "" } else { "," });
                first = false;
            };
            if matches!(r.phase, Phase::Begin | Phase::Instant) {
                if let Some(path) = &r.path {
                    arg(&mut out, "path", json_string(path));
                }
                if r.kind != Kind::Pipeline && r.items.start != usize::MAX {
                    arg(
                        &mut out,
                        "items",
                        json_string(&format!("{}..{}", r.items.start, r.items.end)),
                    );
                    arg(&mut out, "count", r.items.len().to_string());
                }
            }
            if r.phase == Phase::Begin && unfinished.contains(&at) {
                arg(&mut out, "ended", "false".into());
            }
            if r.phase != Phase::Begin {
                if r.kind == Kind::Item || r.kind == Kind::Node {
                    arg(&mut out, "cached", r.cached.to_string());
                }
                if r.phase == Phase::End && r.kind == Kind::Item && r.items != begin.items {
                    arg(
                        &mut out,
                        "items",
                        json_string(&format!("{}..{}", r.items.start, r.items.end)),
                    );
                }
                if let Some(error) = &r.error {
                    arg(&mut out, "error", json_string(error));
                }
            }
            out.push_str("}}");
        }
    }
    out.push_str(r#"],"displayTimeUnit":"ms"}"#);
    out.push('\n');
    out
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    // Unreachable: a `str` always serializes.
    serde_json::to_string(s).expect("a string serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a \"b\"\n\\c\u{1}"), r#""a \"b\"\n\\c\u0001""#);
    }
}
