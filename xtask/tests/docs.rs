//! Every relative link in the README and `docs/` (and the other Markdown the repository keeps)
//! leads somewhere: the file or folder exists, and an `#anchor` names a heading of the page it
//! points at, as GitHub makes anchors from headings. Links are read as CommonMark reads them
//! (`pulldown-cmark`), so a link inside a code block is no link. Web links are not fetched.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

fn root() -> PathBuf {
    testkit::cli::root()
}

/// The Markdown pages checked: the README, `docs/`, and every other `README.md` or `.md` the
/// repository keeps outside build output.
fn pages() -> Vec<PathBuf> {
    let root = root();
    let mut pages = vec![root.join("README.md")];
    for dir in ["docs", "bench", "policies", "tools", "lambda", "lambda/e2e"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
            .collect();
        found.sort();
        pages.extend(found);
    }
    pages
}

/// A link of a page: where it points and the line it is on.
struct Link {
    target: String,
    line: usize,
}

/// The links and the heading anchors of a Markdown text.
fn read(text: &str) -> (Vec<Link>, BTreeSet<String>) {
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut links = Vec::new();
    let mut anchors = BTreeSet::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut heading: Option<String> = None;
    let options = Options::ENABLE_TABLES | Options::ENABLE_HEADING_ATTRIBUTES;
    for (event, range) in Parser::new_ext(text, options).into_offset_iter() {
        match event {
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                links.push(Link {
                    target: dest_url.to_string(),
                    line: line_of(range.start),
                });
            }
            Event::Start(Tag::Heading { id, .. }) => {
                if let Some(id) = id {
                    anchors.insert(id.to_string());
                }
                heading = Some(String::new());
            }
            Event::Text(part) | Event::Code(part) => {
                if let Some(heading) = &mut heading {
                    heading.push_str(&part);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let slug = slug(&heading.take().unwrap_or_default());
                // GitHub numbers a repeated anchor: `usage`, `usage-1`, `usage-2`.
                let count = seen.entry(slug.clone()).or_insert(0);
                anchors.insert(if *count == 0 {
                    slug.clone()
                } else {
                    format!("{slug}-{count}")
                });
                *count += 1;
            }
            _ => {}
        }
    }
    (links, anchors)
}

/// GitHub's anchor for a heading: lower case, every character that is not a letter, a digit, a
/// space, `-` or `_` removed, each space a `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn is_web(target: &str) -> bool {
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| target.starts_with(scheme))
}

/// What is wrong with each link of `page`, as `page:line: link: reason`.
fn broken_links(page: &Path) -> Vec<String> {
    let root = root();
    let shown = |path: &Path| {
        path.strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    let text = std::fs::read_to_string(page).unwrap();
    let (links, own_anchors) = read(&text);
    let mut broken = Vec::new();
    for link in links {
        if is_web(&link.target) {
            continue;
        }
        let (path, anchor) = match link.target.split_once('#') {
            Some((path, anchor)) => (path, Some(anchor)),
            None => (link.target.as_str(), None),
        };
        let where_ = format!("{}:{}: ({})", shown(page), link.line, link.target);
        let target = if path.is_empty() {
            page.to_path_buf()
        } else {
            page.parent().unwrap().join(path)
        };
        if !target.exists() {
            broken.push(format!("{where_}: {} does not exist", shown(&target)));
            continue;
        }
        let Some(anchor) = anchor else { continue };
        let anchors = if path.is_empty() {
            own_anchors.clone()
        } else if target.extension().is_some_and(|ext| ext == "md") {
            read(&std::fs::read_to_string(&target).unwrap()).1
        } else {
            // An anchor into a source file (`#L10`) is GitHub's, not the file's.
            continue;
        };
        if !anchors.contains(anchor) {
            broken.push(format!(
                "{where_}: {} has no heading whose anchor is `{anchor}`",
                shown(&target)
            ));
        }
    }
    broken
}

#[test]
fn every_relative_link_of_the_docs_leads_somewhere() {
    let pages = pages();
    assert!(
        pages
            .iter()
            .any(|page| page.ends_with("docs/architecture.md")),
        "docs/architecture.md is among the pages: {pages:?}"
    );
    let broken: Vec<String> = pages.iter().flat_map(|page| broken_links(page)).collect();
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_is_a_front_door_that_leads_to_every_page_of_the_docs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        (150..=320).contains(&lines),
        "the README is the front door (about 200-300 lines), not the reference: {lines} lines"
    );
    let (links, _) = read(&readme);
    let linked: BTreeSet<String> = links
        .iter()
        .map(|link| link.target.split('#').next().unwrap().to_string())
        .collect();
    for page in std::fs::read_dir(root().join("docs")).unwrap() {
        let name = page.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            assert!(
                linked.contains(&format!("docs/{name}")),
                "README.md does not link to docs/{name}"
            );
        }
    }
}

/// The checker itself: a missing file, a missing anchor and a link in a code block.
#[test]
fn the_checker_finds_what_is_broken_and_only_that() {
    assert_eq!(slug("Exit codes"), "exit-codes");
    assert_eq!(
        slug("`cargo xtask plan`: what would change?"),
        "cargo-xtask-plan-what-would-change"
    );
    assert_eq!(slug("Two layers (IAM & SCP)"), "two-layers-iam--scp");
    let (links, anchors) = read(
        "# Usage\n\n## Usage\n\nSee [a](other.md#x), [b](#usage-1), [web](https://example.com).\n\n\
         ```\n[not a link](nowhere.md)\n```\n",
    );
    let targets: Vec<&str> = links.iter().map(|link| link.target.as_str()).collect();
    assert_eq!(targets, ["other.md#x", "#usage-1", "https://example.com"]);
    assert_eq!(links[0].line, 5);
    assert_eq!(
        anchors,
        BTreeSet::from(["usage".to_string(), "usage-1".to_string()])
    );
    let scratch = testkit::cli::scratch("docs-links");
    std::fs::write(
        scratch.join("page.md"),
        "# Page\n\n[gone](gone.md) [here](page.md#page) [no](page.md#nothing) [self](#page)\n",
    )
    .unwrap();
    let broken = broken_links(&scratch.join("page.md"));
    assert_eq!(broken.len(), 2, "{broken:?}");
    assert!(broken[0].ends_with("does not exist"), "{broken:?}");
    assert!(
        broken[1].contains("no heading whose anchor is `nothing`"),
        "{broken:?}"
    );
}
