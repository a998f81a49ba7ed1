//! One SKU's waiting room as a pure, synchronous state machine: who holds a
//! ticket, in which order they are served, who is admitted now, and when
//! the room closes. No I/O, no clock (time is passed in as `now`), no
//! randomness (a new ticket's id and draw are passed in): the owner
//! ([`super::queues`]) writes what changed and tests drive it directly.
//!
//! The order. Tickets taken before the queue opens (the sale's start) are
//! a lottery: each carries a random draw, and they line up by it, so
//! arriving early gives no edge. Once the queue has opened, the lottery is
//! frozen and later tickets line up behind it by join sequence. The line
//! is `lottery ++ fifo`, and admissions only ever take its front, so every
//! ticket before `front` has been admitted and every one from it waits:
//! a ticket's position is its index in the line minus `front`, found by a
//! binary search (O(log n)) instead of a scan.

use super::ticket::{Admitted, QueueRecord, TicketId, TicketRecord};
use crate::clock::Millis;
use crate::domain::CustomerId;
use std::collections::{BTreeSet, HashMap, VecDeque};

/// What a ticket holder is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Waiting,
    Admitted,
    SoldOut,
}

/// Where a ticket stands. `position`, `ahead` and `eta_secs` are 0 unless
/// it is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub status: Status,
    /// 1 for the next to be admitted.
    pub position: u64,
    pub ahead: u64,
    /// Seconds until the start, plus `ahead / admit_per_sec` rounded up: a
    /// lower bound, as admissions also wait for units to be free.
    pub eta_secs: u64,
    pub admission: Option<Admitted>,
}

/// What the admitter should do for this queue now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Idle,
    /// Admit these entries (in line order); see [`Line::admit`].
    Admit(Vec<usize>),
    /// No unit left and no admission outstanding: close as sold out.
    Close,
    /// Units came back to a closed queue: let the waiting wait again.
    Reopen,
}

/// Why a join is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    pub max: usize,
}

/// Why an admission cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// Not an admission this queue gave (another run of it, another
    /// customer, never admitted).
    Invalid,
    Expired,
    Used,
    /// Another purchase is using it right now.
    InUse,
}

/// A new ticket's randomness, drawn by the caller.
#[derive(Debug, Clone)]
pub struct Fresh {
    pub id: TicketId,
    pub draw: u64,
}

struct Entry {
    record: TicketRecord,
    /// A purchase is using its admission (at most one at a time).
    claimed: bool,
    /// Its record is on disk (false only while its join commits).
    durable: bool,
}

pub struct Line {
    rule: QueueRecord,
    entries: Vec<Entry>,
    by_id: HashMap<TicketId, usize>,
    by_customer: HashMap<CustomerId, usize>,
    /// Tickets taken before the queue opened: (draw, seq, entry), sorted.
    lottery: Vec<(u64, u64, usize)>,
    /// Tickets taken after, in join order.
    fifo: Vec<usize>,
    /// Index in the line of the first ticket not yet admitted.
    front: usize,
    /// Admissions neither used nor expired: (expires_at, entry).
    outstanding: BTreeSet<(Millis, usize)>,
    /// When each admission of the last second was given.
    recent: VecDeque<Millis>,
    next_seq: u64,
}

/// The rate window.
const SECOND_MS: Millis = 1_000;

impl Line {
    pub fn new(rule: QueueRecord) -> Self {
        Self {
            rule,
            entries: Vec::new(),
            by_id: HashMap::new(),
            by_customer: HashMap::new(),
            lottery: Vec::new(),
            fifo: Vec::new(),
            front: 0,
            outstanding: BTreeSet::new(),
            recent: VecDeque::new(),
            next_seq: 0,
        }
    }

    /// The queue as stored: the same order, the same admissions.
    pub fn restore(rule: QueueRecord, mut records: Vec<TicketRecord>, now: Millis) -> Self {
        records.sort_by_key(|r| r.seq);
        let mut line = Self::new(rule);
        for record in records {
            line.next_seq = line.next_seq.max(record.seq.saturating_add(1));
            let entry = line.insert(record, true);
            if let Some(a) = line.entries[entry].record.admission {
                if !a.used && a.expires_at > now {
                    line.outstanding.insert((a.expires_at, entry));
                }
            }
        }
        line.advance_front();
        line
    }

    pub fn rule(&self) -> &QueueRecord {
        &self.rule
    }

    /// Changes the rate or the window (same run).
    pub fn set_rule(&mut self, rule: QueueRecord) {
        self.rule = rule;
    }

