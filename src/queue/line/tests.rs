use super::*;

const START: Millis = 100_000;

fn rule(admit_per_sec: u32) -> QueueRecord {
    QueueRecord {
        generation: 1,
        enabled: true,
        admit_per_sec,
        starts_at: Some(START),
        ends_at: None,
        sold_out: false,
    }
}

fn customer(n: usize) -> CustomerId {
    CustomerId::parse(&format!("c{n}")).unwrap()
}

fn fresh(draw: u64) -> Fresh {
    Fresh {
        id: TicketId::generate(),
        draw,
    }
}

/// Joins customers `c0..` with the given draws at `now`; their entries.
fn join_all(line: &mut Line, draws: &[u64], now: Millis) -> Vec<usize> {
    let first = line.len();
    draws
        .iter()
        .enumerate()
        .map(|(n, &draw)| {
            line.join(&customer(first + n), fresh(draw), now, 1_000)
                .unwrap()
                .0
        })
        .collect()
}

fn positions(line: &Line, entries: &[usize], now: Millis) -> Vec<u64> {
    entries
        .iter()
        .map(|&e| line.place(e, now).position)
        .collect()
}

fn records(line: &Line) -> Vec<TicketRecord> {
    (0..line.len()).map(|e| line.record(e).clone()).collect()
}

#[test]
fn tickets_taken_before_the_start_line_up_by_their_draw_not_by_arrival() {
    let mut line = Line::new(rule(100));
    let early = join_all(&mut line, &[50, 10, 40, 20, 30], START - 5_000);
    assert_eq!(positions(&line, &early, START - 1), [5, 1, 4, 2, 3]);
    assert_eq!(line.plan(START, 100), Plan::Admit(vec![1, 3, 4, 2, 0]));
}

