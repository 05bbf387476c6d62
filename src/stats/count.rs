//! The count pass: the kernel each layout class gets (a pure planner,
//! pinned by a unit test) and the dispatch that adds one chunk's activity
//! bits into a monitor's totals.

use crate::common::INDEX;
use crate::element::Dtype;
use crate::engine::elementwise::{mask_words, MASK_BLOCK};
use crate::engine::{Bound, Engine, KernelSpec, Module, Prepared, WORKGROUP_SIZE};
use crate::error::Result;
use crate::shape::gcd;
use crate::tensor::Tensor;

use super::{ActivityMonitor, Layout};

/// The count pass.
const COUNT: &str = include_str!("count.wgsl");

/// The module of the count kernels.
pub(crate) static MODULE: Module = Module {
    name: "wgpu_relu.stats",
    parts: &[INDEX, COUNT],
};

/// The count kernel of a layout class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// `channels · inner` divides 1024: every 1024-element segment has the
    /// same channel pattern (channels-last with 1024 / 2ᵏ channels, a dense
    /// layer of up to 1024 units, short runs of such a period), and words
    /// `period / 4` apart share one: an invocation counts one class of
    /// words over several blocks, a word's four lanes at once.
    Periodic,
    /// Runs of at least [`RUNS_MIN`] elements (NCHW, a dense layer along
    /// axis 0): an invocation walks a 1024-element segment in order and
    /// adds each run's count where it ends, 32 elements at a time.
    Runs,
    /// Runs shorter than that whose period does not divide 1024 and has
    /// at most [`WORDS_MAX_CLASSES`] word classes, period / gcd(period, 4)
    /// (channels-last with 3, 37, 96 or 1,000 channels, short odd runs):
    /// the words whose first elements lie a whole number of periods apart
    /// share a channel pattern for all 32 bits, and an invocation adds up
    /// to 255 words of one class, each loaded once, in bit planes.
    Words,
    /// Short runs of a longer period, up to [`WINDOWS_MAX_PERIOD`] and
    /// [`WINDOWS_MAX_CLASSES`] window classes: the 32-element windows (a
    /// nibble of eight words) that are a whole number of periods apart
    /// share a channel pattern, and an invocation adds up to 255 of one
    /// class in bit planes.
    Windows,
    /// Anything else (short runs of a longer period: channels-last with
    /// more than a million channels, or more than [`WINDOWS_MAX_CLASSES`]
    /// window classes): an invocation tests one channel's elements over
    /// several blocks.
    Channels,
}

/// The most word classes [`Kernel::Words`] takes: with at most 256,
/// every class has a word in every block, so its walk over the blocks
/// never idles. With more, an invocation stepped through many blocks for
/// each word it counted: on lavapipe channels-last 4,095 with statistics
/// took 2.0 × the plain forward and 65,535 took 12 ×, where `Windows`,
/// which steps from window to window of its class, takes 1.2 and 1.6.
const WORDS_MAX_CLASSES: u64 = 256;

/// The longest period [`Kernel::Windows`] takes (its window classes, one
/// per period / gcd(period, 32), number at most this many, and the kernel's
/// element arithmetic stays below 2^30).
const WINDOWS_MAX_PERIOD: u64 = 1 << 20;

/// The most window classes [`Kernel::Windows`] takes. Each class is one
/// invocation at least, ending in 32 divisions and atomic additions, and
/// past a few hundred thousand classes most have a window or two: on
/// lavapipe at 16M, with statistics × the plain forward, 100,003
/// channels-last took 1.6–1.8 through the windows and 2.2 through
/// `Channels`, 300,007 took 2.7–3.6 against 2.3–2.6, and 999,999 took
/// 7.3 against 2.4–2.6.
const WINDOWS_MAX_CLASSES: u64 = 1 << 18;

/// The shortest runs [`Kernel::Runs`] takes: it adds once per run.
const RUNS_MIN: usize = 32;

/// The count pass of a layout: its kernel, the blocks each invocation of
/// `Periodic`, `Words` and `Channels` takes, and the word classes of
/// `Words` or the window classes of `Windows`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) kernel: Kernel,
    pub(crate) blocks_per: u32,
    pub(crate) classes: u32,
}

