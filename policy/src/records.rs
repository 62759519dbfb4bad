//! The files people have, read record by record: one CloudTrail record (bare or in its
//! EventBridge envelope), a trail's log file (`{"Records": [...]}`), a `LookupEvents` response
//! (`{"Events": [...]}`, each `CloudTrailEvent` a JSON string) or one item of it, a JSON array
//! of records, JSON Lines of any of these, or a Glue session (`{"Session": {...}}`).
//!
//! Streams: a `Records` or `Events` list is handed over one element at a time and never held
//! whole, so memory does not grow with the file. Decompression is the caller's (a `.json.gz`
//! trail file is a gzip stream around the same JSON).

use std::fmt;
use std::io::Read;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// One item of the input, in input order.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A record, envelope or Glue session to judge.
    Record(Value),
    /// An element that could not be read (a `CloudTrailEvent` string that is not JSON), and why.
    Unreadable(String),
}

/// Why the input stopped being readable, where (1-based line and column of the stream), and
/// how many items were handed over before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub line: usize,
    pub column: usize,
    pub reason: String,
    pub items_before: usize,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {} (after {} record{})",
            self.line,
            self.column,
            self.reason,
            self.items_before,
            if self.items_before == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for ReadError {}

/// Hands every item of `input` to `each`, in order; returns how many there were. An input that
/// holds nothing but whitespace has none.
pub fn for_each_item(input: impl Read, mut each: impl FnMut(Item)) -> Result<usize, ReadError> {
    let count = std::cell::Cell::new(0usize);
    let mut sink = |item: Item| {
        count.set(count.get() + 1);
        each(item);
    };
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(input));
    loop {
        // JSON Lines, or one document: another value follows as long as `end` finds more.
        match de.end() {
            Ok(()) => break,
            Err(error) if is_trailing(&error) => {}
            Err(error) => return Err(read_error(&error, count.get())),
        }
        TopLevel { each: &mut sink }
            .deserialize(&mut de)
            .map_err(|error| read_error(&error, count.get()))?;
    }
    Ok(count.get())
}

fn is_trailing(error: &serde_json::Error) -> bool {
    error.classify() == serde_json::error::Category::Syntax
        && error.to_string().starts_with("trailing characters")
}

fn read_error(error: &serde_json::Error, items_before: usize) -> ReadError {
    let text = error.to_string();
    let reason = match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    };
    ReadError {
        line: error.line(),
        column: error.column(),
        reason,
        items_before,
    }
}

/// One top-level JSON value: a map whose `Records` / `Events` list is streamed, or anything else
/// handed over whole.
struct TopLevel<'s, F> {
    each: &'s mut F,
}

impl<'de, F: FnMut(Item)> DeserializeSeed<'de> for TopLevel<'_, F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de, F: FnMut(Item)> Visitor<'de> for TopLevel<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail record, log file, LookupEvents response or Glue session")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut rest = Map::new();
        let mut streamed = false;
        // `Records` or `Events` that is not a list: a damaged log file or response, unless the
        // rest is a record.
        let mut not_a_list = None;
        while let Some(key) = map.next_key::<String>()? {
            let kind = match key.as_str() {
                "Records" => Some(ListKind::Records),
                "Events" => Some(ListKind::LookupEvents),
                _ => None,
            };
            match kind {
                Some(kind) if !streamed => {
                    streamed = map.next_value_seed(List {
                        kind,
                        each: &mut *self.each,
                    })?;
                    if !streamed {
                        not_a_list.get_or_insert(key);
                    }
                }
                Some(_) => {
                    map.next_value::<IgnoredAny>()?;
                }
                None => {
                    let value = map.next_value::<Value>()?;
                    if !streamed {
                        rest.insert(key, value);
                    }
                }
            }
        }
        // A record that happens to hold such a key is still a record (it names its source).
        let a_record = rest.contains_key("eventSource") || rest.contains_key("detail");
        match (streamed, not_a_list) {
            (true, _) => {}
            (false, Some(key)) if !a_record => (self.each)(Item::Unreadable(format!(
                "`{key}` is not a list: not a trail log file (`{{\"Records\": [...]}}`) nor a \
                 LookupEvents response (`{{\"Events\": [...]}}`)"
            ))),
            (false, _) => (self.each)(lookup_item_or_record(Value::Object(rest))),
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        List {
            kind: ListKind::Records,
            each: self.each,
        }
        .visit_seq(seq)
        .map(|_| ())
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        (self.each)(Item::Record(Value::Bool(v)));
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        (self.each)(Item::Record(Value::from(v)));
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        (self.each)(Item::Record(Value::from(v)));
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        (self.each)(Item::Record(Value::from(v)));
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        (self.each)(Item::Record(Value::from(v)));
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        (self.each)(Item::Record(Value::Null));
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum ListKind {
    /// A trail log file's `Records`: each element is a record.
    Records,
    /// `LookupEvents`' `Events`: each element holds its record as the string `CloudTrailEvent`.
    LookupEvents,
}

/// A list whose elements are handed over one at a time. Deserializes to `true` when it was a
/// list (and so was streamed), `false` for anything else (then it is dropped).
struct List<'s, F> {
    kind: ListKind,
    each: &'s mut F,
}

