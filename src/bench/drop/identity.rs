//! Who the drop's clients are: the kinds of actor, the customer ids that
//! tell their orders apart afterwards, the tokens they present and the
//! addresses they come from.
//!
//! Every customer id is `<letter><run>-<n>`: the letter names the kind, the
//! run id keeps runs against one server apart. The bench holds the
//! server's token secret (it stands in for the merchant's site, which mints
//! a token for each logged-in customer), so humans, sock puppets and
//! hammering bots carry real tokens: bots are assumed to have obtained real
//! accounts. The other bots have none, or forge one.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};

/// One kind of client of the drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Actor {
    /// A person: one ticket, waits as told, honours `Retry-After`.
    Human,
    /// A bot without a token: every write is 401.
    NoToken,
    /// A bot with a forged token (wrong secret, or `alg: none`): 401.
    Forged,
    /// Many real accounts behind one address: the per-address limits bite.
    Puppet,
    /// A real account on its own address that hammers: purchases without
    /// an admission, its ticket re-read without waiting.
    Hammer,
}

impl Actor {
    pub const ALL: [Actor; 5] = [
        Actor::Human,
        Actor::NoToken,
        Actor::Forged,
        Actor::Puppet,
        Actor::Hammer,
    ];
    /// The bot kinds, in the order bot connections are dealt to them.
    pub const BOTS: [Actor; 4] = [Actor::NoToken, Actor::Forged, Actor::Puppet, Actor::Hammer];

    pub fn name(self) -> &'static str {
        match self {
            Self::Human => "humans",
            Self::NoToken => "no-token",
            Self::Forged => "forged",
            Self::Puppet => "sock-puppets",
            Self::Hammer => "hammer",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    fn letter(self) -> char {
        match self {
            Self::Human => 'h',
            Self::NoToken => 'n',
            Self::Forged => 'f',
            Self::Puppet => 'p',
            Self::Hammer => 'x',
        }
    }
}

/// How long a minted token lives: longer than any run.
const TOKEN_TTL_SECS: u64 = 3_600;

/// The sock puppets' one address (TEST-NET-1).
pub const PUPPET_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 66));

/// The run's customers and how their tokens are made.
pub struct Identities {
    run: String,
    key: EncodingKey,
    /// A secret the server does not know, for forged tokens.
    wrong_key: EncodingKey,
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    exp: u64,
}

impl Identities {
    pub fn new(run: &str, secret: &str) -> Self {
        Self {
            run: run.to_owned(),
            key: EncodingKey::from_secret(secret.as_bytes()),
            wrong_key: EncodingKey::from_secret(format!("not-{secret}").as_bytes()),
        }
    }

    /// The `n`-th customer of `actor`'s kind.
    pub fn customer(&self, actor: Actor, n: u64) -> String {
        format!("{}{}-{n}", actor.letter(), self.run)
    }

    /// Which kind of actor `customer` is, if it is one of this run's.
    pub fn actor_of(&self, customer: &str) -> Option<Actor> {
        let mut chars = customer.chars();
        let letter = chars.next()?;
        let rest = chars.as_str().strip_prefix(self.run.as_str())?;
        if !rest.starts_with('-') {
            return None;
        }
        Actor::ALL.into_iter().find(|a| a.letter() == letter)
    }

    /// A token as the merchant's site mints it for `customer`.
    pub fn token(&self, customer: &str) -> anyhow::Result<String> {
        self.sign(customer, &self.key)
    }

    /// A forged token for `customer`: signed with a wrong secret when
    /// `n` is even, unsigned (`alg: none`) when odd.
    pub fn forged(&self, customer: &str, n: u64) -> anyhow::Result<String> {
        let signed = self.sign(customer, &self.wrong_key)?;
        if n % 2 == 0 {
            return Ok(signed);
        }
        // The same claims under the header `{"alg":"none","typ":"JWT"}`
        // (base64url), with no signature: what an attacker hopes a
        // careless verifier accepts.
        const NONE_HEADER: &str = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        let claims = signed.split('.').nth(1).unwrap_or_default();
        Ok(format!("{NONE_HEADER}.{claims}."))
    }

    fn sign(&self, customer: &str, key: &EncodingKey) -> anyhow::Result<String> {
        let exp = crate::clock::Clock::now_ms(&crate::clock::SystemClock) / 1000 + TOKEN_TTL_SECS;
        let claims = Claims { sub: customer, exp };
        Ok(encode(&Header::new(Algorithm::HS256), &claims, key)?)
    }
}

/// Human `i`'s own address: one household each, in 10.0.0.0/8.
pub fn human_address(i: usize) -> IpAddr {
    let [_, a, b, c] = (i as u32 + 1).to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(10, a, b, c))
}

/// Hammering bot `i`'s own address, in 100.64.0.0/10 (a carrier's range).
pub fn hammer_address(i: usize) -> IpAddr {
    let [_, _, b, c] = (i as u32 + 1).to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(100, 64, b, c))
}

/// A fresh address of a botnet for one request, in 198.18.0.0/15: no
/// per-address limit keeps up, so only the token check stops these.
pub fn botnet_address() -> IpAddr {
    let n = fastrand::u32(..1 << 17);
    let [_, a, b, c] = n.to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(198, 18 + a, b, c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, DecodingKey, Validation};

    const SECRET: &str = "a-test-secret-of-at-least-32-bytes!!";

    #[derive(serde::Deserialize)]
    struct Read {
        sub: String,
    }

    fn verify(token: &str) -> Result<String, jsonwebtoken::errors::Error> {
        let key = DecodingKey::from_secret(SECRET.as_bytes());
        decode::<Read>(token, &key, &Validation::new(Algorithm::HS256)).map(|t| t.claims.sub)
    }

    #[test]
    fn minted_tokens_verify_and_forged_ones_do_not() {
        let ids = Identities::new("r1", SECRET);
        let human = ids.customer(Actor::Human, 7);
        assert_eq!(verify(&ids.token(&human).unwrap()).unwrap(), human);
        let forged = ids.customer(Actor::Forged, 1);
        for n in 0..2 {
            let token = ids.forged(&forged, n).unwrap();
            assert!(verify(&token).is_err(), "{token}");
        }
        assert!(ids
            .forged(&forged, 1)
            .unwrap()
            .starts_with("eyJhbGciOiJub25l"));
    }

    #[test]
    fn customers_are_told_apart_by_kind_and_run() {
        let ids = Identities::new("r1", SECRET);
        for actor in Actor::ALL {
            assert_eq!(ids.actor_of(&ids.customer(actor, 3)), Some(actor));
        }
        assert_eq!(ids.actor_of("hr2-3"), None, "another run");
        assert_eq!(ids.actor_of("hr1x-3"), None);
        assert_eq!(ids.actor_of("alice"), None);
        assert_eq!(ids.actor_of(""), None);
    }

    #[test]
    fn addresses_are_distinct_per_human_and_in_their_ranges() {
        assert_eq!(human_address(0).to_string(), "10.0.0.1");
        assert_eq!(human_address(256).to_string(), "10.0.1.1");
        assert_ne!(human_address(4), human_address(5));
        assert_eq!(hammer_address(0).to_string(), "100.64.0.1");
        let IpAddr::V4(bot) = botnet_address() else {
            panic!("v4")
        };
        assert!(matches!(bot.octets()[0..2], [198, 18] | [198, 19]));
    }
}
