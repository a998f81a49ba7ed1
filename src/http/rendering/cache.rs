//! Rendered catalog reads, answered again while nothing they show changed.
//!
//! A catalog read's JSON and ETag depend on two things only: the catalog
//! snapshot and the published availability of the SKUs it shows. A
//! rendering remembers both, as the snapshot's generation and, per SKU, the
//! counter it read and the value it showed. The next read of the same
//! resource checks them (one compare, one atomic load per SKU) and, if all
//! still hold, answers the same bytes: no view is built, nothing is
//! serialized or digested. A browsing storefront reads the same few
//! resources over and over, and those three were most of a read handler's
//! cost (BENCHMARKS.md).

use super::etag::{etag_of, none_match};
use crate::domain::{ProductId, Sku};
use crate::inventory::Availability;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use bytes::Bytes;
use dashmap::DashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Availability as a rendering reads it: each value it shows, and where
/// it came from.
pub struct Shown<'a> {
    availability: &'a Availability,
    seen: Vec<(Arc<AtomicU64>, u64)>,
}

impl<'a> Shown<'a> {
    pub fn new(availability: &'a Availability) -> Self {
        Self {
            availability,
            seen: Vec::new(),
        }
    }

    /// Units of `sku` that can be bought now (0 if it has no counter yet,
    /// which is what its first publication will replace).
    pub fn available(&mut self, sku: &Sku) -> u64 {
        let cell = self.availability.cell(sku);
        let n = cell.load(Ordering::Acquire);
        self.seen.push((cell, n));
        n
    }

    /// The values shown so far, in the order they were read.
    pub fn values(&self) -> impl Iterator<Item = u64> + '_ {
        self.seen.iter().map(|(_, n)| *n)
    }
}

/// One read's answer, with what it was rendered from.
pub struct Rendering {
    generation: u64,
    seen: Vec<(Arc<AtomicU64>, u64)>,
    body: Bytes,
    /// `None` only if the tag could not be a header value (it is built from
    /// hex digits, so never): the answer then goes without one.
    etag: Option<HeaderValue>,
}

impl Rendering {
    /// `body` rendered from snapshot `generation` and what `shown` read,
    /// tagged `etag`.
    pub fn new(generation: u64, shown: Shown<'_>, body: Vec<u8>, etag: String) -> Self {
        Self {
            generation,
            seen: shown.seen,
            body: Bytes::from(body),
            etag: HeaderValue::try_from(etag).ok(),
        }
    }

    /// Tagged with the digest of the body itself.
    pub fn by_body(generation: u64, shown: Shown<'_>, body: Vec<u8>) -> Self {
        let etag = etag_of(&body);
        Self::new(generation, shown, body, etag)
    }

    /// Whether rendering again from snapshot `generation` and the current
    /// availability would give these same bytes.
    fn is_current(&self, generation: u64) -> bool {
        self.generation == generation
            && self
                .seen
                .iter()
                .all(|(cell, n)| cell.load(Ordering::Acquire) == *n)
    }

    /// Bytes it holds, about: its body, what it watches, and its headers.
    fn size(&self) -> usize {
        const OVERHEAD: usize = 128;
        self.body.len() + self.seen.len() * std::mem::size_of::<(Arc<AtomicU64>, u64)>() + OVERHEAD
    }

    /// `res` with this rendering as its JSON body and its ETag.
    pub fn respond(&self, mut res: HttpResponseBuilder) -> HttpResponse {
        if let Some(etag) = self.etag() {
            res.insert_header((header::ETAG, etag.clone()));
        }
        res.content_type("application/json").body(self.body.clone())
    }

    pub fn etag(&self) -> Option<&HeaderValue> {
        self.etag.as_ref()
    }

    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

/// Renderings by resource, bounded in memory: past `budget` bytes it
/// starts over (a product list can be asked for with any cursor, category
/// and limit, and a page of 100 products is large).
pub struct Renderings<K> {
    entries: DashMap<K, Arc<Rendering>>,
    /// Bytes kept, about: what `Rendering::size` says of each entry.
    used: AtomicUsize,
    budget: usize,
}

impl<K: Eq + Hash> Renderings<K> {
    pub fn new(budget: usize) -> Self {
        Self {
            entries: DashMap::new(),
            used: AtomicUsize::new(0),
            budget,
        }
    }

    /// `key`'s rendering from snapshot `generation`: the one kept, if it is
    /// still what a fresh one would be, else a fresh one from `render`,
    /// kept for the next read.
    pub fn get_or_render<E>(
        &self,
        key: K,
        generation: u64,
        render: impl FnOnce(&K) -> Result<Rendering, E>,
    ) -> Result<Arc<Rendering>, E> {
        if let Some(kept) = self.current(&key, generation) {
            return Ok(kept);
        }
        let rendering = Arc::new(render(&key)?);
        self.keep(key, Arc::clone(&rendering));
        Ok(rendering)
    }

    /// The rendering of `key`, if it is still what a fresh one would be.
    fn current(&self, key: &K, generation: u64) -> Option<Arc<Rendering>> {
        let entry = self.entries.get(key)?;
        entry.is_current(generation).then(|| Arc::clone(&entry))
    }

