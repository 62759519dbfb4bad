//! The house rules `docs/architecture.md` states, checked on the sources of every crate:
//! - **No import cycles.** Among the modules that share a parent (the crate's top modules, a
//!   folder's modules), no module uses, directly or through others, one that uses it back. A
//!   module counts with everything under it; test modules are left out.
//! - **Commands are leaves.** No module under `commands/` uses another command's module.
//! - **The light CLI has no AWS SDK**: no `aws_sdk_*` or `aws_config` in `xtask/src`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use testkit::cli::root;

/// Every crate of the workspace whose modules are checked, with its source folder.
const CRATES: &[&str] = &["policy", "lambda", "xtask", "xtask-aws", "testkit"];

/// A module's path from its crate's root (`["history", "harvest"]`); the root is `[]`.
type Module = Vec<String>;

/// The module a source file is: `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`; `lib.rs`,
/// `main.rs` and `bin/*` the root.
fn module_of(src: &Path, file: &Path) -> Option<Module> {
    let relative = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    if parts.first().is_some_and(|first| first == "bin") {
        return Some(Vec::new());
    }
    let stem = last.strip_suffix(".rs")?;
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    Some(parts)
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The file's text without comments and without `#[cfg(test)]` modules written inline (the
/// rest of the file after `#[cfg(test)]\nmod tests {`, which by house style comes last).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths a file names: `crate::a::b`, `use crate::{a, b::c}`, `super::x`,
/// `self::y`, resolved against the file's own module. Paths may name items (functions,
/// types); the caller keeps the longest prefix that is a module.
fn references(module: &Module, code: &str) -> Vec<Module> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    // Reads `a::b::c` (or `{a, b::c}`) from `at`, appending each path to `base`.
    fn paths_from(code: &str, at: usize, base: &Module, out: &mut Vec<Module>) {
        let rest = &code[at..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut end = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            for item in split_top_level(&group[..end]) {
                let item = item.trim();
                if item.is_empty() || item == "self" {
                    out.push(base.clone());
                    continue;
                }
                let mut path = base.clone();
                path.extend(item.split("::").map(|s| {
                    s.trim()
                        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .next()
                        .unwrap_or("")
                        .to_string()
                }));
                out.push(path);
            }
            return;
        }
        let mut path = base.clone();
        let mut i = 0;
        let chars: Vec<char> = rest.chars().collect();
        loop {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            if i == start {
                break;
            }
            path.push(chars[start..i].iter().collect());
            if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
                i += 2;
                if chars.get(i) == Some(&'{') {
                    let byte_at: usize = chars[..i].iter().map(|c| c.len_utf8()).sum();
                    paths_from(rest, byte_at, &path, out);
                    return;
                }
            } else {
                break;
            }
        }
        out.push(path);
    }
    fn split_top_level(text: &str) -> Vec<&str> {
        let mut items = Vec::new();
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in text.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&text[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        items.push(&text[start..]);
        items
    }
    let mut at = 0;
    while at < bytes.len() {
        let before_ok =
            at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        if before_ok && (bytes[at..].starts_with(b"crate::") || bytes[at..].starts_with(b"super::"))
        {
            let mut base: Module;
            let mut cursor;
            if bytes[at..].starts_with(b"crate::") {
                base = Vec::new();
                cursor = at + "crate::".len();
            } else {
                base = module.clone();
                cursor = at;
                while bytes[cursor..].starts_with(b"super::") {
                    base.pop();
                    cursor += "super::".len();
                }
            }
            paths_from(code, cursor, &base, &mut found);
            at = cursor;
            continue;
        }
        at += 1;
    }
    found
}

/// The longest prefix of `path` that is one of `modules`.
fn module_named<'a>(modules: &'a BTreeSet<Module>, path: &Module) -> Option<&'a Module> {
    (0..=path.len())
        .rev()
        .find_map(|n| modules.get(&path[..n].to_vec()))
}

/// Module-level uses of one crate: (from, to) with `to` a module, tests left out.
fn uses_of(krate: &str) -> (BTreeSet<Module>, BTreeSet<(Module, Module)>) {
    let src = root().join(krate).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut modules = BTreeSet::new();
    let mut texts = Vec::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let is_test = module
            .iter()
            .any(|part| part == "tests" || part.ends_with("_tests"));
        if is_test {
            continue;
        }
        modules.insert(module.clone());
        texts.push((module, code_of(&std::fs::read_to_string(&file).unwrap())));
    }
    let mut uses = BTreeSet::new();
    for (module, code) in &texts {
        for path in references(module, code) {
            if let Some(target) = module_named(&modules, &path)
                && target != module
            {
                uses.insert((module.clone(), target.clone()));
            }
        }
    }
    (modules, uses)
}

