//! `Tensor<T>`: a range of a `wgpu::Buffer` with a shape.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::element::Element;
use crate::error::{Error, Result};
use crate::pool::Storage;
use crate::shape::element_count;

/// Which `Gpu` (and so which device) made a tensor. wgpu's own handles
/// cannot tell devices apart (their ids repeat from one device to the next),
/// so each `Gpu` carries a token of its own, shared by its clones.
#[derive(Clone, Debug)]
pub(crate) struct Owner(pub(crate) std::sync::Arc<()>);

impl PartialEq for Owner {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A dense, row-major tensor: a byte range of a `wgpu::Buffer` and a shape.
///
/// Cloning is cheap (the buffer is reference-counted) and shares the data.
/// A tensor made by a [`Gpu`](crate::Gpu) remembers that `Gpu` (and its
/// clones), so using it with another is an [`Error::DeviceMismatch`]. One
/// wrapped with [`Tensor::from_buffer`] works with any `Gpu` on its device;
/// a buffer of another device is caught when it is bound (also an `Error`).
#[derive(Clone, Debug)]
pub struct Tensor<T: Element = f32> {
    storage: Arc<Storage>,
    byte_offset: u64,
    shape: Vec<usize>,
    len: usize,
    owner: Option<Owner>,
    _element: PhantomData<T>,
}

impl<T: Element> Tensor<T> {
    /// Wraps a range of an app's own buffer, starting `byte_offset` bytes in
    /// and holding `shape`'s product of elements. Nothing is copied.
    ///
    /// Checks that the buffer has `STORAGE` usage (every kernel binds it as
    /// storage), that the offset is a multiple of the element size, and that
    /// the range lies inside the buffer. Any element-aligned offset works:
    /// the kernels bind the range aligned down to the adapter's
    /// `min_storage_buffer_offset_alignment` and index from the remainder.
    pub fn from_buffer(buffer: wgpu::Buffer, byte_offset: u64, shape: &[usize]) -> Result<Self> {
        if !buffer.usage().contains(wgpu::BufferUsages::STORAGE) {
            return Err(Error::MissingUsage {
                tensor: "the wrapped buffer",
                needed: wgpu::BufferUsages::STORAGE,
                actual: buffer.usage(),
            });
        }
        Self::new(
            Storage::unpooled(buffer),
            byte_offset,
            shape,
            None,
            "the wrapped buffer",
        )
    }

    pub(crate) fn new(
        storage: Arc<Storage>,
        byte_offset: u64,
        shape: &[usize],
        owner: Option<Owner>,
        name: &'static str,
    ) -> Result<Self> {
        if !byte_offset.is_multiple_of(T::SIZE) {
            return Err(Error::Misaligned {
                tensor: name,
                rule: format!(
                    "byte offset {byte_offset} is not a multiple of the {}-byte element size of {}",
                    T::SIZE,
                    T::NAME
                ),
            });
        }
        let len = element_count(shape)?;
        let buffer = storage.buffer();
        let end = (len as u64)
            .checked_mul(T::SIZE)
            .and_then(|bytes| bytes.checked_add(byte_offset));
        match end {
            Some(end) if end <= buffer.size() => {}
            _ => {
                return Err(Error::OutOfBounds {
                    tensor: name,
                    start: byte_offset,
                    end: end.unwrap_or(u64::MAX),
                    buffer_size: buffer.size(),
                })
            }
        }
        Ok(Self {
            storage,
            byte_offset,
            shape: shape.to_vec(),
            len,
            owner,
            _element: PhantomData,
        })
    }

    /// The same buffer range with a new shape of the same number of elements.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        let len = element_count(shape)?;
        if len != self.len {
            return Err(Error::Shape(format!(
                "cannot reshape {:?} ({} elements) to {shape:?} ({len} elements)",
                self.shape, self.len
            )));
        }
        Ok(Self {
            shape: shape.to_vec(),
            ..self.clone()
        })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The shape, outermost dimension first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The buffer holding the data.
    ///
    /// A tensor the library allocated gives its buffer to a later tensor of
    /// the same size once it is dropped, unless the buffer was handed out
    /// here (or recorded by an `encode_*` call): the app may keep it.
    pub fn buffer(&self) -> &wgpu::Buffer {
        self.storage.escape();
        self.storage.buffer()
    }

    /// Where the data starts in the buffer, in bytes.
    pub fn byte_offset(&self) -> u64 {
        self.byte_offset
    }

    /// Size of the data in bytes.
    pub fn byte_len(&self) -> u64 {
        self.len as u64 * T::SIZE
    }

    /// The buffer, for the library's own use, which does not keep it from
    /// being reused (unlike [`Tensor::buffer`]).
    pub(crate) fn raw_buffer(&self) -> &wgpu::Buffer {
        self.storage.buffer()
    }

    /// The buffer is recorded into an app's encoder: never reuse it.
    pub(crate) fn escape(&self) {
        self.storage.escape();
    }

    /// The `Gpu` that created the tensor, when it is known.
    pub(crate) fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }

    /// Byte range in the buffer.
    pub(crate) fn byte_range(&self) -> std::ops::Range<u64> {
        self.byte_offset..self.byte_offset + self.byte_len()
    }
}
