//! How far the humans of a drop were served in queue order: a pure measure
//! over what each human saw, so that it can be tested without a server.
//!
//! The order surge promises, as far as a client can check it: every ticket
//! taken before the sale starts is ahead of every ticket taken after it,
//! and after the start first come, first served. So human `a` is *ahead
//! of* human `b` when `b` sent its join after the start and `a`'s join had
//! been answered before `b` sent its own (joins in flight at the same time
//! have no order a client can know, and are not compared). Among the
//! tickets taken before the start, the order is the lottery's, which no
//! client can see: those pairs are measured apart, as the share in which
//! the earlier joiner went first (a fair draw gives about one half; first
//! come, first served would give 1).
//!
//! A pair is *in order* when the one ahead went first: it was admitted (or
//! bought) and the other was not, or earlier, or in the same admitter round
//! (the same instant). Pairs where neither was admitted (bought) say
//! nothing and are left out. Two shares come out: admitted in order (the
//! waiting room's own order, read from the admission's expiry, which is
//! the admission's time plus one fixed TTL) and served in order (when the
//! purchase was acknowledged: what a human lives, blurred by how long each
//! waits between two looks at its ticket).

use serde::Serialize;

/// One human's timeline, as far as order is concerned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeline {
    /// When its join was sent, and when its ticket came back (ms since the
    /// run began).
    pub join_sent_ms: u64,
    pub join_answered_ms: u64,
    /// When its admission expires, on the server's clock; `None` if it was
    /// never admitted.
    pub admission_expires_ms: Option<u64>,
    /// When its purchase was acknowledged (ms since the run began).
    pub bought_ms: Option<u64>,
}

/// Pairs compared and how many of them were in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PairShare {
    pub pairs: u64,
    /// In order; a tie (the same instant) counts as half for the lottery,
    /// where no order is promised, and as whole elsewhere.
    pub in_order: f64,
    /// Pairs admitted (bought) at the same instant: one admitter round
    /// lets in up to `admit_per_sec` at once.
    pub ties: u64,
    /// `in_order / pairs`; `None` without pairs.
    pub share: Option<f64>,
}

/// The drop's queue-order figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Fidelity {
    /// Pairs with a promised order, by admission.
    pub admitted_in_order: PairShare,
    /// The same pairs, by acknowledged purchase.
    pub served_in_order: PairShare,
    /// Pairs of humans who both joined before the start (the earlier
    /// answered before the later was sent): how often the earlier joiner
    /// was admitted first.
    pub lottery_earlier_first: PairShare,
}

/// Who of two went first, by some optional time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum First {
    This,
    Same,
    That,
    /// Neither happened.
    Neither,
}

fn first(this: Option<u64>, that: Option<u64>) -> First {
    match (this, that) {
        (None, None) => First::Neither,
        (Some(_), None) => First::This,
        (None, Some(_)) => First::That,
        (Some(a), Some(b)) if a < b => First::This,
        (Some(a), Some(b)) if a == b => First::Same,
        _ => First::That,
    }
}

#[derive(Default)]
struct Tally {
    pairs: u64,
    in_order: f64,
    ties: u64,
}

impl Tally {
    /// Counts a pair where `ahead` should go first; a tie counts `tie`.
    fn count(&mut self, went: First, tie: f64) {
        self.pairs += u64::from(went != First::Neither);
        self.ties += u64::from(went == First::Same);
        self.in_order += match went {
            First::This => 1.0,
            First::Same => tie,
            First::That | First::Neither => 0.0,
        };
    }

    fn share(&self) -> PairShare {
        PairShare {
            pairs: self.pairs,
            in_order: self.in_order,
            ties: self.ties,
            share: (self.pairs > 0).then(|| self.in_order / self.pairs as f64),
        }
    }
}

