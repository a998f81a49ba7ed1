//! Where a SKU's holds are stored. New holds are written in pages of up to
//! [`PAGE_HOLDS`] (`hpage/<sku>/<page>`, the page number big-endian): a hot
//! SKU's purchases in one group commit all land in the open page, which the
//! committer's batch writes once, instead of one new sled key per purchase
//! (that insert was about a quarter of the CPU of a flash-sale purchase).
//! A page is rewritten whole whenever one of its holds changes, and removed
//! when its last hold goes. Holds written one per key by earlier releases
//! (`hold/<sku>/<holder>`) are read and kept where they are.
//!
//! The actor keeps the placement next to its [`SkuState`] and updates it
//! with every change of the holds; a reload from the store rebuilds both.

use super::sku::{Hold, SkuState};
use crate::domain::{HoldId, Sku};
use crate::store::{codec, keys, StoreError, WriteGroup};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Most holds in one page: a page is encoded whole on each change of one of
/// its holds, so this bounds that cost (≈ 80 bytes a hold).
pub const PAGE_HOLDS: usize = 32;

/// Where one hold is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Its own key (holds written before pages existed).
    Own,
    Page(u64),
}

/// The placement of every hold of one SKU.
#[derive(Debug, Default)]
pub struct HoldPages {
    place: HashMap<HoldId, Place>,
    pages: BTreeMap<u64, Page>,
    /// The page new holds join until it is full.
    open: u64,
}

#[derive(Debug, Default)]
struct Page {
    members: BTreeSet<HoldId>,
    /// The page's holds as encoded so far (how many, and their bytes), kept
    /// while holds only join it: a purchase then appends one hold's bytes
    /// instead of encoding the whole page again. `None` after any other
    /// change; the next write encodes the page afresh.
    encoded: Option<(usize, Vec<u8>)>,
}

impl HoldPages {
    /// The placement of holds as read from the store: `own` stored one per
    /// key, `pages` by page number. New holds start a page after the last.
    pub fn loaded(own: impl IntoIterator<Item = HoldId>, pages: Vec<(u64, Vec<HoldId>)>) -> Self {
        let mut this = Self::default();
        for holder in own {
            this.place.insert(holder, Place::Own);
        }
        for (page, holders) in pages {
            this.open = this.open.max(page.saturating_add(1));
            for holder in holders {
                this.restore(holder, Place::Page(page));
            }
        }
        this
    }

    /// Places a hold that is new or changed: a new one joins the open page
    /// (opening the next one when full), a known one stays where it is.
    /// Returns the place to [`write`](Self::write).
    pub fn put(&mut self, hold: &Hold) -> Place {
        if let Some(&place) = self.place.get(&hold.holder) {
            if let Place::Page(page) = place {
                self.changed(page);
            }
            return place;
        }
        if self
            .pages
            .get(&self.open)
            .is_some_and(|p| p.members.len() >= PAGE_HOLDS)
        {
            self.open += 1;
        }
        let page = self.pages.entry(self.open).or_default();
        page.members.insert(hold.holder.clone());
        if page.members.len() == 1 {
            page.encoded = Some((0, Vec::new()));
        }
        if let Some((count, body)) = &mut page.encoded {
            match codec::append(hold, body) {
                Ok(()) => *count += 1,
                Err(_) => page.encoded = None,
            }
        }
        let place = Place::Page(self.open);
        self.place.insert(hold.holder.clone(), place);
        place
    }

    /// Where `holder`'s hold is, if it is placed.
    #[cfg(test)]
    pub fn of(&self, holder: &HoldId) -> Option<Place> {
        self.place.get(holder).copied()
    }

    /// Forgets a hold that left the state; returns where it was, to write
    /// that place (or to [`restore`](Self::restore) it if the change is
    /// undone). A hold never placed is taken to have its own key.
    pub fn remove(&mut self, holder: &HoldId) -> Place {
        let place = self.place.remove(holder).unwrap_or(Place::Own);
        if let Place::Page(number) = place {
            if let Some(page) = self.pages.get_mut(&number) {
                page.members.remove(holder);
                page.encoded = None;
                if page.members.is_empty() {
                    self.pages.remove(&number);
                }
            }
        }
        place
    }

    /// Puts a hold back where it was.
    pub fn restore(&mut self, holder: HoldId, place: Place) {
        if let Place::Page(number) = place {
            let page = self.pages.entry(number).or_default();
            page.members.insert(holder.clone());
            page.encoded = None;
        }
        self.place.insert(holder, place);
    }

    fn changed(&mut self, number: u64) {
        if let Some(page) = self.pages.get_mut(&number) {
            page.encoded = None;
        }
    }

