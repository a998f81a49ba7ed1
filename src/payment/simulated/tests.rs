//! The simulated gateway through its public calls: magic tokens, op keys
//! answered once, the books kept, and the settings honoured.

use super::*;

fn gateway() -> SimulatedGateway {
    SimulatedGateway::new("simulated", SimulatedSettings::default())
}

fn token(raw: &str) -> PaymentToken {
    PaymentToken::parse(raw).unwrap()
}

fn eur(amount: i64) -> Money {
    Money::price(amount, "EUR").unwrap()
}

#[tokio::test(start_paused = true)]
async fn magic_tokens_have_fixed_outcomes() {
    let g = gateway();
    let auth = g.authorize("a1", &token("tok_ok"), eur(100)).await.unwrap();
    assert_eq!(auth.gateway, "simulated");
    assert_eq!(auth.amount, eur(100));
    assert!(auth.id.starts_with("auth_"));
    assert_eq!(
        g.authorize("a2", &token("tok_decline"), eur(100)).await,
        Err(PaymentError::Declined {
            reason: "card declined".into(),
            decline_code: Some("generic_decline".into()),
        })
    );
    let err = g.authorize("a3", &token("tok_error"), eur(100)).await;
    assert!(matches!(err, Err(PaymentError::Failed(_))), "{err:?}");
    let never = tokio::time::timeout(
        Duration::from_secs(60),
        g.authorize("a4", &token("tok_timeout"), eur(100)),
    )
    .await;
    assert!(never.is_err(), "tok_timeout answered");
    let stats = g.stats();
    assert_eq!((stats.authorized, stats.declined, stats.failed), (1, 1, 1));
    assert_eq!(stats.calls, 4);
}

#[tokio::test(start_paused = true)]
async fn an_op_key_is_answered_once() {
    let g = gateway();
    let t = token("tok_visa");
    let first = g.authorize("k", &t, eur(100)).await.unwrap();
    let again = g.authorize("k", &t, eur(100)).await.unwrap();
    assert_eq!(first, again);
    let (x, y) = tokio::join!(g.authorize("k2", &t, eur(5)), g.authorize("k2", &t, eur(5)));
    assert_eq!(x.unwrap(), y.unwrap());
    assert_eq!(g.stats().authorized, 2);

    g.capture("c", &first, eur(60)).await.unwrap();
    g.capture("c", &first, eur(60)).await.unwrap();
    assert_eq!(g.stats().captured, 1);

    let reused = g.authorize("k", &t, eur(101)).await;
    assert!(
        matches!(reused, Err(PaymentError::Invalid(_))),
        "{reused:?}"
    );
    let declined = g.authorize("d", &token("tok_decline"), eur(1)).await;
    assert_eq!(
        declined,
        g.authorize("d", &token("tok_decline"), eur(1)).await
    );
    assert_eq!(g.stats().declined, 1);
}

