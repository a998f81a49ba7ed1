//! Writing a backup file, block by block, hashing what is written.

use super::{
    record_crc, Manifest, BATCH, BLOCK_BYTES_MAX, END_MAGIC, FORMAT_VERSION, MAGIC, MANIFEST,
    RECORDS, RECORDS_BLOCK_BYTES,
};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Writes a backup file block by block, hashing what it writes.
pub struct Writer {
    out: BufWriter<File>,
    hash: Sha256,
    offset: u64,
    records: Vec<u8>,
    pub blocks: u64,
    pub record_count: u64,
}

impl Writer {
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = File::options().write(true).create_new(true).open(path)?;
        let mut writer = Self {
            out: BufWriter::with_capacity(1 << 20, file),
            hash: Sha256::new(),
            offset: 0,
            records: Vec::with_capacity(RECORDS_BLOCK_BYTES + 4096),
            blocks: 0,
            record_count: 0,
        };
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        writer.raw(&header)?;
        Ok(writer)
    }

    /// Bytes written so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.hash.update(bytes);
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn block(&mut self, kind: u8, payload: &[u8]) -> io::Result<()> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&len| len <= BLOCK_BYTES_MAX)
            .ok_or_else(|| io::Error::other("a backup block outgrew 512 MiB"))?;
        let mut head = [0u8; 5];
        head[0] = kind;
        head[1..].copy_from_slice(&len.to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head);
        crc.update(payload);
        self.raw(&head)?;
        self.raw(payload)?;
        self.raw(&crc.finalize().to_be_bytes())?;
        self.blocks += 1;
        Ok(())
    }

    /// Adds a record; returns whether a records block was written.
    pub fn record(&mut self, key: &[u8], value: &[u8]) -> io::Result<bool> {
        put_bytes(&mut self.records, key);
        put_bytes(&mut self.records, value);
        self.records
            .extend_from_slice(&record_crc(key, value).to_be_bytes());
        self.record_count += 1;
        if self.records.len() < RECORDS_BLOCK_BYTES {
            return Ok(false);
        }
        self.end_records()?;
        Ok(true)
    }

    /// Writes the records gathered so far as a block.
    pub fn end_records(&mut self) -> io::Result<()> {
        if self.records.is_empty() {
            return Ok(());
        }
        let records = std::mem::take(&mut self.records);
        self.block(RECORDS, &records)?;
        self.records = records;
        self.records.clear();
        Ok(())
    }

    /// Writes a batch committed during the copy (after the records before it).
    pub fn batch<'a>(
        &mut self,
        seq: u64,
        ops: impl ExactSizeIterator<Item = (&'a [u8], Option<&'a [u8]>)>,
    ) -> io::Result<()> {
        self.end_records()?;
        let count = u32::try_from(ops.len()).map_err(io::Error::other)?;
        let mut payload = Vec::new();
        payload.extend_from_slice(&seq.to_be_bytes());
        payload.extend_from_slice(&count.to_be_bytes());
        for (key, value) in ops {
            payload.push(u8::from(value.is_some()));
            put_bytes(&mut payload, key);
            if let Some(value) = value {
                put_bytes(&mut payload, value);
            }
        }
        self.block(BATCH, &payload)
    }

    /// Writes the manifest (given the body's hash) and the footer, and
    /// syncs the file to disk.
    pub fn finish(mut self, manifest: impl FnOnce(String) -> Manifest) -> io::Result<Manifest> {
        self.end_records()?;
        let digest = hex::encode(std::mem::take(&mut self.hash).finalize());
        let manifest = manifest(digest);
        let json = serde_json::to_vec(&manifest).map_err(io::Error::other)?;
        let at = self.offset;
        self.block(MANIFEST, &json)?;
        let mut footer = at.to_be_bytes().to_vec();
        footer.extend_from_slice(END_MAGIC);
        self.raw(&footer)?;
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(manifest)
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Keys and values are far below 4 GiB (the body limit bounds them).
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}
