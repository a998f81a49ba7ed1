//! JSON request bodies, read as the API document describes them: a struct
//! only from a JSON object (serde would also take an array of its fields
//! in order, so `[null, null]` made a cart), and an integer from any
//! integral number (`28.0` is the integer 28 in JSON Schema; serde_json
//! refuses it for a `u64`). [`Json`] is `web::Json` with these rules; its
//! limits, content type and errors are `web::Json`'s (see
//! `problem::edge::json_config`). Nothing is buffered: the rules are a
//! thin layer over serde_json's own deserializer.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use pin_project_lite::pin_project;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// A JSON request body (`application/json`), read by the rules above.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = JsonFuture<T>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        JsonFuture {
            inner: web::Json::<Strict<T>>::from_request(req, payload),
        }
    }
}

pin_project! {
    /// `web::Json`'s future, unwrapped.
    pub struct JsonFuture<T>
    where
        T: DeserializeOwned,
        T: 'static,
    {
        #[pin]
        inner: <web::Json<Strict<T>> as FromRequest>::Future,
    }
}

impl<T: DeserializeOwned + 'static> Future for JsonFuture<T> {
    type Output = Result<Json<T>, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let read = ready!(self.project().inner.poll(cx));
        Poll::Ready(read.map(|body| Json(body.into_inner().0)))
    }
}

/// A body read by a handler as bytes (where it is optional), by the same
/// rules as [`Json`].
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(Rules(&mut de))?;
    de.end()?;
    Ok(value)
}

/// `T`, read by the rules.
pub struct Strict<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Strict<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(Rules(d)).map(Strict)
    }
}

/// A deserializer that applies the rules, to everything it reads.
struct Rules<D>(D);

/// Hands every nested value to [`Rules`], and integral floats to
/// integer visitors as integers.
struct Nested<V>(V);

/// A seed whose value is read by [`Rules`].
struct Seed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Rules(d))
    }
}

macro_rules! forward {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
            self.0.$method(Nested(v))
        }
    )*};
}

/// Integers are read as whatever number was sent, then checked.
macro_rules! integer {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
            self.0.deserialize_any(Nested(v))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Rules<D> {
    type Error = D::Error;

    forward!(
        deserialize_any,
        deserialize_bool,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any
    );
    integer!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128
    );

    /// Only from an object.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(Nested(v))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Nested(v))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, Nested(v))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Nested(v))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, Nested(v))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, v)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// 2^64 and -2^63, exactly: the bounds of the integers a float can stand for.
const U64_END: f64 = 18_446_744_073_709_551_616.0;
const I64_START: f64 = -9_223_372_036_854_775_808.0;

impl<'de, V: Visitor<'de>> Visitor<'de> for Nested<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<V::Value, E> {
        // An integral number, however written, is an integer (the same
        // value: `28.0` is 28); a visitor of floats takes integers too.
        if n.fract() == 0.0 && (0.0..U64_END).contains(&n) {
            return self.0.visit_u64(n as u64);
        }
        if n.fract() == 0.0 && (I64_START..0.0).contains(&n) {
            return self.0.visit_i64(n as i64);
        }
        self.0.visit_f64(n)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(Entries(map))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(Elements(seq))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(Rules(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(Rules(d))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<V::Value, E> {
        self.0.visit_bool(b)
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<V::Value, E> {
        self.0.visit_i64(n)
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<V::Value, E> {
        self.0.visit_u64(n)
    }
    fn visit_i128<E: de::Error>(self, n: i128) -> Result<V::Value, E> {
        self.0.visit_i128(n)
    }
    fn visit_u128<E: de::Error>(self, n: u128) -> Result<V::Value, E> {
        self.0.visit_u128(n)
    }
    fn visit_char<E: de::Error>(self, c: char) -> Result<V::Value, E> {
        self.0.visit_char(c)
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<V::Value, E> {
        self.0.visit_str(s)
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<V::Value, E> {
        self.0.visit_borrowed_str(s)
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<V::Value, E> {
        self.0.visit_string(s)
    }
    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<V::Value, E> {
        self.0.visit_bytes(b)
    }
    fn visit_borrowed_bytes<E: de::Error>(self, b: &'de [u8]) -> Result<V::Value, E> {
        self.0.visit_borrowed_bytes(b)
    }
    fn visit_byte_buf<E: de::Error>(self, b: Vec<u8>) -> Result<V::Value, E> {
        self.0.visit_byte_buf(b)
    }
    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(data)
    }
}

/// An object's members, each value read by the rules.
struct Entries<A>(A);

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for Entries<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// An array's elements, each read by the rules.
struct Elements<A>(A);

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for Elements<A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::from_slice;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        amount: i64,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body {
        quantity: u64,
        note: Option<String>,
        inner: Option<Inner>,
        #[serde(default)]
        items: Vec<Inner>,
        #[serde(default)]
        tags: BTreeMap<String, String>,
    }

    fn read(json: &str) -> Result<Body, String> {
        from_slice::<Body>(json.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn structs_are_read_only_from_objects_at_every_depth() {
        assert!(read(r#"{"quantity": 1}"#).is_ok());
        for array in [
            r#"[1, null, null]"#,
            r#"{"quantity": 1, "inner": [5]}"#,
            r#"{"quantity": 1, "items": [[5]]}"#,
        ] {
            let e = read(array).unwrap_err();
            assert!(e.contains("invalid type: sequence"), "{array}: {e}");
        }
    }

    #[test]
    fn integers_may_be_written_as_integral_numbers_only() {
        let body =
            read(r#"{"quantity": 28.0, "inner": {"amount": -3.0E0}, "items": [{"amount": 1e3}]}"#)
                .unwrap();
        assert_eq!(body.quantity, 28);
        assert_eq!(body.inner, Some(Inner { amount: -3 }));
        assert_eq!(body.items, vec![Inner { amount: 1000 }]);
        for bad in [
            r#"{"quantity": 28.5}"#,
            r#"{"quantity": -1}"#,
            r#"{"quantity": -1.0}"#,
            r#"{"quantity": 18446744073709551616.0}"#,
            r#"{"quantity": "28"}"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
        assert_eq!(
            read(r#"{"quantity": 18446744073709549568.0}"#)
                .unwrap()
                .quantity,
            18446744073709549568
        );
    }

    #[test]
    fn everything_else_reads_as_serde_json_reads_it() {
        let body = read(r#"{"quantity": 2, "note": null, "tags": {"a": "b"}}"#).unwrap();
        assert_eq!(body.note, None);
        assert_eq!(body.tags.get("a").map(String::as_str), Some("b"));
        assert!(read(r#"{"quantity": 2, "extra": 1}"#)
            .unwrap_err()
            .contains("unknown field"));
        assert!(read(r#"{"quantity": 2} x"#)
            .unwrap_err()
            .contains("trailing"));
        let value: serde_json::Value = from_slice(br#"{"a": [1, 2.5, "x"]}"#).unwrap();
        assert_eq!(value["a"][1], 2.5);
        let none: Option<Body> = from_slice(b"null").unwrap();
        assert!(none.is_none());
    }
}