#[test]
fn the_lottery_order_is_the_same_after_a_restore() {
    let mut line = Line::new(rule(100));
    let draws: Vec<u64> = (0..200u64)
        .map(|n| n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .collect();
    let early = join_all(&mut line, &draws, START - 1);
    let late = join_all(&mut line, &[7, 7, 7], START + 1);
    let mut restored = Line::restore(line.rule().clone(), records(&line), START + 2);
    let all: Vec<usize> = early.iter().chain(&late).copied().collect();
    assert_eq!(
        positions(&line, &all, START + 2),
        positions(&restored, &all, START + 2)
    );
    assert_eq!(line.plan(START + 2, 1_000), restored.plan(START + 2, 1_000));
}

#[test]
fn after_the_start_tickets_line_up_behind_the_lottery_in_arrival_order() {
    let mut line = Line::new(rule(100));
    let early = join_all(&mut line, &[9, 3], START - 1);
    let late = join_all(&mut line, &[0, 1, 2], START);
    assert!(late.iter().all(|&e| line.record(e).draw.is_none()));
    assert_eq!(positions(&line, &late, START), [3, 4, 5]);
    assert_eq!(
        line.plan(START, 100),
        Plan::Admit(vec![early[1], early[0], late[0], late[1], late[2]])
    );
}

#[test]
fn a_second_join_returns_the_first_ticket() {
    let mut line = Line::new(rule(100));
    let (first, new) = line.join(&customer(1), fresh(1), START, 10).unwrap();
    assert!(new);
    let (again, new) = line.join(&customer(1), fresh(2), START, 10).unwrap();
    assert_eq!((again, new), (first, false));
    assert_eq!(line.len(), 1);
}

#[test]
fn joins_beyond_the_bound_are_refused_but_holders_still_get_theirs() {
    let mut line = Line::new(rule(100));
    join_all(&mut line, &[1, 2], START);
    assert_eq!(
        line.join(&customer(9), fresh(3), START, 2),
        Err(Full { max: 2 })
    );
    assert_eq!(line.join(&customer(0), fresh(3), START, 2), Ok((0, false)));
}

#[test]
fn nobody_is_admitted_before_the_start_or_after_the_end() {
    let mut line = Line::new(QueueRecord {
        ends_at: Some(START + 10_000),
        ..rule(100)
    });
    let entries = join_all(&mut line, &[1, 2], START - 1);
    assert_eq!(line.plan(START - 1, 10), Plan::Idle);
    assert_eq!(line.plan(START + 10_000, 10), Plan::Idle);
    assert_eq!(
        line.place(entries[0], START + 10_000).status,
        Status::SoldOut
    );
}

#[test]
fn outstanding_admissions_never_exceed_the_units_available() {
    let mut line = Line::new(rule(1_000));
    join_all(&mut line, &[0; 10], START);
    let Plan::Admit(first) = line.plan(START, 3) else {
        panic!("nobody admitted")
    };
    assert_eq!(first, [0, 1, 2]);
    line.admit(&first, START + 120_000, START);
    assert_eq!(line.plan(START + 10, 3), Plan::Idle, "3 units, 3 admitted");
    // One buys: 2 units left, 2 admissions outstanding.
    let entry = line
        .claim(
            &line.record(0).id.clone(),
            &customer(0),
            START + 120_000,
            START + 20,
        )
        .unwrap();
    line.mark_used(entry);
    assert_eq!(line.plan(START + 30, 2), Plan::Idle);
    // A unit comes back (an unpaid order expired): one more is admitted.
    assert_eq!(line.plan(START + 40, 3), Plan::Admit(vec![3]));
}

#[test]
fn at_most_admit_per_sec_are_admitted_in_any_second() {
    let mut line = Line::new(rule(2));
    join_all(&mut line, &[0; 10], START);
    let Plan::Admit(first) = line.plan(START, 100) else {
        panic!("nobody admitted")
    };
    assert_eq!(first.len(), 2);
    line.admit(&first, START + 120_000, START);
    assert_eq!(line.plan(START + 999, 100), Plan::Idle);
    assert_eq!(line.plan(START + 1_000, 100), Plan::Admit(vec![2, 3]));
}

#[test]
fn an_unused_admission_that_expires_frees_its_place_for_the_next() {
    let mut line = Line::new(rule(100));
    join_all(&mut line, &[0; 3], START);
    let expires_at = START + 120_000;
    assert_eq!(line.plan(START, 1), Plan::Admit(vec![0]));
    line.admit(&[0], expires_at, START);
    assert_eq!(line.plan(expires_at - 1, 1), Plan::Idle);
    assert_eq!(line.plan(expires_at, 1), Plan::Admit(vec![1]));
    let id = line.record(0).id.clone();
    assert_eq!(
        line.claim(&id, &customer(0), expires_at, expires_at),
        Err(Unusable::Expired)
    );
    assert_eq!(line.place(0, expires_at).status, Status::Admitted);
}

#[test]
fn with_nothing_left_and_nothing_outstanding_every_waiting_ticket_reads_sold_out() {
    let mut line = Line::new(rule(100));
    let entries = join_all(&mut line, &[0; 3], START);
    line.admit(&[entries[0]], START + 1_000, START);
    assert_eq!(
        line.plan(START, 0),
        Plan::Idle,
        "an admission is outstanding"
    );
    assert_eq!(line.plan(START + 1_000, 0), Plan::Close);
    line.set_rule(QueueRecord {
        sold_out: true,
        ..line.rule().clone()
    });
    let statuses: Vec<Status> = entries
        .iter()
        .map(|&e| line.place(e, START).status)
        .collect();
    assert_eq!(
        statuses,
        [Status::Admitted, Status::SoldOut, Status::SoldOut]
    );
    let (late, _) = line.join(&customer(7), fresh(0), START, 10).unwrap();
    assert_eq!(line.place(late, START).status, Status::SoldOut);
    assert_eq!(line.plan(START + 2_000, 1), Plan::Reopen);
}

#[test]
fn the_eta_is_the_time_to_the_start_plus_those_ahead_over_the_rate_rounded_up() {
    let mut line = Line::new(rule(10));
    let entries = join_all(&mut line, &[0; 26], START);
    let last = line.place(entries[25], START);
    assert_eq!((last.position, last.ahead, last.eta_secs), (26, 25, 3));
    assert_eq!(line.place(entries[0], START).eta_secs, 0);
    let mut early = Line::new(rule(10));
    let entries = join_all(&mut early, &[5], START - 5_500);
    assert_eq!(early.place(entries[0], START - 5_500).eta_secs, 6);
}

#[test]
fn an_admission_is_used_once_by_its_own_customer() {
    let mut line = Line::new(rule(100));
    join_all(&mut line, &[0; 2], START);
    let expires_at = START + 1_000;
    line.admit(&[0], expires_at, START);
    let id = line.record(0).id.clone();
    assert_eq!(
        line.claim(&id, &customer(1), expires_at, START),
        Err(Unusable::Invalid)
    );
    assert_eq!(
        line.claim(&id, &customer(0), expires_at + 1, START),
        Err(Unusable::Invalid)
    );
    let other = line.record(1).id.clone();
    assert_eq!(
        line.claim(&other, &customer(1), expires_at, START),
        Err(Unusable::Invalid)
    );
    let entry = line.claim(&id, &customer(0), expires_at, START).unwrap();
    assert_eq!(
        line.claim(&id, &customer(0), expires_at, START),
        Err(Unusable::InUse)
    );
    line.unclaim(entry);
    let entry = line.claim(&id, &customer(0), expires_at, START).unwrap();
    assert!(line.used_record(entry).admission.is_some_and(|a| a.used));
    line.mark_used(entry);
    assert_eq!(line.outstanding(), 0);
    assert_eq!(
        line.claim(&id, &customer(0), expires_at, START),
        Err(Unusable::Used)
    );
}

#[test]
fn an_undone_join_leaves_the_line_as_it_was() {
    let mut line = Line::new(rule(100));
    let early = join_all(&mut line, &[5, 1], START - 1);
    let before = positions(&line, &early, START - 1);
    let (entry, _) = line.join(&customer(9), fresh(0), START - 1, 10).unwrap();
    assert_eq!(positions(&line, &early, START - 1), [3, 2]);
    line.undo_join(entry);
    assert_eq!(positions(&line, &early, START - 1), before);
    assert_eq!(line.len(), 2);
    assert_eq!(
        line.join(&customer(9), fresh(0), START - 1, 10).unwrap(),
        (2, true)
    );
    assert_eq!(line.record(2).seq, 2);
}