    /// Closes the queue as sold out, or opens it again.
    pub fn set_sold_out(&mut self, sold_out: bool) {
        self.rule.sold_out = sold_out;
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every ticket id, for the owner's index.
    pub fn ids(&self) -> impl Iterator<Item = &TicketId> + '_ {
        self.entries.iter().map(|e| &e.record.id)
    }

    pub fn find(&self, id: &TicketId) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub fn record(&self, entry: usize) -> &TicketRecord {
        &self.entries[entry].record
    }

    pub fn is_durable(&self, entry: usize) -> bool {
        self.entries[entry].durable
    }

    pub fn made_durable(&mut self, entry: usize) {
        self.entries[entry].durable = true;
    }

    /// The ticket of `customer`: the one it has, or a new one at the end of
    /// the line (in the lottery until the queue opens). `Ok((entry, new))`.
    pub fn join(
        &mut self,
        customer: &CustomerId,
        fresh: Fresh,
        now: Millis,
        tickets_max: usize,
    ) -> Result<(usize, bool), Full> {
        if let Some(&entry) = self.by_customer.get(customer) {
            return Ok((entry, false));
        }
        if self.entries.len() >= tickets_max {
            return Err(Full { max: tickets_max });
        }
        let record = TicketRecord {
            id: fresh.id,
            customer: customer.clone(),
            seq: self.next_seq,
            draw: (!self.opened(now)).then_some(fresh.draw),
            admission: None,
        };
        self.next_seq += 1;
        Ok((self.insert(record, false), true))
    }

    /// Takes back the ticket `join` just made (its write could not be
    /// queued), leaving the line as it was before.
    pub fn undo_join(&mut self, entry: usize) {
        if entry + 1 != self.entries.len() {
            return;
        }
        let Some(Entry { record, .. }) = self.entries.pop() else {
            return;
        };
        self.by_id.remove(&record.id);
        self.by_customer.remove(&record.customer);
        match record.draw {
            Some(_) => self.lottery.retain(|&(_, _, e)| e != entry),
            None => drop(self.fifo.pop()),
        }
        self.next_seq = record.seq;
    }

    /// Where `entry` stands at `now`.
    pub fn place(&self, entry: usize, now: Millis) -> Place {
        let record = &self.entries[entry].record;
        let mut place = Place {
            status: Status::Waiting,
            position: 0,
            ahead: 0,
            eta_secs: 0,
            admission: record.admission,
        };
        if record.admission.is_some() {
            place.status = Status::Admitted;
        } else if self.rule.sold_out || self.ended(now) {
            place.status = Status::SoldOut;
        } else {
            let ahead = self.index_of(entry).saturating_sub(self.front) as u64;
            let to_start = match self.rule.starts_at {
                Some(at) if at > now => (at - now).div_ceil(SECOND_MS),
                _ => 0,
            };
            place.position = ahead + 1;
            place.ahead = ahead;
            place.eta_secs = to_start + ahead.div_ceil(u64::from(self.rule.admit_per_sec.max(1)));
        }
        place
    }

    /// Decides this moment's step, given the units `available` now. Lapsed
    /// admissions stop counting here (their tickets keep their expired
    /// admission: that turn is over).
    pub fn plan(&mut self, now: Millis, available: u64) -> Plan {
        if !self.rule.enabled || !self.started(now) || self.ended(now) {
            return Plan::Idle;
        }
        self.lapse(now);
        if self.rule.sold_out {
            return if available > 0 {
                Plan::Reopen
            } else {
                Plan::Idle
            };
        }
        let outstanding = self.outstanding.len() as u64;
        if available == 0 && outstanding == 0 {
            return Plan::Close;
        }
        let for_units = available.saturating_sub(outstanding);
        let for_rate = u64::from(self.rule.admit_per_sec).saturating_sub(self.recent.len() as u64);
        let picked = self.next_waiting(for_units.min(for_rate));
        if picked.is_empty() {
            Plan::Idle
        } else {
            Plan::Admit(picked)
        }
    }

    /// Admits `entries` (a plan's, once its writes are durable) until
    /// `expires_at`.
    pub fn admit(&mut self, entries: &[usize], expires_at: Millis, now: Millis) {
        for &entry in entries {
            let record = &mut self.entries[entry].record;
            if record.admission.is_some() {
                continue;
            }
            record.admission = Some(Admitted {
                expires_at,
                used: false,
            });
            self.outstanding.insert((expires_at, entry));
            self.recent.push_back(now);
        }
        self.advance_front();
    }

    /// The record of `entry` admitted until `expires_at` (what a plan writes).
    pub fn admitted_record(&self, entry: usize, expires_at: Millis) -> TicketRecord {
        let mut record = self.entries[entry].record.clone();
        record.admission = Some(Admitted {
            expires_at,
            used: false,
        });
        record
    }

