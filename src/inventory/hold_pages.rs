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
use crate::store::{keys, StoreError, WriteGroup};
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
    members: BTreeMap<u64, BTreeSet<HoldId>>,
    /// The page new holds join until it is full.
    open: u64,
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

    /// Places a new hold in the open page (opening the next one when full).
    pub fn place_new(&mut self, holder: &HoldId) -> Place {
        if let Some(&place) = self.place.get(holder) {
            return place;
        }
        if self
            .members
            .get(&self.open)
            .is_some_and(|m| m.len() >= PAGE_HOLDS)
        {
            self.open += 1;
        }
        let place = Place::Page(self.open);
        self.restore(holder.clone(), place);
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
        if let Place::Page(page) = place {
            if let Some(members) = self.members.get_mut(&page) {
                members.remove(holder);
                if members.is_empty() {
                    self.members.remove(&page);
                }
            }
        }
        place
    }

    /// Puts a hold back where it was.
    pub fn restore(&mut self, holder: HoldId, place: Place) {
        if let Place::Page(page) = place {
            self.members.entry(page).or_default().insert(holder.clone());
        }
        self.place.insert(holder, place);
    }

    /// Adds to `group` the record(s) at `place` as `state` has them now: the
    /// hold's own key (written, or removed if the hold is gone), or the whole
    /// page (removed once empty).
    pub fn write(
        &self,
        group: &mut WriteGroup,
        sku: &Sku,
        state: &SkuState,
        holder: &HoldId,
        place: Place,
    ) -> Result<(), StoreError> {
        match place {
            Place::Own => {
                let key = keys::hold(sku.as_str(), holder.as_str());
                match state.hold_of(holder) {
                    Some(hold) => group.put(key, hold)?,
                    None => group.remove(key),
                }
            }
            Place::Page(page) => {
                let key = keys::hold_page(sku.as_str(), page);
                let holds: Vec<&Hold> = self
                    .members
                    .get(&page)
                    .into_iter()
                    .flatten()
                    .filter_map(|h| state.hold_of(h))
                    .collect();
                if holds.is_empty() {
                    group.remove(key);
                } else {
                    group.put(key, &holds)?;
                }
            }
        }
        Ok(())
    }

    /// [`write`](Self::write) for several holds, each page once.
    pub fn write_all<'a>(
        &self,
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
        self.members.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hid(n: usize) -> HoldId {
        HoldId::parse(&format!("h{n}")).unwrap()
    }

    #[test]
    fn new_holds_fill_a_page_before_the_next_opens() {
        let mut pages = HoldPages::default();
        for n in 0..PAGE_HOLDS {
            assert_eq!(pages.place_new(&hid(n)), Place::Page(0));
        }
        assert_eq!(pages.place_new(&hid(PAGE_HOLDS)), Place::Page(1));
        assert_eq!(pages.place_new(&hid(0)), Place::Page(0), "placed once");
        assert_eq!(pages.pages(), 2);
    }

    #[test]
    fn a_removed_hold_can_be_put_back_where_it_was() {
        let mut pages = HoldPages::default();
        let place = pages.place_new(&hid(1));
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
        assert_eq!(pages.place_new(&hid(3)), Place::Page(5));
        assert_eq!(pages.remove(&hid(9)), Place::Own, "unknown: own key");
    }
}
