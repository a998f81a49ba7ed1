//! Admission tokens: `<ticket>.<expires_at ms>.<hex HMAC-SHA256>`, the MAC
//! taken with a per-store secret over the SKU, the ticket, the customer and
//! the expiry. Anyone can read a token, nobody without the secret can make
//! or alter one, and it is worth nothing for another customer, SKU or
//! time. Single use is not the token's business: the queue records when
//! an admission is used (in the same commit as the order it bought).
//!
//! The secret is 32 random bytes made on the first start and kept in the
//! store (`meta/admission_secret`), so tokens stay valid across restarts.

use super::ticket::TicketId;
use crate::clock::Millis;
use crate::domain::{CustomerId, Sku};
use crate::store::{keys, Store, StoreError, WriteGroup};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;

/// Longest token accepted: a ticket id, a 20-digit time, 64 hex digits and
/// two dots fit well within it.
pub const TOKEN_LEN_MAX: usize = 128;

/// Signs and checks admission tokens.
#[derive(Clone)]
pub struct AdmissionKey(Arc<[u8; 32]>);

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub ticket: TicketId,
    pub expires_at: Millis,
}

impl AdmissionKey {
    pub fn new(secret: [u8; 32]) -> Self {
        Self(Arc::new(secret))
    }

    /// The store's key, made and stored on the first start.
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        if let Some(secret) = store.get::<[u8; 32]>(keys::ADMISSION_SECRET)? {
            return Ok(Self::new(secret));
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| StoreError::io(format!("no randomness: {e}")))?;
        let mut group = WriteGroup::new();
        group.put(keys::ADMISSION_SECRET.to_vec(), &secret)?;
        store.commit(group).await?;
        Ok(Self::new(secret))
    }

    /// The token admitting `customer`'s `ticket` to buy `sku` until `expires_at`.
    pub fn sign(
        &self,
        sku: &Sku,
        ticket: &TicketId,
        customer: &CustomerId,
        expires_at: Millis,
    ) -> String {
        let mac = self.mac(sku, ticket, customer, expires_at).finalize();
        format!("{ticket}.{expires_at}.{}", hex::encode(mac.into_bytes()))
    }

    /// What `token` says, if this key signed it for `sku` and `customer`.
    pub fn verify(&self, token: &str, sku: &Sku, customer: &CustomerId) -> Option<Claim> {
        if token.len() > TOKEN_LEN_MAX {
            return None;
        }
        let mut parts = token.split('.');
        let (Some(ticket), Some(expires_at), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let ticket = TicketId::parse(ticket).ok()?;
        // Digits only: `parse` would also take a leading '+', a second
        // spelling of the same time.
        if !expires_at.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let expires_at: Millis = expires_at.parse().ok()?;
        let mac = hex::decode(mac).ok()?;
        self.mac(sku, &ticket, customer, expires_at)
            .verify_slice(&mac)
            .ok()?;
        Some(Claim { ticket, expires_at })
    }

    fn mac(
        &self,
        sku: &Sku,
        ticket: &TicketId,
        customer: &CustomerId,
        expires_at: Millis,
    ) -> Hmac<Sha256> {
        // A MAC key of any length is accepted; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        // Ids cannot contain a newline, so the fields cannot run together.
        let text = format!("surge-admission-v1\n{sku}\n{ticket}\n{customer}\n{expires_at}");
        mac.update(text.as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> (Sku, TicketId, CustomerId) {
        (
            Sku::parse("DROP-1").unwrap(),
            TicketId::generate(),
            CustomerId::parse("alice").unwrap(),
        )
    }

    #[test]
    fn a_signed_token_verifies_for_its_sku_and_customer_only() {
        let key = AdmissionKey::new([7; 32]);
        let (sku, ticket, alice) = parts();
        let token = key.sign(&sku, &ticket, &alice, 1_234);
        assert!(token.len() <= TOKEN_LEN_MAX);
        assert_eq!(
            key.verify(&token, &sku, &alice),
            Some(Claim {
                ticket: ticket.clone(),
                expires_at: 1_234
            })
        );
        let bob = CustomerId::parse("bob").unwrap();
        assert_eq!(key.verify(&token, &sku, &bob), None);
        assert_eq!(
            key.verify(&token, &Sku::parse("DROP-2").unwrap(), &alice),
            None
        );
        assert_eq!(
            AdmissionKey::new([8; 32]).verify(&token, &sku, &alice),
            None
        );
    }

    #[test]
    fn altered_or_malformed_tokens_are_refused() {
        let key = AdmissionKey::new([7; 32]);
        let (sku, ticket, alice) = parts();
        let token = key.sign(&sku, &ticket, &alice, 1_234);
        let later = token.replacen(".1234.", ".9999.", 1);
        let other = key.sign(&sku, &TicketId::generate(), &alice, 1_234);
        let swapped = format!(
            "{}{}",
            &other[..other.find('.').unwrap()],
            &token[token.find('.').unwrap()..]
        );
        let plus = token.replacen(".1234.", ".+1234.", 1);
        for bad in [
            later.as_str(),
            swapped.as_str(),
            plus.as_str(),
            "",
            "...",
            &format!("{token}.x"),
            &token[..token.len() - 2],
            &"a".repeat(TOKEN_LEN_MAX + 1),
        ] {
            assert_eq!(key.verify(bad, &sku, &alice), None, "{bad}");
        }
    }
}