/// The figures for `humans` of a sale that started at `start_ms` (ms since
/// the run began). Every pair is looked at: O(n²), fine for the few
/// thousand humans a run has (`--humans` is bounded).
pub fn measure(humans: &[Timeline], start_ms: u64) -> Fidelity {
    let (mut admitted, mut served, mut lottery) =
        (Tally::default(), Tally::default(), Tally::default());
    for a in humans {
        for b in humans {
            if a.join_answered_ms >= b.join_sent_ms {
                continue;
            }
            // `a` joined strictly before `b`.
            let admitted_first = first(a.admission_expires_ms, b.admission_expires_ms);
            if b.join_sent_ms >= start_ms {
                admitted.count(admitted_first, 1.0);
                served.count(first(a.bought_ms, b.bought_ms), 1.0);
            } else if b.join_answered_ms < start_ms {
                lottery.count(admitted_first, 0.5);
            }
        }
    }
    Fidelity {
        admitted_in_order: admitted.share(),
        served_in_order: served.share(),
        lottery_earlier_first: lottery.share(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A human joining over `[sent, answered]`, admitted (expiry) and
    /// bought at the given times.
    fn human(sent: u64, answered: u64, admitted: Option<u64>, bought: Option<u64>) -> Timeline {
        Timeline {
            join_sent_ms: sent,
            join_answered_ms: answered,
            admission_expires_ms: admitted,
            bought_ms: bought,
        }
    }

    #[test]
    fn humans_served_in_join_order_after_the_start_are_all_in_order() {
        let humans: Vec<_> = (0..10)
            .map(|i| human(1000 + 10 * i, 1005 + 10 * i, Some(50 + i), Some(2000 + i)))
            .collect();
        let f = measure(&humans, 1000);
        assert_eq!(f.admitted_in_order.pairs, 45);
        assert_eq!(f.admitted_in_order.share, Some(1.0));
        assert_eq!(f.served_in_order.share, Some(1.0));
        assert_eq!(f.lottery_earlier_first.pairs, 0);
    }

    #[test]
    fn a_later_joiner_served_first_is_one_pair_out_of_order() {
        // Three after the start; the third bought before the second.
        let humans = [
            human(100, 110, Some(1), Some(500)),
            human(200, 210, Some(2), Some(700)),
            human(300, 310, Some(3), Some(600)),
        ];
        let f = measure(&humans, 0);
        assert_eq!(f.admitted_in_order.share, Some(1.0));
        assert_eq!(f.served_in_order.pairs, 3);
        assert_eq!(f.served_in_order.in_order, 2.0);
    }

    #[test]
    fn an_earlier_joiner_left_without_while_a_later_one_bought_is_out_of_order() {
        let humans = [
            human(100, 110, None, None),
            human(200, 210, Some(2), Some(700)),
            // Neither admitted: this pair with the first says nothing.
            human(300, 310, None, None),
        ];
        let f = measure(&humans, 0);
        // (1,2) out of order, (2,3) in order, (1,3) not counted.
        assert_eq!(f.served_in_order.pairs, 2);
        assert_eq!(f.served_in_order.in_order, 1.0);
        assert_eq!(f.admitted_in_order.share, Some(0.5));
    }

    #[test]
    fn joins_in_flight_together_are_not_compared() {
        // The second was sent before the first was answered.
        let humans = [
            human(100, 300, Some(2), Some(900)),
            human(200, 250, Some(1), Some(800)),
        ];
        let f = measure(&humans, 0);
        assert_eq!(f.served_in_order.pairs, 0);
        assert_eq!(f.served_in_order.share, None);
    }

    #[test]
    fn the_same_admitter_round_is_in_order_after_the_start_and_half_in_the_lottery() {
        let after = [human(10, 20, Some(7), None), human(30, 40, Some(7), None)];
        assert_eq!(measure(&after, 0).admitted_in_order.share, Some(1.0));
        let before = [human(10, 20, Some(7), None), human(30, 40, Some(7), None)];
        let f = measure(&before, 1000);
        assert_eq!(f.lottery_earlier_first.pairs, 1);
        assert_eq!(f.lottery_earlier_first.ties, 1);
        assert_eq!(f.lottery_earlier_first.share, Some(0.5));
        assert_eq!(f.admitted_in_order.pairs, 0);
    }

    #[test]
    fn everyone_who_joined_before_the_start_is_ahead_of_everyone_after() {
        let start = 1000;
        // Two lottery tickets drawn in reverse join order, then one after
        // the start admitted last: lottery pairs 0 of 1 earlier-first, and
        // both lottery humans are ahead of the late one.
        let humans = [
            human(100, 110, Some(20), Some(2100)),
            human(200, 210, Some(10), Some(2050)),
            human(1500, 1510, Some(30), Some(2200)),
        ];
        let f = measure(&humans, start);
        assert_eq!(f.lottery_earlier_first.share, Some(0.0));
        assert_eq!(f.admitted_in_order.pairs, 2);
        assert_eq!(f.admitted_in_order.share, Some(1.0));
        // A late joiner admitted before a lottery ticket breaks the promise.
        let jumped = [humans[0], human(1500, 1510, Some(5), Some(2000))];
        assert_eq!(measure(&jumped, start).admitted_in_order.share, Some(0.0));
    }

    #[test]
    fn a_join_answered_after_the_start_but_sent_before_is_neither_lottery_nor_compared_as_later() {
        // Sent before the start, answered after: which side of the start
        // the server put it is unknown. It is ahead of a later joiner, but
        // not part of a lottery pair.
        let humans = [
            human(100, 110, Some(1), Some(10)),
            human(900, 1100, Some(2), Some(20)),
            human(1200, 1210, Some(3), Some(30)),
        ];
        let f = measure(&humans, 1000);
        assert_eq!(f.lottery_earlier_first.pairs, 0);
        assert_eq!(f.admitted_in_order.pairs, 2);
    }
}
