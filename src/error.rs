//! The one error type of the crate.

/// Everything that can go wrong, each variant saying what was wrong and what
/// to do about it. No input a caller can pass makes the library panic; it
/// returns one of these instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No adapter matched the request (or none exists at all).
    #[error(
        "no GPU adapter found ({reason}): on a machine without a GPU install a software one \
         with `apt-get install mesa-vulkan-drivers libvulkan1`, or choose another backend with \
         WGPU_BACKEND=vulkan|gl|metal|dx12 and an adapter with WGPU_ADAPTER_NAME"
    )]
    NoAdapter {
        /// What the search tried and why it failed.
        reason: String,
    },

    /// The adapter refused to create a device.
    #[error("the adapter refused to create a device: {0}")]
    RequestDevice(#[from] wgpu::RequestDeviceError),

    /// A shape was invalid for the buffer range or the operation.
    #[error("shape error: {0}")]
    Shape(String),

    /// Two tensors that must have the same shape do not.
    #[error("shape mismatch: {what} has shape {actual:?} but {expected:?} is required")]
    ShapeMismatch {
        /// Which tensor was wrong.
        what: &'static str,
        /// The shape it had.
        actual: Vec<usize>,
        /// The shape it needed.
        expected: Vec<usize>,
    },

    /// A PReLU weight of the wrong length, or a channel axis out of range.
    #[error("invalid PReLU weight: {0}")]
    InvalidWeight(String),

    /// A Leaky ReLU slope that is NaN or infinite.
    #[error("invalid negative_slope {0}: the Leaky ReLU slope must be finite")]
    InvalidSlope(f32),

    /// RReLU bounds that are not finite, with `lower > upper`, or whose
    /// difference overflows.
    #[error(
        "invalid RReLU bounds [{lower}, {upper}): they must be finite, with lower <= upper \
         and upper - lower finite"
    )]
    InvalidBounds {
        /// The lower bound given.
        lower: f32,
        /// The upper bound given.
        upper: f32,
    },

    /// A backward asked to go back from what cannot give its result: a mask
    /// for PReLU (its weight gradient needs `x`), or the output where
    /// `y > 0` is not `x > 0` (Leaky ReLU with a negative slope, PReLU).
    #[error("{0}: keep the forward's input x (`Saved::Input`) for this backward")]
    NeedsInput(String),

    /// A buffer lacks a usage the operation needs.
    #[error(
        "{tensor}: its buffer has usages {actual:?} but needs {needed:?}; \
         create it with `wgpu::BufferUsages::{needed:?}` added"
    )]
    MissingUsage {
        /// Which tensor was wrong.
        tensor: &'static str,
        /// The usage flags it needs.
        needed: wgpu::BufferUsages,
        /// The usage flags its buffer has.
        actual: wgpu::BufferUsages,
    },

    /// A tensor's byte range runs past the end of its buffer.
    #[error(
        "{tensor}: bytes {start}..{end} run past the end of its {buffer_size}-byte buffer; \
         use a smaller shape or offset, or a larger buffer"
    )]
    OutOfBounds {
        /// Which tensor was wrong.
        tensor: &'static str,
        /// First byte of the range.
        start: u64,
        /// One past the last byte of the range.
        end: u64,
        /// Size of the buffer.
        buffer_size: u64,
    },

    /// A byte offset that is not a multiple of the element size, or a range
    /// that cannot be bound or copied with wgpu's 4-byte granularity.
    #[error("{tensor}: {rule}")]
    Misaligned {
        /// Which tensor was wrong.
        tensor: &'static str,
        /// The alignment rule that was broken.
        rule: String,
    },

    /// An output range overlaps an input range without being the same range.
    #[error(
        "{output} overlaps {input} without being the same range: an operation runs in place \
         only on exactly the same range; use disjoint ranges otherwise"
    )]
    Overlap {
        /// The input tensor.
        input: &'static str,
        /// The output tensor.
        output: &'static str,
    },

    /// A size over a limit of the device or of this library.
    #[error("{what} is {size} but the limit is {limit}: {hint}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        size: u64,
        /// The limit it exceeded.
        limit: u64,
        /// What to do about it.
        hint: &'static str,
    },

    /// A tensor created by another `Gpu`, or a buffer, command encoder or
    /// queue of another device.
    #[error(
        "{tensor} belongs to another Gpu or device: use tensors uploaded with this Gpu (clones \
         of a Gpu share tensors), and buffers, encoders and the queue of this Gpu's own device"
    )]
    DeviceMismatch {
        /// What was foreign: a tensor, "the command encoder" or "the queue
        /// given to Gpu::from_device".
        tensor: &'static str,
    },

    /// The device lacks a feature the call needs.
    #[error(
        "the device lacks {feature}, needed for {needed_for}: use an adapter that has it \
         (the Vulkan backend usually does: WGPU_BACKEND=vulkan), or use f32"
    )]
    MissingFeature {
        /// The wgpu feature.
        feature: wgpu::Features,
        /// What needed it.
        needed_for: &'static str,
    },

    /// Mapping a buffer for reading failed.
    #[error("mapping a buffer for reading failed: {0}; the device may have been lost")]
    Map(String),

    /// wgpu reported a validation error, caught by an error scope.
    #[error("wgpu validation error: {0}")]
    Validation(String),

    /// wgpu ran out of memory.
    #[error("out of GPU memory: {0}; free some buffers or use smaller tensors")]
    OutOfMemory(String),

    /// The device was lost (destroyed, reset, or the driver crashed),
    /// whether or not anyone called [`Gpu::notify_device_lost`](crate::Gpu::notify_device_lost).
    /// Every call after it returns this, never `Ok` with the work dropped.
    #[error("the device is lost: {0}; create a new Gpu to continue")]
    DeviceLost(String),

    /// Waiting for the device failed.
    #[error("waiting for the device failed: {0}")]
    Poll(#[from] wgpu::PollError),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Turns an error caught by a wgpu error scope into ours.
    pub(crate) fn from_wgpu(error: wgpu::Error) -> Self {
        match error {
            wgpu::Error::OutOfMemory { .. } => Error::OutOfMemory(error.to_string()),
            wgpu::Error::Validation { description, .. } => {
                if description.to_lowercase().contains("lost") {
                    Error::DeviceLost(description)
                } else if description.contains("doesn't match Device") {
                    // A wrapped buffer of another device of the same wgpu
                    // instance, bound by one of our bind groups.
                    Error::DeviceMismatch {
                        tensor: "a wrapped buffer",
                    }
                } else {
                    Error::Validation(description)
                }
            }
            wgpu::Error::Internal { description, .. } => Error::Validation(description),
        }
    }
}