impl<'de, F: FnMut(Item)> DeserializeSeed<'de> for List<'_, F> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<bool, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de, F: FnMut(Item)> Visitor<'de> for List<'_, F> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while let Some(element) = seq.next_element::<Value>()? {
            let item = match self.kind {
                ListKind::Records => Item::Record(element),
                ListKind::LookupEvents => lookup_item_or_record(element),
            };
            (self.each)(item);
        }
        Ok(true)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// An item of `LookupEvents` (`{"EventId": …, "CloudTrailEvent": "<the record as JSON>"}`) is
/// its record; anything else is itself.
fn lookup_item_or_record(value: Value) -> Item {
    match value.get("CloudTrailEvent") {
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(record) => Item::Record(record),
            Err(error) => Item::Unreadable(format!("its CloudTrailEvent is not JSON: {error}")),
        },
        _ => Item::Record(value),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn items(text: &str) -> Result<Vec<Item>, ReadError> {
        let mut out = Vec::new();
        for_each_item(text.as_bytes(), |item| out.push(item))?;
        Ok(out)
    }

    fn record(id: &str) -> Value {
        json!({"eventSource": "glue.amazonaws.com", "eventName": "CreateSession",
               "requestParameters": {"id": id}})
    }

    #[test]
    fn every_shape_gives_its_records_in_order() {
        let (a, b) = (record("a"), record("b"));
        let one = items(&a.to_string()).unwrap();
        assert_eq!(one, [Item::Record(a.clone())]);
        let trail = json!({"Records": [a, b]}).to_string();
        assert_eq!(
            items(&trail).unwrap(),
            [Item::Record(a.clone()), Item::Record(b.clone())]
        );
        let lookup = json!({"Events": [
            {"EventId": "1", "CloudTrailEvent": a.to_string()},
            {"EventId": "2", "CloudTrailEvent": "{not json"},
            {"EventId": "3", "CloudTrailEvent": b.to_string()}
        ], "NextToken": "x"})
        .to_string();
        let read = items(&lookup).unwrap();
        assert_eq!(read[0], Item::Record(a.clone()));
        assert!(
            matches!(&read[1], Item::Unreadable(why) if why.starts_with("its CloudTrailEvent is not JSON"))
        );
        assert_eq!(read[2], Item::Record(b.clone()));
        let item = json!({"EventId": "1", "CloudTrailEvent": a.to_string()}).to_string();
        assert_eq!(items(&item).unwrap(), [Item::Record(a.clone())]);
        let lines = format!("{a}\n{b}\n\n");
        assert_eq!(
            items(&lines).unwrap(),
            [Item::Record(a.clone()), Item::Record(b.clone())]
        );
        let array = json!([a, b]).to_string();
        assert_eq!(items(&array).unwrap().len(), 2);
        assert_eq!(items("  \n").unwrap(), []);
    }

    #[test]
    fn a_records_key_that_is_not_a_list_is_one_record_or_damage() {
        let odd = json!({"Records": 5, "eventSource": "glue.amazonaws.com"});
        let read = items(&odd.to_string()).unwrap();
        assert_eq!(read.len(), 1);
        assert!(
            matches!(&read[0], Item::Record(value) if value["eventSource"] == "glue.amazonaws.com")
        );
        // Without a record's `eventSource` (or an envelope's `detail`) it is a damaged log file
        // or LookupEvents response: unreadable, said so.
        for damaged in [
            json!({"Records": 5}),
            json!({"Events": {"a": 1}, "NextToken": "x"}),
        ] {
            let read = items(&damaged.to_string()).unwrap();
            assert!(
                matches!(&read[..], [Item::Unreadable(why)] if why.contains("is not a list")),
                "{damaged}: {read:?}"
            );
        }
    }

    #[test]
    fn damage_is_reported_where_it_is_after_what_was_read() {
        let text = format!(
            "{{\"Records\": [{}, {}, {{\"eventSource\": ",
            record("a"),
            record("b")
        );
        let mut seen = 0;
        let error = for_each_item(text.as_bytes(), |_| seen += 1).unwrap_err();
        assert_eq!(seen, 2);
        assert_eq!(error.line, 1);
        assert!(error.reason.contains("EOF"), "{error}");
        let error = items("{\"a\": 1}\n{oops}").unwrap_err();
        assert_eq!(error.line, 2);
    }
}
