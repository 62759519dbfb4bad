//! Where each field of a YAML document is: a map from field paths (`overrides[0].name`) to
//! `line:col`, so validation errors can point at the text the author wrote.
//!
//! serde_yaml gives positions only for its own errors; this walks the parser's events once.
//! It also finds duplicate mapping keys, which a deserializer into a map would silently merge,
//! and counts the values the document holds once its aliases are expanded, so that an alias bomb
//! is refused in one linear pass, before serde_yaml would expand it.

use std::collections::{HashMap, HashSet};

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::Marker;

pub use crate::errors::Location;

/// A marker's place as a 1-based line and column.
fn at(marker: &Marker) -> Location {
    Location {
        line: marker.line(),
        col: marker.col() + 1,
    }
}

/// Values (scalars, lists, mappings) a policy may hold once its YAML aliases are expanded: far
/// more than any real policy (the default one has about 120), far fewer than an alias bomb.
pub const MAX_EXPANDED_VALUES: u64 = 100_000;

/// Field path to location, for one document.
#[derive(Debug, Default)]
pub struct LocationIndex {
    places: HashMap<String, Location>,
}

/// Something wrong with the YAML itself, found while indexing.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxProblem {
    pub location: Location,
    pub path: String,
    pub reason: String,
}

enum Frame {
    Map {
        path: String,
        key: Option<String>,
        seen: HashSet<String>,
    },
    Seq {
        path: String,
        next: usize,
    },
}

