//! Which entry point of the element-wise templates an op runs, and the
//! bindings each takes, by binding number as in the templates.

// Binding numbers, as in the templates (the weight gradient's kernels bind
// x, g and y at the same numbers).
pub(crate) const X4: u32 = 1;
pub(crate) const G4: u32 = 2;
pub(crate) const Y4: u32 = 3;
pub(crate) const X1: u32 = 4;
pub(crate) const G1: u32 = 5;
pub(crate) const Y1: u32 = 6;
pub(super) const XW4: u32 = 10;
pub(super) const GW4: u32 = 11;
pub(super) const YW4: u32 = 12;
pub(super) const XW1: u32 = 13;
pub(super) const GW1: u32 = 14;
pub(super) const YW1: u32 = 15;
pub(super) const MASK: u32 = 8;
pub(super) const ACTIVITY: u32 = 9;
pub(super) const XW2: u32 = 18;
pub(super) const GW2: u32 = 19;
pub(super) const YW2: u32 = 20;

/// One op's three kernels: vec4, scalar, and f16 as words.
pub(super) struct Entries {
    pub(super) vec4: (&'static str, &'static [u32]),
    pub(super) scalar: (&'static str, &'static [u32]),
    pub(super) packed: (&'static str, &'static [u32]),
    /// Whether the op runs over the blocks of the mask layout (it reads or
    /// writes a mask, or writes activity bits): an invocation then takes a
    /// word (32 elements, 8 vec4s WG apart), a workgroup a block, and
    /// f16's words come two to a vec4 of halves, with offsets in halves.
    pub(super) blocked: bool,
}

impl Entries {
    /// The kernels of a forward or a backward, with a mask or not, and
    /// (a forward) writing activity bits or not.
    pub(super) fn of(forward: bool, masked: bool, watched: bool) -> Entries {
        let watched = forward && watched;
        type Entry = (&'static str, &'static [u32]);
        let (vec4, scalar, packed): (Entry, Entry, Entry) = match (forward, masked, watched) {
            (true, false, false) => (
                ("forward_vec4", &[X4, Y4, X1, Y1]),
                ("forward_scalar", &[X1, Y1]),
                ("forward_packed", &[XW4, YW4, XW1, YW1]),
            ),
            (true, true, false) => (
                ("forward_masked_vec4", &[X4, Y4, X1, Y1, MASK]),
                ("forward_masked_scalar", &[X1, Y1, MASK]),
                ("forward_masked_packed", &[XW2, YW2, X1, Y1, MASK]),
            ),
            (true, false, true) => (
                ("forward_watched_vec4", &[X4, Y4, X1, Y1, ACTIVITY]),
                ("forward_watched_scalar", &[X1, Y1, ACTIVITY]),
                ("forward_watched_packed", &[XW2, YW2, X1, Y1, ACTIVITY]),
            ),
            (true, true, true) => (
                (
                    "forward_masked_watched_vec4",
                    &[X4, Y4, X1, Y1, MASK, ACTIVITY],
                ),
                ("forward_masked_watched_scalar", &[X1, Y1, MASK, ACTIVITY]),
                (
                    "forward_masked_watched_packed",
                    &[XW2, YW2, X1, Y1, MASK, ACTIVITY],
                ),
            ),
            (false, false, _) => (
                ("backward_vec4", &[X4, G4, Y4, X1, G1, Y1]),
                ("backward_scalar", &[X1, G1, Y1]),
                ("backward_packed", &[XW4, GW4, YW4, XW1, GW1, YW1]),
            ),
            (false, true, _) => (
                ("backward_masked_vec4", &[G4, Y4, G1, Y1, MASK]),
                ("backward_masked_scalar", &[G1, Y1, MASK]),
                ("backward_masked_packed", &[GW2, YW2, G1, Y1, MASK]),
            ),
        };
        Entries {
            vec4,
            scalar,
            packed,
            blocked: masked || watched,
        }
    }
}
