//! The key layout. One tree, one short prefix per record kind; numeric parts
//! are big-endian so that byte order is numeric order.

/// Catalog products, by product id.
pub const PRODUCT: &[u8] = b"prod/";
/// Per-SKU inventory records, by SKU.
pub const INVENTORY: &[u8] = b"inv/";
/// Set once the seed catalog has been loaded, so a restart never re-seeds.
pub const SEEDED: &[u8] = b"meta/seeded";

fn join(prefix: &[u8], id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + id.len());
    key.extend_from_slice(prefix);
    key.extend_from_slice(id.as_bytes());
    key
}

pub fn product(id: &str) -> Vec<u8> {
    join(PRODUCT, id)
}

pub fn inventory(sku: &str) -> Vec<u8> {
    join(INVENTORY, sku)
}

/// A numeric key: `prefix` then `n` in big-endian, so scans run in order.
pub fn numbered(prefix: &[u8], n: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 8);
    key.extend_from_slice(prefix);
    key.extend_from_slice(&n.to_be_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_keys_sort_numerically() {
        let mut keys: Vec<Vec<u8>> = [256u64, 1, 65_536, 2].iter().map(|&n| numbered(b"x/", n)).collect();
        keys.sort();
        let expected: Vec<Vec<u8>> = [1u64, 2, 256, 65_536].iter().map(|&n| numbered(b"x/", n)).collect();
        assert_eq!(keys, expected);
    }
}