/// Joins a parent path and a key the way error messages print them.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl LocationIndex {
    /// Indexes `text`. Syntax errors and duplicate keys are returned as problems; the index
    /// holds whatever was read before the first syntax error.
    pub fn build(text: &str) -> (LocationIndex, Vec<SyntaxProblem>) {
        let mut index = LocationIndex::default();
        let mut problems = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut expansion = Expansion::default();
        let mut parser = Parser::new_from_str(text);
        loop {
            let (event, marker) = match parser.next_token() {
                Ok(next) => next,
                Err(error) => {
                    problems.push(SyntaxProblem {
                        location: at(error.marker()),
                        path: String::new(),
                        reason: format!("not valid YAML: {}", error.info()),
                    });
                    break;
                }
            };
            let here = at(&marker);
            let tag = match &event {
                Event::Scalar(_, _, _, tag) => tag.as_ref(),
                Event::MappingStart(_, tag) | Event::SequenceStart(_, tag) => tag.as_ref(),
                _ => None,
            };
            if let Err(reason) = expansion.count(&event) {
                problems.push(SyntaxProblem {
                    location: here,
                    path: String::new(),
                    reason,
                });
                break;
            }
            if let Some(tag) = tag {
                // serde_yaml drops or reinterprets tags (`!!str 5` becomes a number, `!x` is
                // ignored): a policy means only what it plainly says.
                problems.push(SyntaxProblem {
                    location: here,
                    path: String::new(),
                    reason: format!(
                        "YAML tags are not allowed in a policy (found `{}{}`)",
                        if tag.handle == "tag:yaml.org,2002:" {
                            "!!"
                        } else {
                            &tag.handle
                        },
                        tag.suffix
                    ),
                });
                break;
            }
            match event {
                Event::StreamEnd => break,
                Event::Scalar(value, ..) => {
                    if let Some(Frame::Map { path, key, seen }) = stack.last_mut()
                        && key.is_none()
                    {
                        // A block mapping in a list starts where its first key is written;
                        // the parser marks its start at that key's `:`.
                        if seen.is_empty()
                            && let Some(place) = index.places.get_mut(path.as_str())
                            && (here.line, here.col) < (place.line, place.col)
                        {
                            *place = here;
                        }
                        let field = join(path, &value);
                        if !seen.insert(value.clone()) {
                            problems.push(SyntaxProblem {
                                location: here,
                                path: field.clone(),
                                reason: format!("duplicate key `{value}`"),
                            });
                        } else {
                            index.places.insert(field, here);
                        }
                        *key = Some(value);
                    } else {
                        index.enter_node(&mut stack, here);
                    }
                }
                Event::Alias(_) => {
                    index.enter_node(&mut stack, here);
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    if let Some(Frame::Map {
                        key: None, path, ..
                    }) = stack.last()
                    {
                        problems.push(SyntaxProblem {
                            location: here,
                            path: path.clone(),
                            reason: "a mapping key must be a plain value".to_string(),
                        });
                        break;
                    }
                    let path = index.enter_node(&mut stack, here);
                    stack.push(if matches!(event, Event::MappingStart(..)) {
                        Frame::Map {
                            path,
                            key: None,
                            seen: HashSet::new(),
                        }
                    } else {
                        Frame::Seq { path, next: 0 }
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                _ => {}
            }
        }
        (index, problems)
    }

    /// Records a value node and returns its path. A map value's location stays its key's.
    fn enter_node(&mut self, stack: &mut [Frame], here: Location) -> String {
        match stack.last_mut() {
            None => String::new(),
            Some(Frame::Map { path, key, .. }) => {
                let name = key.take().unwrap_or_default();
                join(path, &name)
            }
            Some(Frame::Seq { path, next }) => {
                let item = format!("{path}[{next}]");
                *next += 1;
                self.places.insert(item.clone(), here);
                item
            }
        }
    }

    /// Whether `path` itself was written (an empty list or mapping included).
    pub fn written(&self, path: &str) -> bool {
        self.places.contains_key(path)
    }

    /// The location of `path`, or of its closest ancestor that was written, or 1:1.
    pub fn locate(&self, path: &str) -> Location {
        let mut path = path;
        loop {
            if let Some(found) = self.places.get(path) {
                return *found;
            }
            match path.rfind(['.', '[']) {
                Some(cut) => path = &path[..cut],
                // The whole document: its start.
                None => return Location { line: 1, col: 1 },
            }
        }
    }
}

/// The number of values the document holds with its aliases expanded, counted as the events go
/// by: an alias adds the size of what its anchor named.
#[derive(Default)]
struct Expansion {
    values: u64,
    /// Anchor id to the number of values under it.
    sizes: HashMap<usize, u64>,
    /// For each open list or mapping: its anchor id (0 when none) and `values` when it opened.
    open: Vec<(usize, u64)>,
}

impl Expansion {
    fn count(&mut self, event: &Event) -> Result<(), String> {
        match event {
            Event::Scalar(_, _, anchor, _) => {
                self.values += 1;
                if *anchor != 0 {
                    self.sizes.insert(*anchor, 1);
                }
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                self.open.push((*anchor, self.values));
                self.values += 1;
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some((anchor, start)) = self.open.pop()
                    && anchor != 0
                {
                    self.sizes.insert(anchor, self.values - start);
                }
            }
            // An alias of an anchor still open (or unknown) counts as one value.
            Event::Alias(anchor) => {
                self.values = self
                    .values
                    .saturating_add(self.sizes.get(anchor).copied().unwrap_or(1));
            }
            _ => {}
        }
        if self.values > MAX_EXPANDED_VALUES {
            return Err(format!(
                "YAML aliases expand this policy to more than {MAX_EXPANDED_VALUES} values; \
                 write the values out, or use fewer aliases"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "version: 1\nstack:\n  name: x\nlist:\n  - a\n  - {b: 1}\n";

    #[test]
    fn finds_keys_and_items() {
        let (index, problems) = LocationIndex::build(TEXT);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(index.locate("version"), Location { line: 1, col: 1 });
        assert_eq!(index.locate("stack.name"), Location { line: 3, col: 3 });
        assert_eq!(index.locate("list[1]"), Location { line: 6, col: 5 });
        assert_eq!(index.locate("list[1].b"), Location { line: 6, col: 6 });
    }

    #[test]
    fn falls_back_to_the_closest_written_ancestor() {
        let (index, _) = LocationIndex::build(TEXT);
        assert_eq!(index.locate("stack.region"), Location { line: 2, col: 1 });
        assert_eq!(index.locate("missing.deeper"), Location { line: 1, col: 1 });
    }

    #[test]
    fn counts_values_with_aliases_expanded() {
        let mut expansion = Expansion::default();
        let text = "a: &l [x, y]\nb: [*l, *l]\n";
        let mut parser = Parser::new_from_str(text);
        while let Ok((event, _)) = parser.next_token() {
            if event == Event::StreamEnd {
                break;
            }
            expansion.count(&event).unwrap();
        }
        // The root mapping, keys a and b, list l (3 values), list b, and l twice more.
        assert_eq!(expansion.values, 1 + 1 + 3 + 1 + 1 + 2 * 3);
    }

    #[test]
    fn refuses_alias_bombs_in_one_pass() {
        let wide = format!(
            "a: &a [x{}]\nb: [*a{}]\n",
            ",x".repeat(400),
            ",*a".repeat(400)
        );
        let laughs: String = (1..=7)
            .map(|level| {
                let items = vec![format!("*l{}", level - 1); 9].join(",");
                format!("k{level}: &l{level} [{items}]\n")
            })
            .collect();
        let laughs = format!("k0: &l0 x\n{laughs}");
        for text in [wide, laughs] {
            let (_, problems) = LocationIndex::build(&text);
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(
                problems[0]
                    .reason
                    .starts_with("YAML aliases expand this policy to more than 100000 values"),
                "{problems:?}"
            );
        }
        let (_, problems) = LocationIndex::build("a: &a [x, y]\nb: [*a, *a, *a]\n");
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn reports_duplicate_keys() {
        let (_, problems) = LocationIndex::build("stack:\n  tags:\n    a: 1\n    a: 2\n");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "stack.tags.a");
        assert_eq!(problems[0].location, Location { line: 4, col: 5 });
        assert_eq!(problems[0].reason, "duplicate key `a`");
    }

    #[test]
    fn reports_syntax_errors_with_a_position() {
        let (_, problems) = LocationIndex::build("a: [1, 2\nb: 3\n");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].reason.starts_with("not valid YAML"));
        assert!(problems[0].location.line >= 1);
    }
}
