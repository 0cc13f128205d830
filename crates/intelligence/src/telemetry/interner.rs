//! Bounded string interning for the telemetry stores: names (services, operations, peers,
//! error messages) become small ids, and a flood of distinct names cannot grow memory
//! without bound.

use rustc_hash::FxHashMap as HashMap;

/// The name every string maps to once the interner is full.
pub const OVERFLOW_NAME: &str = "(other)";

/// Strings to ids and back, at most `capacity` distinct strings; later new ones all map to
/// one id named [`OVERFLOW_NAME`].
#[derive(Debug)]
pub struct Interner {
    names: Vec<String>,
    ids: HashMap<String, u32>,
    capacity: usize,
    /// Strings that found the interner full.
    pub overflowed: u64,
}

impl Interner {
    /// An interner of at most `capacity` distinct strings (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            names: Vec::new(),
            ids: HashMap::default(),
            capacity: capacity.max(1),
            overflowed: 0,
        }
    }

    /// The id of `s`.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let full = self.names.len() + 1 >= self.capacity;
        let name = if full {
            self.overflowed += 1;
            OVERFLOW_NAME
        } else {
            s
        };
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    /// The string behind an id (`None` for an id this interner never gave).
    pub fn name(&self, id: u32) -> Option<&str> {
        self.names.get(id as usize).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_a_full_interner_maps_new_strings_to_one_overflow_id() {
        let mut i = Interner::new(3);
        let a = i.intern("a");
        assert_eq!(i.intern("a"), a);
        let b = i.intern("b");
        assert_ne!(a, b);
        let c = i.intern("c");
        assert_eq!(i.name(c), Some(OVERFLOW_NAME));
        assert_eq!(i.intern("d"), c);
        assert_eq!(i.intern("a"), a, "known strings keep their id");
        assert_eq!(i.overflowed, 2);
        assert_eq!(i.name(99), None);
    }
}
