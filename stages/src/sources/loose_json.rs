//! Lenient typed JSON for loaders: [`Loose`] reads an object as a type or notes it as not an
//! object, [`Entries`] keeps a JSON object's members in key order, and [`Naturals`],
//! [`Unsigned`], [`FiniteNumbers`] and [`LooseStr`] keep the values of the kind they expect.

use std::borrow::Cow;

use serde::Deserialize;

/// An object read as `T`, or noted as not an object: one bad value costs only its own
/// record, and the scene is read in one pass into types (no JSON tree of the whole scene).
#[derive(Debug)]
pub(super) enum Loose<T> {
    Good(T),
    Bad,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Loose<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor(std::marker::PhantomData))
    }
}

struct LooseVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for LooseVisitor<T> {
    type Value = Loose<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Loose::Good)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Loose::Bad)
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
        Ok(Loose::Bad)
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
        Ok(Loose::Bad)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
        Ok(Loose::Bad)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
        Ok(Loose::Bad)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<Self::Value, E> {
        Ok(Loose::Bad)
    }
    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(Loose::Bad)
    }
}

impl<T> Loose<T> {
    pub(super) fn good(self) -> Option<T> {
        match self {
            Loose::Good(t) => Some(t),
            Loose::Bad => None,
        }
    }

    pub(super) fn as_good(&self) -> Option<&T> {
        match self {
            Loose::Good(t) => Some(t),
            Loose::Bad => None,
        }
    }
}

/// Keyed entries in key order (as the JSON object model orders them); a repeated key keeps
/// its last value. A sorted vector, not a map: the objects read are small (a take's cameras,
/// a camera's frames), and a map's nodes cost more to build, search and drop than the
/// entries themselves.
#[derive(Debug)]
pub(super) struct Entries<'a, T>(Vec<(Cow<'a, str>, T)>);

impl<T> Default for Entries<'_, T> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<'a, T> Entries<'a, T> {
    /// The entries of an object's members in their order: sorted by key, stably, and of a
    /// repeated key only the last kept.
    pub(super) fn from_members(mut members: Vec<(Cow<'a, str>, T)>) -> Self {
        if !members.is_sorted_by(|a, b| a.0 < b.0) {
            members.sort_by(|a, b| a.0.cmp(&b.0));
            let mut kept: Vec<(Cow<'a, str>, T)> = Vec::with_capacity(members.len());
            for (key, value) in members {
                match kept.last_mut() {
                    Some(last) if last.0 == key => last.1 = value,
                    _ => kept.push((key, value)),
                }
            }
            members = kept;
        }
        Entries(members)
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_ref().cmp(key))
    }

    /// The value of `key`.
    pub(super) fn get(&self, key: &str) -> Option<&T> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    /// Takes out the value of `key`.
    pub(super) fn remove(&mut self, key: &str) -> Option<T> {
        self.position(key).ok().map(|i| self.0.remove(i).1)
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    /// The entries in key order, as a map iterates.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&Cow<'a, str>, &T)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<'b, 'a, T> IntoIterator for &'b Entries<'a, T> {
    type Item = (&'b Cow<'a, str>, &'b T);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'b, (Cow<'a, str>, T)>,
        fn(&'b (Cow<'a, str>, T)) -> (&'b Cow<'a, str>, &'b T),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<'a, T> IntoIterator for Entries<'a, T> {
    type Item = (Cow<'a, str>, T);
    type IntoIter = std::vec::IntoIter<(Cow<'a, str>, T)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for Entries<'a, T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Members<'a, T>(std::marker::PhantomData<(Cow<'a, str>, T)>);
        impl<'de: 'a, 'a, T: Deserialize<'de>> serde::de::Visitor<'de> for Members<'a, T> {
            type Value = Entries<'a, T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
                while let Some((key, value)) = map.next_entry::<Key<'a>, T>()? {
                    members.push((key.0, value));
                }
                Ok(Entries::from_members(members))
            }
        }
        d.deserialize_map(Members(std::marker::PhantomData))
    }
}

/// A member's key, borrowed from the text where it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct KeyVisitor<'a>(std::marker::PhantomData<&'a str>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for KeyVisitor<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Key<'a>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor(std::marker::PhantomData))
    }
}

/// The members of a JSON list that are integers fitting a `u32` (frame numbers); other
/// members, or a value that is not a list, are skipped, as a lenient reader of a
/// `serde_json::Value` would, without building one.
#[derive(Debug, Default)]
pub(super) struct Naturals(pub(super) Vec<u32>);

impl<'de> Deserialize<'de> for Naturals {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let visitor = ListVisitor::new(Vec::new(), |out: &mut Vec<u32>, Natural(n)| {
            out.extend(n);
        });
        Ok(Naturals(d.deserialize_any(visitor)?.unwrap_or_default()))
    }
}

