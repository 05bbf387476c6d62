// The fixed-order sum of a workgroup, for the weight gradient (its
// additions are src/common/add.wgsl's).

var<workgroup> scratch: array<f32, WG>;

// Sum of one value per invocation, valid on lid 0, in an order fixed by lid,
// never by timing: each of the first WG / 16 invocations adds 16
// neighbours, then lid 0 adds those. Two barriers rather than a tree's
// log2(WG) + 1: a software rasteriser suspends and resumes every invocation
// at each barrier, and that, not the additions, is what a tree costs there.
fn workgroup_sum(lid: u32, value: f32) -> f32 {
    scratch[lid] = value;
    workgroupBarrier();
    if lid < WG / 16u {
        let first = lid * 16u;
        var s = scratch[first];
        for (var i = 1u; i < 16u; i++) {
            s = add1(s, scratch[first + i]);
        }
        scratch[first] = s;
    }
    workgroupBarrier();
    var total = 0.0;
    if lid == 0u {
        total = scratch[0];
        for (var r = 1u; r < WG / 16u; r++) {
            total = add1(total, scratch[r * 16u]);
        }
    }
    return total;
}
