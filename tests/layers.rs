//! The dependency direction of the crate's rooms (docs/ARCHITECTURE.md), checked on the source:
//! `base` imports nothing of the crate, `protocol` only `base`, `core` only `base` and `protocol`,
//! and none of them names the web layer or a bindings crate. A `use` that crosses upwards fails
//! here with the file and line, before it can grow into a cycle.

use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file below `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = entry.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The crate's modules that `code` (comments removed) names through `crate::`, each with its byte
/// offset, including every item of a grouped `use crate::{a::x, b}`, which may span lines.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let mut names = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::") {
        let after = from + at + "crate::".len();
        from = after;
        if !code[after..].starts_with('{') {
            names.push((after, ident(&code[after..])));
            continue;
        }
        // A group: its top-level items, up to the matching brace.
        let (mut depth, mut item) = (0, true);
        for (i, c) in code[after + 1..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => item = true,
                c if item && (c.is_alphabetic() || c == '_') => {
                    item = false;
                    let at = after + 1 + i;
                    names.push((at, ident(&code[at..])));
                }
                _ => {}
            }
        }
    }
    names
}

/// The text without `//` comments (doc comments included), lines kept in place.
fn without_comments(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect();
    lines.join("\n")
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// `src/file:line: what` for every crate module named in `room` that `allowed` does not list,
/// and every mention of a bindings crate.
fn violations(room: &str, allowed: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut bad = Vec::new();
    for file in sources(&root.join(room)) {
        let code = without_comments(&fs::read_to_string(&file).unwrap());
        let at = file.strip_prefix(&root).unwrap().display().to_string();
        let line = |offset: usize| code[..offset].matches('\n').count() + 1;
        for (offset, name) in crate_paths(&code) {
            let own = name == room || name == "prelude";
            if !own && !allowed.contains(&name.as_str()) {
                bad.push(format!("src/{at}:{}: crate::{name}", line(offset)));
            }
        }
        for word in ["wasm_bindgen", "web_sys", "js_sys"] {
            if let Some(offset) = code.find(word) {
                bad.push(format!("src/{at}:{}: {word}", line(offset)));
            }
        }
    }
    bad
}

#[test]
fn base_imports_nothing_of_the_crate() {
    assert_eq!(violations("base", &[]), Vec::<String>::new());
}

#[test]
fn protocol_imports_only_base() {
    assert_eq!(violations("protocol", &["base"]), Vec::<String>::new());
}

#[test]
fn core_imports_only_base_and_protocol() {
    assert_eq!(
        violations("core", &["base", "protocol"]),
        Vec::<String>::new()
    );
}

#[test]
fn the_check_sees_plain_and_grouped_paths() {
    let names = |code: &str| -> Vec<String> {
        crate_paths(&without_comments(code))
            .into_iter()
            .map(|(_, n)| n)
            .collect()
    };
    assert_eq!(names("use crate::core::time::push_u64;"), ["core"]);
    assert_eq!(
        names("use crate::{base::json, core::{Millis, X}};"),
        ["base", "core"]
    );
    assert_eq!(
        names("use crate::{\n    prelude::*,\n    web::Driver,\n};"),
        ["prelude", "web"]
    );
    // std's `core`, and paths in comments, are not the crate's.
    assert!(names("let n = core::mem::take(&mut x); // crate::web").is_empty());
    let v = violations("core", &["base", "protocol"]);
    assert!(v.iter().all(|l| l.starts_with("src/core/")), "{v:?}");
}