#[tokio::test(start_paused = true)]
async fn capture_void_and_refund_keep_the_books() {
    let g = gateway();
    let auth = g.authorize("a", &token("tok_ok"), eur(100)).await.unwrap();
    let too_much = g.capture("c0", &auth, eur(101)).await;
    assert!(
        matches!(too_much, Err(PaymentError::Invalid(_))),
        "{too_much:?}"
    );
    // An invalid request is not remembered: the key stays usable.
    g.capture("c0", &auth, eur(70)).await.unwrap();
    assert!(g.capture("c1", &auth, eur(31)).await.is_err());
    g.capture("c1", &auth, eur(30)).await.unwrap();
    assert!(g.void("v", &auth).await.is_err(), "void after capture");

    assert!(g.refund("r0", &auth, eur(101)).await.is_err());
    g.refund("r0", &auth, eur(60)).await.unwrap();
    assert!(g.refund("r1", &auth, eur(41)).await.is_err());
    g.refund("r1", &auth, eur(40)).await.unwrap();
    assert!(g.refund("r2", &auth, eur(1)).await.is_err());
    assert!(g
        .refund("r3", &auth, Money::price(1, "USD").unwrap())
        .await
        .is_err());

    let other = g.authorize("b", &token("tok_ok"), eur(10)).await.unwrap();
    g.void("v1", &other).await.unwrap();
    g.void("v2", &other).await.unwrap();
    assert!(
        g.capture("c2", &other, eur(1)).await.is_err(),
        "capture after void"
    );

    let stats = g.stats();
    assert_eq!(
        (
            stats.authorized,
            stats.captured,
            stats.voided,
            stats.refunded
        ),
        (2, 2, 1, 2)
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_or_foreign_authorizations_are_invalid() {
    let g = gateway();
    let mut auth = g.authorize("a", &token("tok_ok"), eur(10)).await.unwrap();
    auth.gateway = "elsewhere".into();
    assert!(matches!(
        g.void("v", &auth).await,
        Err(PaymentError::Invalid(_))
    ));
    auth.gateway = "simulated".into();
    auth.id = "auth_missing".into();
    assert!(matches!(
        g.capture("c", &auth, eur(1)).await,
        Err(PaymentError::Invalid(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn authorizations_granted_before_a_restart_are_honoured() {
    let before = gateway();
    let auth = before
        .authorize("a", &token("tok_ok"), eur(10))
        .await
        .unwrap();
    before.capture("c", &auth, eur(10)).await.unwrap();
    let after = gateway();
    after.refund("r", &auth, eur(4)).await.unwrap();
    after.refund("r2", &auth, eur(6)).await.unwrap();
    assert!(
        matches!(
            after.refund("r3", &auth, eur(1)).await,
            Err(PaymentError::Invalid(_))
        ),
        "no more than was captured"
    );
    let mine = after
        .authorize("a", &token("tok_ok"), eur(10))
        .await
        .unwrap();
    let mut forged = mine.clone();
    // This process's epoch, another number (equal once in 2^64 draws).
    forged.id = format!("{}ffffffffffffffff", &mine.id[..mine.id.len() - 16]);
    assert!(
        matches!(
            after.capture("c", &forged, eur(1)).await,
            Err(PaymentError::Invalid(_))
        ),
        "an unknown authorization of this process is refused"
    );
}

#[tokio::test(start_paused = true)]
async fn failure_rate_applies_to_ordinary_tokens_only() {
    let settings = SimulatedSettings {
        failure_rate: 1.0,
        ..SimulatedSettings::default()
    };
    let g = SimulatedGateway::new("simulated", settings);
    let failed = g.authorize("a", &token("tok_visa"), eur(10)).await;
    assert!(matches!(failed, Err(PaymentError::Failed(_))), "{failed:?}");
    let auth = g.authorize("b", &token("tok_ok"), eur(10)).await.unwrap();
    g.capture("c", &auth, eur(10)).await.unwrap();
    assert_eq!(g.stats().failed, 1);
}

#[tokio::test(start_paused = true)]
async fn latency_stays_within_the_settings() {
    let settings = SimulatedSettings {
        latency_ms_min: 20,
        latency_ms_max: 30,
        failure_rate: 0.0,
    };
    let g = SimulatedGateway::new("simulated", settings);
    for i in 0..20 {
        let started = tokio::time::Instant::now();
        g.authorize(&format!("k{i}"), &token("tok_ok"), eur(1))
            .await
            .unwrap();
        let took = started.elapsed();
        assert!(
            (Duration::from_millis(20)..=Duration::from_millis(31)).contains(&took),
            "{took:?}"
        );
    }
}

#[test]
fn settings_reject_unknown_keys() {
    let parsed: SimulatedSettings = serde_json::from_str(r#"{"failure_rate":0.5}"#).unwrap();
    assert_eq!(parsed.latency_ms_max, 5);
    assert!(serde_json::from_str::<SimulatedSettings>(r#"{"failure":0.5}"#).is_err());
}