/// One list member: `Some` for an integer that fits a `u32`.
struct Natural(Option<u32>);

impl<'de> Deserialize<'de> for Natural {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let Unsigned(n) = Unsigned::deserialize(d)?;
        Ok(Natural(n.and_then(|n| u32::try_from(n).ok())))
    }
}

/// Any JSON value, kept when it is a non-negative integer (what `Value::as_u64` keeps).
/// Visited in place: reading a `Value` per number was a tenth of an Ego-Exo4D take's parse.
#[derive(Debug, Default)]
pub(super) struct Unsigned(pub(super) Option<u64>);

impl<'de> Deserialize<'de> for Unsigned {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor(|s| match s {
            Scalar::Unsigned(n) => Some(n),
            _ => None,
        }))
        .map(Unsigned)
    }
}

/// Any JSON value, kept when it is a string (borrowed from the text when it has no escapes).
#[derive(Debug, Default)]
pub(super) struct LooseStr<'a>(pub(super) Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for LooseStr<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor(|s| match s {
            Scalar::Str(s) => Some(s),
            _ => None,
        }))
        .map(LooseStr)
    }
}

/// Any JSON value, kept when it is a finite number (what `Value::as_f64` keeps, finite).
struct FiniteNumber(Option<f64>);

impl<'de> Deserialize<'de> for FiniteNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor(|s| match s {
            Scalar::Unsigned(n) => Some(n as f64),
            Scalar::Negative(n) => Some(n as f64),
            Scalar::Float(x) => Some(x),
            Scalar::Str(_) => None,
        }))
        .map(|x| FiniteNumber(x.filter(|x| x.is_finite())))
    }
}

/// Any JSON value, kept when it is a list of exactly `N` finite numbers.
pub(super) struct FiniteNumbers<const N: usize>(pub(super) Option<[f64; N]>);

impl<'de, const N: usize> Deserialize<'de> for FiniteNumbers<N> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // (numbers so far, how many members, whether all were finite numbers)
        let visitor = ListVisitor::new(
            ([0.0; N], 0usize, true),
            |(out, len, all_finite): &mut ([f64; N], usize, bool), FiniteNumber(x)| {
                match (out.get_mut(*len), x) {
                    (Some(o), Some(x)) => *o = x,
                    _ => *all_finite = false,
                }
                *len += 1;
            },
        );
        let list = d.deserialize_any(visitor)?;
        Ok(FiniteNumbers(list.and_then(|(out, len, all_finite)| {
            (len == N && all_finite).then_some(out)
        })))
    }
}

/// Visits any JSON value: a list's members, each read as `M`, are folded into `acc` by
/// `add`; anything else (consumed whole) is `None`.
struct ListVisitor<M, A, F> {
    acc: A,
    add: F,
    member: std::marker::PhantomData<M>,
}

impl<M, A, F: FnMut(&mut A, M)> ListVisitor<M, A, F> {
    fn new(acc: A, add: F) -> Self {
        ListVisitor {
            acc,
            add,
            member: std::marker::PhantomData,
        }
    }
}

impl<'de, M: Deserialize<'de>, A, F: FnMut(&mut A, M)> serde::de::Visitor<'de>
    for ListVisitor<M, A, F>
{
    type Value = Option<A>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<S: serde::de::SeqAccess<'de>>(
        mut self,
        mut seq: S,
    ) -> std::result::Result<Self::Value, S::Error> {
        while let Some(member) = seq.next_element()? {
            (self.add)(&mut self.acc, member);
        }
        Ok(Some(self.acc))
    }
    fn visit_map<S: serde::de::MapAccess<'de>>(
        self,
        mut map: S,
    ) -> std::result::Result<Self::Value, S::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
}

/// The scalars the lenient readers keep.
enum Scalar<'a> {
    Unsigned(u64),
    Negative(i64),
    Float(f64),
    Str(Cow<'a, str>),
}

/// Visits any JSON value: `keep` decides on a number or a string; anything else (null,
/// booleans, arrays and objects, consumed whole) is `None`.
struct ScalarVisitor<F>(F);