/// Cycles among the children of one parent: each child stands for its whole subtree.
fn sibling_cycles(modules: &BTreeSet<Module>, uses: &BTreeSet<(Module, Module)>) -> Vec<String> {
    let mut cycles = Vec::new();
    let parents: BTreeSet<Module> = modules
        .iter()
        .filter(|m| !m.is_empty())
        .map(|m| m[..m.len() - 1].to_vec())
        .collect();
    for parent in parents {
        let child_of = |m: &Module| -> Option<Module> {
            (m.len() > parent.len() && m[..parent.len()] == parent[..])
                .then(|| m[..=parent.len()].to_vec())
        };
        let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        for (from, to) in uses {
            if let (Some(a), Some(b)) = (child_of(from), child_of(to))
                && a != b
            {
                edges.entry(a).or_default().insert(b);
            }
        }
        // A path back from each edge's end to its start is a cycle.
        for (a, targets) in &edges {
            for b in targets {
                let mut seen = BTreeSet::new();
                let mut stack = vec![b.clone()];
                while let Some(node) = stack.pop() {
                    if &node == a {
                        cycles.push(format!("{} <-> {}", a.join("::"), b.join("::")));
                        break;
                    }
                    if seen.insert(node.clone()) {
                        stack.extend(edges.get(&node).into_iter().flatten().cloned());
                    }
                }
            }
        }
    }
    cycles.sort();
    cycles.dedup();
    cycles
}

#[test]
fn no_module_uses_one_that_uses_it_back_in_any_crate() {
    let mut all = Vec::new();
    for krate in CRATES {
        let (modules, uses) = uses_of(krate);
        assert!(modules.len() > 3, "{krate}: {modules:?}");
        for cycle in sibling_cycles(&modules, &uses) {
            all.push(format!("{krate}: {cycle}"));
        }
    }
    assert!(all.is_empty(), "import cycles:\n  {}", all.join("\n  "));
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    // Two siblings that use each other, one through a group and one through `super::`.
    let mut modules = BTreeSet::new();
    for m in [vec![], vec!["a".to_string()], vec!["b".to_string()]] {
        modules.insert(m);
    }
    let a = vec!["a".to_string()];
    let b = vec!["b".to_string()];
    let mut uses = BTreeSet::new();
    for path in references(&a, "use crate::{b::thing, other};") {
        if let Some(target) = module_named(&modules, &path) {
            uses.insert((a.clone(), target.clone()));
        }
    }
    assert!(sibling_cycles(&modules, &uses).is_empty());
    for path in references(&b, "fn f() { super::a::g() }") {
        if let Some(target) = module_named(&modules, &path) {
            uses.insert((b.clone(), target.clone()));
        }
    }
    assert_eq!(sibling_cycles(&modules, &uses), ["a <-> b", "b <-> a"]);
}

#[test]
fn commands_are_leaves() {
    for krate in ["xtask", "xtask-aws"] {
        let (_, uses) = uses_of(krate);
        let commands: Vec<String> = uses
            .iter()
            .filter(|(from, to)| {
                from.first().is_some_and(|f| f == "commands")
                    && to.first().is_some_and(|t| t == "commands")
                    && to.len() > 1
                    && from.get(1) != to.get(1)
            })
            .map(|(from, to)| format!("{} uses {}", from.join("::"), to.join("::")))
            .collect();
        assert!(commands.is_empty(), "{krate}: {commands:?}");
        let (_, uses) = uses_of(krate);
        let into_commands: Vec<String> = uses
            .iter()
            .filter(|(from, to)| {
                !from.is_empty()
                    && from.first().is_some_and(|f| f != "commands" && f != "cli")
                    && to.first().is_some_and(|t| t == "commands")
            })
            .map(|(from, to)| format!("{} uses {}", from.join("::"), to.join("::")))
            .collect();
        assert!(
            into_commands.is_empty(),
            "{krate}: shared pieces never use a command: {into_commands:?}"
        );
    }
}

#[test]
fn the_light_cli_has_no_aws_sdk() {
    let mut files = Vec::new();
    rust_files(&root().join("xtask/src"), &mut files);
    for file in files {
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        for sdk in ["aws_sdk_", "aws_config", "aws_smithy"] {
            assert!(!code.contains(sdk), "{}: {sdk}", file.display());
        }
    }
    let manifest = std::fs::read_to_string(root().join("xtask/Cargo.toml")).unwrap();
    let normal = manifest
        .split("[dev-dependencies]")
        .next()
        .unwrap_or_default();
    assert!(!normal.contains("aws-"), "xtask/Cargo.toml: {normal}");
}
