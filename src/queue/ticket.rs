//! What a waiting room stores: the queue of a SKU (its rule and whether it
//! closed as sold out) and one record per ticket. A ticket is written when
//! it is taken, when it is admitted and when its admission is used; its
//! place in line is derived from the fields here (the lottery draw or the
//! join sequence), so the order survives a restart without being stored.

use crate::clock::Millis;
use crate::domain::{random_hex128, CustomerId, ParseError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A ticket's id: `tkt_<32 hex>` from 128 random bits. Unguessable, so it
/// is the capability to read the ticket (it carries no customer data).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TicketId(String);

/// The prefix of every ticket id.
const PREFIX: &str = "tkt_";

/// The pattern of a ticket id, as the OpenAPI document states it.
pub const TICKET_ID_PATTERN: &str = "^tkt_[0-9a-f]{32}$";

impl TicketId {
    pub fn generate() -> Self {
        Self(format!("{PREFIX}{}", random_hex128()))
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let hex = raw.strip_prefix(PREFIX).unwrap_or_default();
        let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if hex.len() != 32 || !hex.bytes().all(lower_hex) {
            return Err(ParseError::new(
                "a ticket id is 'tkt_' followed by 32 lowercase hex digits",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TicketId {
    type Error = ParseError;

    fn try_from(raw: String) -> Result<Self, ParseError> {
        Self::parse(&raw)
    }
}

impl From<TicketId> for String {
    fn from(id: TicketId) -> String {
        id.0
    }
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SKU's waiting room as stored under `queue/<sku>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRecord {
    /// Which run of the queue this is: enabling a disabled queue starts a
    /// new one, and tickets of other generations are stale.
    pub generation: u64,
    pub enabled: bool,
    pub admit_per_sec: u32,
    /// The sale window, copied from the sale when it is set (the same
    /// admin call sets both): nobody is admitted outside it.
    pub starts_at: Option<Millis>,
    pub ends_at: Option<Millis>,
    /// Closed because no unit was left and no admission outstanding: every
    /// waiting ticket reads `sold_out`. Opens again if units come back.
    pub sold_out: bool,
}

/// One ticket as stored under `qticket/<sku>/<generation>/<ticket>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRecord {
    pub id: TicketId,
    pub customer: CustomerId,
    /// Join order within the queue; first come first served after the start.
    pub seq: u64,
    /// The lottery draw of a ticket taken before the start: those are
    /// lined up by it. `None` for a ticket taken after (lined up by `seq`).
    pub draw: Option<u64>,
    pub admission: Option<Admitted>,
}

/// A ticket's turn: until `expires_at`, its holder may buy once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admitted {
    pub expires_at: Millis,
    /// The admission bought something; it cannot be used again.
    pub used: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ticket_ids_parse_and_differ_and_others_do_not() {
        let a = TicketId::generate();
        assert_eq!(TicketId::parse(a.as_str()), Ok(a.clone()));
        assert_ne!(a, TicketId::generate());
        for bad in [
            "",
            "tkt_",
            "tkt_0123456789abcdef0123456789abcde",
            "tkt_0123456789abcdef0123456789abcdeF",
            "ord_0123456789abcdef0123456789abcdef",
            "tkt_0123456789abcdef0123456789abcdef0",
        ] {
            assert!(TicketId::parse(bad).is_err(), "{bad}");
        }
    }
}