/// The count pass for `layout`: a pure function, its classes pinned by a
/// unit test. `Periodic` and `Channels`, which add once per invocation,
/// take enough blocks that an invocation reads about 64 words (or tests 64
/// elements) first; `Words`, which adds once per bit, as many as its bit
/// planes count.
pub(crate) fn plan(layout: Layout) -> Plan {
    let period = layout.channels as u64 * layout.inner as u64;
    if 1024 % period == 0 {
        // Words per class and block: 256 / classes.
        let classes = (period / 4).max(1);
        Plan {
            kernel: Kernel::Periodic,
            blocks_per: classes.div_ceil(4) as u32,
            classes: 1,
        }
    } else if layout.inner >= RUNS_MIN {
        Plan {
            kernel: Kernel::Runs,
            blocks_per: 1,
            classes: 1,
        }
    } else if period / gcd(period, 4) <= WORDS_MAX_CLASSES {
        // As many blocks as keep an invocation's words (at most
        // ceil(256 / classes) a block) within its planes' 255.
        let classes = period / gcd(period, 4);
        Plan {
            kernel: Kernel::Words,
            blocks_per: (255 / 256u64.div_ceil(classes)) as u32,
            classes: classes as u32,
        }
    } else if period <= WINDOWS_MAX_PERIOD && period / gcd(period, 32) <= WINDOWS_MAX_CLASSES {
        Plan {
            kernel: Kernel::Windows,
            blocks_per: 1,
            classes: (period / gcd(period, 32)) as u32,
        }
    } else {
        Plan {
            kernel: Kernel::Channels,
            blocks_per: (64 * layout.channels as u64).div_ceil(MASK_BLOCK) as u32,
            classes: 1,
        }
    }
}

/// The 1024-element segments of a block each invocation of `count_runs`
/// walks side by side (SEGMENTS in count.wgsl): all eight on a software
/// rasteriser, so that it loads each of the block's words once; one on a
/// GPU, where the loads are cheap and the parallelism is not.
fn runs_segments(cpu_adapter: bool) -> u32 {
    match cpu_adapter {
        true => 8,
        false => 1,
    }
}

/// `Params` in count.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    len: u32,
    words: u32,
    blocks: u32,
    channels: u32,
    inner: u32,
    phase: u32,
    blocks_per: u32,
    groups_x: u32,
    groups_y: u32,
    classes: u32,
    inner_div: [u32; 2],
    channels_div: [u32; 2],
    inverse: u32,
    base: u32,
    drift: u32,
    spread: u32,
    pad: [u32; 2],
}

/// The modular steps of `count_words` for a chunk whose first element is
/// `phase` into the period: word l of block b is of class q when
/// (phase + 8192b + 4l) mod period = spread q, that is
/// l = (inverse q + base - drift b) mod classes. Chunks of the forward
/// with statistics start on a block, so `phase` is a multiple of
/// 8192 modulo the period, and of `spread`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct WordSteps {
    inverse: u32,
    base: u32,
    drift: u32,
    spread: u32,
}

impl WordSteps {
    fn new(period: u64, phase: u64) -> Self {
        let spread = gcd(period, 4);
        let classes = period / spread;
        // 4 / spread is 1, 2 or 4 and prime to classes (odd where it is
        // not 1): its inverse is (1 + m classes) / (4 / spread) for the m
        // below 4 / spread that divides.
        let step = 4 / spread;
        let inverse = (0..step)
            .map(|m| 1 + m * classes)
            .find(|n| n % step == 0)
            .map_or(0, |n| n / step)
            % classes;
        let times = |a: u64, b: u64| a * b % classes;
        WordSteps {
            inverse: inverse as u32,
            base: times(inverse, classes - phase / spread % classes) as u32,
            drift: times(inverse, MASK_BLOCK / spread % classes) as u32,
            spread: spread as u32,
        }
    }
}

const BITS: u32 = 1;
const TOTALS: u32 = 2;
const BITS4: u32 = 3;

