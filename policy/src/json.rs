//! The JSON the facts readers read through: one reading of CloudTrail records and Glue's answers,
//! whatever holds the JSON.
//!
//! - [`serde_json::Value`]: an owned tree. The Lambda's events, Glue's answers, the sweep.
//! - [`Borrowed`] (`serde_json_borrow::Value`): a tree whose strings point into the text it was
//!   parsed from, and whose objects are lists of members. Building it costs a fraction of an owned
//!   tree's allocations, so the backtest reads every record of a long history through it. Behind
//!   the `borrowed` feature (on by default; the Lambda builds without it).
//!
//! Both answer alike through [`Json`] for the same text (`policy/tests/trees.rs` checks every
//! reader over both). An object that repeats a key answers with its last member, as
//! `serde_json::Value`'s map keeps it.

/// A borrowed JSON tree: see the module's documentation. Parse it with
/// `serde_json::from_str::<Borrowed<'_>>(text)`. Its strings are borrowed unless they hold an
/// escape (then they are copied).
///
/// Read it through [`Json`] (`Json::get(&value, key)` where the type is named): its own
/// inherent `get` answers `Null` for a missing key and the *first* member of a repeated one.
#[cfg(feature = "borrowed")]
pub type Borrowed<'a> = serde_json_borrow::Value<'a>;

/// A [`Borrowed`] object's members, for building one.
#[cfg(feature = "borrowed")]
pub use serde_json_borrow::ObjectAsVec;

/// A JSON value as the facts readers need it. Every method answers `None` (or `false`) for a
/// value of another kind; none of them fails.
pub trait Json {
    /// The member `key` of an object; `None` for a missing key or a value that is not an object.
    /// When the object repeats `key`, its last member.
    fn get(&self, key: &str) -> Option<&Self>;
    /// A string's text.
    fn as_str(&self) -> Option<&str>;
    /// A boolean's value.
    fn as_bool(&self) -> Option<bool>;
    /// A number's value (an integer converted to the nearest `f64`).
    fn as_f64(&self) -> Option<f64>;
    /// `null`.
    fn is_null(&self) -> bool;
    /// An object, whatever its members.
    fn is_object(&self) -> bool;
    /// An array's items, in order.
    fn items(&self) -> Option<impl Iterator<Item = &Self>>;
    /// An object's members, in no order to rely on: `serde_json::Value` gives each key once
    /// (sorted, or as first written), `Borrowed` every member as written (a repeated key more
    /// than once, its last member last). Collected into a map, both give the same map.
    fn members(&self) -> Option<impl Iterator<Item = (&str, &Self)>>;
    /// The value as compact JSON text.
    fn to_json(&self) -> String;
}

impl Json for serde_json::Value {
    fn get(&self, key: &str) -> Option<&Self> {
        self.as_object()?.get(key)
    }
    fn as_str(&self) -> Option<&str> {
        serde_json::Value::as_str(self)
    }
    fn as_bool(&self) -> Option<bool> {
        serde_json::Value::as_bool(self)
    }
    fn as_f64(&self) -> Option<f64> {
        serde_json::Value::as_f64(self)
    }
    fn is_null(&self) -> bool {
        serde_json::Value::is_null(self)
    }
    fn is_object(&self) -> bool {
        serde_json::Value::is_object(self)
    }
    fn items(&self) -> Option<impl Iterator<Item = &Self>> {
        self.as_array().map(|items| items.iter())
    }
    fn members(&self) -> Option<impl Iterator<Item = (&str, &Self)>> {
        self.as_object()
            .map(|map| map.iter().map(|(key, value)| (key.as_str(), value)))
    }
    fn to_json(&self) -> String {
        self.to_string()
    }
}