impl<'de, T, F: FnOnce(Scalar<'de>) -> Option<T>> serde::de::Visitor<'de> for ScalarVisitor<F> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Self::Value, E> {
        Ok((self.0)(Scalar::Unsigned(v)))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Self::Value, E> {
        Ok((self.0)(match u64::try_from(v) {
            Ok(n) => Scalar::Unsigned(n),
            Err(_) => Scalar::Negative(v),
        }))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Self::Value, E> {
        Ok((self.0)(Scalar::Float(v)))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Self::Value, E> {
        Ok((self.0)(Scalar::Str(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Ok((self.0)(Scalar::Str(Cow::Owned(v.to_string()))))
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Entries hold what a map of the object's members holds, in key order, of a
        /// repeated key the last value; a key with an escape is read too.
        #[test]
        fn entries_hold_what_a_map_of_the_members_holds(
            members in proptest::collection::vec(
                (proptest::sample::select(vec!["b", "a", "c", "a\\u0041", "10", "9", ""]), 0u32..100),
                0..12,
            ),
        ) {
            let body: Vec<String> = members.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
            let text = format!("{{{}}}", body.join(", "));
            let map: std::collections::BTreeMap<String, u32> = serde_json::from_str(&text).unwrap();
            let want: Vec<(String, u32)> = map.into_iter().collect();
            let ours: Entries<'_, u32> = serde_json::from_str(&text).unwrap();
            let got: Vec<(String, u32)> = ours.iter().map(|(k, &v)| (k.to_string(), v)).collect();
            proptest::prop_assert_eq!(&got, &want, "{}", text);
            for (k, v) in &want {
                proptest::prop_assert_eq!(ours.get(k), Some(v));
            }
            proptest::prop_assert_eq!(ours.get("absent"), None);
        }
    }

    /// What the loaders did with a `serde_json::Value` before these types.
    fn by_value(text: &str) -> Vec<u32> {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_u64().and_then(|f| u32::try_from(f).ok()))
            .collect()
    }

    #[test]
    fn naturals_keep_what_a_value_reader_kept() {
        for text in [
            "[0, 30, 60]",
            "[0, -1, 30.0, \"60\", null, [90], {\"a\": 1}, 4294967295, 4294967296, 120]",
            "{\"0\": 1}",
            "17",
            "\"x\"",
            "null",
            "[]",
        ] {
            let got: Naturals = serde_json::from_str(text).unwrap();
            assert_eq!(got.0, by_value(text), "{text}");
        }
    }

    #[test]
    fn integers_and_strings_keep_what_a_value_reader_kept() {
        let members = [
            "0",
            "320",
            "-1",
            "30.0",
            "1e3",
            "18446744073709551615",
            "18446744073709551616",
            "\"60\"",
            "\"a\\\"b\"",
            "null",
            "true",
            "[1, [2]]",
            "{\"a\": {\"b\": 1}}",
        ];
        let text = format!("[{}]", members.join(", "));
        let values: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let unsigned: Vec<Unsigned> = serde_json::from_str(&text).unwrap();
        let strings: Vec<LooseStr> = serde_json::from_str(&text).unwrap();
        for ((v, u), s) in values.iter().zip(&unsigned).zip(&strings) {
            assert_eq!(u.0, v.as_u64(), "{v}");
            assert_eq!(s.0.as_deref(), v.as_str(), "{v}");
        }
        // Strings without escapes are borrowed from the text.
        assert!(matches!(strings[7].0, Some(Cow::Borrowed("60"))));
    }

    #[test]
    fn number_pairs_keep_what_a_value_reader_kept() {
        let members = [
            "[1, 2]",
            "[1.5, -2]",
            "[-0.0, 18446744073709551615]",
            "[-9223372036854775808, 1e308]",
            "[1, 2, 3]",
            "[1]",
            "[]",
            "[1, \"2\"]",
            "[null, 1]",
            "[[1], 2]",
            "{\"a\": [1, 2]}",
            "\"1, 2\"",
            "12",
            "null",
        ];
        let text = format!("[{}]", members.join(", "));
        let values: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let pairs: Vec<FiniteNumbers<2>> = serde_json::from_str(&text).unwrap();
        // What the MMPTrack loader did with a value: exactly 2 numbers, each finite.
        let by_value = |v: &serde_json::Value| -> Option<[f64; 2]> {
            let a = v.as_array().filter(|a| a.len() == 2)?;
            Some([a[0].as_f64()?, a[1].as_f64()?]).filter(|p| p.iter().all(|x| x.is_finite()))
        };
        for (v, got) in values.iter().zip(&pairs) {
            let (got, want) = (got.0, by_value(v));
            assert_eq!(
                got.map(|p| p.map(f64::to_bits)),
                want.map(|p| p.map(f64::to_bits)),
                "{v}"
            );
        }
    }

    #[test]
    fn loose_objects_are_typed_or_bad_without_failing_the_parse() {
        #[derive(Deserialize)]
        struct Pair {
            #[serde(rename = "a")]
            _a: Option<serde_json::Value>,
        }
        let v: Vec<Loose<Pair>> =
            serde_json::from_str("[{\"a\": 1}, 2, \"s\", [1], null, {}]").unwrap();
        let good: Vec<bool> = v.iter().map(|l| matches!(l, Loose::Good(_))).collect();
        assert_eq!(good, [true, false, false, false, false, true]);
    }
}