/// The count pass of one watched forward: what the engine calls after each
/// chunk of the forward (`Watch` in src/engine/elementwise.rs).
pub(crate) struct Counter<'a> {
    totals: &'a Tensor<f32>,
    layout: Layout,
    plan: Plan,
}

impl<'a> Counter<'a> {
    /// The count pass for a tensor of `shape` into `monitor`, or an error
    /// if the monitor does not fit the shape.
    pub(crate) fn new(monitor: &'a ActivityMonitor, shape: &[usize]) -> Result<Self> {
        let layout = monitor.layout(shape)?;
        Ok(Counter {
            totals: monitor.totals(),
            layout,
            plan: plan(layout),
        })
    }

    /// The dispatch that counts the bits of the chunk of `len` elements
    /// starting at element `start`, the bits being `bits`' first words.
    pub(crate) fn dispatches(
        &self,
        engine: &Engine,
        bits: &wgpu::Buffer,
        start: u64,
        len: u64,
    ) -> Result<Vec<Prepared>> {
        debug_assert_eq!(start % MASK_BLOCK, 0, "chunks start on a block");
        let blocks = len.div_ceil(MASK_BLOCK);
        // (At most the chunk's blocks, so that the kernels' element
        // indices stay in u32.)
        let blocks_per = u64::from(self.plan.blocks_per).min(blocks);
        let groups = blocks.div_ceil(blocks_per);
        let Layout { channels, inner } = self.layout;
        let period = channels as u64 * inner as u64;
        let segments = runs_segments(engine.cpu_adapter());
        let (entry, invocations) = match self.plan.kernel {
            Kernel::Periodic => ("count_periodic", (period / 4).max(1) * groups),
            Kernel::Runs => ("count_runs", len.div_ceil(1024 * u64::from(segments))),
            Kernel::Words => ("count_words", u64::from(self.plan.classes) * groups),
            Kernel::Windows => {
                // Each class's windows 255 an invocation.
                let classes = u64::from(self.plan.classes);
                let windows = len.div_ceil(32);
                (
                    "count_windows",
                    classes * windows.div_ceil(classes).div_ceil(255),
                )
            }
            Kernel::Channels => ("count_channels", channels as u64 * groups),
        };
        let spec = KernelSpec {
            module: &MODULE,
            entry,
            bindings: vec![BITS, TOTALS, BITS4],
            constants: match self.plan.kernel {
                Kernel::Runs => vec![("SEGMENTS", f64::from(segments))],
                _ => Vec::new(),
            },
        };
        let kernel = engine.kernel(&spec, Dtype::F32)?;
        let Some(grid) = engine.grid(invocations.div_ceil(u64::from(WORKGROUP_SIZE)))? else {
            return Ok(Vec::new());
        };
        let steps = match self.plan.kernel {
            Kernel::Words => WordSteps::new(period, start % period),
            _ => WordSteps::default(),
        };
        let params = Params {
            len: len as u32,
            words: mask_words(len) as u32,
            blocks: blocks as u32,
            channels: channels as u32,
            inner: inner as u32,
            phase: (start % period) as u32,
            blocks_per: blocks_per as u32,
            classes: self.plan.classes,
            groups_x: grid.x,
            groups_y: grid.y,
            inner_div: crate::divisor::pack(inner as u32),
            channels_div: crate::divisor::pack(channels as u32),
            inverse: steps.inverse,
            base: steps.base,
            drift: steps.drift,
            spread: steps.spread,
            ..Params::default()
        };
        // Rounded up to whole vec4s (the scratch's size is a power of two
        // of at least 256 bytes); the kernels read no word past the chunk's.
        let bits = Bound {
            buffer: bits,
            offset: 0,
            size: (4 * mask_words(len)).next_multiple_of(16),
            elem_off: 0,
        };
        let totals = engine.bind(
            crate::validate::operand(self.totals, "the monitor"),
            4,
            0,
            self.totals.len() as u64,
        )?;
        let prepared = engine.prepare(
            &kernel,
            bytemuck::bytes_of(&params),
            grid,
            &[(BITS, &bits), (TOTALS, &totals), (BITS4, &bits)],
        )?;
        Ok(vec![prepared])
    }
}
#[cfg(test)]
mod tests;