#[cfg(feature = "borrowed")]
impl Json for Borrowed<'_> {
    fn get(&self, key: &str) -> Option<&Self> {
        // Members are few (CloudTrail's objects hold tens): a scan from the end, so the last
        // of a repeated key is found first.
        self.as_object()?
            .as_vec()
            .iter()
            .rev()
            .find(|(name, _)| **name == *key)
            .map(|(_, value)| value)
    }
    fn as_str(&self) -> Option<&str> {
        Borrowed::as_str(self)
    }
    fn as_bool(&self) -> Option<bool> {
        Borrowed::as_bool(self)
    }
    fn as_f64(&self) -> Option<f64> {
        Borrowed::as_f64(self)
    }
    fn is_null(&self) -> bool {
        Borrowed::is_null(self)
    }
    fn is_object(&self) -> bool {
        Borrowed::is_object(self)
    }
    fn items(&self) -> Option<impl Iterator<Item = &Self>> {
        self.as_array().map(|items| items.iter())
    }
    fn members(&self) -> Option<impl Iterator<Item = (&str, &Self)>> {
        self.as_object().map(|object| object.iter())
    }
    fn to_json(&self) -> String {
        serde_json::Value::from(self).to_string()
    }
}

/// The value at `path` (object keys, outermost first).
pub fn get<'v, J: Json>(value: &'v J, path: &[&str]) -> Option<&'v J> {
    path.iter().try_fold(value, |at, key| at.get(key))
}

#[cfg(all(test, feature = "borrowed"))]
mod tests {
    use super::*;

    /// Every method, on both trees, over the same texts: they must answer alike.
    #[test]
    fn both_trees_answer_alike() {
        let texts = [
            r#"{"a": 1, "b": "two", "a": 3, "c": null, "d": [1, "x", true], "e": {"f": 2.5}}"#,
            r#"{"k\"ey": "v\u00e9", "n": -4, "big": 18446744073709551615, "t": false}"#,
            r#"[{"x": 1}, 2]"#,
            r#""text""#,
            "12",
            "true",
            "null",
        ];
        for text in texts {
            let owned: serde_json::Value = serde_json::from_str(text).unwrap();
            let borrowed: Borrowed<'_> = serde_json::from_str(text).unwrap();
            check(&owned, &borrowed, text);
        }
    }

    fn check(owned: &serde_json::Value, borrowed: &Borrowed<'_>, at: &str) {
        assert_eq!(owned.as_str(), Json::as_str(borrowed), "{at}");
        assert_eq!(owned.as_bool(), Json::as_bool(borrowed), "{at}");
        assert_eq!(owned.as_f64(), Json::as_f64(borrowed), "{at}");
        assert_eq!(owned.is_null(), Json::is_null(borrowed), "{at}");
        assert_eq!(owned.is_object(), Json::is_object(borrowed), "{at}");
        assert_eq!(owned.to_json(), borrowed.to_json(), "{at}");
        assert_eq!(owned.items().is_some(), borrowed.items().is_some(), "{at}");
        if let (Some(a), Some(b)) = (owned.items(), borrowed.items()) {
            let (a, b): (Vec<_>, Vec<_>) = (a.collect(), b.collect());
            assert_eq!(a.len(), b.len(), "{at}");
            for (a, b) in a.into_iter().zip(b) {
                check(a, b, at);
            }
        }
        assert_eq!(
            owned.members().is_some(),
            borrowed.members().is_some(),
            "{at}"
        );
        if let Some(members) = borrowed.members() {
            for (key, _) in members {
                let (a, b) = (
                    Json::get(owned, key).unwrap(),
                    Json::get(borrowed, key).unwrap(),
                );
                check(a, b, at);
            }
        }
        assert!(Json::get(borrowed, "absent").is_none(), "{at}");
    }

    #[test]
    fn a_repeated_key_answers_with_its_last_member() {
        let text = r#"{"a": 1, "a": 2}"#;
        let borrowed: Borrowed<'_> = serde_json::from_str(text).unwrap();
        assert_eq!(Json::get(&borrowed, "a").and_then(Json::as_f64), Some(2.0));
        let owned: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(Json::get(&owned, "a").and_then(Json::as_f64), Some(2.0));
        assert_eq!(get(&borrowed, &["a"]).and_then(Json::as_f64), Some(2.0));
    }
}
