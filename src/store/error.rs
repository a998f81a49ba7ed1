//! What can go wrong below the domain: a full queue, a closed store, the disk.

/// Store failures. `Clone` because one failed flush is reported to every
/// waiter of its batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The commit queue is at its configured maximum: shed load, retry later.
    #[error("the commit queue is full")]
    Overloaded,
    /// The store is shutting down and takes no more writes.
    #[error("the store is closed")]
    Closed,
    /// An earlier write failed; the store takes no writes until restarted.
    #[error("an earlier write failed; the store takes no more writes until restarted")]
    Failed,
    /// sled or the file system failed; the message carries the cause.
    #[error("storage failure: {0}")]
    Io(String),
    /// A record exists but cannot be decoded.
    #[error("record {key} cannot be decoded: {reason}")]
    Corrupt { key: String, reason: String },
}

impl StoreError {
    pub fn io(message: impl Into<String>) -> Self {
        Self::Io(message.into())
    }

    /// Stable machine-readable code; the last segment of the problem `type`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Overloaded => "overloaded",
            Self::Closed => "shutting-down",
            Self::Failed => "store-failed",
            Self::Io(_) | Self::Corrupt { .. } => "store-unavailable",
        }
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        Self::Io(e.to_string())
    }
}