    /// Reserves the admission of ticket `id` for one purchase by `customer`
    /// (given until `expires_at`, as its token says).
    pub fn claim(
        &mut self,
        id: &TicketId,
        customer: &CustomerId,
        expires_at: Millis,
        now: Millis,
    ) -> Result<usize, Unusable> {
        let entry = self.find(id).ok_or(Unusable::Invalid)?;
        let slot = &mut self.entries[entry];
        let Some(admission) = slot.record.admission else {
            return Err(Unusable::Invalid);
        };
        if slot.record.customer != *customer || admission.expires_at != expires_at {
            return Err(Unusable::Invalid);
        }
        if admission.used {
            return Err(Unusable::Used);
        }
        if admission.expires_at <= now {
            return Err(Unusable::Expired);
        }
        if slot.claimed {
            return Err(Unusable::InUse);
        }
        slot.claimed = true;
        Ok(entry)
    }

    /// A claim whose purchase failed: the admission may be used again.
    pub fn unclaim(&mut self, entry: usize) {
        self.entries[entry].claimed = false;
    }

    /// The record of `entry` with its admission used (what a purchase writes).
    pub fn used_record(&self, entry: usize) -> TicketRecord {
        let mut record = self.entries[entry].record.clone();
        if let Some(a) = &mut record.admission {
            a.used = true;
        }
        record
    }

    /// A claimed admission bought something (its purchase is durable).
    pub fn mark_used(&mut self, entry: usize) {
        let slot = &mut self.entries[entry];
        slot.claimed = false;
        if let Some(a) = &mut slot.record.admission {
            a.used = true;
            self.outstanding.remove(&(a.expires_at, entry));
        }
    }

    /// Admissions neither used nor expired at the last plan.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }
}

/// Private steps.
impl Line {
    fn insert(&mut self, record: TicketRecord, durable: bool) -> usize {
        let entry = self.entries.len();
        self.by_id.insert(record.id.clone(), entry);
        self.by_customer.insert(record.customer.clone(), entry);
        match record.draw {
            Some(draw) => {
                let key = (draw, record.seq);
                let at = self.lottery.partition_point(|&(d, s, _)| (d, s) < key);
                self.lottery.insert(at, (draw, record.seq, entry));
            }
            None => self.fifo.push(entry),
        }
        self.entries.push(Entry {
            record,
            claimed: false,
            durable,
        });
        entry
    }

    fn started(&self, now: Millis) -> bool {
        self.rule.starts_at.is_none_or(|at| now >= at)
    }

    fn ended(&self, now: Millis) -> bool {
        self.rule.ends_at.is_some_and(|at| now >= at)
    }

    /// Whether the lottery is over: the sale started, or someone was lined
    /// up or admitted after it (a start moved later cannot reopen it).
    fn opened(&self, now: Millis) -> bool {
        self.started(now) || !self.fifo.is_empty() || self.front > 0
    }

    /// The entry at `index` in the line.
    fn at(&self, index: usize) -> Option<usize> {
        match self.lottery.get(index) {
            Some(&(_, _, entry)) => Some(entry),
            None => self.fifo.get(index - self.lottery.len()).copied(),
        }
    }

    /// The index in the line of `entry`.
    fn index_of(&self, entry: usize) -> usize {
        let record = &self.entries[entry].record;
        match record.draw {
            Some(draw) => {
                let key = (draw, record.seq);
                self.lottery.partition_point(|&(d, s, _)| (d, s) < key)
            }
            None => {
                let seq = record.seq;
                let entries = &self.entries;
                self.lottery.len() + self.fifo.partition_point(|&e| entries[e].record.seq < seq)
            }
        }
    }

    /// Up to `n` waiting entries from the front.
    fn next_waiting(&self, n: u64) -> Vec<usize> {
        let mut picked = Vec::new();
        let mut index = self.front;
        while (picked.len() as u64) < n {
            let Some(entry) = self.at(index) else { break };
            if self.entries[entry].record.admission.is_none() {
                picked.push(entry);
            }
            index += 1;
        }
        picked
    }

    fn advance_front(&mut self) {
        while let Some(entry) = self.at(self.front) {
            if self.entries[entry].record.admission.is_none() {
                break;
            }
            self.front += 1;
        }
    }

    fn lapse(&mut self, now: Millis) {
        while let Some(&(at, _)) = self.outstanding.first() {
            if at > now {
                break;
            }
            self.outstanding.pop_first();
        }
        while self.recent.front().is_some_and(|&at| at + SECOND_MS <= now) {
            self.recent.pop_front();
        }
    }
}

#[cfg(test)]
mod tests;