    /// Adds to `group` the record(s) at `place` as `state` has them now: the
    /// hold's own key (written, or removed if the hold is gone), or the whole
    /// page (removed once empty).
    pub fn write(
        &mut self,
        group: &mut WriteGroup,
        sku: &Sku,
        state: &SkuState,
        holder: &HoldId,
        place: Place,
    ) -> Result<(), StoreError> {
        let number = match place {
            Place::Own => {
                let key = keys::hold(sku.as_str(), holder.as_str());
                match state.hold_of(holder) {
                    Some(hold) => group.put(key, hold)?,
                    None => group.remove(key),
                }
                return Ok(());
            }
            Place::Page(number) => number,
        };
        let key = keys::hold_page(sku.as_str(), number);
        let Some(page) = self.pages.get_mut(&number) else {
            group.remove(key);
            return Ok(());
        };
        if page.encoded.is_none() {
            let mut body = Vec::new();
            let mut count = 0;
            for hold in page.members.iter().filter_map(|h| state.hold_of(h)) {
                codec::append(hold, &mut body)?;
                count += 1;
            }
            page.encoded = Some((count, body));
        }
        match &page.encoded {
            Some((count, body)) if *count > 0 => {
                group.put_raw(key, codec::encode_seq(*count, body)?)
            }
            _ => group.remove(key),
        }
        Ok(())
    }

    /// [`write`](Self::write) for several holds, each page once.
    pub fn write_all<'a>(
        &mut self,
        group: &mut WriteGroup,
        sku: &Sku,
        state: &SkuState,
        placed: impl IntoIterator<Item = (&'a HoldId, Place)>,
    ) -> Result<(), StoreError> {
        let mut pages = BTreeSet::new();
        for (holder, place) in placed {
            match place {
                Place::Own => self.write(group, sku, state, holder, place)?,
                Place::Page(page) => {
                    if pages.insert(page) {
                        self.write(group, sku, state, holder, place)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Number of pages with holds in them.
    #[cfg(test)]
    pub fn pages(&self) -> usize {
        self.pages.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProductId;
    use crate::store::codec;

    fn hid(n: usize) -> HoldId {
        HoldId::parse(&format!("h{n}")).unwrap()
    }

    fn hold(n: usize) -> Hold {
        Hold {
            holder: hid(n),
            customer: None,
            quantity: 1,
            expires_at: 1_000,
        }
    }

    #[test]
    fn new_holds_fill_a_page_before_the_next_opens() {
        let mut pages = HoldPages::default();
        for n in 0..PAGE_HOLDS {
            assert_eq!(pages.put(&hold(n)), Place::Page(0));
        }
        assert_eq!(pages.put(&hold(PAGE_HOLDS)), Place::Page(1));
        assert_eq!(pages.put(&hold(0)), Place::Page(0), "placed once");
        assert_eq!(pages.pages(), 2);
    }

    #[test]
    fn a_removed_hold_can_be_put_back_where_it_was() {
        let mut pages = HoldPages::default();
        let place = pages.put(&hold(1));
        assert_eq!(pages.remove(&hid(1)), place);
        assert_eq!(pages.pages(), 0, "an empty page is dropped");
        pages.restore(hid(1), place);
        assert_eq!(pages.of(&hid(1)), Some(place));
        assert_eq!(pages.pages(), 1);
    }

    #[test]
    fn loaded_pages_are_not_reopened_and_own_keys_stay_own() {
        let mut pages = HoldPages::loaded([hid(1)], vec![(4, vec![hid(2)])]);
        assert_eq!(pages.of(&hid(1)), Some(Place::Own));
        assert_eq!(pages.of(&hid(2)), Some(Place::Page(4)));
        assert_eq!(pages.put(&hold(3)), Place::Page(5));
        assert_eq!(pages.remove(&hid(9)), Place::Own, "unknown: own key");
    }

    /// The page record `write` puts in a group, decoded.
    fn written(pages: &mut HoldPages, state: &SkuState, place: Place) -> Option<Vec<Hold>> {
        let sku = Sku::parse("S").unwrap();
        let mut group = WriteGroup::new();
        pages
            .write(&mut group, &sku, state, &hid(0), place)
            .unwrap();
        let (key, value) = group.into_ops().pop().unwrap();
        value.map(|bytes| codec::decode(&key, &bytes).unwrap())
    }

    #[test]
    fn a_page_kept_encoded_as_holds_join_reads_back_as_the_page() {
        let mut state = SkuState::new(ProductId::parse("p").unwrap(), 100);
        let mut pages = HoldPages::default();
        let mut place = Place::Own;
        for n in 0..5 {
            state.hold(hid(n), None, n as u64 + 1, 1_000, 0).unwrap();
            place = pages.put(state.hold_of(&hid(n)).unwrap());
        }
        let appended = written(&mut pages, &state, place).unwrap();
        let expected: Vec<Hold> = state.holds().cloned().collect();
        assert_eq!(appended, expected);

        // A resized hold is re-encoded with the page, not appended again.
        state.resize(&hid(2), 9, 2_000, 0).unwrap();
        pages.put(state.hold_of(&hid(2)).unwrap());
        let resized = written(&mut pages, &state, place).unwrap();
        assert_eq!(resized, state.holds().cloned().collect::<Vec<_>>());

        for n in 0..5 {
            state.release(&hid(n)).unwrap();
            pages.remove(&hid(n));
        }
        assert_eq!(
            written(&mut pages, &state, place),
            None,
            "an empty page is removed"
        );
    }
}
