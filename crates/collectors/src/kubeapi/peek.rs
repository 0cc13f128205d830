//! Finding a watch event's `type` and its object's `kind` and `apiVersion` without parsing
//! the whole object: API servers write `apiVersion` and `kind` first, so a scan of the top
//! level keys stops after a few dozen bytes, and the object is then read once, into its
//! real type.

/// What a watch event is, read from its first bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct WatchHead<'a> {
    pub event_type: &'a str,
    pub kind: &'a str,
    pub api_version: &'a str,
}

struct Scanner<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        self.ws();
        (self.s.get(self.i) == Some(&b)).then(|| self.i += 1)
    }

    /// A string without escapes, borrowed; strings with escapes are skipped and give "".
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        while let Some(&b) = self.s.get(self.i) {
            match b {
                b'\\' => {
                    escaped = true;
                    self.i += 2;
                }
                b'"' => {
                    self.i += 1;
                    return Some(if escaped {
                        ""
                    } else {
                        &self.text[start..self.i - 1]
                    });
                }
                _ => self.i += 1,
            }
        }
        None
    }

    /// Skips any JSON value (serde_json's skipping is vectorised; a hand loop is not).
    fn skip(&mut self) -> Option<()> {
        self.ws();
        let mut values = serde_json::Deserializer::from_str(&self.text[self.i..])
            .into_iter::<serde::de::IgnoredAny>();
        values.next()?.ok()?;
        self.i += values.byte_offset();
        Some(())
    }

    /// Visits the keys of the object starting here; `f` returns true to descend into (and
    /// consume) the value itself, false to have it skipped. Stops when `done` says so.
    fn object(
        &mut self,
        f: &mut dyn FnMut(&mut Self, &'a str) -> Option<bool>,
        done: &dyn Fn() -> bool,
    ) -> Option<()> {
        self.eat(b'{')?;
        loop {
            self.ws();
            if self.s.get(self.i) == Some(&b'}') {
                self.i += 1;
                return Some(());
            }
            let key = self.string()?;
            self.eat(b':')?;
            if !f(self, key)? {
                self.skip()?;
            }
            if done() {
                return Some(());
            }
            self.ws();
            match self.s.get(self.i)? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// Reads `type`, `object.kind` and `object.apiVersion` of a watch event; `None` when the
/// text is not shaped like one (the full parse then reports why).
pub fn watch_head(data: &str) -> Option<WatchHead<'_>> {
    use std::cell::Cell;
    let mut sc = Scanner {
        s: data.as_bytes(),
        text: data,
        i: 0,
    };
    let event_type = Cell::new(None);
    let kind = Cell::new(None);
    let api_version = Cell::new(None);
    let found =
        || event_type.get().is_some() && kind.get().is_some() && api_version.get().is_some();
    sc.object(
        &mut |sc, key| match key {
            "type" => {
                event_type.set(sc.string());
                Some(true)
            }
            "object" => {
                sc.object(
                    &mut |sc, key| match key {
                        "kind" => {
                            kind.set(sc.string());
                            Some(true)
                        }
                        "apiVersion" => {
                            api_version.set(sc.string());
                            Some(true)
                        }
                        _ => Some(false),
                    },
                    // Stop inside the object only when nothing else is missing; otherwise
                    // read it to its end so that the outer scan can go on.
                    &found,
                )?;
                Some(true)
            }
            _ => Some(false),
        },
        &found,
    )?;
    Some(WatchHead {
        event_type: event_type.get()?,
        kind: kind.get().unwrap_or_default(),
        api_version: api_version.get().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_type_kind_and_api_version_in_any_order() {
        let head = |s| watch_head(s).unwrap();
        let w = head(
            r#"{"type":"ADDED","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}}"#,
        );
        assert_eq!(
            w,
            WatchHead {
                event_type: "ADDED",
                kind: "Pod",
                api_version: "v1"
            }
        );
        let w = head(
            r#"{ "object" : {"metadata":{"kind":"Nope","x":[1,{"a":"}"}]},"kind":"Node","apiVersion":"v1"}, "type":"DELETED"}"#,
        );
        assert_eq!(
            w,
            WatchHead {
                event_type: "DELETED",
                kind: "Node",
                api_version: "v1"
            }
        );
        let w = head(
            r#"{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12"}}}"#,
        );
        assert_eq!(w.event_type, "BOOKMARK");
        // Keys sorted alphabetically put the object before its type.
        let w = head(
            r#"{"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}},"type":"MODIFIED"}"#,
        );
        assert_eq!(
            w,
            WatchHead {
                event_type: "MODIFIED",
                kind: "Pod",
                api_version: "v1"
            }
        );
    }

    #[test]
    fn malformed_text_gives_none() {
        assert_eq!(watch_head("{\"type\":"), None);
        assert_eq!(watch_head("[]"), None);
        assert_eq!(watch_head(""), None);
        assert_eq!(watch_head(r#"{"object":{"kind":"Pod"}}"#), None);
    }

    proptest! {
        #[test]
        fn agrees_with_a_full_parse(
            t in "[A-Z]{1,8}", kind in "[A-Za-z]{1,12}", api in "[a-z0-9/.]{1,16}",
            filler in proptest::collection::vec(
                ("[a-z]{1,6}".prop_filter("not a head key", |k| k != "kind" && k != "type"), "[a-zA-Z0-9 {}\\[\\]:,]{0,20}"),
                0..5,
            ),
            kind_first in any::<bool>(),
        ) {
            let mut fields: Vec<String> = filler.iter().map(|(k, v)| format!("{}:{}", serde_json::json!(k), serde_json::json!(v))).collect();
            let head = [format!("\"kind\":{}", serde_json::json!(kind)), format!("\"apiVersion\":{}", serde_json::json!(api))];
            if kind_first { fields.splice(0..0, head); } else { fields.extend(head); }
            let object = format!("{{{}}}", fields.join(","));
            let text = if kind_first {
                format!("{{\"type\":{},\"object\":{object}}}", serde_json::json!(t))
            } else {
                format!("{{\"object\":{object},\"type\":{}}}", serde_json::json!(t))
            };
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let w = watch_head(&text).unwrap();
            prop_assert_eq!(w.event_type, v["type"].as_str().unwrap());
            prop_assert_eq!(w.kind, v["object"]["kind"].as_str().unwrap());
            prop_assert_eq!(w.api_version, v["object"]["apiVersion"].as_str().unwrap());
        }

        #[test]
        fn never_panics(s in ".{0,200}") {
            let _ = watch_head(&s);
        }
    }
}