    /// Keeps `rendering` as `key`'s.
    fn keep(&self, key: K, rendering: Arc<Rendering>) {
        let size = rendering.size();
        if self.used.load(Ordering::Relaxed) + size > self.budget {
            self.entries.clear();
            self.used.store(0, Ordering::Relaxed);
        }
        // Keeps racing a clear can leave the count off; it stays an
        // estimate, never below zero, and is reset at the next clear.
        let old = self.entries.insert(key, rendering).map_or(0, |r| r.size());
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                Some((used + size).saturating_sub(old))
            });
    }
}

/// Which page of the product list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub category: Option<String>,
    pub after: Option<ProductId>,
    pub limit: usize,
}

/// The renderings of every cached catalog read, and how they are answered.
pub struct Reads {
    pub skus: Renderings<Sku>,
    pub products: Renderings<ProductId>,
    pub pages: Renderings<PageKey>,
    cache_control: HeaderValue,
}

/// Memory kept per kind of read. A rendering is about the size of its JSON,
/// so these hold the SKU and product reads of a catalog of tens of
/// thousands of SKUs, and the pages a storefront actually shows.
const SKUS_BUDGET: usize = 16 << 20;
const PRODUCTS_BUDGET: usize = 64 << 20;
const PAGES_BUDGET: usize = 32 << 20;

impl Reads {
    /// `max_age_secs` is what `Cache-Control` allows a cache (0: revalidate
    /// every time).
    pub fn new(max_age_secs: u64) -> Self {
        let cache_control = if max_age_secs == 0 {
            HeaderValue::from_static("public, no-cache")
        } else {
            HeaderValue::try_from(format!("public, max-age={max_age_secs}"))
                .unwrap_or(HeaderValue::from_static("public, no-cache"))
        };
        Self {
            skus: Renderings::new(SKUS_BUDGET),
            products: Renderings::new(PRODUCTS_BUDGET),
            pages: Renderings::new(PAGES_BUDGET),
            cache_control,
        }
    }

    /// 304 when `If-None-Match` names the rendering's ETag, else 200 with
    /// its JSON; both with `ETag` and `Cache-Control`.
    pub fn reply(&self, req: &HttpRequest, rendering: &Rendering) -> HttpResponse {
        let fresh = rendering.etag().is_some_and(|etag| none_match(req, etag));
        let mut res = if fresh {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        res.insert_header((header::CACHE_CONTROL, self.cache_control.clone()));
        if fresh {
            if let Some(etag) = rendering.etag() {
                res.insert_header((header::ETAG, etag.clone()));
            }
            res.finish()
        } else {
            rendering.respond(res)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap()
    }

    fn rendering(availability: &Availability, generation: u64, skus: &[&str]) -> Rendering {
        let mut shown = Shown::new(availability);
        let body: Vec<u64> = skus.iter().map(|s| shown.available(&sku(s))).collect();
        Rendering::by_body(generation, shown, serde_json::to_vec(&body).unwrap())
    }

    #[test]
    fn a_rendering_holds_until_a_shown_sku_moves_or_the_catalog_changes() {
        let availability = Availability::default();
        availability.publish(&sku("A"), 5);
        availability.publish(&sku("B"), 7);
        let cache: Renderings<&str> = Renderings::new(10);
        cache.keep("page", Arc::new(rendering(&availability, 3, &["A", "B"])));
        assert!(cache.current(&"page", 3).is_some());
        assert!(cache.current(&"page", 4).is_none(), "another snapshot");
        availability.publish(&sku("C"), 1);
        assert!(cache.current(&"page", 3).is_some(), "C is not shown");
        availability.publish(&sku("B"), 6);
        assert!(cache.current(&"page", 3).is_none(), "B moved");
        availability.publish(&sku("B"), 7);
        assert!(
            cache.current(&"page", 3).is_some(),
            "the same values give the same bytes"
        );
    }

    #[test]
    fn an_unknown_sku_is_shown_as_zero_and_watched_from_then_on() {
        let availability = Availability::default();
        let r = rendering(&availability, 0, &["NEW"]);
        assert_eq!(r.body().as_ref(), b"[0]");
        assert!(r.is_current(0));
        availability.publish(&sku("NEW"), 3);
        assert!(!r.is_current(0));
    }

    #[test]
    fn past_its_budget_it_starts_over() {
        let availability = Availability::default();
        let one = rendering(&availability, 0, &[]).size();
        let cache: Renderings<u32> = Renderings::new(2 * one);
        for key in 0..3 {
            cache.keep(key, Arc::new(rendering(&availability, 0, &[])));
        }
        assert!(cache.current(&0, 0).is_none());
        assert!(cache.current(&2, 0).is_some());
        assert!(cache.entries.len() <= 2);
        assert!(cache.used.load(Ordering::Relaxed) <= 2 * one);
    }

    #[test]
    fn keeping_a_key_again_replaces_its_share_of_the_budget() {
        let availability = Availability::default();
        let one = rendering(&availability, 0, &[]).size();
        let cache: Renderings<u32> = Renderings::new(2 * one);
        for _ in 0..10 {
            cache.keep(7, Arc::new(rendering(&availability, 0, &[])));
        }
        cache.keep(8, Arc::new(rendering(&availability, 0, &[])));
        assert!(cache.current(&7, 0).is_some(), "no clear was needed");
        assert_eq!(cache.used.load(Ordering::Relaxed), 2 * one);
    }
}
