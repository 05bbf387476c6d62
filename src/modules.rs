//! Every WGSL module the library builds, for the tests that check them all
//! without a GPU.

use crate::engine::Module;

/// The modules of every family, in dependency order.
pub(crate) fn all() -> [&'static Module; 6] {
    [
        &crate::relu::MODULE,
        &crate::leaky_relu::MODULE,
        &crate::prelu::MODULE,
        &crate::prelu::weight_grad::MODULE,
        &crate::rrelu::MODULE,
        &crate::stats::count::MODULE,
    ]
}

#[cfg(test)]
mod tests {
    use crate::element::Dtype;

    /// Every module parses and validates with naga for both precisions,
    /// and so does every entry point naga finds in it with every boolean
    /// pipeline constant it declares flipped from its default (the exact
    /// products, the weight fetch, the scalar loads): the kernels the host
    /// can build, found from the modules themselves. No GPU needed.
    #[test]
    fn every_entry_point_validates_with_every_constant() {
        let mut entry_points = 0;
        for module in super::all() {
            for (dtype, int64) in [
                (Dtype::F32, false),
                (Dtype::F16, false),
                (Dtype::F32, true),
                (Dtype::F16, true),
            ] {
                let source = module.source_for(dtype, int64);
                let what = format!("{} {dtype:?}, 64-bit integers: {int64}", module.name);
                let parsed = naga::front::wgsl::parse_str(&source)
                    .unwrap_or_else(|e| panic!("{what}: {}", e.emit_to_string(&source)));
                let mut validator = naga::valid::Validator::new(
                    naga::valid::ValidationFlags::all(),
                    naga::valid::Capabilities::all(),
                );
                let info = validator
                    .validate(&parsed)
                    .unwrap_or_else(|e| panic!("{what}: {}", e.emit_to_string(&source)));
                let flags: Vec<String> = parsed
                    .overrides
                    .iter()
                    .filter(|(_, o)| {
                        parsed.types[o.ty].inner == naga::TypeInner::Scalar(naga::Scalar::BOOL)
                    })
                    .filter_map(|(_, o)| o.name.clone())
                    .collect();
                for entry in &parsed.entry_points {
                    entry_points += 1;
                    for flipped in std::iter::once(None).chain(flags.iter().map(Some)) {
                        let mut constants = naga::back::PipelineConstants::default();
                        if let Some(name) = flipped {
                            let default = parsed
                                .overrides
                                .iter()
                                .find(|(_, o)| o.name.as_ref() == Some(name))
                                .and_then(|(_, o)| o.init)
                                .map(|init| {
                                    parsed.global_expressions[init]
                                        == naga::Expression::Literal(naga::Literal::Bool(true))
                                })
                                .unwrap_or(false);
                            constants.insert(name.clone(), if default { 0.0 } else { 1.0 });
                        }
                        naga::back::pipeline_constants::process_overrides(
                            &parsed,
                            &info,
                            Some((naga::ShaderStage::Compute, &entry.name)),
                            &constants,
                        )
                        .unwrap_or_else(|e| panic!("{what} {} {flipped:?}: {e}", entry.name));
                    }
                }
            }
        }
        assert!(
            entry_points >= 2 * (6 + 6 + 4 + 8),
            "{entry_points} entry points"
        );
    }
}
