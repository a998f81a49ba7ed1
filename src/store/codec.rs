//! Record encoding: one version byte, then postcard. The version byte lets a
//! later release read old records (or refuse them clearly) instead of
//! misreading bytes.

use super::StoreError;
use serde::{de::DeserializeOwned, Serialize};

/// The encoding every record is written with today.
pub const VERSION: u8 = 1;

/// Encodes a record. Encoding our own types into a `Vec` cannot fail except
/// on a serde impl that refuses its value, which is a programming error.
pub fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![VERSION];
    let body = postcard::to_stdvec(record)
        .map_err(|e| StoreError::io(format!("encoding a record: {e}")))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Appends `record`'s encoding (without the version byte) to `body`.
/// Records appended one after another and framed by [`encode_seq`] read
/// back as a `Vec` of them: a list that grows can be kept encoded.
pub fn append<T: Serialize>(record: &T, body: &mut Vec<u8>) -> Result<(), StoreError> {
    postcard::to_extend(record, std::mem::take(body))
        .map(|extended| *body = extended)
        .map_err(|e| StoreError::io(format!("encoding a record: {e}")))
}

/// The record of a `Vec` of `count` records whose [`append`]ed encodings
/// are `body`: exactly what [`encode`] gives for that `Vec`.
pub fn encode_seq(count: usize, body: &[u8]) -> Result<Vec<u8>, StoreError> {
    // postcard writes a sequence as its length (a varint usize) and then
    // its elements, each as it would be alone.
    let mut out = encode(&count)?;
    out.reserve_exact(body.len());
    out.extend_from_slice(body);
    Ok(out)
}

/// Decodes a record read from `key`; any mismatch is a clear `Corrupt` error.
pub fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason,
    };
    match bytes.split_first() {
        None => Err(corrupt("empty record".into())),
        Some((&VERSION, body)) => postcard::from_bytes(body).map_err(|e| corrupt(e.to_string())),
        Some((version, _)) => Err(corrupt(format!(
            "record version {version} is not readable by this build (it reads {VERSION})"
        ))),
    }
}

/// Like [`decode`], and the record must be exactly the encoding of what it
/// decodes to: bytes left over are an error. `surge check` reads records
/// this way; serving reads tolerate a longer record (a prefix such as a
/// receipt's head is read that way on purpose).
pub fn decode_exact<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason,
    };
    // `decode` names the empty record and a wrong version.
    let Some((&VERSION, body)) = bytes.split_first() else {
        return decode(key, bytes);
    };
    match postcard::take_from_bytes::<T>(body) {
        Ok((record, [])) => Ok(record),
        Ok((_, rest)) => Err(corrupt(format!(
            "{} bytes follow the record's end",
            rest.len()
        ))),
        Err(e) => Err(corrupt(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        name: String,
        count: u64,
    }

    #[test]
    fn appended_records_framed_as_a_sequence_are_that_vec() {
        let records: Vec<Sample> = (0..300)
            .map(|n| Sample {
                name: format!("r{n}"),
                count: n * 1_000,
            })
            .collect();
        let mut body = Vec::new();
        for r in &records {
            append(r, &mut body).unwrap();
        }
        let framed = encode_seq(records.len(), &body).unwrap();
        assert_eq!(framed, encode(&records).unwrap());
        assert_eq!(decode::<Vec<Sample>>(b"k", &framed).unwrap(), records);
    }

    #[test]
    fn records_round_trip_with_a_version_byte_first() {
        let s = Sample {
            name: "a".into(),
            count: 7,
        };
        let bytes = encode(&s).unwrap();
        assert_eq!(bytes[0], VERSION);
        assert_eq!(decode::<Sample>(b"k", &bytes).unwrap(), s);
    }

    #[test]
    fn unknown_versions_and_garbage_are_reported_not_misread() {
        let mut bytes = encode(&Sample {
            name: "a".into(),
            count: 7,
        })
        .unwrap();
        bytes[0] = 9;
        let err = decode::<Sample>(b"k", &bytes).unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { ref reason, .. } if reason.contains("version 9"))
        );
        assert!(decode::<Sample>(b"k", &[]).is_err());
        assert!(decode_exact::<Sample>(b"k", &[]).is_err());
        assert!(decode::<Sample>(b"k", &[VERSION, 0xff, 0xff]).is_err());
    }

    #[test]
    fn an_exact_read_refuses_bytes_past_the_record() {
        let mut bytes = encode(&Sample {
            name: "a".into(),
            count: 7,
        })
        .unwrap();
        assert!(decode_exact::<Sample>(b"k", &bytes).is_ok());
        bytes.push(0);
        assert!(
            decode::<Sample>(b"k", &bytes).is_ok(),
            "a serving read tolerates it"
        );
        let err = decode_exact::<Sample>(b"k", &bytes).unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { ref reason, .. } if reason.contains("1 bytes follow"))
        );
    }
}
